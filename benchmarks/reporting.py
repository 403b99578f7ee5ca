"""Reporting benchmark (a measurement, not a test): ``.venv/bin/python benchmarks/reporting.py``

1. Projection of a backlog: a generated history of about 100,000 events (every event
   type, 10 stations, one month) is put in the event store as pending, then projected
   by the service's own ``Projector.drain`` (bulk reads and writes per batch); then the
   same events are replayed by ``rebuild``. Prints events/s for each.
2. The district's summary over a year with 100,000 cases: one year of request, case
   and message facts for 10 stations is rolled up per station and day by the
   projection's own rules (``domain_daily.contributions``) and written as the current
   projection version; then the summary of the whole district over the year, of one
   station, and a monthly time series are timed (median of several calls).

Runs its own in-memory nx-27017 server (or the server named by MONGO_URI).
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pymongo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.dev import embedded_store  # noqa: E402
from services.common import clock  # noqa: E402
from services.common.vocabulary import stations  # noqa: E402
from services.reporting import rebuild  # noqa: E402
from services.reporting.domain import daily as domain_daily  # noqa: E402
from services.reporting.domain import events as domain_events  # noqa: E402
from services.reporting.handlers import reports  # noqa: E402
from services.reporting.handlers.projector import Projector  # noqa: E402
from services.reporting.store import ReportStore  # noqa: E402
from tests.reporting_events import month  # noqa: E402
from tests.support import free_port  # noqa: E402

DAY_MS = 86_400_000


def start_server():
    if os.environ.get("MONGO_URI"):
        return os.environ["MONGO_URI"], None
    return embedded_store.start(free_port(), tempfile.mkdtemp(prefix="bench-nx-"))


def backlog(store, events_wanted, batch):
    stations_all = tuple(stations())
    per_day = max(1, round(events_wanted / (31 * len(stations_all) * 9.5) / 1.0))
    history = month(seed=1, stations=stations_all, cases_per_day=per_day, validate=False)
    events = history.events[:events_wanted]
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    records = [domain_events.record(e, e["data"], an_hour_ago) for e in events]
    for start in range(0, len(records), 5000):
        store.keep_many(records[start : start + 5000])
    print(
        f"backlog: {len(records)} events of {len({r['type'] for r in records})} types "
        f"({len(history.cases)} cases) stored as pending"
    )
    projector = Projector(store, batch)
    began = time.monotonic()
    projector.drain()
    drained = time.monotonic() - began
    print(
        f"  live projector (drain, batch {batch}): {drained:.1f} s, "
        f"{len(records) / drained:,.0f} events/s"
    )
    began = time.monotonic()
    version, replayed = rebuild.rebuild(store, batch, projector=projector)
    rebuilt = time.monotonic() - began
    print(f"  rebuild into version {version}: {rebuilt:.1f} s, {replayed / rebuilt:,.0f} events/s")
    return len(records) / drained, replayed / rebuilt


def year_of_daily_figures(store, cases, seed=2):
    """Daily figures of a year of facts, written as the current version's daily collection."""
    rng = random.Random(seed)
    station_ids = tuple(stations())
    start = clock.to_ms(clock.parse_iso("2023-01-01T00:00:00+08:00"))
    all_facts = []
    for number in range(cases):
        station = station_ids[number % len(station_ids)]
        received = start + rng.randrange(365 * DAY_MS)
        resident = f"p_{rng.randrange(20000):06d}"
        accepted = received + rng.randrange(60_000, 4 * 3_600_000)
        resolved = accepted + rng.randrange(600_000, 3 * DAY_MS)
        priority = rng.choice(("urgent", "normal", "low"))
        need = rng.choice(("medicine_purchase", "home_visit", "daily_living_help"))
        facts = [
            {
                "kind": "request",
                "station": station,
                "channel": "phone",
                "need_type": need,
                "resident_ref": resident,
                "received_ms": received,
            },
            {
                "kind": "case",
                "station": station,
                "priority": priority,
                "need_type": need,
                "request_received_ms": received,
                "opened_ms": received + 1000,
                "accepted_ms": accepted,
                "resolved_ms": resolved,
                "closed_ms": resolved + DAY_MS if number % 2 else None,
            },
            {
                "kind": "message",
                "station": station,
                "sent_ms": received + 2000,
                "delivered_ms": received + 20_000,
            },
        ]
        all_facts += facts
    documents = domain_daily.dailies(all_facts)
    version = store.versions()["current"]
    store.daily(version).drop()
    store.ensure_version_indexes(version)
    for begin in range(0, len(documents), 1000):
        store.save(version, [], documents[begin : begin + 1000])
    print(f"year: {cases:,} cases -> {len(documents):,} daily figures (version {version})")


def http_client(uri, prefix):
    """The reporting API (its WSGI app, without a socket) on the benchmark's database."""
    from werkzeug.test import Client

    from services.common import auth, config
    from services.reporting import api

    env = {
        **os.environ,
        "MONGO_URI": uri,
        "SHEGONG_DB_PREFIX": prefix,
        "SHEGONG_TOKEN_SECRET": "benchmark",
        "LOG_LEVEL": "WARNING",
    }
    client = Client(api.create_app(config.settings(env)))
    token = auth.issue_token("benchmark", "bench", "district_admin")
    return client, {"Authorization": f"Bearer {token}"}


def timed(call, repeat):
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - began) * 1000)
    return result, statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    uri, server = start_server()
    try:
        prefix = f"bench{int(time.time())}"
        database = pymongo.MongoClient(uri)[f"{prefix}_reporting"]
        store = ReportStore(database)
        store.ensure_indexes()
        if args.events:
            backlog(store, args.events, args.batch)
        year_of_daily_figures(store, args.cases)
        figures, median, worst = timed(
            lambda: reports.summary(store, None, "2023-01-01", "2023-12-31"), args.repeat
        )
        assert figures["cases_opened"] >= args.cases, figures["cases_opened"]
        print(
            f"  summary, district, 2023: median {median:.0f} ms, max {worst:.0f} ms "
            f"({figures['cases_opened']:,} cases, {figures['residents_served']:,} residents)"
        )
        client, admin = http_client(uri, prefix)
        answer, median, worst = timed(
            lambda: client.get("/v1/reports/summary?from=2023-01-01&to=2023-12-31", headers=admin),
            args.repeat,
        )
        assert answer.status_code == 200 and answer.json["cases_opened"] >= args.cases
        print(
            f"  GET /v1/reports/summary, district, 2023 (WSGI, JSON): median {median:.0f} ms, "
            f"max {worst:.0f} ms"
        )
        _, median, worst = timed(
            lambda: reports.summary(store, "daxing", "2023-01-01", "2023-12-31"), args.repeat
        )
        print(f"  summary, one station, 2023: median {median:.0f} ms, max {worst:.0f} ms")
        _, median, worst = timed(
            lambda: reports.series(
                store, "cases_resolved", "month", None, "2023-01-01", "2023-12-31"
            )["points"],
            args.repeat,
        )
        print(f"  time series by month, district, 2023: median {median:.0f} ms, max {worst:.0f} ms")
        database.client.drop_database(database.name)
    finally:
        if server:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
