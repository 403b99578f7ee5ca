"""Reporting's event store kept one document per batch (issue 24), on the real MongoDB
wire protocol: a batch projected twice changes nothing (a repeat needs no dedupe in the
store); the timeline finds every event of a request through the facts; a store kept
one event a document before the batches stays readable (its pending events moved once,
its timeline and its rebuild read both)."""

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import data_schema, dumped, load_event
from services.reporting import handlers, rebuild
from services.reporting.domain import events as domain_events
from services.reporting.handlers import reports
from services.reporting.store import ReportStore, records_of
from tests.reporting_events import keep, month, projector_of, stored_events


def record_of(envelope: dict) -> dict:
    """The record reporting keeps of an event (handlers.keep_many's)."""
    envelope, data = load_event(envelope, CATALOGUE[envelope["type"]])
    schema = data_schema(CATALOGUE[envelope["type"]].schema)
    return domain_events.record(envelope, dumped(schema, data), clock.now_ms())


def keep_all(store: ReportStore, envelopes: list[dict]) -> None:
    for envelope in envelopes:
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))


def projections(store: ReportStore, version: int = 1) -> dict:
    """Every document of the version's facts, daily figures and rollups."""
    return {
        name: sorted(collection.find(), key=lambda d: d["_id"])
        for name, collection in (
            ("facts", store.facts(version)),
            ("daily", store.daily(version)),
            ("rollups", store.rollups(version).collection),
        )
    }


def request_ids(history) -> list[str]:
    return [e["data"]["request_id"] for e in history.events if e["type"].endswith("received.v1")]


def belongs(envelope: dict, request_id: str) -> bool:
    data = envelope["data"]
    return request_id in (
        envelope["correlationid"],
        data.get("request_id"),
        data.get("linked_request_id"),
    )


def test_every_batch_projected_once_more_changes_nothing(database):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    history = month(seed=93, stations=("daxing", "luji"), cases_per_day=2, days=5)
    keep_all(store, history.events)
    before = projections(store)
    assert before["facts"] and before["daily"] and before["rollups"]
    batches = list(store.batches.find())
    # all of them in one pass, then each batch in a pass of its own, backwards
    handlers.project(store, 1, [r for batch in batches for r in records_of(batch)])
    assert projections(store) == before
    for batch in reversed(batches):
        handlers.project(store, 1, records_of(batch))
    assert projections(store) == before
    # and kept again, as a redelivery is: a batch of its own, projected, nothing moves
    keep_all(store, history.events[:40])
    assert store.batches.count_documents({}) > len(batches)
    after = projections(store)
    assert after["daily"] == before["daily"] and after["rollups"] == before["rollups"]
    strip = [{k: v for k, v in f.items() if k != "batches"} for f in after["facts"]]
    assert strip == [{k: v for k, v in f.items() if k != "batches"} for f in before["facts"]]


def test_the_timeline_of_every_request_finds_each_of_its_events(database):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    history = month(seed=95, stations=("daxing",), cases_per_day=2, days=6)
    keep_all(store, history.events)
    assert not store.events.count_documents({})  # none kept one a document
    for request_id in request_ids(history):
        _, trace = reports.trace(store, request_id)
        want = {e["id"] for e in history.events if belongs(e, request_id)}
        assert {e["id"] for e in trace} == want, request_id
        assert len(trace) == len(want)


def test_a_store_kept_one_event_a_document_stays_readable(database):
    """An earlier version's store: projected events one a document (as the history
    builder writes them), and some still pending; upgraded, then going on in batches."""
    history = month(seed=97, stations=("daxing",), cases_per_day=2, days=6)
    events = history.events
    projected, pending, live = events[:60], events[60:90], events[90:]
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    handlers.project(store, 1, [record_of(e) for e in projected])
    store.events.insert_many(
        [{**record_of(e), "pending": 0} for e in projected]
        + [{**record_of(e), "pending": 1} for e in pending]
    )
    store.database["migrations"].delete_one({"_id": "event_batches"})
    store.ensure_indexes()  # the upgrade: the pending events moved into a batch
    assert not store.events.count_documents({"pending": 1})
    assert set(stored_events(store, pending=1)) == {e["id"] for e in pending}
    store.ensure_indexes()  # once only
    assert store.batches.count_documents({}) == 1
    assert projector_of(store).drain() == len(pending)
    keep_all(store, live + events[:20])  # and some repeats of the old ones

    fresh = ReportStore(database("reporting_fresh"))
    fresh.ensure_indexes()
    keep_all(fresh, events)
    assert reports.summary(store) == reports.summary(fresh)
    for request_id in request_ids(history):
        assert reports.trace(store, request_id) == reports.trace(fresh, request_id)
        assert reports.trace(store, request_id)[1]

    version, replayed = rebuild.rebuild(store, projector=projector_of(store))
    assert version == 2 and replayed == len(events)  # each event once
    assert reports.summary(store) == reports.summary(fresh)
    for request_id in request_ids(history):
        assert reports.trace(store, request_id) == reports.trace(fresh, request_id)
