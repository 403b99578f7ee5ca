"""The reporting service layer: keep every event, project it, answer with figures.

Events are kept and projected by the process's ``Projector`` (services/reporting/
projector.py: the group commit, the passes and the lease); here are the rules a pass
applies: the facts a batch touches are read, changed in memory by the domain rules, and
written back whole with the daily figures they change, in bulk.
"""

import logging

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import InvalidEvent, data_schema, load_event
from services.common.mongo import STORE_DOWN_ERRORS
from services.common.vocabulary import OPEN_CASE_STATUSES, stations
from services.reporting import (
    domain,
    domain_daily,
    domain_events,
    domain_figures,
    domain_stations,
    staffing,
    store_rollups,
)
from services.reporting import domain_rollups as rollups

log = logging.getLogger(__name__)


def keep_bodies(projector, bodies, contract):
    """A batch entrypoint's events of ``contract``: validated one by one, kept and
    projected together; returns ``{position: exception}`` of those that were invalid
    (InvalidEvent: dead-lettered) or failed (retried, then dead-lettered)."""
    failures, loaded, positions = {}, [], []
    for position, body in enumerate(bodies):
        try:
            loaded.append(load_event(body, contract))
        except InvalidEvent as exc:
            failures[position] = exc
            continue
        positions.append(position)
    for index, failure in keep_many(projector, loaded).items():
        failures[positions[index]] = failure
    return failures


def keep_many(projector, events):
    """Store validated events ``(envelope, data)`` for good (a repeat is a no-op) and
    project them, with the process's ``projector``, in one pass; returns once done, with
    ``{position: exception}`` of those that failed (ProjectionFailed if the projection
    rules failed on one: retried and dead-lettered with the reason)."""
    now_ms = clock.now_ms()
    return projector.keep_many(
        [
            domain_events.record(
                envelope, data_schema(CATALOGUE[envelope["type"]].schema).dump(data), now_ms
            )
            for envelope, data in events
        ]
    )


class ProjectionFailed(Exception):
    """The projection rules failed on an event (a bug): it is quarantined."""


def project_isolating(store, version, records):
    """Project a batch; if the rules fail on it, project its events one by one and
    quarantine those they fail on, so one bad event does not stop the others.
    Returns ``{id: reason}`` of those quarantined. An outage of the store is raised as
    it is."""
    try:
        project(store, version, records)
        return {}
    except STORE_DOWN_ERRORS:
        raise
    except Exception:  # isolated below, event by event
        log.exception("projecting a batch of %d events failed; isolating", len(records))
    failed = {}
    for record in records:
        try:
            project(store, version, [record])
        except STORE_DOWN_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - quarantined with its reason
            log.error("event %s (%s) quarantined: %s", record["_id"], record["type"], exc)
            reason = f"{type(exc).__name__}: {exc}"
            store.quarantine(record["_id"], reason)
            failed[record["_id"]] = reason[:1000]
    return failed


def fact_id(record):
    key = domain.fact_key(record)
    return None if key is None else f"{key[0]}:{key[1]}"


def project(store, version, records):
    """Apply a batch of event records to projection ``version``; returns facts changed."""
    keyed = [(fact_id(r), r) for r in records]
    keyed = [(key, r) for key, r in keyed if key]
    before = store.load_facts(version, {key for key, _ in keyed})
    after = dict(before)
    for key, record in keyed:
        after[key] = domain.apply(after.get(key) or {"_id": key}, record)
    changed = [key for key in after if after[key] != before.get(key)]
    deltas = []
    for key in changed:
        old = domain_daily.contributions(before.get(key))
        new = domain_daily.contributions(after[key])
        for slot in set(old) | set(new):
            if old.get(slot) != new.get(slot):
                deltas.append((slot, old.get(slot), new.get(slot)))
    deltas = domain_daily.with_district(deltas)
    daily_ids = {domain_daily.daily_id(*slot) for slot, _, _ in deltas}
    dailies = store.load_dailies(version, daily_ids)
    for (station, day), old, new in deltas:
        rid = domain_daily.daily_id(station, day)
        dailies[rid] = domain_daily.merge(dailies.get(rid, {}), old, new, station, day)
    store.save(
        version,
        [after[key] for key in changed],
        [dailies[rid] for rid in sorted(daily_ids)],
        roll_up(store.rollups(version), deltas, dailies),
    )
    return len(changed)


