"""Each service's entrypoints with nameko's worker_factory: the real store adapter on
the MongoDB wire protocol, a recording outbox relay (the broker is tested elsewhere),
and for notifications a recording SMS provider (the carrier is outside the system).
"""

import pytest
from nameko.testing.services import worker_factory

from services.casework import seed
from services.casework.domain.roster import on_duty_workers
from services.casework.service import CaseworkService
from services.casework.store import CaseStore
from services.common import clock, config
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_OPENED,
    CASE_RESOLVED,
    MESSAGE_SENT,
    REQUEST_RECEIVED,
)
from services.common.envelope import InvalidEvent, new_event
from services.intake.service import IntakeService
from services.intake.store import RequestStore
from services.notifications.handlers import RecipientUnknown
from services.notifications.service import NotificationsService
from services.notifications.store import NotificationStore
from services.reporting.handlers import reports as reporting
from services.reporting.handlers.projector import Projector
from services.reporting.service import ReportingService
from services.reporting.store import ReportStore
from tests.fakes.relay import RecordingRelay
from tests.support import find_cases, find_messages


class RecordingProvider:
    name = "recording"

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return f"p-{len(self.sent)}"


def received(request_id="r-1", station="daxing"):
    return new_event(
        REQUEST_RECEIVED,
        {
            "request_id": request_id,
            "channel": "phone",
            "station": station,
            "resident": {
                "name": "邹书兰",
                "phone": "13812345678",
                "categories": ["elderly", "living_alone", "key_concern"],
            },
            "resident_ref": "p_1",
            "need": {"type": "medicine_purchase", "description": "药吃完了"},
            "received_at": "2023-05-29T08:00:00+08:00",
        },
        subject=request_id,
        correlation_id=request_id,
        sequence=1,
    )


def case_event(contract, data, sequence):
    status = {
        "shegong.case.opened.v1": "received",
        "shegong.case.assigned.v1": "assigned",
        "shegong.case.accepted.v1": "accepted",
        "shegong.case.resolved.v1": "resolved",
    }[contract.type]
    base = {"case_id": "case-1", "request_id": "r-1", "station": "daxing", "status": status}
    return new_event(
        contract, {**base, **data}, subject="case-1", correlation_id="r-1", sequence=sequence
    )


@pytest.fixture
def case_store(database):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster())
    return store


def test_casework_opens_one_case_per_request_however_often_it_arrives(case_store):
    relay = RecordingRelay()
    service = worker_factory(
        CaseworkService, store=case_store, relay=relay, settings=config.settings()
    )
    event = received()
    assert service.request_received([event, event]) == {}  # twice in one batch
    assert service.request_received([event]) == {}  # and again later
    cases = find_cases(case_store, request_id="r-1")
    assert len(cases) == 1
    case = cases[0]
    assert (case.station, case.priority, case.status) == ("daxing", "urgent", "assigned")
    today = clock.weekday(clock.now())
    on_duty = {w.id for w in on_duty_workers(case_store.roster("daxing"), "daxing", today)}
    assert case.assignee["id"] in on_duty
    assert len(relay.published) == 1
    name, document = relay.published[0]
    assert name == "cases" and document["outbox_pending"]
    assert [(e["type"], e["sequence"], e["causationid"]) for e in document["outbox"]] == [
        (CASE_OPENED.type, 1, event["id"]),
        (CASE_ASSIGNED.type, 2, event["id"]),
    ]


def test_casework_refuses_an_invalid_request_event(case_store):
    service = worker_factory(
        CaseworkService, store=case_store, relay=RecordingRelay(), settings=config.settings()
    )
    failures = service.request_received([{**received(), "data": {"request_id": "r-1"}}])
    assert list(failures) == [0] and isinstance(failures[0], InvalidEvent)  # dead-lettered
    assert find_cases(case_store) == []


