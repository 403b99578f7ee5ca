"""The reporting service layer: keep every event, project it, answer with figures.

Events are first kept in the permanent event store (``keep``; handlers running at the
same time share one bulk insert, ``GroupCommit``), then projected in batches
(``drain``): the facts the batch touches are read, changed in memory by the
domain rules, and written back whole with the daily roll-ups they change, in bulk.
One projector runs at a time, in a process (a lock) and across processes (a lease in
the store, kept across passes for up to HOLD_MS), so no two batches interleave their
read-change-write of the same fact.
"""
import logging
import os
import socket
import threading
import time
import uuid
import weakref

from services.common.contracts import CATALOGUE
from services.common.envelope import data_schema
from services.common.mongo import STORE_DOWN_ERRORS
from services.common.vocabulary import stations
from services.reporting import domain, domain_events, domain_figures, domain_rollup, staffing

log = logging.getLogger(__name__)

BATCH = 1000
LEASE_MS = 30_000
HOLD_MS = 10_000  # well within LEASE_MS: the lease is never trusted past its expiry
OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_projecting = threading.Lock()  # eventlet-patched in the nameko worker: a green lock
_groups_lock = threading.Lock()


def _now_ms():
    return int(time.time() * 1000)


def keep(store, envelope, data):
    """Store a validated event for good (a repeat is a no-op) and project it; returns
    once both are done. Raises ProjectionFailed if the projection rules failed on it
    (the handler is then retried and dead-lettered with the reason)."""
    # dumped again by its schema: days and instants kept as the strings they travel as
    data = data_schema(CATALOGUE[envelope["type"]].schema).dump(data)
    _group_commit(store).keep(domain_events.record(envelope, data, _now_ms()))


class GroupCommit:
    """Handlers running at the same time share one bulk insert and one projection pass.

    The first handler to arrive stores and projects its event; those arriving while it
    works queue up and are stored and projected together by it next (no added delay:
    the batch is what arrived meanwhile). Each handler returns, and its message is
    acked, only once its own event is stored and projected.
    """

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._queued = []
        self._flushing = False

    def keep(self, record, timeout_s=120.0):
        slot = {"record": record, "done": threading.Event(), "error": None}
        with self._lock:
            self._queued.append(slot)
            leader, self._flushing = not self._flushing, True
        if leader:
            self._flush()
        if not slot["done"].wait(timeout_s):
            raise TimeoutError("the event was not stored in time; it will be retried")
        if slot["error"] is not None:
            raise slot["error"]

    def _flush(self):
        while True:
            with self._lock:
                batch, self._queued = self._queued, []
                if not batch:
                    self._flushing = False
                    return
            try:
                ids = [slot["record"]["_id"] for slot in batch]
                stored = self.store.keep_many([slot["record"] for slot in batch])
                projected = Drained()
                drain(self.store, projected=projected)
                if stored == len(ids) and projected.seen.issuperset(ids):
                    # every event of the batch was new and this pass projected each one:
                    # what it quarantined is all there is to know
                    failed = projected.failed
                else:  # a repeat quarantined before, or events another holder projects
                    failed = self.store.quarantined_among(ids)
                for slot in batch:
                    if slot["record"]["_id"] in failed:
                        slot["error"] = ProjectionFailed(
                            f"event {slot['record']['_id']} could not be projected: "
                            f"{failed[slot['record']['_id']]}")
            except BaseException as exc:  # noqa: BLE001 - every waiting handler hears it
                for slot in batch:
                    slot["error"] = exc
                if not isinstance(exc, Exception):  # the leader is being killed
                    with self._lock:
                        self._flushing = False
                    raise
            finally:
                for slot in batch:
                    slot["done"].set()


_group_commits = weakref.WeakKeyDictionary()


def _group_commit(store):
    with _groups_lock:
        if store not in _group_commits:
            _group_commits[store] = GroupCommit(store)
        return _group_commits[store]


class Drained:
    """What a drain did: the ids of the events it projected (``seen``), and those of
    them it quarantined (``failed``: {id: reason})."""

    def __init__(self):
        self.seen, self.failed = set(), {}


class _Held:
    """The projector lease as this process holds it across passes: since when, and the
    projection version read when it was taken (only a lease holder switches versions,
    so the version cannot change while the lease is held)."""

    def __init__(self, since_ms, version):
        self.since_ms, self.version = since_ms, version


_held = weakref.WeakKeyDictionary()  # store -> {owner: _Held}


