"""Group commit: concurrent writers to one collection share one ``bulk_write``.

Each caller hands over its operations and waits until the batch that carries them is
written (or raises what the batch raised): nothing is reported stored before it is,
exactly as with a single write. A flusher thread per collection and process takes
whatever is queued at that moment (at most ``max_batch`` operations), so a lone
writer pays one round trip as before, and N concurrent writers pay one between them.
The store is the bottleneck of this system (docs/performance.md): the development
server handles one request at a time, and a bulk of upserts costs about as much as
one of them.

Only for writes whose caller needs no per-operation answer (upserts of plain field
sets, ``$max`` progress marks): a batch reports success or one error for all.
``write_soon`` queues writes that only save work later (the outbox's progress marks:
if one is lost, the relay publishes again and the consumers ignore the repeat) without
waiting; they go with the next batch, at most ``linger_s`` later, so a busy process
writes its marks a few at a time instead of one round trip each.
``GroupInsert`` (``inserter``) does the same for inserts whose callers need to know, per
document, whether it was new (claims, new aggregates): one unordered ``insert_many``
per batch, duplicates reported to their own caller. ``GroupPublish`` (group_publish.py,
re-exported here) does the same for the outbox relay's fast path: one batch of
publishes, their confirms awaited together.
Under eventlet (the Nameko workers) the thread is a green thread; in gunicorn's
gthread workers a real one, started lazily after the fork.
"""

import logging
import os
import threading
import time

from pymongo.errors import BulkWriteError, OperationFailure

from services.common.group_publish import (  # noqa: F401 - also this module's names
    FAST_PATH_WAIT_S,
    GroupPublish,
)
from services.common.mongo import DUPLICATE_KEY_CODES

log = logging.getLogger(__name__)

_writers: dict = {}
_writers_lock = threading.Lock()


class _Pending:
    __slots__ = ("operations", "done", "error", "waited", "then")

    def __init__(self, operations, waited=True):
        self.operations, self.done, self.error = operations, threading.Event(), None
        self.waited, self.then = waited, None


class GroupCommit:
    def __init__(self, collection, max_batch=500, linger_s=0.2):
        self.collection, self.max_batch, self.linger_s = collection, max_batch, linger_s
        self._queue = []
        self._wake = threading.Condition()
        self._thread = threading.Thread(
            target=self._flush_forever, daemon=True, name=f"group-commit {collection.full_name}"
        )
        self._thread.start()

    def write(self, operations):
        """Write ``operations`` (pymongo UpdateOne/InsertOne/...), in their order, with
        whatever else is queued; returns once they are stored, or raises the error."""
        pending = _Pending(list(operations))
        with self._wake:
            self._queue.append(pending)
            self._wake.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def write_soon(self, operations, then=None):
        """Queue ``operations`` and return at once: written with the next batch, at the
        latest ``linger_s`` from now; an error is logged, not raised. ``then()`` is
        called once the batch is written or has failed."""
        pending = _Pending(list(operations), waited=False)
        pending.then = then
        with self._wake:
            self._queue.append(pending)
            self._wake.notify()

    def _take(self):
        with self._wake:
            while not self._queue:
                self._wake.wait()
            # Nobody waits on what is queued: linger, so that more join the batch.
            deadline = time.monotonic() + self.linger_s
            while (
                not any(p.waited for p in self._queue)
                and sum(len(p.operations) for p in self._queue) < self.max_batch
                and (remaining := deadline - time.monotonic()) > 0
            ):
                self._wake.wait(remaining)
            batch: list = []
            count = 0
            while self._queue and (
                not batch or count + len(self._queue[0].operations) <= self.max_batch
            ):
                pending = self._queue.pop(0)
                batch.append(pending)
                count += len(pending.operations)
            return batch

    def _flush_forever(self):
        while True:
            batch = self._take()
            try:
                # ordered: one caller's operations keep their order (a mark)
                self.collection.bulk_write([op for p in batch for op in p.operations], ordered=True)
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for pending in batch:
                    pending.error = exc
                if not all(p.waited for p in batch):
                    log.warning(
                        "queued writes to %s failed: %s",
                        self.collection.full_name,
                        type(exc).__name__,
                    )
            for pending in batch:
                pending.done.set()
                if pending.then is not None:
                    try:
                        pending.then()
                    except Exception:  # the flusher must outlive a callback
                        log.exception(
                            "a callback after writing to %s failed", self.collection.full_name
                        )


