"""Reporting's projector: keeps events (a group commit) and projects them in passes.

One ``Projector`` per process and store (the worker gets it from ``ProjectorProvider``
(services/reporting/dependencies.py),
built once per container). Events are first kept in the permanent event store
(handlers running at the same time share one document: a batch), then projected in
passes: a pass reads pending batches holding up to ``pass_size`` events, projects them
with one bulk read of their facts and daily figures and one bulk write
(``handlers.project``), and marks the batches.
Under load the events that arrive while a pass runs queue up and are kept and projected
together by the next pass, so passes grow with the load (up to ``pass_size``).

One projector projects at a time, in a process (a lock) and across processes (a lease
in the store). The lease is kept across passes for up to ``hold_ms`` and renewed with
one command per full pass, never per event; the projection version is read only when
the lease is taken (only a lease holder switches versions).
"""

import logging
import os
import socket
import threading
import time
from typing import Any, Optional

from services.common import clock, ids
from services.reporting import handlers
from services.reporting.store import ReportStore, records_of

log = logging.getLogger(__name__)

LEASE_MS = 30_000
HOLD_MS = 10_000  # well within LEASE_MS: the lease is never trusted past its expiry


def now_ms() -> int:
    return clock.now_ms()


def new_owner() -> str:
    """A lease owner name unique to this projector: host, process, a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{ids.uuid4().hex[:8]}"


class Drained:
    """What a drain did: the ids of the events it projected (``seen``), and those of
    them it quarantined (``failed``: {id: reason})."""

    def __init__(self) -> None:
        self.seen: set = set()
        self.failed: dict = {}


class _Slot:
    __slots__ = ("record", "done", "error")

    def __init__(self, record: dict, done: threading.Event) -> None:
        self.record, self.done, self.error = record, done, None


class Projector:
    """The lease, the passes and the group commit of one process on one store.

    Under eventlet (the Nameko worker) its locks are green locks.
    """

    def __init__(
        self,
        store: ReportStore,
        pass_size: int = 1000,
        owner: Optional[str] = None,
        lease_ms: int = LEASE_MS,
        hold_ms: int = HOLD_MS,
    ) -> None:
        self.store, self.pass_size = store, pass_size
        self.owner = owner or new_owner()
        self.lease_ms, self.hold_ms = lease_ms, hold_ms
        self._projecting = threading.Lock()
        self._held: Optional[tuple] = None  # (since_ms, projection version) while held
        # false once refused: another owner holds it, so no renewal is tried first
        self._last_owner = True
        # true while the last pass written is known finished: this projector's own, and
        # nobody else has held the lease since (else finish_pass comes first)
        self._last_pass_finished = False
        self._lock = threading.Lock()
        self._queued: list = []
        self._flushing = False
        self._pending_seen: Optional[str] = None  # the pending event drain_left saw last
        self._passes = 0  # batches kept and projected here (drain_left: any since last tick?)
        self._passes_seen = 0

    # -- the group commit -----------------------------------------------------------

    def keep_many(self, records: list, timeout_s: float = 120.0) -> dict:
        """Store event records for good (a repeat is a no-op) and project them; returns
        once done. Handlers arriving while another keeps its batch queue up and are kept
        and projected together next (no added delay: the batch is what arrived
        meanwhile): one pass keeps and projects them with whatever else is queued.
        Returns ``{position: exception}`` of those that failed (ProjectionFailed if the
        rules failed on one; the rest are kept and projected)."""
        # one event for the call's slots: queued together under the lock, they are always
        # in the same batch and set together (an event each cost ~5 % of the worker's CPU)
        done = threading.Event()
        slots = [_Slot(record, done) for record in records]
        with self._lock:
            self._queued.extend(slots)
            leader, self._flushing = not self._flushing, True
        if leader:
            self._flush()
        deadline = time.monotonic() + timeout_s
        failed = {}
        for position, slot in enumerate(slots):
            if not slot.done.wait(max(0.0, deadline - time.monotonic())):
                failed[position] = TimeoutError(
                    "the event was not stored in time; it will be retried"
                )
            elif slot.error is not None:
                failed[position] = slot.error
        return failed

    def _flush(self) -> None:
        while True:
            with self._lock:
                batch, self._queued = self._queued, []
                if not batch:
                    self._flushing = False
                    return
            try:
                self._keep_batch(batch)
            except BaseException as exc:  # every waiting handler hears it
                for slot in batch:
                    slot.error = exc
                if not isinstance(exc, Exception):  # the leader is being killed
                    with self._lock:
                        self._flushing = False
                    raise
            finally:
                for slot in batch:
                    slot.done.set()

    def _keep_batch(self, batch: list) -> None:
        self._passes += 1
        ids = [slot.record["_id"] for slot in batch]
        stored = self.store.keep_many([slot.record for slot in batch])
        projected = Drained()
        self.drain(projected=projected)
        if stored == len(ids) and projected.seen.issuperset(ids):
            # this pass projected every event of the batch (a repeat too: kept again and
            # applied again, quarantined again if the rules fail on it): what it
            # quarantined is all there is to know
            failed = projected.failed
        else:  # events another holder projects
            failed = self.store.quarantined_among(ids)
        for slot in batch:
            if slot.record["_id"] in failed:
                slot.error = handlers.ProjectionFailed(
                    f"event {slot.record['_id']} could not be projected: "
                    f"{failed[slot.record['_id']]}"
                )

    # -- passes under the lease -----------------------------------------------------

    def drain(self, projected: Optional[Drained] = None, pass_size: Optional[int] = None) -> int:
        """Project every pending event into the current projection version, in passes
        of up to ``pass_size``. Only the lease holder projects; another process holding
        it projects what is pending (its loop, or its timer, picks it up). Returns the
        number of events projected here; ``projected``, if given, gets the details."""
        projected = projected if projected is not None else Drained()
        size = pass_size or self.pass_size
        with self._projecting:
            version = self._hold_lease()
            if version is None:
                return 0
            cut_short = True  # an error or a lost lease: let it go at once
            try:
                while True:
                    self._last_pass_finished = False  # until this pass's writes are done
                    batches = self.store.pending(size)
                    records = [record for batch in batches for record in records_of(batch)]
                    if records:
                        # a batch is projected whole: an event the rules failed on is
                        # quarantined (kept on its own) and left out
                        failed = handlers.project_isolating(self.store, version, records)
                        self.store.mark_batches_projected([batch["_id"] for batch in batches])
                        projected.seen.update(r["_id"] for r in records)
                        projected.failed.update(failed)
                    self._last_pass_finished = True
                    if len(records) < size:  # nothing more was pending: no second read
                        cut_short = False
                        return len(projected.seen)
                    # a full pass: renew the lease (one command) before the next one
                    if not self.store.take_lease(self.owner, now_ms(), self.lease_ms):
                        self._last_pass_finished = False  # another's passes come next
                        return len(projected.seen)  # a stall: another carries on
            finally:
                self._let_go(always=cut_short)

    def drain_left(self) -> int:
        """The timer's drain: events kept while another instance held the lease, or
        left by an instance that died between keeping and projecting them. With none
        pending, one indexed read and no lease command: an idle instance (or one whose
        own passes projected everything) costs the store next to nothing.

        It drains only when the event it finds pending is the one it found at its last
        tick: an event waiting that long is nobody's to project. Under load the events
        it finds are those the projecting instance's passes are about to take (each is
        pending for a pass), and a standby taking the lease for them would make every
        batch of the instance that keeps them pay a refusal, a read of what was
        quarantined and a wait for the standby's next tick (issue 24). What is left is
        projected one tick later than it was (2 ticks: 4 s), or at once by the next
        pass of whoever projects (a pass reads every pending event).

        A holder of the lease that kept nothing since the last tick lets it go (one
        command): the batches now go to another instance (a standby became the
        leader, docs/operations.md "Scaling"), whose passes would otherwise be refused
        until the lease ran out."""
        idle, self._passes_seen = self._passes == self._passes_seen, self._passes
        if idle and self._held is not None and self._projecting.acquire(blocking=False):
            try:  # (not in the middle of a pass: the lock is free)
                self._let_go(always=True)
            finally:
                self._projecting.release()
        pending = self.store.a_pending_id()
        seen_before, self._pending_seen = self._pending_seen, pending
        if pending is None or pending != seen_before:
            return 0
        self._pending_seen = None  # drained now: the next look starts afresh
        return self.drain()

    def _hold_lease(self) -> Any:
        """The projection version if this projector holds the lease (taking it if free)."""
        now = now_ms()
        if self._held is not None and now - self._held[0] < self.hold_ms:
            return self._held[1]
        if not self.store.take_lease(self.owner, now, self.lease_ms, self._last_owner):
            self._held, self._last_owner = None, False
            self._last_pass_finished = False  # the holder's passes are written meanwhile
            return None
        self._last_owner = True
        version = self.store.versions()["current"]
        if not self._last_pass_finished:
            # a pass cut short (a killed holder, or this one's failed pass) is written
            # whole before the next one reads the facts it changed (ReportStore.save)
            self.store.finish_pass(version)
            self._last_pass_finished = True
        self._held = (now, version)
        return self._held[1]

    def _let_go(self, always: bool = False) -> None:
        """Release the lease once held for ``hold_ms`` (or ``always``): a rebuild, or
        another instance whose events wait, gets its turn."""
        if always or self._held is None or now_ms() - self._held[0] >= self.hold_ms:
            self._held = None
            self.store.release_lease(self.owner)

    def take_lease(self, timeout_s: float = 120.0) -> None:
        """Wait for the projector lease (a rebuild's last step); raises TimeoutError."""
        self._held = None  # the version is about to change
        deadline = time.monotonic() + timeout_s
        while not self.store.take_lease(self.owner, now_ms(), self.lease_ms):
            if time.monotonic() > deadline:
                raise TimeoutError("the projector lease stayed taken")
            time.sleep(0.2)

    def release_lease(self) -> None:
        self._held = None
        self.store.release_lease(self.owner)
