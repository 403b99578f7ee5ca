"""What the stations and the dashboard wait for: each list and report the APIs answer,
timed on the store as the phases left it (with the history when BENCH_HISTORY asks for
one). Issue 23's target: <= 100 ms p99 each, with 100,000 requests of history.

Each query is asked ``repeats`` times, one after the other, through the real HTTP API
(gunicorn); the first answer of each is a warm-up and is not counted.
"""

import time

import requests

from services.common import clock

# (service, path, role, station): what a worker, a station head, the district officer
# and the dashboard ask every day
QUERIES = (
    ("casework", "/v1/cases?station=daxing", "station_head", "daxing"),
    (
        "casework",
        "/v1/cases?station=daxing&status=assigned,accepted,in_progress",
        "station_head",
        "daxing",
    ),
    ("casework", "/v1/cases?station=daxing&status=closed&sort=opened", "station_head", "daxing"),
    ("casework", "/v1/cases?assignee=dx-01", "station_head", "daxing"),
    ("casework", "/v1/cases?overdue=true", "district_admin", None),
    ("casework", "/v1/cases?priority=urgent", "district_admin", None),
    ("casework", "/v1/residents?q=邹", "station_head", "daxing"),
    ("casework", "/v1/residents?q=5678", "district_admin", None),
    ("casework", "/v1/referrals", "district_admin", None),
    ("notifications", "/v1/messages?station=daxing", "station_head", "daxing"),
    ("notifications", "/v1/messages?status=sent", "district_admin", None),
    ("notifications", "/v1/messages?inbox=true&unread=true", "station_head", "daxing"),
    ("reporting", "/v1/reports/summary", "district_admin", None),
    ("reporting", "/v1/reports/stations", "district_admin", None),
    ("reporting", "/v1/reports/timeseries?metric=cases_opened", "district_admin", None),
    # this year so far (whole months and days), and a median by month over all time
    ("reporting", "/v1/reports/summary?from={year}-01-01", "district_admin", None),
    ("reporting", "/v1/reports/stations?from={year}-01-01", "district_admin", None),
    (
        "reporting",
        "/v1/reports/timeseries?metric=time_to_accept_median&interval=month",
        "district_admin",
        None,
    ),
)


def measure(system, repeats=30, percentiles=None):
    """{query: {"status": code, "p50": ms, "p99": ms, "max": ms}} for QUERIES."""
    found = {}
    year = clock.local_day(clock.now())[:4]
    with requests.Session() as session:
        for service, path, role, station in QUERIES:
            path = path.format(year=year)
            headers = {"Authorization": f"Bearer {system.token(role, station)}"}
            url = system.url(service, path)
            times, status = [], None
            for attempt in range(repeats + 1):
                started = time.perf_counter()
                answer = session.get(url, headers=headers, timeout=30)
                elapsed = (time.perf_counter() - started) * 1000
                status = answer.status_code
                if attempt:
                    times.append(elapsed)
            found[f"{service} {path}"] = {"status": status, **(percentiles(times) or {})}
    return found


def lines(results):
    """The report's table of the API answers, per run."""
    apis = results.get("apis")
    if not apis:
        return []
    rows = ["", "| API query | status | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for query, figures in apis.items():
        rows.append(
            f"| `{query}` | {figures['status']} | {figures.get('p50')} | "
            f"{figures.get('p99')} | {figures.get('max')} |"
        )
    return rows
