"""casework's entrypoints with nameko's worker_factory on the real store: the
service-level timer, the registry consumer, a station with nobody on duty, a repeat
request delivered before its first request."""

from datetime import timedelta

import pytest
from nameko.testing.services import worker_factory

from services.casework.domain.lifecycle import RepeatNotYetOpened
from services.casework.service import CaseworkService
from services.common import clock, config
from services.common.contracts import (
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_OPENED,
    CASE_SLA_BREACHED,
    REQUEST_RECEIVED,
    RESIDENT_REGISTRY_UPDATED,
)
from services.common.envelope import InvalidEvent, new_event
from tests.fakes.relay import RecordingRelay
from tests.support import find_cases, open_case_for_request, seeded_case_store


@pytest.fixture
def store(database):
    return seeded_case_store(database)


def received(request_id="r-1", station="daxing", **extra):
    return new_event(
        REQUEST_RECEIVED,
        {
            "request_id": request_id,
            "channel": "phone",
            "station": station,
            "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"]},
            "resident_ref": "p_1",
            "need": {"type": "home_visit", "description": ""},
            "received_at": "2023-05-29T08:00:00+08:00",
            **extra,
        },
        subject=request_id,
        correlation_id=request_id,
        sequence=1,
    )


def types(document):
    return [event["type"] for event in document["outbox"]]


def test_at_a_station_with_nobody_on_duty_the_head_gets_the_case_escalated(store):
    relay = RecordingRelay()
    service = worker_factory(CaseworkService, store=store, relay=relay, settings=config.settings())
    assert service.request_received([received(station="luji")]) == {}  # a batch of one
    case = find_cases(store, station="luji")[0]
    assert case.assignee["id"] == "lj-01" and case.status == "assigned"
    ((_, document),) = relay.published
    assert types(document) == [CASE_OPENED.type, CASE_ASSIGNED.type, CASE_ESCALATED.type]
    assert document["outbox"][2]["data"]["reason"] == "nobody_on_duty"


def test_the_timer_escalates_a_case_past_its_deadline_once(store):
    relay = RecordingRelay()
    long_ago = clock.now() - timedelta(days=10)
    open_case_for_request(
        store,
        relay,
        received(),
        received()["data"]
        | {
            "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"]},
            "need": {"type": "home_visit", "description": ""},
            "repeat_of": None,
            "source": None,
        },
        now=long_ago,
    )
    service = worker_factory(CaseworkService, store=store, relay=relay)
    service.check_service_levels()
    service.check_service_levels()
    case = find_cases(store)[0]
    document = store.cases.find_one({"_id": case.case_id})
    assert types(document).count(CASE_SLA_BREACHED.type) == 2  # acceptance and resolution
    assert types(document).count(CASE_ESCALATED.type) == 1  # to the head, once
    assert case.assignee["id"] == "dx-02" and case.sla_due_ms is None


def test_the_registry_consumer_applies_an_update_and_refuses_an_invalid_one(store):
    service = worker_factory(CaseworkService, store=store, relay=RecordingRelay())
    bad = new_event(
        RESIDENT_REGISTRY_UPDATED,
        {
            "change": "added",
            "resident_ref": "p_2",
            "person": {"id_number": "11010519491231002X"},
            "source": {"system": "mca", "kind": "key_person_update", "event_id": "mca-1"},
            "updated_at": "2023-05-28T08:00:00+08:00",
        },
        subject="p_2",
        correlation_id="mca-1",
    )
    assert service.resident_registry_updated([bad]) == {}  # a batch of one
    assert store.residents.get("p_2")["key_person"] == "listed"
    merged = {**bad, "data": {**bad["data"], "change": "merged"}}
    failures = service.resident_registry_updated([merged])
    assert list(failures) == [0] and isinstance(failures[0], InvalidEvent)  # dead-lettered


def test_a_repeat_before_its_first_request_has_a_case_waits_and_writes_nothing(store):
    relay = RecordingRelay()
    service = worker_factory(CaseworkService, store=store, relay=relay, settings=config.settings())
    repeat = received("r-2", repeat_of="r-1")
    failures = service.request_received([repeat])  # retried alone by the batch entrypoint
    raised = failures[0]
    assert isinstance(raised, RepeatNotYetOpened)
    assert "r-2" in str(raised) and "r-1" in str(raised)
    assert store.cases.count_documents({}) == 0  # no case
    assert store.links.count_documents({}) == 0  # no link
    assert relay.published == []  # no event
    assert store.residents.get("p_1") is None  # not even the registry

    assert service.request_received([received("r-1")]) == {}  # the first request's case opens
    assert service.request_received([repeat]) == {}  # the retry joins it
    (case,) = find_cases(store)
    assert case.request_id == "r-1"
    assert [link["request_id"] for link in case.linked_requests] == ["r-2"]
    assert store.for_request("r-2")[0].case_id == case.case_id


def test_a_batch_of_failed_messages_reaches_only_the_cases_residents(store):
    from services.common.contracts import MESSAGE_FAILED

    relay = RecordingRelay()
    service = worker_factory(CaseworkService, store=store, relay=relay, settings=config.settings())
    assert service.request_received([received()]) == {}
    case = find_cases(store)[0]

    def failed(role, message_id):
        return new_event(
            MESSAGE_FAILED,
            {
                "message_id": message_id,
                "case_id": case.case_id,
                "request_id": "r-1",
                "station": "daxing",
                "recipient_role": role,
                "channel": "sms",
                "template": "case_accepted_resident",
                "status": "technical_failure",
                "reason": "all providers unavailable",
                "failed_at": "2023-05-29T09:00:00+08:00",
            },
            subject=message_id,
            correlation_id="r-1",
            sequence=3,
        )

    resident = failed("resident", "e-9:resident:case_accepted_resident")
    answer = service.message_failed(
        [resident, failed("worker", "e-1:worker:x"), resident, {"not": "an event"}]
    )
    assert list(answer) == [3] and isinstance(answer[3], InvalidEvent)
    _, document = store.get(case.case_id)
    assert types(document).count("shegong.case.resident_unreached.v1") == 1
