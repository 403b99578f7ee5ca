"""A district's years of history, written into a store before the benchmark's phases
(``BENCH_HISTORY``) so that they measure the system as it runs after years, not on its
first day.

``build(client, db_prefix, requests)`` writes, for ``requests`` requests spread over
``mix.span_days`` up to now, every collection the request path and a case's life write
in each service's database, in the proportions the system writes them (checked by
tests/integration/test_bench_history.py against a real run): intake's requests, their
idempotency keys (those not yet expired) and need claims; casework's cases (every
status: old ones filed, recent ones at every stage, spread over the stations' workers),
residents, repeat links, workload counters and access log (one chained entry per case
opened by its worker); notifications' contacts and messages; reporting's event store,
facts and daily figures. Each document is made by the owning service's own domain and
store code (benchmarks/history/life.py, downstream.py) and written in unordered
``insert_many`` batches of ``BATCH`` (writer.py). Counters and sequences the services
continue from are left consistent: every outbox published (``published_seq`` =
``last_seq``), the workload counters equal to the open cases, the access log's chain
whole, reporting's projection pointer set and its lease free, the rosters seeded by
casework's own ``load_roster`` (their events published by the relay once it runs).
"""
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from benchmarks.history.clockwork import frozen, published
from benchmarks.history.downstream import Notifications, Reporting
from benchmarks.history.life import CALLER, Life
from benchmarks.history.writer import Writer
from services.casework import seed
from services.casework.rosters import load_roster
from services.casework.store import CaseStore
from services.common import clock, config
from services.intake import domain as intake
from services.intake import systems
from services.intake.store import RequestStore
from services.notifications.store import NotificationStore
from services.reporting.store import ReportStore, _packed

CHUNK = 500  # requests whose lives are made before their documents are written


@dataclass(frozen=True)
class Mix:
    """What a district's history is made of (shares of the requests)."""
    span_days: float = 3 * 365
    alerts: float = 0.08           # missed check-ins from elderly-care (inbound)
    repeats: float = 0.05          # a second request for a need whose case is open
    returning: float = 0.5         # a resident served before
    emergency_contact: float = 0.3
    keyed: float = 1.0             # HTTP requests with an Idempotency-Key
    settled_after_days: float = 14
    old_statuses: tuple = (("closed", 0.9), ("resolved", 0.07), ("cancelled", 0.03))
    recent_statuses: tuple = field(default=(
        ("assigned", 0.25), ("accepted", 0.15), ("in_progress", 0.2), ("resolved", 0.2),
        ("closed", 0.15), ("cancelled", 0.05)))


def databases(client, db_prefix):
    return {name: client[f"{db_prefix}_{name}"] for name in config.SERVICES}


def build(client, db_prefix, requests, settings=None, mix=Mix(), now=None, seed_=1, say=print):
    """Write a history of ``requests`` requests; returns its size per collection and
    the time it took."""
    started = time.monotonic()
    settings = settings or config.settings()
    now = now or clock.now()
    dbs = databases(client, db_prefix)
    cases = CaseStore(dbs["casework"])
    reports = ReportStore(dbs["reporting"])
    stores = (RequestStore(dbs["intake"]), cases, NotificationStore(dbs["notifications"]), reports)
    reports.meta.update_one({"_id": "projection"},  # as ReportStore.ensure_indexes sets it
                            {"$setOnInsert": {"current": 1, "building": None}}, upsert=True)
    load_roster(cases, seed.roster(), seed.calendar())
    version = reports.versions()["current"]
    life = Life(cases, settings, mix, now, seed_)
    life.systems = systems.registry(settings)
    notify, project = Notifications(settings), Reporting()
    writer = Writer(dbs, say)
    first = now - timedelta(days=mix.span_days)
    step = timedelta(days=mix.span_days) / max(requests, 1)
    made = 0
    with frozen(first) as clock_:
        while made < requests:
            for number in range(made, min(requests, made + CHUNK)):
                one_request(life, notify, project, writer, version, number,
                            first + step * number, clock_)
            made = min(requests, made + CHUNK)
            contacts, messages = notify.flush(now)
            events, facts = project.flush()
            writer.add("notifications", "contacts", contacts)
            writer.add("notifications", "messages", messages)
            writer.add("reporting", "events", events)
            writer.add("reporting", reports.facts(version).name, facts)
            writer.add("casework", "case_access", life.access)
            life.access = []
            if made % 10000 < CHUNK:
                say(f"history: {made} of {requests} requests made "
                    f"({time.monotonic() - started:.0f} s)")
    writer.add("casework", "residents", list(life.residents.values()))
    writer.add("intake", "open_needs", list(life.open_needs.values()))
    writer.add("intake", "idempotency_keys", life.keys)
    writer.add("casework", "workload", life.open_workload(), replace=True)
    writer.add("reporting", reports.daily(version).name,
               [_packed(d) for d in project.memory.dailies.values()])
    writer.close()
    written = time.monotonic()
    # The indexes last: built once over the written documents, far faster on the
    # embedded store than kept up to date by every insert (the services create the
    # same ones at start; with them in place these calls change nothing).
    for store in stores:
        store.ensure_indexes()
    say(f"history: written in {written - started:.0f} s, indexed in "
        f"{time.monotonic() - written:.0f} s")
    return {"write_seconds": round(writer.busy_s, 1),
            "index_seconds": round(time.monotonic() - written, 1),
            "requests": requests, "seconds": round(time.monotonic() - started, 1),
            "documents": dict(writer.counts), "span_days": mix.span_days}


def one_request(life, notify, project, writer, version, number, at, clock_):
    """One request's whole life, its documents handed to the writer."""
    clock_.at(at)
    station = life.stations[number % len(life.stations)]
    person = life.person(number)
    if life.random.random() < life.mix.alerts:
        request_id, body, caller, fingerprint, source = life.alert_body(number, person, station,
                                                                         at)
        key = None
    else:
        request_id, body, source = str(uuid.uuid4()), life.body(number, person, station), None
        caller, fingerprint = f"{CALLER}-{station}", intake.fingerprint(body)
        key = str(uuid.uuid4()) if life.random.random() < life.mix.keyed else None
    request, envelope = life.receive(request_id, body, caller, fingerprint, key, source, at)
    life.claim_need(request)
    requests = [request]
    repeat = None
    if life.random.random() < life.mix.repeats and source is None:
        def repeat(moment):
            again_id = str(uuid.uuid4())
            again_key = str(uuid.uuid4()) if life.random.random() < life.mix.keyed else None
            again, again_envelope = life.receive(again_id, body, caller, fingerprint,
                                                 again_key, None, moment, repeat_of=request_id)
            requests.append(again)
            notify.remember(again_envelope["data"])
            return again_envelope["data"], again_envelope
    data = envelope["data"]
    notify.remember(data)
    record = life.register(data, at)
    case, document, envelopes, link = life.case_life(data, record, envelope, clock_, repeat)
    if link is not None:
        writer.add("casework", "request_links", [link])
    writer.add("casework", "cases", [document])
    for request_document in requests:
        writer.add("intake", "requests", [published({
            **request_document, "status": intake.request_status(case.status),
            "case_id": case.case_id, "case_seq": document["last_seq"]})])
    everything = [envelope]
    for event in sorted(envelopes, key=lambda e: e["time"]):
        everything.append(event)
    for event in list(everything):
        clock_.at(clock.parse_iso(event["time"]))
        everything += notify.notify(event, clock_, life.now)
    everything.sort(key=lambda e: (e["time"], e.get("sequence") or 0))
    project.keep(everything, version)
