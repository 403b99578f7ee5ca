"""The facts record the event store's batches (domain.fold, domain_events.trace_links):
idempotent, and every request an event belongs to can find its batch (issue 24)."""

from services.reporting import domain
from services.reporting.domain import events as domain_events
from tests.reporting_events import month


def records(batch_of=lambda n: f"batch-{n // 7}"):
    history = month(seed=7, stations=("daxing",), cases_per_day=2, days=4)
    return [
        {**domain_events.record(e, e["data"], 0), "batch": batch_of(n)}
        for n, e in enumerate(history.events)
    ]


def folded(items, facts=None):
    facts = {} if facts is None else facts
    for record in items:
        domain.fold(facts, record)
    return facts


def test_folding_every_record_again_changes_nothing():
    items = records()
    once = folded(items)
    assert folded(items + items) == once
    assert folded(list(reversed(items)), folded(items)) == once


def test_a_repeat_in_another_batch_adds_only_that_batch():
    items = records()
    once = folded(items)
    again = folded([{**items[3], "batch": "batch-again"}], folded(items))
    home = domain.fact_id(items[3])
    assert again[home]["batches"] == sorted([*once[home]["batches"], "batch-again"])
    strip = {k: v for k, v in again[home].items() if k != "batches"}
    assert strip == {k: v for k, v in once[home].items() if k != "batches"}
    assert {k: v for k, v in again.items() if k != home} == {
        k: v for k, v in once.items() if k != home
    }


def test_every_request_an_event_belongs_to_leads_to_its_batch():
    """The timeline of R reads ``request:R`` and the facts whose ``request_id`` is R."""
    items = records()
    facts = folded(items)
    for record in items:
        for key in domain_events.trace_keys(record):
            leading = [
                fact
                for fact_id, fact in facts.items()
                if fact_id == f"request:{key}" or fact.get("request_id") == key
            ]
            assert any(record["batch"] in fact.get("batches", []) for fact in leading), (
                record["type"],
                key,
            )


def test_the_links_an_event_needs_besides_its_own_fact():
    received = {"correlationid": "r1", "request_id": "r1", "linked_request_id": None}
    assert domain_events.trace_links(received, "request:r1") == []
    opened = {"correlationid": "r1", "request_id": "r1"}
    assert domain_events.trace_links(opened, "case:c1") == []
    linked = {"correlationid": "r2", "request_id": "r1", "linked_request_id": "r2"}
    assert domain_events.trace_links(linked, "case:c1") == ["request:r2"]
    no_fact = {"correlationid": "r1", "request_id": "r1"}
    assert domain_events.trace_links(no_fact, None) == ["request:r1"]
    programme = {"correlationid": "http:x", "request_id": None}
    assert domain_events.trace_links(programme, "team:t1") == ["request:http:x"]
