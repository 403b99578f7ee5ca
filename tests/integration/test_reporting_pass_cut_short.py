"""A projector killed in the middle of a pass's writes, on the real MongoDB wire protocol:
the facts written, the daily figures and rollups not. Projecting the same events again
changes nothing (the facts already hold them), so the next projector must finish the
pass that was cut short (ReportStore.save keeps it whole first) or the figures never
count those events (found by tests/e2e/test_ops_supervision.py: one request.received
short after kill -9 of reporting's worker)."""

import pytest
from pymongo.collection import Collection

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import data_schema, dumped, load_event
from services.reporting.domain import events as domain_events
from services.reporting.handlers.projector import Projector
from services.reporting.store import ReportStore
from tests.reporting_events import month


class Killed(BaseException):
    """kill -9 between two writes: nothing after it runs (not an Exception: no handler
    of the service catches it)."""


def records_of(events):
    now_ms = clock.now_ms()
    records = []
    for envelope in events:
        envelope, data = load_event(envelope, CATALOGUE[envelope["type"]])
        schema = data_schema(CATALOGUE[envelope["type"]].schema)
        records.append(domain_events.record(envelope, dumped(schema, data), now_ms))
    return records


def figures(store):
    version = store.versions()["current"]
    return (
        {d["_id"]: d["counts"] for d in store.daily(version).find()},
        {r["_id"]: r["counts"] for r in store.rollups(version).collection.find()},
    )


@pytest.fixture
def stores(database):
    store = ReportStore(database("reporting"))
    reference = ReportStore(store.database.client[f"{store.database.name}_reference"])
    for each in (store, reference):
        each.ensure_indexes()
    yield store, reference
    store.database.client.drop_database(reference.database.name)


@pytest.mark.parametrize("cut_before", ["daily_v", "rollup_v"])
def test_a_pass_cut_short_is_finished_by_the_next_projector(stores, monkeypatch, cut_before):
    store, reference = stores
    events = month(seed=97, stations=("daxing", "xiaxiang"), cases_per_day=2, days=3).events
    records = records_of(events)
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    reference.keep_many(records)
    Projector(reference, owner="reference").drain()

    worker = Projector(store, owner="killed")
    store.keep_many(first)
    worker.drain()
    store.keep_many(second)
    bulk_write = Collection.bulk_write

    def killed_at(collection, *args, **kwargs):
        if collection.name.startswith(cut_before):
            raise Killed
        return bulk_write(collection, *args, **kwargs)

    monkeypatch.setattr(Collection, "bulk_write", killed_at)
    with pytest.raises(Killed):
        worker.drain()
    monkeypatch.setattr(Collection, "bulk_write", bulk_write)
    assert store.pending(10_000)  # its batch was never marked projected
    assert figures(store) != figures(reference)  # the facts hold it, the figures do not

    # the worker as make run restarts it: another owner, the same pending batch
    Projector(store, owner="restarted").drain()
    assert not store.pending(10_000)
    assert figures(store) == figures(reference)


def test_a_failed_pass_is_finished_by_the_same_projector_before_its_next(stores, monkeypatch):
    store, reference = stores
    events = month(seed=98, stations=("daxing",), cases_per_day=2, days=2).events
    records = records_of(events)
    reference.keep_many(records)
    Projector(reference, owner="reference").drain()

    projector = Projector(store, owner="one")
    store.keep_many(records)
    bulk_write = Collection.bulk_write
    calls = []

    def outage_at_the_dailies(collection, *args, **kwargs):
        if collection.name.startswith("daily_v") and not calls:
            calls.append(collection.name)
            raise ConnectionError("the store went away")
        return bulk_write(collection, *args, **kwargs)

    monkeypatch.setattr(Collection, "bulk_write", outage_at_the_dailies)
    with pytest.raises(ConnectionError):
        projector.drain()
    projector.drain()  # the retry: the same process, its lease taken again
    assert not store.pending(10_000)
    assert figures(store) == figures(reference)
