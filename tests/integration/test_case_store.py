"""casework's store on the real wire protocol: optimistic concurrency, one case per request."""

import threading
from dataclasses import replace
from datetime import date

import pytest

from services.casework import domain, handlers, seed
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.casework.store import CaseStore, lists
from services.common import clock, list_keys
from services.common.auth import Principal
from tests.fakes.relay import RecordingRelay
from tests.support import add_case, find_cases, open_counts

WORKER = Principal("dx-01", "worker", "daxing")


@pytest.fixture
def store(database):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    return store


def accepted_case(store):
    request = {
        "request_id": "r-1",
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": []},
        "resident_ref": "p_1",
        "need": {"type": "home_visit", "description": ""},
        "received_at": "2023-05-29T08:00:00+08:00",
    }
    worker = domain_roster.Worker(
        "dx-01", "王晨光", "13900000101", "daxing", "worker", tuple(range(1, 8))
    )
    case, events = domain_opening.open_case("case-1", request, [worker], {}, clock.now())
    add_case(store, case, handlers.to_envelopes(case, events, None, "e-0"))
    return handlers.run_command(
        store, RecordingRelay(), "case-1", lambda c: domain.accept(c, WORKER, clock.now())
    )


def test_a_write_from_a_stale_read_is_refused(store):
    accepted_case(store)
    case, document = store.get("case-1")
    first, events = domain.record_action(case, WORKER, "call", "", clock.now())
    store.save(first, document, handlers.to_envelopes(first, events, document, None))
    second, events = domain.record_action(case, WORKER, "visit", "", clock.now())
    with pytest.raises(domain.StaleCase):
        store.save(second, document, handlers.to_envelopes(second, events, document, None))
    assert [a["type"] for a in store.get("case-1")[0].actions] == ["call"]


