"""casework's request.received handler on a batch (handlers/batch.py), on the real
store: plain requests open their cases together, spread over the workers as one at a
time would; a second request of one resident in the batch joins the first's case; a
request handled before changes nothing; a redelivered batch changes nothing."""

from collections import Counter

import pytest
from nameko.testing.services import worker_factory

from services.casework.service import CaseworkService
from services.common import config
from services.common.contracts import (
    CASE_ASSIGNED,
    CASE_OPENED,
    REQUEST_RECEIVED,
    RESIDENT_REGISTRY_UPDATED,
)
from services.common.envelope import new_event
from tests.fakes.relay import RecordingRelay
from tests.support import find_cases, seeded_case_store


@pytest.fixture
def store(database):
    return seeded_case_store(database)


def received(request_id, resident_ref, phone, need="home_visit", **extra):
    return new_event(
        REQUEST_RECEIVED,
        {
            "request_id": request_id,
            "channel": "phone",
            "station": "daxing",
            "resident": {"name": "邹书兰", "phone": phone, "categories": ["elderly"]},
            "resident_ref": resident_ref,
            "need": {"type": need, "description": ""},
            "received_at": "2023-05-29T08:00:00+08:00",
            **extra,
        },
        subject=request_id,
        correlation_id=request_id,
        sequence=1,
    )


def batch_of(count, prefix="r"):
    return [received(f"{prefix}-{n}", f"p_{prefix}{n}", f"1381234{n:04d}") for n in range(count)]


def test_a_batch_opens_every_case_once_spread_over_the_workers(store):
    relay = RecordingRelay()
    service = worker_factory(CaseworkService, store=store, relay=relay, settings=config.settings())
    assert service.request_received(batch_of(12)) == {}
    cases = find_cases(store, limit=100)
    assert sorted(case.request_id for case in cases) == sorted(f"r-{n}" for n in range(12))
    load = Counter(case.assignee["id"] for case in cases)
    assert max(load.values()) - min(load.values()) <= 1  # as one at a time would spread them
    assert {row["_id"]: row["open"] for row in store.workload.find()} == dict(load)
    assert len(relay.documents) == 12
    assert all(
        [e["type"] for e in doc["outbox"]][:2] == [CASE_OPENED.type, CASE_ASSIGNED.type]
        for doc in relay.documents
    )
    assert store.residents.get("p_r3")["phone"] == "13812340003"

    # the same batch again (a redelivery after a crash before the ack): nothing changes
    assert service.request_received(batch_of(12)) == {}
    assert store.cases.count_documents({}) == 12 and len(relay.documents) == 12
    assert {row["_id"]: row["open"] for row in store.workload.find()} == dict(load)


def test_a_second_request_of_one_resident_in_the_batch_joins_the_first_case(store):
    relay = RecordingRelay()
    service = worker_factory(CaseworkService, store=store, relay=relay, settings=config.settings())
    first = received("r-a", "p_same", "13812340001")
    again = received("r-b", "p_same", "13812340001")
    other = received("r-c", "p_other", "13812340002")
    assert service.request_received([first, other, again]) == {}
    assert store.cases.count_documents({}) == 2
    joined = store.for_request("r-b")[0]
    assert joined.request_id == "r-a"
    assert [link["request_id"] for link in joined.linked_requests] == ["r-b"]


def test_a_repeat_in_the_batch_of_its_first_request_joins_its_case(store):
    service = worker_factory(
        CaseworkService, store=store, relay=RecordingRelay(), settings=config.settings()
    )
    first = received("r-a", "p_a", "13812340001")
    repeat = received("r-b", "p_b", "13812340002", repeat_of="r-a")  # another number
    assert service.request_received([first, repeat]) == {}
    assert store.cases.count_documents({}) == 1
    assert store.for_request("r-b")[0].request_id == "r-a"


