"""The intake worker follows every request of a case through the case's whole life:
opened, a repeat linked, resolved, closed, reopened, cancelled, in whatever order the
events arrive (the case's sequence decides). nameko's worker_factory on the real store."""

import pytest
from nameko.testing.services import worker_factory

from services.common.contracts import (
    CASE_CANCELLED,
    CASE_CLOSED,
    CASE_OPENED,
    CASE_REOPENED,
    CASE_REQUEST_LINKED,
    CASE_RESOLVED,
)
from services.common.envelope import InvalidEvent, new_event
from services.intake.service import IntakeService
from services.intake.store import RequestStore

AT = "2023-05-29T10:00:00+08:00"
DATA = {
    CASE_OPENED: (
        "received",
        {
            "priority": "urgent",
            "priority_reason": "x",
            "need_type": "medicine_purchase",
            "resident_ref": "p_1",
            "categories": [],
            "request_received_at": AT,
            "opened_at": AT,
        },
    ),
    CASE_REQUEST_LINKED: ("assigned", {"linked_request_id": "r-2", "linked_at": AT}),
    CASE_RESOLVED: (
        "resolved",
        {
            "priority": "urgent",
            "resolved_by": "dx-01",
            "assignee_name": "王晨光",
            "resolved_at": AT,
        },
    ),
    CASE_CLOSED: ("closed", {"closed_by": "dx-01", "closed_at": AT}),
    CASE_REOPENED: ("assigned", {"reopened_by": "dx-07", "reason": "药不对", "reopened_at": AT}),
    CASE_CANCELLED: (
        "cancelled",
        {"reason": "withdrawn", "cancelled_by": "dx-01", "cancelled_at": AT},
    ),
}
METHOD = {
    CASE_OPENED: "case_opened",
    CASE_REQUEST_LINKED: "case_request_linked",
    CASE_RESOLVED: "case_resolved",
    CASE_CLOSED: "case_closed",
    CASE_REOPENED: "case_reopened",
    CASE_CANCELLED: "case_cancelled",
}


def event(contract, sequence):
    status, data = DATA[contract]
    base = {"case_id": "case-1", "request_id": "r-1", "station": "daxing", "status": status}
    return new_event(
        contract, {**base, **data}, subject="case-1", correlation_id="r-1", sequence=sequence
    )


@pytest.fixture
def store(database):
    store = RequestStore(database("intake"))
    for request_id in ("r-1", "r-2"):
        store.requests.insert_one(
            {
                "_id": request_id,
                "status": "received",
                "case_id": None,
                "case_seq": 0,
                "station": "daxing",
            }
        )
    return store


@pytest.fixture
def service(store):
    return worker_factory(IntakeService, store=store)


def deliver(service, contract, *sequences):
    """One batch of CONTRACT's events with these sequences; nothing in it refused."""
    assert getattr(service, METHOD[contract])([event(contract, s) for s in sequences]) == {}


def statuses(store):
    return {r: (store.get(r)["status"], store.get(r)["case_id"]) for r in ("r-1", "r-2")}


def test_a_repeat_follows_the_case_it_joined(service, store):
    deliver(service, CASE_OPENED, 1)
    assert statuses(store) == {"r-1": ("case_opened", "case-1"), "r-2": ("received", None)}
    deliver(service, CASE_REQUEST_LINKED, 3)
    assert statuses(store)["r-2"] == ("case_opened", "case-1")
    deliver(service, CASE_RESOLVED, 6)
    assert statuses(store) == {"r-1": ("resolved", "case-1"), "r-2": ("resolved", "case-1")}
    deliver(service, CASE_REOPENED, 7)
    assert statuses(store)["r-2"] == ("case_opened", "case-1")
    deliver(service, CASE_CLOSED, 9)
    assert statuses(store) == {"r-1": ("closed", "case-1"), "r-2": ("closed", "case-1")}


def test_an_older_event_arriving_late_changes_nothing(service, store):
    deliver(service, CASE_OPENED, 1)
    deliver(service, CASE_CANCELLED, 4)
    deliver(service, CASE_RESOLVED, 3)  # late
    deliver(service, CASE_OPENED, 1)  # redelivered
    assert statuses(store)["r-1"] == ("cancelled", "case-1")


def test_a_batch_applies_its_newest_event_whatever_its_order(service, store):
    deliver(service, CASE_OPENED, 1)
    deliver(service, CASE_REOPENED, 8, 5)  # a redelivered older one after the newer
    deliver(service, CASE_CANCELLED, 6)  # older than the reopening: changes nothing
    assert statuses(store)["r-1"] == ("case_opened", "case-1")


def test_an_invalid_case_event_is_refused_alone(service, store):
    deliver(service, CASE_OPENED, 1)
    failures = service.case_closed(
        [{**event(CASE_CLOSED, 2), "data": {"case_id": "case-1"}}, event(CASE_CLOSED, 3)]
    )
    assert list(failures) == [0] and isinstance(failures[0], InvalidEvent)  # dead-lettered
    assert statuses(store)["r-1"] == ("closed", "case-1")  # the valid one


def test_an_invalid_case_event_changes_nothing(service, store):
    failures = service.case_closed([{**event(CASE_CLOSED, 2), "data": {"case_id": "case-1"}}])
    assert isinstance(failures[0], InvalidEvent)
    assert statuses(store)["r-1"] == ("received", None)