def _hold_lease(store):
    """The projection version if this process holds the lease (taking it if free)."""
    now = _now_ms()
    held = _held.setdefault(store, {}).get(OWNER)
    if held is not None and now - held.since_ms < HOLD_MS:
        return held.version
    if not store.take_lease(OWNER, now, LEASE_MS):
        _held[store].pop(OWNER, None)
        return None
    held = _held[store][OWNER] = _Held(now, store.versions()["current"])
    return held.version


def _let_go(store, always=False):
    """Release the lease once held for HOLD_MS (or ``always``): a rebuild, or another
    instance whose events wait, gets its turn."""
    held = _held.get(store, {}).get(OWNER)
    if always or held is None or _now_ms() - held.since_ms >= HOLD_MS:
        _held.get(store, {}).pop(OWNER, None)
        store.release_lease(OWNER)


def drain(store, batch=BATCH, projected=None):
    """Project every pending event into the current projection version.

    Only the holder of the projector lease projects; another process holding it will
    project what is pending (its loop, or its timer, picks it up). The lease is kept
    across passes for up to HOLD_MS (then released), so that a busy projector does not
    take, read the version and release in every pass. Returns the number of events
    projected here; ``projected`` (a Drained), if given, gets the details.
    """
    projected = projected if projected is not None else Drained()
    with _projecting:
        version = _hold_lease(store)
        if version is None:
            return 0
        cut_short = True  # an error or a lost lease: let it go at once
        try:
            while True:
                records = store.pending(batch)
                if records:
                    failed = project_isolating(store, version, records)
                    store.mark_projected([r["_id"] for r in records if r["_id"] not in failed])
                    projected.seen.update(r["_id"] for r in records)
                    projected.failed.update(failed)
                if len(records) < batch:  # nothing more was pending: no second read
                    cut_short = False
                    return len(projected.seen)
                if not store.take_lease(OWNER, _now_ms(), LEASE_MS):
                    return len(projected.seen)  # held too long (a stall): another carries on
        finally:
            _let_go(store, always=cut_short)


def take_lease(store, timeout_s=120.0):
    """Wait for the projector lease (a rebuild's last step); raises TimeoutError."""
    _held.get(store, {}).pop(OWNER, None)  # the version is about to change
    deadline = time.monotonic() + timeout_s
    while not store.take_lease(OWNER, _now_ms(), LEASE_MS):
        if time.monotonic() > deadline:
            raise TimeoutError("the projector lease stayed taken")
        time.sleep(0.2)


def release_lease(store):
    _held.get(store, {}).pop(OWNER, None)
    store.release_lease(OWNER)


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
    except Exception:  # noqa: BLE001 - isolated below, event by event
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
        old = domain_rollup.contributions(before.get(key))
        new = domain_rollup.contributions(after[key])
        for slot in set(old) | set(new):
            if old.get(slot) != new.get(slot):
                deltas.append((slot, old.get(slot), new.get(slot)))
    deltas = domain_rollup.with_district(deltas)
    rollup_ids = {domain_rollup.rollup_id(*slot) for slot, _, _ in deltas}
    rollups = store.load_rollups(version, rollup_ids)
    for (station, day), old, new in deltas:
        rid = domain_rollup.rollup_id(station, day)
        rollups[rid] = domain_rollup.merge(rollups.get(rid, {}), old, new, station, day)
    store.save(version, [after[key] for key in changed],
               [rollups[rid] for rid in sorted(rollup_ids)])
    return len(changed)


def summary(store, station=None, date_from=None, date_to=None, version=None):
    return domain_figures.summary(store.rollups(station, date_from, date_to, version), station,
                                  staffing.load())


def timeseries(store, metric, interval, station=None, date_from=None, date_to=None):
    return domain_figures.timeseries(store.rollups(station, date_from, date_to), metric,
                                     interval, date_from, date_to)


def trace(store, request_id):
    """The request's events in order, and the station it belongs to (None: unknown)."""
    records = domain_events.timeline(store.correlated(request_id))
    station = next((r["station"] for r in records if r["station"] in stations()), None)
    return station, [{
        "id": r["_id"], "type": r["type"], "step": domain_events.short_type(r["type"]),
        "time": r["time"], "source": r["source"], "subject": r.get("subject"),
        "sequence": r.get("sequence"), "correlationid": r["correlationid"],
        "causationid": r.get("causationid"), "station": r.get("station"), "data": r["data"],
    } for r in records]
