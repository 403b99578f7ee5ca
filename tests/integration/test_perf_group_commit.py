"""Group commit on the real store: concurrent writers share bulk writes, each returns
only once its own write is stored, and a failed batch fails every writer in it."""

import threading
import time

import pytest
from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from services.common import group_commit


def test_a_lone_writer_is_stored_when_write_returns(database):
    facts = database("reporting")["case_facts"]
    group_commit.writer(facts).write(
        [UpdateOne({"_id": "case-1"}, {"$set": {"n": 1}}, upsert=True)]
    )
    assert facts.find_one({"_id": "case-1"})["n"] == 1


def test_concurrent_writers_are_each_stored_once_when_their_write_returns(database):
    facts = database("reporting")["case_facts"]
    writer = group_commit.writer(facts)
    seen_after_return = []

    def write(number):
        writer.write(
            [
                UpdateOne({"_id": f"case-{number}"}, {"$set": {"n": number}}, upsert=True),
                UpdateOne({"_id": f"case-{number}"}, {"$max": {"m": number}}),
            ]
        )
        seen_after_return.append(facts.find_one({"_id": f"case-{number}"}))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(d["n"] for d in seen_after_return) == list(range(40))
    assert all(d["m"] == d["n"] for d in seen_after_return)  # each caller's order kept
    assert len(list(facts.find({}))) == 40


def test_a_failed_batch_raises_in_its_writer_and_the_next_batch_still_goes(database):
    facts = database("reporting")["message_facts"]
    writer = group_commit.writer(facts)
    writer.write([InsertOne({"_id": "m-1"})])
    with pytest.raises(BulkWriteError):
        writer.write([InsertOne({"_id": "m-1"})])  # a duplicate key
    writer.write([InsertOne({"_id": "m-2"})])
    assert {d["_id"] for d in facts.find({})} == {"m-1", "m-2"}


def test_one_writer_per_collection_and_process(database):
    cases = database("casework")["cases"]
    assert group_commit.writer(cases) is group_commit.writer(cases)
    assert group_commit.writer(cases) is not group_commit.writer(database("casework")["other"])


class SlowFirstBulk:
    """The real collection, whose first bulk write takes a while (others queue meanwhile)."""

    def __init__(self, collection):
        self.collection, self.calls = collection, []
        self.database, self.full_name = collection.database, collection.full_name

    def bulk_write(self, operations, ordered):
        self.calls.append(len(operations))
        if len(self.calls) == 1:
            time.sleep(0.5)
        return self.collection.bulk_write(operations, ordered=ordered)


def test_writers_queued_behind_a_write_share_the_next_bulk_write(database):
    spy = SlowFirstBulk(database("reporting")["request_facts"])
    writer = group_commit.GroupCommit(spy)
    threads = [
        threading.Thread(
            target=writer.write,
            args=([UpdateOne({"_id": f"r-{n}"}, {"$set": {"n": n}}, upsert=True)],),
        )
        for n in range(10)
    ]
    threads[0].start()
    time.sleep(0.1)  # the first write is under way
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert spy.calls == [1, 9]
    assert len(list(spy.collection.find({}))) == 10


class CountingBulk(SlowFirstBulk):
    def bulk_write(self, operations, ordered):
        self.calls.append(len(operations))
        return self.collection.bulk_write(operations, ordered=ordered)


def test_writes_nobody_waits_for_linger_and_go_together(database):
    spy = CountingBulk(database("casework")["cases"])
    writer = group_commit.GroupCommit(spy, linger_s=0.3)
    marked = threading.Event()
    started = time.monotonic()
    for n in range(5):
        writer.write_soon(
            [UpdateOne({"_id": f"c-{n}"}, {"$set": {"n": n}}, upsert=True)],
            then=marked.set if n == 4 else None,
        )
    assert time.monotonic() - started < 0.2  # none of them waited for the store
    assert marked.wait(5)
    assert spy.calls == [5]  # one bulk write for all five
    assert len(list(spy.collection.find({}))) == 5


def test_a_waited_write_takes_the_queued_ones_along_at_once(database):
    spy = CountingBulk(database("casework")["cases"])
    writer = group_commit.GroupCommit(spy, linger_s=30)
    writer.write_soon([UpdateOne({"_id": "c-1"}, {"$set": {"n": 1}}, upsert=True)])
    started = time.monotonic()
    writer.write([UpdateOne({"_id": "c-2"}, {"$set": {"n": 2}}, upsert=True)])
    assert time.monotonic() - started < 10  # not the 30 s linger
    assert spy.calls == [2] and len(list(spy.collection.find({}))) == 2


def test_a_failed_write_nobody_waits_for_is_logged_and_still_reported_done(database, caplog):
    facts = database("reporting")["message_facts"]
    facts.insert_one({"_id": "m-1"})
    writer = group_commit.GroupCommit(facts, linger_s=0.05)
    done = threading.Event()
    writer.write_soon([InsertOne({"_id": "m-1"})], then=done.set)  # a duplicate key
    assert done.wait(5)
    assert "failed: BulkWriteError" in caplog.text
    writer.write([InsertOne({"_id": "m-2"})])  # the writer carries on
    assert {d["_id"] for d in facts.find({})} == {"m-1", "m-2"}
