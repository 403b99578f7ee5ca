"""casework's service layer on its store in memory (tests/fakes/stores.py) and a
recording relay: a request opens an assigned case once, the assignee accepts, works and
resolves it, the workload counters follow, and each change's events are handed to the
relay with the case. The same paths on the real store: tests/integration."""

from datetime import datetime, timedelta, timezone

import pytest

from services.casework import domain, handlers
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain.opening import case_id_for
from services.casework.store import batch as store_batch
from services.common.auth import Principal
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ACTION_RECORDED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_OPENED,
    CASE_REQUEST_LINKED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
)
from tests.fakes.relay import RecordingRelay
from tests.fakes.stores import case_store
from tests.support import open_case_for_request

MONDAY_0800 = datetime(2023, 5, 29, 0, 0, tzinfo=timezone.utc)  # in the district (+08:00)


def request(request_id="r-1", **extra):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": "daxing",
        "resident": {
            "name": "邹书兰",
            "phone": "13812345678",
            "categories": ["elderly", "living_alone", "key_concern"],
        },
        "resident_ref": "p_zou",
        "need": {"type": "medicine_purchase", "description": "药吃完了"},
        "received_at": "2023-05-29T08:00:00+08:00",
        "repeat_of": None,
        "source": None,
        **extra,
    }


@pytest.fixture
def store():
    return case_store()


@pytest.fixture
def relay():
    return RecordingRelay()


def types(events):
    return [event["type"] for event in events]


def open_one(store, relay, req=None, now=MONDAY_0800):
    req = req or request()
    return open_case_for_request(store, relay, {"id": f"evt-{req['request_id']}"}, req, now=now)


def owner(case):
    return Principal(case.assignee["id"], "worker", case.station)


def workload(store, worker_id):
    return store_batch.workload(store, [worker_id]).get(worker_id, 0)


def command(store, relay, case, decide, **options):
    return handlers.run_command(store, relay, case.case_id, decide, **options)


def test_a_request_opens_one_urgent_case_assigned_to_a_worker_on_duty(store, relay):
    case = open_one(store, relay)
    on_duty = {w.id for w in store.roster("daxing") if 1 in w.duty_days and w.role == "worker"}
    assert case.case_id == case_id_for("r-1")
    assert (case.status, case.priority) == ("assigned", "urgent")
    assert case.assignee["id"] in on_duty
    assert case.resident["name"] == "邹**"  # the case keeps her masked; the registry in full
    assert store.residents.get("p_zou")["name"] == "邹书兰"
    assert types(relay.events) == [CASE_OPENED.type, CASE_ASSIGNED.type]
    assert {event["causationid"] for event in relay.events} == {"evt-r-1"}
    assert workload(store, case.assignee["id"]) == 1


def test_a_redelivered_request_opens_no_second_case(store, relay):
    first = open_one(store, relay)
    again = open_one(store, relay)
    assert again.case_id == first.case_id
    assert len(store.cases.find({})) == 1
    assert types(relay.events) == [CASE_OPENED.type, CASE_ASSIGNED.type]  # published once
    assert workload(store, first.assignee["id"]) == 1


def test_the_next_case_goes_to_the_least_loaded_worker_on_duty(store, relay):
    first = open_one(store, relay)
    second = open_one(
        store,
        relay,
        request(
            "r-2",
            resident_ref="p_other",
            resident={"name": "王芳", "phone": "13800000002", "categories": ["elderly"]},
        ),
    )
    assert second.assignee["id"] != first.assignee["id"]


def test_a_repeat_request_joins_the_residents_open_case(store, relay):
    first = open_one(store, relay)
    joined = open_one(store, relay, request("r-2", repeat_of="r-1"))
    assert joined.case_id == first.case_id and joined.linked_requests
    assert types(relay.events)[-1] == CASE_REQUEST_LINKED.type
    assert store.for_request("r-2")[0].case_id == first.case_id


def test_a_repeat_whose_first_request_has_no_case_yet_waits(store, relay):
    with pytest.raises(domain_lifecycle.RepeatNotYetOpened):
        open_one(store, relay, request("r-2", repeat_of="r-unknown"))
    assert store.cases.find({}) == [] and relay.events == []


def test_the_assignee_accepts_works_and_resolves_and_the_workload_follows(store, relay):
    case = open_one(store, relay)
    worker, now = owner(case), MONDAY_0800 + timedelta(minutes=5)
    accepted = command(store, relay, case, lambda c: domain.accept(c, worker, now))
    worked = command(
        store, relay, case, lambda c: domain.record_action(c, worker, "purchase", "买药", now)
    )
    resolved = command(
        store,
        relay,
        case,
        lambda c: domain.resolve(c, worker, "药已送到", now),
        causation_id="http:corr-1",
    )
    assert (accepted.status, worked.status, resolved.status) == (
        "accepted",
        "in_progress",
        "resolved",
    )
    assert types(relay.events)[2:] == [
        CASE_ACCEPTED.type,
        CASE_ACTION_RECORDED.type,
        CASE_RESOLVED.type,
    ]
    assert [event["sequence"] for event in relay.events] == [1, 2, 3, 4, 5]
    assert relay.events[-1]["causationid"] == "http:corr-1"
    assert store.get(case.case_id)[0].version == resolved.version == case.version + 3
    assert workload(store, case.assignee["id"]) == 0  # resolved: no longer open work


def test_only_the_assignee_accepts_and_a_refusal_writes_and_publishes_nothing(store, relay):
    case = open_one(store, relay)
    stranger = Principal("dx-99", "worker", "daxing")
    with pytest.raises(domain.NotAllowed):
        command(store, relay, case, lambda c: domain.accept(c, stranger, MONDAY_0800))
    assert store.get(case.case_id)[0] == case
    assert types(relay.events) == [CASE_OPENED.type, CASE_ASSIGNED.type]


def test_a_command_on_a_version_read_before_a_change_is_stale(store, relay):
    case = open_one(store, relay)
    worker = owner(case)
    command(store, relay, case, lambda c: domain.accept(c, worker, MONDAY_0800))
    with pytest.raises(domain.StaleCase):
        command(
            store,
            relay,
            case,
            lambda c: domain.record_action(c, worker, "call", "电话", MONDAY_0800),
            expected_version=case.version,
        )


def test_a_case_nobody_accepts_breaches_once_and_goes_to_the_station_head(store, relay):
    case = open_one(store, relay)
    assert handlers.enforce_service_levels(store, relay, MONDAY_0800 + timedelta(minutes=29)) == 0
    late = MONDAY_0800 + timedelta(minutes=31)  # urgent: accepted within 30 minutes
    assert handlers.enforce_service_levels(store, relay, late) == 1
    assert handlers.enforce_service_levels(store, relay, late) == 0  # reported once
    assert types(relay.events)[2:] == [CASE_SLA_BREACHED.type, CASE_ESCALATED.type]
    assert store.get(case.case_id)[0].sla_breached == ("acceptance",)


def test_an_unknown_case_is_a_lookup_error(store, relay):
    with pytest.raises(LookupError):
        handlers.run_command(store, relay, "case-nope", lambda c: (c, []))
