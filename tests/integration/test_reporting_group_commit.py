"""Reporting's group commit on the real MongoDB wire protocol: handlers running at the
same time share one bulk insert and one projection pass, and each hears the fate of
its own event: an event the projection rules fail on is quarantined and its handler
fails (to be retried and dead-lettered with the reason), however it was projected."""

import threading

import pytest

from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.reporting import domain, handlers
from services.reporting.handlers import reports
from services.reporting.handlers.projector import Projector
from services.reporting.store import ReportStore
from tests.reporting_events import keep_one, month, projector_of, stored_events


def keep(store, envelope):
    keep_one(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))


def failing_on(monkeypatch, poison_id):
    apply = domain.apply

    def buggy(fact, record):
        if record["_id"] == poison_id:
            raise ValueError("a bug in a rule")
        return apply(fact, record)

    monkeypatch.setattr(domain, "apply", buggy)


def test_handlers_at_the_same_time_share_bulk_writes_and_each_hears_its_own_fate(
    database, monkeypatch
):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=81, stations=("daxing", "xiaxiang"), cases_per_day=1, days=4).events
    poison = next(e for e in events if e["type"].endswith("case.resolved.v1"))
    apply, inserts = domain.apply, []
    keep_many = store.keep_many

    def buggy(fact, record):
        if record["_id"] == poison["id"]:
            raise ValueError("a bug in a rule")
        return apply(fact, record)

    def counting(records):
        inserts.append(len(records))
        return keep_many(records)

    monkeypatch.setattr(domain, "apply", buggy)
    monkeypatch.setattr(store, "keep_many", counting)
    outcomes = {}

    def handle(envelope):
        try:
            keep_one(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
            outcomes.setdefault(envelope["id"], []).append("ok")
        except handlers.ProjectionFailed:
            outcomes.setdefault(envelope["id"], []).append("failed")

    workers = [threading.Thread(target=handle, args=(e,)) for e in events + events[:10]]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert set(outcomes[poison["id"]]) == {"failed"}  # each delivery of it
    assert all(
        outcome == ["ok"] * len(outcome) for key, outcome in outcomes.items() if key != poison["id"]
    )
    assert sum(inserts) == len(events) + 10 and len(inserts) < len(events) / 2
    # one batch document a shared insert; all projected, the poison quarantined alone
    assert store.batches.count_documents({}) == len(inserts)
    assert not stored_events(store, pending=1)
    assert len(stored_events(store, pending=0)) == len(events)
    assert list(store.quarantined_among(e["id"] for e in events)) == [poison["id"]]
    assert reports.summary(store)["cases_opened"] == sum(
        e["type"].endswith("case.opened.v1") for e in events
    )


def test_a_redelivered_quarantined_event_fails_again(database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=83, stations=("daxing",), cases_per_day=1, days=2).events
    poison = next(e for e in events if e["type"].endswith("case.assigned.v1"))
    failing_on(monkeypatch, poison["id"])
    for envelope in events:
        if envelope is not poison:
            keep(store, envelope)
    with pytest.raises(handlers.ProjectionFailed, match="a bug in a rule"):
        keep(store, poison)
    # the redelivery is kept again and projected again: the rules fail on it again
    with pytest.raises(handlers.ProjectionFailed, match="a bug in a rule"):
        keep(store, poison)
    assert "a bug in a rule" in store.quarantined(poison["id"])


def test_an_event_quarantined_by_another_lease_holder_fails_its_handler(database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=87, stations=("daxing",), cases_per_day=1, days=4).events
    poison = next(e for e in events if e["type"].endswith("case.assigned.v1"))
    failing_on(monkeypatch, poison["id"])
    keep_many = store.keep_many

    def kept_then_projected_elsewhere(records):
        stored = keep_many(records)
        # another process, holding the lease, projects them before this one gets it
        Projector(store, owner="another-process").drain()
        return stored

    monkeypatch.setattr(store, "keep_many", kept_then_projected_elsewhere)
    with pytest.raises(handlers.ProjectionFailed, match="a bug in a rule"):
        keep(store, poison)
    assert "a bug in a rule" in store.quarantined(poison["id"])


def test_a_batch_is_kept_in_one_pass_and_hears_which_of_its_events_failed(database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=91, stations=("daxing",), cases_per_day=1, days=3).events
    poison = next(e for e in events if e["type"].endswith("case.assigned.v1"))
    failing_on(monkeypatch, poison["id"])
    inserts, keep_many = [], store.keep_many
    monkeypatch.setattr(
        store, "keep_many", lambda records: inserts.append(len(records)) or keep_many(records)
    )
    failed = handlers.keep_many(
        projector_of(store),
        [load_event(envelope, CATALOGUE[envelope["type"]]) for envelope in events],
    )
    assert list(failed) == [events.index(poison)]
    assert isinstance(failed[events.index(poison)], handlers.ProjectionFailed)
    assert inserts == [len(events)]  # one insert, one pass
    assert store.batches.count_documents({"pending": 0}) == 1  # one document for them all
    assert len(stored_events(store)) == len(events)
    assert list(store.quarantined_among(e["id"] for e in events)) == [poison["id"]]
    assert reports.summary(store)["cases_opened"] == sum(
        e["type"].endswith("case.opened.v1") for e in events
    )
