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
Under eventlet (the Nameko workers) the thread is a green thread; in gunicorn's
gthread workers a real one, started lazily after the fork.
"""
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

_writers = {}
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
        self._thread = threading.Thread(target=self._flush_forever, daemon=True,
                                        name=f"group-commit {collection.full_name}")
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
            while (not any(p.waited for p in self._queue)
                   and sum(len(p.operations) for p in self._queue) < self.max_batch
                   and (remaining := deadline - time.monotonic()) > 0):
                self._wake.wait(remaining)
            batch, count = [], 0
            while self._queue and (not batch or count + len(self._queue[0].operations)
                                   <= self.max_batch):
                pending = self._queue.pop(0)
                batch.append(pending)
                count += len(pending.operations)
            return batch

    def _flush_forever(self):
        while True:
            batch = self._take()
            try:
                # ordered: one caller's operations keep their order (a mark's two steps)
                self.collection.bulk_write([op for p in batch for op in p.operations],
                                           ordered=True)
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for pending in batch:
                    pending.error = exc
                if not all(p.waited for p in batch):
                    log.warning("queued writes to %s failed: %s", self.collection.full_name,
                                type(exc).__name__)
            for pending in batch:
                pending.done.set()
                if pending.then is not None:
                    try:
                        pending.then()
                    except Exception:  # noqa: BLE001 - the flusher must outlive a callback
                        log.exception("a callback after writing to %s failed",
                                      self.collection.full_name)


def writer(collection):
    """The process's group-commit writer for ``collection`` (one flusher per collection)."""
    key = (os.getpid(), id(collection.database.client), collection.full_name)
    with _writers_lock:
        found = _writers.get(key)
        if found is None or found.collection.database.client is not collection.database.client:
            found = _writers[key] = GroupCommit(collection)
        return found