def roll_up(rollup_store, deltas, dailies):
    """The month and all-time rollups the ``deltas`` change, changed (domain_rollups),
    with the rows of the days changed taken from their new daily figures."""
    slots = {(station or domain_daily.NO_STATION, day) for (station, day), _, _ in deltas}
    ids = {rollups.rollup_id(rollups.MONTH, s, rollups.month_of(d)) for s, d in slots}
    ids |= {rollups.rollup_id(rollups.ALL, s) for s, _ in slots}
    found = rollup_store.load(ids)

    def rollup(level, station, period=None):
        rid = rollups.rollup_id(level, station, period)
        return found.setdefault(rid, rollups.new_rollup(level, station, period))

    for (station, day), old, new in deltas:
        station = station or domain_daily.NO_STATION
        rollups.rollup_apply(rollup(rollups.MONTH, station, rollups.month_of(day)), old, new)
        rollups.rollup_apply(rollup(rollups.ALL, station), old, new)
    for station, day in slots:
        daily = dailies[domain_daily.daily_id(station, day)]
        rows = rollup(rollups.MONTH, station, rollups.month_of(day))["rows"]
        row = domain_figures.row_of([daily])
        if any(value is not None and value != 0 for value in row.values()):
            rows[day[8:]] = row
        else:
            rows.pop(day[8:], None)
    return [found[rid] for rid in sorted(ids)]


def _staffing(store, version):
    """The social workers on the stations' rosters now (``station.roster_published``)
    and the project funds (configuration)."""
    return {
        **staffing.load(),
        "social_workers": {name: staff["total"] for name, staff in store.rosters(version).items()},
    }


def _totals(store, places, date_from, date_to, version, months=None):
    """``{place: the period's totals}`` (domain_figures.totals_of) of stations or
    DISTRICT, read as domain_rollups.cover says: the all-time rollups, or whole months
    and the days left over. ``months``: the month rollups read already, if any."""
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
    ids = [
        domain_daily.daily_id(p, day)
        for p in places
        for span in cover["days"]
        for day in rollups.days_between(*span)
    ]
    dailies = store.load_dailies(version, ids).values()
    return {
        p: domain_figures.totals_of(
            [d for d in dailies if d["station"] == p], [m for m in whole if m["station"] == p]
        )
        for p in places
    }


def summary(store, station=None, date_from=None, date_to=None, version=None):
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


def stations_side_by_side(store, date_from=None, date_to=None, now_ms=0, only=None):
    """Every station's row for the period (``only``: that station's), open cases as now."""
    version = store.versions()["current"]
    places = [s for s in stations() if only is None or s == only]
    totals = _totals(store, places, date_from, date_to, version)
    return domain_stations.stations_table(
        totals, store.open_cases(OPEN_CASE_STATUSES, version), now_ms, only
    )


def timeseries(store, metric, interval, station=None, date_from=None, date_to=None):
    return series(store, metric, interval, station, date_from, date_to)["points"]


def series(store, metric, interval, station=None, date_from=None, date_to=None, today=None):
    """``domain_figures.series_of``: the points, ending ``today`` unless ``date_to``
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

    def value(first, last):
        if first == last:
            return rows.get(first, {}).get(metric, empty)
        if metric in domain_figures.SUMMED:
            return sum(row.get(metric, 0) for day, row in rows.items() if first <= day <= last)
        totals = _totals(store, [place], first, last, version, months)[place]
        return domain_figures.METRICS[metric](domain_figures.figures(totals, {}))

    return domain_figures.series_of(sorted(rows), value, interval, date_from, date_to, today)


def trace(store, request_id):
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