def test_intake_follows_its_case_forward_only(database):
    store = RequestStore(database("intake"))
    # as an earlier version wrote it (no case_seq): the worker's start-up migrates it
    store.requests.insert_one({"_id": "r-1", "status": "received", "case_id": None})
    store.ensure_indexes()
    service = worker_factory(IntakeService, store=store)
    resolved = case_event(
        CASE_RESOLVED,
        {
            "priority": "urgent",
            "resolved_by": "dx-01",
            "assignee_name": "王晨光",
            "resolved_at": "2023-05-29T10:00:00+08:00",
        },
        7,
    )
    opened = case_event(
        CASE_OPENED,
        {
            "priority": "urgent",
            "priority_reason": "x",
            "need_type": "medicine_purchase",
            "resident_ref": "p_1",
            "categories": [],
            "request_received_at": "2023-05-29T08:00:00+08:00",
            "opened_at": "2023-05-29T08:00:01+08:00",
        },
        1,
    )
    assert service.case_resolved([resolved]) == {}  # arrives first (a batch of one)
    assert service.case_opened([opened]) == {}  # late: must not move the request back
    assert store.get("r-1")["status"] == "resolved"
    assert store.get("r-1")["case_id"] == "case-1"


ASSIGNED = {
    "priority": "urgent",
    "need_type": "medicine_purchase",
    "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
    "resident": {"name": "邹**", "phone": "138****5678"},
    "assigned_at": "2023-05-29T08:00:01+08:00",
}
ACCEPTED = {
    "accepted_by": "dx-01",
    "assignee_name": "王晨光",
    "accepted_at": "2023-05-29T08:05:00+08:00",
}


@pytest.fixture
def notifications(database, monkeypatch):
    # quiet hours off: these tests run at any hour (tests/integration covers quiet hours)
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_END", "00:00")
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    provider, relay = RecordingProvider(), RecordingRelay()
    return (
        store,
        provider,
        relay,
        worker_factory(
            NotificationsService,
            store=store,
            relay=relay,
            sms=provider,
            settings=config.settings(),
        ),
    )


def test_the_worker_is_told_once_even_when_the_event_arrives_twice(notifications):
    store, provider, relay, service = notifications
    event = case_event(CASE_ASSIGNED, ASSIGNED, 2)
    assert service.case_assigned([event, event]) == {}  # twice in one batch
    assert service.case_assigned([event]) == {}  # and again later
    assert len(provider.sent) == 1
    assert provider.sent[0]["phone"] == "13900000101"
    assert "邹**（138****5678）" in provider.sent[0]["body"]
    stored = find_messages(store, {"case_id": "case-1"})
    assert [(m["recipient_role"], m["status"]) for m in stored] == [("worker", "sent")]
    assert [e["type"] for _, doc in relay.published for e in doc["outbox"]] == [MESSAGE_SENT.type]


def test_the_resident_is_told_once_her_contact_is_known(notifications):
    store, provider, relay, service = notifications
    accepted = case_event(CASE_ACCEPTED, ACCEPTED, 3)
    with pytest.raises(RecipientUnknown):  # retried later by the handler's retry policy
        service.case_accepted(accepted)
    assert provider.sent == [] and find_messages(store, {"case_id": "case-1"}) == []
    assert service.request_received([received()]) == {}
    service.case_accepted(accepted)
    assert [m["phone"] for m in provider.sent] == ["13812345678"]
    assert "王晨光" in provider.sent[0]["body"]


def test_reporting_counts_each_request_and_case_once_in_any_order(database):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    service = worker_factory(ReportingService, projector=Projector(store))
    accepted = case_event(CASE_ACCEPTED, ACCEPTED, 3)
    opened = case_event(
        CASE_OPENED,
        {
            "priority": "urgent",
            "priority_reason": "x",
            "need_type": "medicine_purchase",
            "resident_ref": "p_1",
            "categories": [],
            "request_received_at": "2023-05-29T08:00:00+08:00",
            "opened_at": "2023-05-29T08:00:01+08:00",
        },
        1,
    )
    for _ in range(2):
        assert service.case_accepted([accepted]) == {}
        assert service.case_opened([opened]) == {}
        assert service.request_received([received()]) == {}
    figures = reporting.summary(store, "daxing", "2023-05-29", "2023-05-29")
    assert figures["requests_received"] == 1
    assert figures["cases_opened"] == 1 and figures["cases_accepted"] == 1
    assert figures["time_to_accept_seconds"]["median"] == 300.0
    assert reporting.summary(store, "xiaxiang")["requests_received"] == 0
    assert reporting.summary(store, None, "2023-05-30")["requests_received"] == 0
