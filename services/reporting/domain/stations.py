"""The stations side by side (pure): one row per township station for a period, and
each station's open cases by age now.

A row holds, for the period: requests received, cases opened by priority and by their
status now, time to accept (median, p90), service-level breaches and the programmes;
and, whatever the period, the cases open now by how long ago they were opened
(``AGE_BUCKETS``). Rows follow the stations' configured order (stations.json).
"""

from services.common.vocabulary import stations
from services.reporting.domain import csv_text
from services.reporting.domain import figures as domain_figures

DAY_MS = 86_400_000
# (name, upper bound in days, exclusive; None: no bound), youngest first
AGE_BUCKETS = (
    ("under_1d", 1),
    ("1_to_3d", 3),
    ("3_to_7d", 7),
    ("7_to_30d", 30),
    ("over_30d", None),
)
PROGRAM_FIGURES = (
    "volunteer_teams_formed",
    "volunteers_joined",
    "social_organisations_cultivated",
    "donations_yuan",
    "households_aided",
    "activities",
)


def age_bucket(age_ms: int) -> str:
    """The bucket of a case opened ``age_ms`` ago."""
    for name, days in AGE_BUCKETS:
        if days is None or age_ms < days * DAY_MS:
            return name
    return AGE_BUCKETS[-1][0]


def open_by_age(opened_ms: list, now_ms: int) -> dict:
    """How many of the open cases (their opening instants) fall in each age bucket."""
    tally = {name: 0 for name, _ in AGE_BUCKETS}
    for opened in opened_ms:
        tally[age_bucket(max(0, now_ms - opened))] += 1
    return tally


def station_row(station: str, totals: dict, opened_ms: list, now_ms: int) -> dict:
    """One station's row from the period's totals (domain_figures.totals_of) and its
    open cases' openings."""
    figures = domain_figures.figures(totals, {}, station)
    return {
        "station": station,
        "name": stations()[station]["name"],
        "requests_received": figures["requests_received"],
        "cases_opened": figures["cases_opened"],
        "cases_by_priority": figures["cases_by_priority"],
        "cases_by_status": figures["cases_by_status"],
        "time_to_accept_seconds": figures["time_to_accept_seconds"],
        "sla_breaches": figures["sla_breaches"],
        "programs": {name: figures["programs"][name] for name in PROGRAM_FIGURES},
        "open_cases": len(opened_ms),
        "open_cases_by_age": open_by_age(opened_ms, now_ms),
    }


def stations_table(
    totals_by_station: dict, open_cases: dict, now_ms: int, only: str | None = None
) -> list:
    """Every station's row (or ``only`` one's), in the configured order.
    ``totals_by_station``: {station: totals of the period (domain_figures.totals_of)};
    ``open_cases``: {station: [opened_ms]}."""
    return [
        station_row(
            station,
            totals_by_station.get(station) or domain_figures.totals_of(),
            open_cases.get(station, []),
            now_ms,
        )
        for station in stations()
        if only is None or station == only
    ]


def csv_rows(rows: list) -> tuple:
    """(header, rows) of the table as CSV: one line per station, nested figures dotted."""
    flat = [csv_text.flatten(row) for row in rows]
    header = tuple(name for name, _ in flat[0]) if flat else ("station",)
    return header, [[value for _, value in row] for row in flat]
