"""Bad input on every AMQP entrypoint of every service (services.common.messaging
.consumers_of, so a new handler is covered the day it is added): malformed events (wrong
types, missing fields, MongoDB operators in string fields, oversized strings, bodies that
are not JSON) published on the real broker to a service running in a nameko container
are dead-lettered with a reason; nothing is written to the service's store and nothing
is published. A valid event afterwards is still processed."""

import copy
import json
import time
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kombu import Connection

from docs.catalogue import example_envelope
from services.casework.service import CaseworkService
from services.common.envelope import CONTENT_TYPE, MAX_EVENT_BYTES, InvalidEvent, load_event
from services.common.messaging import (
    consumers_of,
    contract_exchange,
    dead_letter_queue,
    entrypoint_queue,
    retry_queue,
)
from services.intake.service import IntakeService
from services.notifications.service import NotificationsService
from services.reporting.service import ReportingService
from tests.security_support import EventTap, snapshot
from tests.support import wait_until

SERVICES = {
    "intake": IntakeService,
    "casework": CaseworkService,
    "notifications": NotificationsService,
    "reporting": ReportingService,
}
FUZZ = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
EXAMPLES = 25  # per service
# Valid events that still must be parked here, with the reason and the exception: an
# agency's answer is about a case casework made (one it lacks is a fault to look at); a
# referral to a webhook agency whose receiver is not there is retried, then parked.
PARKED_WHEN_ALONE = {
    ("casework", "shegong.referral.answered.v1"): ("no case ", "InvalidEvent"),
    ("notifications", "shegong.referral.sent.v1"): ("WebhookFailed: webhook of ", "WebhookFailed"),
}
JUNK = st.sampled_from(
    [
        None,
        0,
        -1,
        1.5,
        True,
        [],
        {},
        ["a"],
        "",
        "13812345678",
        {"$gt": ""},
        {"$ne": None},
        {"$where": "sleep(1000) || true"},
        {"$regex": ".*"},
        "x" * (MAX_EVENT_BYTES + 1000),
    ]
)
NOT_JSON = object()


def paths(value, prefix=()):
    """Every key path in a JSON document."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield prefix + (key,)
            yield from paths(inner, prefix + (key,))


@st.composite
def malformed(draw, contracts):
    """(contract, body): a valid example event of a consumed type with one field made
    junk or removed, its envelope broken, or a body that is not JSON at all."""
    contract = draw(st.sampled_from(contracts))
    event = copy.deepcopy(example_envelope(contract))
    event["id"] = str(uuid.uuid4())
    how = draw(st.sampled_from(["junk", "junk", "junk", "remove", "not_json", "type"]))
    if how == "not_json":
        return contract, NOT_JSON
    if how == "type":
        event["type"] = draw(st.sampled_from(["shegong.case.opened.v9", "", "$where"]))
        return contract, event
    path = draw(st.sampled_from(sorted(paths(event))))
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    if how == "remove":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JUNK)
    return contract, event


def refused(contract, body):
    if body is NOT_JSON:
        return True
    try:
        load_event(body, contract)
    except InvalidEvent:
        return True
    return False


def publish(amqp_uri, contract, body):
    """Publish as a producer would; the message id (the taps leave ours out)."""
    message_id = str(uuid.uuid4())
    raw = b"\xff{not json" if body is NOT_JSON else json.dumps(body, ensure_ascii=False).encode()
    with Connection(amqp_uri) as connection:
        connection.Producer().publish(
            raw,
            exchange=contract_exchange(contract),
            routing_key=contract.type,
            content_type=CONTENT_TYPE,
            content_encoding="binary",
            message_id=message_id,
            delivery_mode=2,
            retry=True,
        )
    return message_id


def dead_letters(amqp_uri, service):
    found = []
    with Connection(amqp_uri) as connection:
        queue = dead_letter_queue(service)(connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            found.append(message.headers)
    return found


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_malformed_events_are_dead_lettered_and_change_nothing(
    service, container_factory, settings, topology, database
):
    service_cls = SERVICES[service]
    contracts = [contract for _, contract in consumers_of(service_cls)]
    assert contracts, f"{service} consumes nothing?"
    database(service)
    taps = {
        name: EventTap(settings.amqp_uri, name) for name in ("intake", "casework", "notifications")
    }
    container = container_factory(service_cls, settings.nameko_config())
    container.start()
    before = wait_until(lambda: snapshot(settings, service), 10, message="the store")
    sent = []

    @given(event=malformed(contracts))
    @hypothesis_settings(max_examples=EXAMPLES, **FUZZ)
    def send(event):
        contract, body = event
        if refused(contract, body):  # (a junk value the contract allows is no test here)
            sent.append(publish(settings.amqp_uri, contract, body))

    send()
    assert len(sent) >= EXAMPLES // 2, "most fuzzed events should be malformed"
    parked = []

    def all_parked():
        parked.extend(dead_letters(settings.amqp_uri, service))
        return len(parked) >= len(sent)

    wait_until(all_parked, 60, message=f"{len(sent)} dead letters in {service}")
    assert len(parked) == len(sent)
    assert all(headers.get("x-death-reason") for headers in parked)
    assert all(headers.get("x-exception-type") == "InvalidEvent" for headers in parked)
    assert snapshot(settings, service) == before, "a malformed event wrote to the store"
    published = {name: tap.drain(ignore=set(sent)) for name, tap in taps.items()}
    assert not any(published.values()), published

    # still consuming: a valid event of each type it consumes is taken and not parked
    for contract in contracts:
        publish(settings.amqp_uri, contract, example_envelope(contract))
    queues = [
        entrypoint_queue(contract, service, method).name
        for method, contract in consumers_of(service_cls)
    ]
    queues += [retry_queue(delay).name for delay in settings.retry_delays_ms]
    wait_until(
        lambda: settled(settings.amqp_uri, queues),
        60,
        message=f"{service} to take the valid events",
    )
    expected = {
        event_type: reason
        for (name, event_type), reason in PARKED_WHEN_ALONE.items()
        if name == service
    }
    parked_valid = dead_letters(settings.amqp_uri, service)
    assert sorted(headers["x-original-routing-key"] for headers in parked_valid) == sorted(
        expected
    ), parked_valid
    for headers in parked_valid:
        reason, exception_type = expected[headers["x-original-routing-key"]]
        assert headers["x-death-reason"].startswith(reason), headers
        assert headers["x-exception-type"] == exception_type, headers


def settled(amqp_uri, queues):
    """No message waits in any of the queues, twice a second apart (one may be in hand)."""
    for _ in range(2):
        with Connection(amqp_uri) as connection:
            channel = connection.default_channel
            if any(channel.queue_declare(name, passive=True).message_count for name in queues):
                return False
        time.sleep(1)
    return True