def test_concurrent_updates_lose_nothing(store):
    accepted_case(store)
    outcomes = []

    def act(n):
        try:
            handlers.run_command(
                store,
                RecordingRelay(),
                "case-1",
                lambda c: domain.record_action(c, WORKER, "note", f"note {n}", clock.now()),
            )
            outcomes.append(("ok", n))
        except domain.StaleCase:
            outcomes.append(("stale", n))

    threads = [threading.Thread(target=act, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    case, document = store.get("case-1")
    succeeded = sorted(n for result, n in outcomes if result == "ok")
    assert succeeded, outcomes
    assert sorted(int(a["note"].split()[1]) for a in case.actions) == succeeded
    assert case.version == 2 + len(succeeded)
    sequences = [event["sequence"] for event in document["outbox"]]
    assert sequences == list(range(1, document["last_seq"] + 1))  # contiguous, nothing lost


def test_one_case_per_request(store):
    accepted_case(store)
    case, _ = store.get("case-1")
    twin = replace(case, case_id="case-2")
    assert add_case(store, twin, []) is None
    assert len(find_cases(store, request_id="r-1")) == 1


def district_key(case_id, status):
    """The district's list key a case document holds (store.lists.keys_of), by which the
    open cases are counted."""
    return {lists.LISTS[("district", "due")]: list_keys.key("*", status, None, case_id)}


def test_open_cases_are_counted_per_worker_of_the_station(store):
    def case(case_id, station, status, assignee):
        return {
            "_id": case_id,
            "request_id": f"r-{case_id}",
            "station": station,
            "status": status,
            "assignee": {"id": assignee} if assignee else None,
            **district_key(case_id, status),
        }

    store.cases.insert_many(
        [
            case("1", "daxing", "assigned", "dx-01"),
            case("2", "daxing", "in_progress", "dx-01"),
            case("3", "daxing", "accepted", "dx-02"),
            case("4", "daxing", "resolved", "dx-02"),
            case("5", "daxing", "received", None),
            case("6", "xiaxiang", "assigned", "xx-01"),
        ]
    )
    assert store.counted_open_cases({"daxing"}) == {"dx-01": 2, "dx-02": 1}
    assert store.counted_open_cases({"xiaxiang"}) == {"xx-01": 1}
    assert store.counted_open_cases({"luji"}) == {}


def test_the_workload_counters_follow_each_owner_change_and_a_recount_corrects_them(store):
    """Assignment reads per-worker counters; a crash between a case write and its
    counter leaves them off, and the timer's recount puts them right."""
    store.seed_roster(seed.roster(), seed.calendar())
    accepted_case(store)  # opened, assigned to dx-01, accepted
    case, document = store.get("case-1")
    owner = case.assignee["id"]
    assert open_counts(store, "daxing").get(owner) == 1
    resolved, events = domain.resolve(case, WORKER, "送达", clock.now())
    store.save(resolved, document, handlers.to_envelopes(resolved, events, document, None))
    assert open_counts(store, "daxing").get(owner, 0) == 0

    store.cases.insert_one(
        {
            "_id": "lost",
            "request_id": "r-lost",
            "station": "daxing",
            "status": "assigned",
            "assignee": {"id": "dx-02"},
            **district_key("lost", "assigned"),
        }
    )  # no counter moved
    store.workload.update_one({"_id": owner}, {"$set": {"open": 5}}, upsert=True)  # drifted
    assert store.reconcile_workload("daxing") == sorted({"dx-02", owner})
    counts = open_counts(store, "daxing")
    assert counts.get("dx-02") == 1 and counts.get(owner, 0) == 0
    assert store.reconcile_workload("daxing") == []


def test_a_whole_list_is_walked_a_chunk_at_a_time_and_only_its_part(store):
    field = lists.LISTS[("district", "due")]
    store.cases.insert_many(
        [
            {"_id": f"a{n}", "station": "daxing", **district_key(f"a{n}", "assigned")}
            for n in range(7)
        ]
        + [{"_id": "r", "station": "daxing", **district_key("r", "resolved")}]
        + [{"_id": "s", "station": "daxing", field: list_keys.key("daxing", "assigned", None, "s")}]
    )
    reads = []
    find = store.cases.find

    def counting(*args, **kwargs):
        reads.append(kwargs.get("limit"))
        return find(*args, **kwargs)

    store.cases.find = counting
    walked = [d["_id"] for d in list_keys.walk(store.cases, field, "*", "assigned", {}, chunk=3)]
    assert walked == [f"a{n}" for n in range(7)]
    assert reads == [3, 3, 3]  # 3 + 3 + 1: never more than a chunk a read


def opened_at(store, case_id, station, at):
    """A case of ``station`` opened at ``at`` (an ISO instant in any offset)."""
    request = {
        "request_id": f"r-{case_id}",
        "channel": "phone",
        "station": station,
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": []},
        "resident_ref": f"p-{case_id}",
        "need": {"type": "home_visit", "description": ""},
        "received_at": at,
    }
    worker = domain_roster.Worker("dx-01", "王晨光", "13900000101", station, "worker", ())
    case, events = domain_opening.open_case(case_id, request, [worker], {}, clock.parse_iso(at))
    add_case(store, case, handlers.to_envelopes(case, events, None, f"e-{case_id}"))


def test_the_cases_of_district_days_are_those_opened_in_them_at_any_hour(store):
    """A district day runs from its midnight (16:00 UTC the day before): what the store
    compares is text, as MongoDB compares it, and the embedded store compares text that
    starts like a date as an instant in UTC (which put 00:00-07:59 on the day before)."""
    for case_id, station, at in [
        ("before", "daxing", "2026-12-07T23:59:59+08:00"),
        ("midnight", "daxing", "2026-12-08T00:00:00+08:00"),
        ("small-hours", "daxing", "2026-12-07T16:30:00Z"),  # 00:30 in the district
        ("evening", "daxing", "2026-12-08T23:59:59+08:00"),
        ("elsewhere", "yuxin", "2026-12-08T09:00:00+08:00"),
        ("after", "daxing", "2026-12-09T00:00:00+08:00"),
    ]:
        opened_at(store, case_id, station, at)
    day = date(2026, 12, 8)
    assert [c.case_id for c in store.opened_between("daxing", day, day, 100)] == [
        "midnight",
        "small-hours",
        "evening",
    ]
    assert [c.case_id for c in store.opened_between(None, day, day, 100)] == [
        "midnight",
        "small-hours",
        "elsewhere",
        "evening",
    ]
    two_days = store.opened_between(None, date(2026, 12, 7), day, 100)
    assert [c.case_id for c in two_days][:2] == ["before", "midnight"]
    assert len(store.opened_between(None, date(2026, 12, 7), date(2026, 12, 9), 3)) == 3


def test_an_index_no_query_uses_any_more_is_dropped_at_start(database):
    """A store kept from before the export read the lists loses its ``opened_at``
    index (every case write paid for it)."""
    cases = database("casework")["cases"]
    cases.create_index("opened_at")
    CaseStore(database("casework")).ensure_indexes()
    keys = [index["key"] for index in cases.index_information().values()]
    assert [("opened_at", 1)] not in keys
    assert [("list_station_opened", 1)] in keys
