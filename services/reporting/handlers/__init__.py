"""The reporting service layer: keep every event and project it (the reports read
what is projected: handlers/reports.py).

Events are kept and projected by the process's ``Projector`` (handlers/projector.py:
the group commit, the passes and the lease); here are the rules a pass applies: the
facts a batch touches are read, changed in memory by the domain rules, and written
back whole with the daily figures and the month and all-time rollups they change, in
bulk.
"""

import logging
from typing import Any

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import InvalidEvent, data_schema, dumped, load_event
from services.common.mongo import STORE_DOWN_ERRORS
from services.reporting import domain
from services.reporting.domain import daily as domain_daily
from services.reporting.domain import events as domain_events
from services.reporting.domain import figures as domain_figures
from services.reporting.domain import rollups
from services.reporting.store import ReportStore
from services.reporting.store.rollups import RollupStore

log = logging.getLogger(__name__)


def keep_bodies(projector: Any, bodies: list, contract: Any) -> dict[int, Exception]:
    """A batch entrypoint's events of ``contract``: validated one by one, kept and
    projected together; returns ``{position: exception}`` of those that were invalid
    (InvalidEvent: dead-lettered) or failed (retried, then dead-lettered)."""
    failures: dict[int, Exception] = {}
    loaded: list = []
    positions: list[int] = []
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


def keep_many(projector: Any, events: list[tuple[dict, dict]]) -> dict[int, Exception]:
    """Store validated events ``(envelope, data)`` for good (a repeat is a no-op) and
    project them, with the process's ``projector``, in one pass; returns once done, with
    ``{position: exception}`` of those that failed (ProjectionFailed if the projection
    rules failed on one: retried and dead-lettered with the reason)."""
    now_ms = clock.now_ms()
    return projector.keep_many(
        [
            domain_events.record(
                envelope, dumped(data_schema(CATALOGUE[envelope["type"]].schema), data), now_ms
            )
            for envelope, data in events
        ]
    )


class ProjectionFailed(Exception):
    """The projection rules failed on an event (a bug): it is quarantined."""


def project_isolating(store: ReportStore, version: int, records: list[dict]) -> dict[str, str]:
    """Project a batch; if the rules fail on it, project its events one by one and
    quarantine those they fail on, so one bad event does not stop the others.
    Returns ``{id: reason}`` of those quarantined. Only the rules are isolated: a write
    that fails fails the pass (retried: the next pass finishes it first, store.save),
    as projecting its events again one by one would find them in the facts already and
    count them nowhere."""
    try:
        planned = plan(store, version, records)
    except STORE_DOWN_ERRORS:
        raise
    except Exception:  # isolated below, event by event
        log.exception("projecting a batch of %d events failed; isolating", len(records))
    else:
        store.save(version, *planned)
        return {}
    failed = {}
    for record in records:
        try:
            planned = plan(store, version, [record])
        except STORE_DOWN_ERRORS:
            raise
        except Exception as exc:  # noqa: BLE001 - quarantined with its reason
            log.error("event %s (%s) quarantined: %s", record["_id"], record["type"], exc)
            reason = f"{type(exc).__name__}: {exc}"
            store.quarantine(record, reason)
            failed[record["_id"]] = reason[:1000]
            continue
        store.save(version, *planned)
    return failed


def fact_id(record: dict) -> str | None:
    return domain.fact_id(record)


def project(store: ReportStore, version: int, records: list[dict]) -> int:
    """Apply a batch of event records to projection ``version``; returns facts changed."""
    facts, dailies, changed_rollups = plan(store, version, records)
    store.save(version, facts, dailies, changed_rollups)
    return len(facts)


def plan(store: ReportStore, version: int, records: list[dict]) -> tuple[list, list, list]:
    """What a batch of event records changes in projection ``version``: ``(facts,
    daily figures, rollups)`` changed, read from the store and changed by the rules, to
    be saved together (store.save). Records read from the event store's batches carry
    the batch's id (``batch``): their facts record it (``domain.fold``), for the request
    timeline."""
    before = store.load_facts(version, {key for r in records for key in domain.touched(r)})
    after = dict(before)
    for record in records:
        domain.fold(after, record)
    changed = [key for key in after if after[key] != before.get(key)]
    deltas = []
    for key in changed:
        old = domain_daily.contributions(before.get(key))
        new = domain_daily.contributions(after[key])
        for slot in set(old) | set(new):
            if old.get(slot) != new.get(slot):
                deltas.append((slot, old.get(slot), new.get(slot)))
    deltas = domain_daily.with_district(deltas)
    # the cases that opened, moved or left the open statuses: (old, new) (station, opened)
    open_moves = [
        (old, new)
        for old, new in (
            (rollups.open_case_of(before.get(key)), rollups.open_case_of(after[key]))
            for key in changed
        )
        if old != new
    ]
    daily_ids = {domain_daily.daily_id(*slot) for slot, _, _ in deltas}
    dailies = store.load_dailies(version, daily_ids)
    changes: dict[tuple, list] = {}
    for slot, old, new in deltas:
        changes.setdefault(slot, []).append((old, new))
    for (station, day), of_day in changes.items():
        rid = domain_daily.daily_id(station, day)
        dailies[rid] = domain_daily.merge(dailies.get(rid, {}), of_day, station, day)
    return (
        [after[key] for key in changed],
        [dailies[rid] for rid in sorted(daily_ids)],
        roll_up(store.rollups(version), deltas, dailies, open_moves),
    )


def roll_up(
    rollup_store: RollupStore, deltas: list, dailies: dict[str, dict], open_moves: list
) -> list[dict]:
    """The month and all-time rollups the ``deltas`` change, changed (domain_rollups),
    with the rows of the days changed taken from their new daily figures; and the
    stations' open cases ``open_moves`` change (``[(old, new)]``, each ``(station,
    opened_ms)`` or None)."""
    slots = {(station or domain_daily.NO_STATION, day) for (station, day), _, _ in deltas}
    ids = {rollups.rollup_id(rollups.MONTH, s, rollups.month_of(d)) for s, d in slots}
    ids |= {rollups.rollup_id(rollups.ALL, s) for s, _ in slots}
    ids |= {rollups.rollup_id(rollups.OPEN, c[0]) for move in open_moves for c in move if c}
    found = rollup_store.load(ids)

    def rollup(level, station, period=None):
        rid = rollups.rollup_id(level, station, period)
        return found.setdefault(rid, rollups.new_rollup(level, station, period))

    for (station, day), old, new in deltas:
        station = station or domain_daily.NO_STATION
        rollups.rollup_apply(rollup(rollups.MONTH, station, rollups.month_of(day)), old, new)
        rollups.rollup_apply(rollup(rollups.ALL, station), old, new)
    for old, new in open_moves:
        for case, sign in ((old, -1), (new, 1)):
            if case:
                rollups.open_apply(rollup(rollups.OPEN, case[0]), case[1], sign)
    for station, day in slots:
        daily = dailies[domain_daily.daily_id(station, day)]
        rows = rollup(rollups.MONTH, station, rollups.month_of(day))["rows"]
        row = domain_figures.row_of([daily])
        if any(value is not None and value != 0 for value in row.values()):
            rows[day[8:]] = row
        else:
            rows.pop(day[8:], None)
    return [found[rid] for rid in sorted(ids)]
