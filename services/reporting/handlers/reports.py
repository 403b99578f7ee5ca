"""The reporting service layer's reads: the figures of a period for a station, the
district or every station side by side, the time series, and one request's trace.

A period is read as domain_rollups.cover says: undated, from the all-time rollups;
else whole months from the month rollups and the days left over at its ends from the
daily figures; so what a report reads is bounded by the period asked for (a few
documents a month), never by the history the store holds.
"""

from services.common.vocabulary import stations
from services.reporting import staffing
from services.reporting.domain import daily as domain_daily
from services.reporting.domain import events as domain_events
from services.reporting.domain import figures as domain_figures
from services.reporting.domain import rollups
from services.reporting.domain import series as domain_series
from services.reporting.domain import stations as domain_stations
from services.reporting.store import ReportStore
from services.reporting.store import rollups as store_rollups


def _staffing(store, version):
    """The social workers on the stations' rosters now (``station.roster_published``)
    and the project funds (configuration)."""
    return {
        **staffing.load(),
        "social_workers": {name: staff["total"] for name, staff in store.rosters(version).items()},
    }


def _day_ids(places, spans):
    return [
        domain_daily.daily_id(p, day)
        for p in places
        for span in spans
        for day in rollups.days_between(*span)
    ]


def _totals(store, places, date_from, date_to, version, months=None, dailies=None):
    """``{place: the period's totals}`` (domain_figures.totals_of) of stations or
    DISTRICT, read as domain_rollups.cover says: the all-time rollups, or whole months
    and the days left over. ``months``, ``dailies`` ({id: daily figures}): those read
    already, if any."""
    cover = rollups.cover(date_from, date_to)
    rollup_store = store.rollups(version)
    if cover["all"]:
        found = rollup_store.all_time(places)
        return {
            p: domain_figures.totals_of(rollups=[found[p]] if p in found else []) for p in places
        }
    whole: list = []
    if cover["months"]:
        first, last = cover["months"]
        if months is not None:
            whole = [m for m in months if (first or "") <= m["period"] <= (last or "~")]
        elif first and last:  # one _id lookup for every place's months
            whole = rollup_store.read(
                [
                    rollups.rollup_id(rollups.MONTH, p, m)
                    for p in places
                    for m in rollups.months_between(first, last)
                ]
            )
        else:
            whole = [m for p in places for m in rollup_store.months(p, first, last)]
    ids = _day_ids(places, cover["days"])
    if dailies is None:
        dailies = store.load_dailies(version, ids)
    found = [dailies[i] for i in ids if i in dailies]
    return {
        p: domain_figures.totals_of(
            [d for d in found if d["station"] == p], [m for m in whole if m["station"] == p]
        )
        for p in places
    }


def summary(
    store: ReportStore,
    station: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    version: int | None = None,
) -> dict:
    """The figures of a period (whole months from their rollups, the days left over from
    the daily figures; no dates: the all-time rollup); the social workers are those on
    the stations' rosters now, the project funds configuration."""
    version = version or store.versions()["current"]
    place = station or domain_daily.DISTRICT
    # the months touching the period: the rows of its days, and its residents
    months = store.rollups(version).months(
        place,
        date_from and rollups.month_of(date_from),
        date_to and rollups.month_of(date_to),
    )
    totals = _totals(store, [place], date_from, date_to, version, months)[place]
    if rollups.cover(date_from, date_to)["all"]:  # residents over all time: the months'
        totals["distinct"]["residents"] = domain_figures.totals_of(rollups=months)["distinct"][
            "residents"
        ]
    rows = store_rollups.rows_in(months, date_from, date_to)
    return domain_figures.figures(totals, rows, station, _staffing(store, version))


def stations_side_by_side(
    store: ReportStore,
    date_from: str | None = None,
    date_to: str | None = None,
    now_ms: int = 0,
    only: str | None = None,
) -> list[dict]:
    """Every station's row for the period (``only``: that station's), open cases as now."""
    version = store.versions()["current"]
    places = [s for s in stations() if only is None or s == only]
    totals = _totals(store, places, date_from, date_to, version)
    return domain_stations.stations_table(
        totals, store.rollups(version).open_cases(places), now_ms, only
    )


def series(
    store: ReportStore,
    metric: str,
    interval: str,
    station: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    today: str | None = None,
) -> dict:
    """``domain_series.series_of``: the points, ending ``today`` unless ``date_to``
    says, and whether older periods were left out. Each day's value is its row in the
    month rollups; a period's is the sum of its days' (a count) or, for a median or a
    distinct count, its whole month's rollup or its days' daily figures."""
    version = store.versions()["current"]
    place = station or domain_daily.DISTRICT
    months = store.rollups(version).months(
        place, date_from and rollups.month_of(date_from), date_to and rollups.month_of(date_to)
    )
    rows = store_rollups.rows_in(months, date_from, date_to)
    empty = domain_figures.METRICS[metric](domain_figures.figures(domain_figures.totals_of(), {}))
    dailies = None
    if metric not in domain_figures.SUMMED and interval != "day":
        # the days its periods leave over (weeks; months cut by the dates), read at once
        starts, _ = domain_series.series_periods(sorted(rows), interval, date_from, date_to, today)
        spans = [
            span
            for start in starts
            for span in rollups.cover(
                *domain_series.period_days(start, interval, date_from, date_to)
            )["days"]
        ]
        dailies = store.load_dailies(version, _day_ids([place], spans))

    def value(first, last):
        if first == last:
            return rows.get(first, {}).get(metric, empty)
        if metric in domain_figures.SUMMED:
            return sum(row.get(metric, 0) for day, row in rows.items() if first <= day <= last)
        totals = _totals(store, [place], first, last, version, months, dailies)[place]
        return domain_figures.METRICS[metric](domain_figures.figures(totals, {}))

    return domain_series.series_of(sorted(rows), value, interval, date_from, date_to, today)


def trace(store: ReportStore, request_id: str) -> tuple[str | None, list[dict]]:
    """The request's events in order, and the station it belongs to (None: unknown)."""
    records = domain_events.timeline(store.correlated(request_id))
    station = next((r["station"] for r in records if r["station"] in stations()), None)
    return station, [
        {
            "id": r["_id"],
            "type": r["type"],
            "step": domain_events.short_type(r["type"]),
            "time": r["time"],
            "source": r["source"],
            "subject": r.get("subject"),
            "sequence": r.get("sequence"),
            "correlationid": r["correlationid"],
            "causationid": r.get("causationid"),
            "station": r.get("station"),
            "data": r["data"],
        }
        for r in records
    ]