def test_a_repeat_of_an_unknown_request_is_returned_for_retry_and_the_rest_opened(store):
    service = worker_factory(
        CaseworkService, store=store, relay=RecordingRelay(), settings=config.settings()
    )
    bodies = batch_of(3) + [received("r-x", "p_x", "13812349999", repeat_of="r-unknown")]
    bodies.insert(1, {"not": "an event"})
    failures = service.request_received(bodies)
    assert sorted(failures) == [1, 4]
    assert type(failures[1]).__name__ == "InvalidEvent"
    assert type(failures[4]).__name__ == "RepeatNotYetOpened"
    assert store.cases.count_documents({}) == 3


def registry_update(event_n, ref, id_number, change="added", categories=("living_alone",)):
    return new_event(
        RESIDENT_REGISTRY_UPDATED,
        {
            "change": change,
            "resident_ref": ref,
            "person": {"id_number": id_number, "name": "邹书兰", "categories": list(categories)},
            "source": {"system": "mca", "kind": "key_person_update", "event_id": f"mca-{event_n}"},
            "updated_at": "2023-05-28T08:00:00+08:00",
        },
        subject=ref,
        correlation_id=f"mca-{event_n}",
    )


def test_a_batch_of_registry_updates_is_applied_once_each_in_order(store):
    service = worker_factory(
        CaseworkService, store=store, relay=RecordingRelay(), settings=config.settings()
    )
    numbers = ["11010519491231002X", "110105194912310038", "110105195001010012"]
    updates = [registry_update(n, f"p_{n}", number) for n, number in enumerate(numbers)]
    updates.append(registry_update(9, "p_0", numbers[0], change="removed"))  # p_0 again
    assert service.resident_registry_updated(updates) == {}
    assert store.residents.get("p_0")["key_person"] == "removed"  # the later event wins
    assert store.residents.get("p_1")["key_person"] == "listed"
    assert store.residents.records.count_documents({}) == 3
    assert store.residents.applied.count_documents({}) == 4
    before = list(store.residents.records.find({}, sort=[("_id", 1)]))
    assert service.resident_registry_updated(updates[:2]) == {}  # redelivered: nothing changes
    assert list(store.residents.records.find({}, sort=[("_id", 1)])) == before


def test_a_second_update_of_one_person_in_a_batch_sees_the_first(store):
    service = worker_factory(
        CaseworkService, store=store, relay=RecordingRelay(), settings=config.settings()
    )
    number = "11010519491231002X"
    first = registry_update(1, "p_one", number, categories=("living_alone",))
    other = registry_update(2, "p_two", "110105194912310038")
    by_number = registry_update(3, "p_by_number", number, categories=("no_family_nearby",))
    assert service.resident_registry_updated([first, other, by_number]) == {}
    record = store.residents.get("p_by_number")
    assert record["_id"] == "p_one"  # one person, found by the ID number the first wrote
    assert record["categories"] == ["key_concern", "living_alone", "no_family_nearby"]
    assert store.residents.records.count_documents({}) == 2


def test_a_returning_resident_writes_only_the_lookup_keys_she_did_not_have(store):
    """The keys go before the record, so a record found has its keys: her second request
    rewrites none of them, a new phone is keyed, and the new phone then finds her."""
    service = worker_factory(
        CaseworkService, store=store, relay=RecordingRelay(), settings=config.settings()
    )
    assert service.request_received([received("r-first", "p_back", "13812340001")]) == {}
    keys = store.residents.keys
    assert keys.find_one({"_id": "phone:13812340001"})["resident"] == "p_back"
    keys.update_one({"_id": "phone:13812340001"}, {"$set": {"seen": "yes"}})  # a rewrite drops it

    again = received("r-again", "p_back", "13812340001", need="medicine_purchase")
    assert service.request_received([again]) == {}
    assert keys.find_one({"_id": "phone:13812340001"}).get("seen") == "yes"  # not rewritten

    moved = received("r-moved", "p_back", "13812340002", need="daily_living_help")
    assert service.request_received([moved]) == {}
    assert keys.find_one({"_id": "phone:13812340002"})["resident"] == "p_back"
    # another ref naming the new phone is the same person
    other = received("r-other", "p_elsewhere", "13812340002", need="psychological_support")
    assert service.request_received([other]) == {}
    assert store.residents.get("p_elsewhere")["_id"] == "p_back"
