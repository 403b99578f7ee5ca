"""A district's years of history, written into a store before the benchmark's phases
(``BENCH_HISTORY``) so that they measure the system as it runs after years, not on its
first day.

``build(client, db_prefix, requests, files=...)`` writes, for ``requests`` requests
spread over ``mix.span_days`` up to now, every collection the request path and a case's
life write in each service's database, in the proportions the system writes them
(checked by tests/integration/test_bench_history.py against a real run): intake's
requests (with ``case_seq`` and, on a case's first request, the ``linked_requests`` that
joined it), their idempotency keys (those not yet expired) and need claims (written as
intake kept them before issue 24, in collections of their own, and moved onto the
requests by intake's one-time migration ``requests_hold_claims`` when the indexes are
built: the upgrade of a store of that version, at every build); casework's
cases (ids ``case_id_for`` the request; every status: old ones filed, recent ones at
every stage, spread over the stations' workers), residents (with their ``open_cases``
hints) and their ``resident_keys``, repeat links, workload counters and access log (one
chained entry per case opened by its worker); notifications' contacts and messages;
reporting's event store, facts and daily figures (its month and all-time rollups are
made from them by its store's one-time migration, when the indexes are built).

How (``Layout``): the first ``mix.block_days`` (two weeks) and the last weeks
(``mix.recent_days`` and what is left over) are made request by request by the owning
services' own domain and store code with the clock set to each moment
(benchmarks/history/life.py, downstream.py; ~10-20 ms of Python a request); the weeks
between are copies of the first block (clone.py: fresh ids, residents and times, as the
services derive them), so a history of 100,000 requests makes ~4,000 lives and copies
the rest. Written by writer.py: straight into the embedded store's files when
``files`` names its data directory, else through the wire. Reporting's daily figures
are computed from every fact written, the access log chained in time order over every
copy, the workload counters counted from the open cases. The one-time migrations
(services/common/migrations.py) are recorded as done, since every document already has
what they would add (all but intake's ``requests_hold_claims``); the indexes are built
last, by the stores' own ``ensure_indexes``. Counters and sequences the services
continue from are left consistent: every outbox published (``published_seq`` =
``last_seq``), reporting's projection pointer set and its lease free, the rosters
seeded by casework's own ``load_roster`` (their events published by the relay once it runs).
"""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from pymongo import ReplaceOne

from benchmarks.history.clockwork import frozen
from benchmarks.history.downstream import Notifications, Reporting
from benchmarks.history.life import Life, chained
from benchmarks.history.making import Maker, copied_access
from benchmarks.history.writer import write
from services.casework import seed
from services.casework.rosters import load_roster
from services.casework.store import CaseStore
from services.common import clock, config, migrations
from services.intake import systems
from services.intake.store import RequestStore
from services.notifications.store import NotificationStore
from services.reporting.store import ReportStore

CHUNK = 500  # requests whose lives are made before their notifications and facts are kept
# The one-time migrations of each database (services/common/migrations.py): what they
# would fill, the history writes as the current code does; they are recorded as done.
MIGRATIONS = {
    "intake": ["requests_case_seq"],
    "casework": ["resident_keys", "open_case_hints"],
    "reporting": ["event_batches"],
}


@dataclass(frozen=True)
class Mix:
    """What a district's history is made of (shares of the requests)."""

    span_days: float = 3 * 365
    alerts: float = 0.08  # missed check-ins from elderly-care (inbound)
    repeats: float = 0.05  # a second request for a need whose case is open
    returning: float = 0.5  # a resident served before (within a block of weeks)
    emergency_contact: float = 0.3
    keyed: float = 1.0  # HTTP requests with an Idempotency-Key
    settled_after_days: float = 14
    old_statuses: tuple = (("closed", 0.9), ("resolved", 0.07), ("cancelled", 0.03))
    recent_statuses: tuple = field(
        default=(
            ("assigned", 0.25),
            ("accepted", 0.15),
            ("in_progress", 0.2),
            ("resolved", 0.2),
            ("closed", 0.15),
            ("cancelled", 0.05),
        )
    )
    block_days: int = 7  # the template block: a week made by the services' code
    recent_days: float = 21  # the last weeks are all made by the services' code:
    # older than settled_after_days + a case's life (~1.3 days) + the SMS numbers'
    # keeping time (72 h), a request is filed and forgotten: the same in every copy


def databases(client, db_prefix):
    return {name: client[f"{db_prefix}_{name}"] for name in config.SERVICES}


