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
)

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
        version, [after[key] for key in changed], [dailies[rid] for rid in sorted(daily_ids)]
    )
    return len(changed)


def summary(store, station=None, date_from=None, date_to=None, version=None):
    """The figures of a period; the social workers are those on the stations' rosters
    now (``station.roster_published``), the project funds configuration."""
    staffing_now = {
        **staffing.load(),
        "social_workers": {name: staff["total"] for name, staff in store.rosters(version).items()},
    }
    return domain_figures.summary(
        store.dailies(station, date_from, date_to, version), station, staffing_now
    )


def stations_side_by_side(store, date_from=None, date_to=None, now_ms=0, only=None):
    """Every station's row for the period (``only``: that station's), open cases as now."""
    version = store.versions()["current"]
    return domain_stations.stations_table(
        store.dailies_by_station(date_from, date_to, version),
        store.open_cases(OPEN_CASE_STATUSES, version),
        now_ms,
        only,
    )


def timeseries(store, metric, interval, station=None, date_from=None, date_to=None):
    return domain_figures.timeseries(
        store.dailies(station, date_from, date_to), metric, interval, date_from, date_to
    )


def series(store, metric, interval, station=None, date_from=None, date_to=None, today=None):
    """``domain_figures.series``: the points, ending ``today`` unless ``date_to`` says,
    and whether older periods were left out."""
    return domain_figures.series(
        store.dailies(station, date_from, date_to), metric, interval, date_from, date_to, today
    )


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
