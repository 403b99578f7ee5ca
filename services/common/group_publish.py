"""The outbox relay's fast path shared by a process's threads (``GroupPublish``): what
concurrent writers hand over meanwhile is published together, in one batch whose
confirms are awaited together.

The same idea as the group commit of writes (group_commit.py, which re-exports
``GroupPublish``: callers name it ``group_commit.GroupPublish``), applied to publishing
instead of to the store; a module of its own to keep each readable.
"""

import logging
import threading
import time

# Logged under group_commit's name, where this class was first defined: the JSON log
# lines carry the logger's name, and operators' filters select by it.
log = logging.getLogger("services.common.group_commit")

# the longest a caller of the shared fast path waits for another caller's batch (a
# batch is confirmed in milliseconds while every queue has its leader)
FAST_PATH_WAIT_S = 1.0


class _Publishing:
    __slots__ = ("document", "done", "published")

    def __init__(self, document):
        self.document, self.done, self.published = document, threading.Event(), 0


class GroupPublish:
    """An outbox relay whose fast path concurrent writers share: the documents that
    threads hand to ``publish_now`` while a batch is being published are published
    next, together, by one ``relay.publish_now_many`` (their confirms awaited
    together). No added delay: the first caller publishes at once, the batch is what
    arrived meanwhile. Each caller returns once its batch is published (or left to
    the relay's sweep: its events are safe in its document), with the number of
    events its batch published. Everything else is the relay's own.

    The fast path never holds the callers for long (an API's threads are its callers,
    and its /healthz needs one of them): a caller waits at most ``wait_s`` for another
    caller's batch, and the caller publishing stops leading after a batch that took
    longer than that (a broker node frozen, a queue electing a leader): what is queued
    then is left to the relay's sweep, and the next caller leads afresh.
    """

    def __init__(self, relay, wait_s: float = FAST_PATH_WAIT_S) -> None:
        self.relay = relay
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._queued: dict = {}
        self._busy: set = set()

    def __getattr__(self, name):
        return getattr(self.relay, name)

    def publish_now(self, name: str, document: dict) -> int:
        return self.publish_now_many(name, [document])

    def publish_now_many(self, name: str, documents: list) -> int:
        """``publish_now`` for a batch of documents (a batch of inbound events): they go
        out with what the other threads hand over meanwhile; 0 if any was left to the
        relay's sweep."""
        slots = [_Publishing(document) for document in documents]
        if not slots:
            return 0
        with self._lock:
            self._queued.setdefault(name, []).extend(slots)
            leader = name not in self._busy
            self._busy.add(name)
        if leader:
            try:
                self._publish_queued(name)
            except BaseException:  # the leader is being killed: the next caller leads
                with self._lock:
                    self._busy.discard(name)
                raise
        deadline = time.monotonic() + self.wait_s
        for slot in slots:
            if not slot.done.wait(max(0.0, deadline - time.monotonic())):
                log.debug("%s: the fast path is slow; the relay publishes these", name)
                return 0
        return min(slot.published for slot in slots)

    def _publish_queued(self, name: str) -> None:
        while True:
            with self._lock:
                batch = self._queued.pop(name, [])
                if not batch:
                    self._busy.discard(name)
                    return
            published, started = 0, time.monotonic()
            try:
                published = self.relay.publish_now_many(name, [s.document for s in batch])
            except Exception:  # the events are safe in their documents
                log.exception("publishing %d %s deferred to the relay", len(batch), name)
            finally:
                for slot in batch:
                    slot.published = published
                    slot.done.set()
            if time.monotonic() - started > self.wait_s:
                self._hand_to_relay(name)
                return

    def _hand_to_relay(self, name: str) -> None:
        """Stop leading: what is queued is left to the relay's sweep (it is in its
        documents); the next caller leads."""
        with self._lock:
            left = self._queued.pop(name, [])
            self._busy.discard(name)
        for slot in left:
            slot.done.set()
        if left:
            log.warning(
                "broker slow to confirm: %d %s document(s) left to the relay", len(left), name
            )