@dataclass
class Layout:
    """When each request is received: ``block`` requests in the first ``block_days``,
    then ``copies - 1`` copies of that block, each ``block_days`` later than the one
    before, then the rest up to now (``copies`` 1: no copies, all made)."""

    first: object
    now: object
    requests: int
    block: int
    copies: int
    block_days: int

    @classmethod
    def of(cls, requests, mix, now):
        first = now - timedelta(days=mix.span_days)
        per_day = requests / mix.span_days
        block = int(round(mix.block_days * per_day))
        copies = int((mix.span_days - mix.recent_days) // mix.block_days) if block else 0
        if copies < 2 or block * copies > requests:
            return cls(first, now, requests, requests, 1, 0)
        return cls(first, now, requests, block, copies, mix.block_days)

    def made(self):
        """(number, moment) of every request the services' code makes, in order."""
        if self.copies == 1:
            step = (self.now - self.first) / max(self.requests, 1)
            return [(n, self.first + step * n) for n in range(self.requests)]
        step = timedelta(days=self.block_days) / self.block
        start = self.first + timedelta(days=self.block_days * self.copies)
        rest = self.requests - self.block * self.copies
        later = (self.now - start) / max(rest, 1)
        return [(n, self.first + step * n) for n in range(self.block)] + [
            (self.block * self.copies + n, start + later * n) for n in range(rest)
        ]


def build(
    client, db_prefix, requests, settings=None, mix=Mix(), now=None, seed_=1, say=print, files=None
):
    """Write a history of ``requests`` requests; returns its size per collection and
    the time it took. ``files``: the data directory of the embedded store serving
    ``client`` (written directly, much faster); None: through the wire."""
    started = time.monotonic()
    settings = settings or config.settings()
    now = now or clock.now()
    dbs = databases(client, db_prefix)
    cases = CaseStore(dbs["casework"])
    reports = ReportStore(dbs["reporting"])
    stores = (RequestStore(dbs["intake"]), cases, NotificationStore(dbs["notifications"]), reports)
    reports.meta.update_one(
        {"_id": "projection"},  # as ReportStore.ensure_indexes sets it
        {"$setOnInsert": {"current": 1, "building": None}},
        upsert=True,
    )
    load_roster(cases, seed.roster(), seed.calendar())
    version = reports.versions()["current"]
    facts_name = reports.facts(version).name
    life = Life(cases, settings, mix, now, seed_)
    life.systems = systems.external_systems(settings)
    maker = Maker(life, Notifications(settings), Reporting(), version)
    layout = Layout.of(requests, mix, now)
    made = layout.made()
    template = None
    with frozen(layout.first) as clock_:
        for index, (number, at) in enumerate(made):
            maker.request(number, at, clock_)
            if index + 1 == layout.block and layout.copies > 1:
                maker.flush(now)
                template = maker.template()
            elif (index + 1) % CHUNK == 0:
                maker.flush(now)
            if (index + 1) % 10000 == 0:
                say(
                    f"history: {index + 1} of {len(made)} requests made "
                    f"({time.monotonic() - started:.0f} s)"
                )
        maker.flush(now)
    made_s = time.monotonic() - started
    jobs, cloner = maker.jobs(template, settings, layout, facts_name)
    copies = list(range(1, layout.copies))
    accesses = maker.life.access + copied_access(template, cloner, copies)
    jobs["casework"]["case_access"].plain = chained(accesses)
    counts = write(dbs, files, jobs, cloner, copies, (reports.daily(version).name, facts_name))
    workload = {doc["_id"]: doc["open"] for doc in life.open_workload()}
    for worker, count in (template or {}).get("open", Counter()).items():
        workload[worker] = workload.get(worker, 0) + count * len(copies)
    cases.workload.bulk_write(
        [_replace(doc) for doc in [{"_id": w, "open": n} for w, n in sorted(workload.items())]],
        ordered=False,
    )
    counts["casework.workload"] = len(workload)
    written = time.monotonic()
    for service, names in MIGRATIONS.items():
        migrations.mark_done(dbs[service], names)
    # The indexes last: built once over the written documents, far faster on the
    # embedded store than kept up to date by every insert (the services create the
    # same ones at start; with them in place these calls change nothing).
    # one database each at once: the store builds them in SQLite, one lock per database
    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(lambda store: store.ensure_indexes(), stores))
    say(
        f"history: {len(made)} requests made in {made_s:.0f} s, {layout.copies - 1} copies "
        f"of {layout.block}; written in {written - started - made_s:.0f} s, indexed in "
        f"{time.monotonic() - written:.0f} s"
    )
    return {
        "made_seconds": round(made_s, 1),
        "write_seconds": round(written - started - made_s, 1),
        "index_seconds": round(time.monotonic() - written, 1),
        "requests": requests,
        "made_by_services_code": len(made),
        "copies_of_block": {"block": layout.block, "copies": layout.copies - 1},
        "seconds": round(time.monotonic() - started, 1),
        "documents": dict(sorted(counts.items())),
        "span_days": mix.span_days,
    }


def _replace(document):
    return ReplaceOne({"_id": document["_id"]}, document, upsert=True)