def writer(collection):
    """The process's group-commit writer for ``collection`` (one flusher per collection)."""
    key = (os.getpid(), id(collection.database.client), collection.full_name)
    with _writers_lock:
        found = _writers.get(key)
        if found is None or found.collection.database.client is not collection.database.client:
            found = _writers[key] = GroupCommit(collection)
        return found


class _Inserts:
    __slots__ = ("documents", "done", "error", "results")

    def __init__(self, documents: list) -> None:
        self.documents, self.done = documents, threading.Event()
        self.error: Exception | None = None
        # set when the batch is written, unless error: per document None if inserted,
        # else the duplicate key's write error (which index refused it)
        self.results: list[dict | None] = []


class GroupInsert:
    """Concurrent inserts into one collection share one unordered ``insert_many``, and
    each caller hears the fate of each of its own documents: inserted, or refused as a
    duplicate key (another error fails only that caller). The flusher takes what
    arrived in the last ``wait_s`` (the HTTP threads' requests of the last ~2 ms), so
    N requests at a time cost the store one command instead of N. A failure of the
    whole command (the store down) fails every caller of that batch and writes nothing
    of theirs that they are told about as written.
    """

    def __init__(self, collection, wait_s: float = 0.002, max_batch: int = 500) -> None:
        self.collection, self.wait_s, self.max_batch = collection, wait_s, max_batch
        self._queue: list = []
        self._wake = threading.Condition()
        self._thread = threading.Thread(
            target=self._flush_forever, daemon=True, name=f"group-insert {collection.full_name}"
        )
        self._thread.start()

    def insert(self, documents: list) -> list:
        """Insert ``documents`` (each with its ``_id``) with whatever else arrives now;
        returns, per document, True if inserted or False if its key existed. Raises what
        the batch's command raised (nothing of this call was written then)."""
        return [refused is None for refused in self.insert_reporting(documents)]

    def insert_reporting(self, documents: list) -> list:
        """As ``insert``, but per document None if inserted, or the write error of the
        duplicate key that refused it (its ``errmsg``, and ``keyPattern`` on MongoDB,
        name the unique index: ``mongo.duplicate_field``)."""
        pending = _Inserts(list(documents))
        with self._wake:
            self._queue.append(pending)
            self._wake.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.results

    def _take(self) -> list:
        with self._wake:
            while not self._queue:
                self._wake.wait()
            deadline = time.monotonic() + self.wait_s
            while (
                sum(len(p.documents) for p in self._queue) < self.max_batch
                and (remaining := deadline - time.monotonic()) > 0
            ):
                self._wake.wait(remaining)
            batch: list = []
            count = 0
            while self._queue and (
                not batch or count + len(self._queue[0].documents) <= self.max_batch
            ):
                pending = self._queue.pop(0)
                batch.append(pending)
                count += len(pending.documents)
            return batch

    def _flush_forever(self) -> None:
        while True:
            batch = self._take()
            documents = [d for p in batch for d in p.documents]
            errors = {}
            try:
                # unordered: every document is tried and each failure listed by index
                # (ordered, nx-27017 stops at the first and does not list the rest)
                self.collection.insert_many(documents, ordered=False)
            except BulkWriteError as exc:
                errors = {e["index"]: e for e in exc.details.get("writeErrors", [])}
            except Exception as exc:  # noqa: BLE001 - every caller of the batch hears it
                for pending in batch:
                    pending.error = exc
            index = 0
            for pending in batch:
                if pending.error is None:
                    results = []
                    for _ in pending.documents:
                        error = errors.get(index)
                        if error is not None and error.get("code") not in DUPLICATE_KEY_CODES:
                            pending.error = OperationFailure(
                                error.get("errmsg", "write error"), error.get("code"), error
                            )
                        results.append(error)
                        index += 1
                    pending.results = results
                else:
                    index += len(pending.documents)
                pending.done.set()


def inserter(collection, wait_s: float = 0.002) -> GroupInsert:
    """The process's group insert for ``collection`` (one flusher per collection)."""
    key = ("insert", os.getpid(), id(collection.database.client), collection.full_name)
    with _writers_lock:
        found = _writers.get(key)
        if found is None or found.collection.database.client is not collection.database.client:
            found = _writers[key] = GroupInsert(collection, wait_s)
        return found
