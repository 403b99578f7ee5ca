"""casework's rules on the real MongoDB wire protocol: concurrent commands, service
levels with a controllable clock, repeat requests, the registry, the access chain."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

from services.casework import domain, handlers
from services.casework.handlers import residents as handlers_residents
from services.common import clock
from services.common.auth import Principal
from services.common.contracts import (
    CASE_ACTION_RECORDED,
    CASE_ESCALATED,
    CASE_REQUEST_LINKED,
    CASE_SLA_BREACHED,
)
from tests.fakes.relay import RecordingRelay
from tests.support import access_entries, find_cases, open_case_for_request, seeded_case_store

T0 = datetime(2023, 5, 29, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 in Suqian
WORKER = Principal("dx-01", "worker", "daxing")


@pytest.fixture
def store(database):
    return seeded_case_store(database)


def received(request_id="r-1", categories=("elderly", "living_alone", "key_concern"), **extra):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": list(categories)},
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase", "description": "药"},
        "received_at": "2023-05-29T08:00:00+08:00",
        "repeat_of": None,
        "source": None,
        **extra,
    }


def open_case(store, relay=None, now=T0, request=None):
    request = request or received()
    return open_case_for_request(
        store, relay or RecordingRelay(), {"id": f"evt-{request['request_id']}"}, request, now=now
    )


def all_events(store, case_id):
    return store.cases.find_one({"_id": case_id})["outbox"]  # the recording relay marks none


def owner(case):
    return Principal(case.assignee["id"], "worker", "daxing")


def in_threads(count, target):
    outcomes = []
    barrier = threading.Barrier(count)

    def run(n):
        barrier.wait()
        try:
            outcomes.append(("ok", target(n)))
        except domain.CaseError as exc:
            outcomes.append((exc.code, exc.reason))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_accepts_at_once_exactly_one_succeeds(store):
    case = open_case(store)
    outcomes = in_threads(
        2,
        lambda n: handlers.run_command(
            store,
            RecordingRelay(),
            case.case_id,
            lambda c: domain.accept(c, owner(case), clock.now()),
        ),
    )
    assert sorted(code for code, _ in outcomes) == ["illegal_transition", "ok"], outcomes
    stored, document = store.get(case.case_id)
    assert stored.status == "accepted" and stored.version == 2
    assert [e["type"] for e in document["outbox"]].count("shegong.case.accepted.v1") == 1


def test_two_accepts_from_the_same_read_one_is_stale(store):
    case = open_case(store)
    outcomes = in_threads(
        2,
        lambda n: handlers.run_command(
            store,
            RecordingRelay(),
            case.case_id,
            lambda c: domain.accept(c, owner(case), clock.now()),
            expected_version=1,
        ),
    )
    codes = sorted(code for code, _ in outcomes)
    assert codes in (["ok", "version_conflict"], ["illegal_transition", "ok"]), outcomes


def test_eight_concurrent_updates_lose_nothing(store):
    case = open_case(store)
    handlers.run_command(
        store, RecordingRelay(), case.case_id, lambda c: domain.accept(c, owner(case), clock.now())
    )
    outcomes = in_threads(
        8,
        lambda n: handlers.run_command(
            store,
            RecordingRelay(),
            case.case_id,
            lambda c: domain.record_action(c, owner(case), "note", f"note {n}", clock.now()),
        ),
    )
    assert [code for code, _ in outcomes] == ["ok"] * 8, outcomes
    stored, document = store.get(case.case_id)
    assert sorted(a["note"] for a in stored.actions) == sorted(f"note {n}" for n in range(8))
    assert stored.version == 2 + 8
    events = document["outbox"]
    assert [e["sequence"] for e in events] == list(range(1, document["last_seq"] + 1))
    assert [e["type"] for e in events].count(CASE_ACTION_RECORDED.type) == 8


def test_a_late_case_breaches_once_and_escalates_once_however_often_the_timer_runs(store):
    case = open_case(store)
    relay = RecordingRelay()
    assert handlers.enforce_service_levels(store, relay, T0 + timedelta(minutes=29)) == 0
    late = T0 + timedelta(minutes=31)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(handlers.enforce_service_levels(store, relay, late))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(results) == 1
    assert handlers.enforce_service_levels(store, relay, late + timedelta(minutes=10)) == 0
    events = [e["type"] for e in all_events(store, case.case_id)]
    assert events.count(CASE_SLA_BREACHED.type) == 1 and events.count(CASE_ESCALATED.type) == 1
    stored, _ = store.get(case.case_id)
    assert stored.assignee["id"] == "dx-02" and stored.sla_breached == ("acceptance",)
    # the resolution clock is next, a day after opening
    assert store.due(clock.to_ms(late + timedelta(hours=23))) == []
    assert handlers.enforce_service_levels(store, relay, T0 + timedelta(hours=24, seconds=1)) == 1


def test_a_case_accepted_in_time_never_breaches_acceptance(store):
    case = open_case(store)
    handlers.run_command(
        store,
        RecordingRelay(),
        case.case_id,
        lambda c: domain.accept(c, owner(case), T0 + timedelta(minutes=10)),
    )
    assert handlers.enforce_service_levels(store, RecordingRelay(), T0 + timedelta(hours=2)) == 0


def test_a_repeat_request_joins_the_open_case_once(store):
    first = open_case(store)
    repeat = received("r-2", repeat_of="r-1")
    for _ in range(2):  # delivered twice
        joined = open_case(store, request=repeat)
    assert joined.case_id == first.case_id and len(find_cases(store)) == 1
    same_need = open_case(store, request=received("r-3"))  # same resident, same need
    assert same_need.case_id == first.case_id
    events = [e["type"] for e in all_events(store, first.case_id)]
    assert events.count(CASE_REQUEST_LINKED.type) == 2
    stored, _ = store.get(first.case_id)
    assert [link["request_id"] for link in stored.linked_requests] == ["r-2", "r-3"]
    assert store.for_request("r-2")[0].case_id == first.case_id


def test_registry_flags_make_a_plain_request_urgent_and_updates_apply_once(store):
    update = {
        "change": "added",
        "resident_ref": "p_by_id_number",  # intake's other ref
        "person": {
            "id_number": "11010519491231002X",
            "name": "邹书兰",
            "phone": "13812345678",
            "station": "daxing",
            "categories": ["living_alone"],
            "emergency_contacts": [],
        },
        "source": {"system": "mca", "kind": "key_person_update", "event_id": "x"},
        "updated_at": "2023-05-28T08:00:00+08:00",
    }
    assert handlers_residents.apply_registry_updates(store, [(0, {"id": "evt-1"}, update)]) == {}
    assert store.residents.get("p_by_id_number")["key_person"] == "listed"
    changed = {**update, "change": "removed"}
    assert handlers_residents.apply_registry_updates(store, [(0, {"id": "evt-1"}, changed)]) == {}
    assert store.residents.get("p_by_id_number")["key_person"] == "listed"  # same id: no-op
    case = open_case(store, request=received(categories=()))
    assert case.priority == "urgent" and "key_concern" in case.resident["categories"]
    stored = store.cases.find_one({"_id": case.case_id})
    assert "13812345678" not in repr(stored) and "邹书兰" not in repr(stored)
    assert store.residents.get("p_1")["phone"] == "13812345678"  # one person, two refs
    assert store.residents.get("p_1")["_id"] == "p_by_id_number"
    assert store.residents.get("p_1")["id_number"] == "11010519491231002X"


def test_concurrent_reads_chain_in_order_and_a_tampered_entry_is_found(store):
    in_threads(6, lambda n: store.record_access(f"case-{n}", WORKER, "view", "daxing"))
    assert [e["seq"] for e in access_entries(store)] == [1, 2, 3, 4, 5, 6]
    assert store.access_log.verify() == {
        "valid": True,
        "checked": 6,
        "first_invalid_seq": None,
        "reason": None,
    }
    store.access_log.entries.update_one({"seq": 4}, {"$set": {"actor": "dx-03"}})
    result = store.access_log.verify()
    assert (result["valid"], result["first_invalid_seq"], result["checked"]) == (False, 4, 3)


def test_a_repeat_of_a_resolved_case_opens_a_new_one(store):
    first = open_case(store)
    by = owner(first)
    for decide in (lambda c: domain.accept(c, by, T0), lambda c: domain.resolve(c, by, "好了", T0)):
        handlers.run_command(store, RecordingRelay(), first.case_id, decide)
    second = open_case(store, request=received("r-2", repeat_of="r-1"))
    assert second.case_id != first.case_id and second.status == "assigned"
    assert len(find_cases(store)) == 2
