"""A repeat request whose request.received reaches casework before its first request's:
it waits (retried) and then joins the first request's case, so one resident and one need
have one case (real broker, real store, the service in a nameko container)."""

import pytest
from kombu import Connection
from prometheus_client import REGISTRY

from services.casework.service import CaseworkService
from services.common import messaging
from services.common.contracts import CASE_OPENED, CASE_REQUEST_LINKED, REQUEST_RECEIVED
from services.common.envelope import new_event
from services.common.messaging import EventPublisher
from tests.support import find_cases, seeded_case_store, tap, wait_until

# Short, like the other integration tests' delays, but a few more of them: the first
# request is published only once the repeat has failed once, and must be handled before
# the repeat's delays run out (100 ms + 200 ms would be a race on a busy machine).
PATIENT_RETRIES = "200,400,800,1600,3200"


@pytest.fixture
def patient_settings(monkeypatch, env):
    monkeypatch.setenv("SHEGONG_RETRY_DELAYS_MS", PATIENT_RETRIES)
    from services.common import config

    return config.settings()


@pytest.fixture
def store(database):
    return seeded_case_store(database)


@pytest.fixture
def running_casework(container_factory, patient_settings, store):
    messaging.declare_topology(patient_settings, [CaseworkService])
    container = container_factory(CaseworkService, patient_settings.nameko_config())
    container.start()
    return container


def received(request_id, repeat_of=None):
    return new_event(
        REQUEST_RECEIVED,
        {
            "request_id": request_id,
            "channel": "phone",
            "station": "daxing",
            "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"]},
            "resident_ref": "p_1",
            "need": {"type": "medicine_purchase", "description": "药"},
            "received_at": "2023-05-29T08:00:00+08:00",
            "repeat_of": repeat_of,
        },
        subject=request_id,
        correlation_id=request_id,
        sequence=1,
    )


def counted(name, **labels):
    return (
        REGISTRY.get_sample_value(
            name,
            {
                "service": "casework",
                "handler": "request_received",
                "event_type": REQUEST_RECEIVED.type,
                **labels,
            },
        )
        or 0
    )


def waiting_repeats():
    return counted("shegong_events_failed_total", exception="RepeatNotYetOpened")


def dead_letters(settings):
    with Connection(settings.amqp_uri) as connection:
        name = messaging.dead_letter_queue("casework").name
        return connection.default_channel.queue_declare(name, passive=True).message_count


def test_a_repeat_delivered_before_its_first_request_joins_its_case(
    running_casework, patient_settings, store
):
    wire = tap(patient_settings.amqp_uri, "casework", "test-wire")
    publisher = EventPublisher(patient_settings.amqp_uri)
    waited_before = waiting_repeats()
    dead_before = counted("shegong_events_dead_lettered_total")

    publisher.publish(received("r-2", repeat_of="r-1"))  # the repeat first
    wait_until(
        lambda: waiting_repeats() > waited_before or store.for_request("r-2")[0],
        20,
        message="casework to handle the repeat",
    )
    assert store.cases.count_documents({}) == 0, "the repeat opened a case of its own"

    publisher.publish(received("r-1"))  # then its first request
    wait_until(lambda: store.for_request("r-2")[0], 20, message="the repeat to join a case")

    (case,) = find_cases(store)  # one case for the resident's need
    assert case.request_id == "r-1" and case.resident_ref == "p_1"
    assert [link["request_id"] for link in case.linked_requests] == ["r-2"]
    assert store.for_request("r-2")[0].case_id == case.case_id
    assert (
        store.cases.count_documents({"resident_ref": "p_1", "need_type": "medicine_purchase"}) == 1
    )
    events = []
    wait_until(
        lambda: (
            events.extend(wire())
            or {CASE_OPENED.type, CASE_REQUEST_LINKED.type} <= {e["type"] for e in events}
        ),
        10,
        message="the case's events on the wire",
    )
    for contract in (CASE_OPENED, CASE_REQUEST_LINKED):  # once each (a resend has its id)
        assert len({e["id"] for e in events if e["type"] == contract.type}) == 1
    assert all(e["subject"] == case.case_id for e in events)
    assert dead_letters(patient_settings) == 0
    assert counted("shegong_events_dead_lettered_total") == dead_before
