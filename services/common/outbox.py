"""The transactional outbox, kept inside each aggregate's own document.

A document that changes state carries the events the change causes in the same
write (MongoDB guarantees single-document atomicity), with these fields:

- ``outbox``: the events not yet known to be published, in sequence order (emptied
  once all are published);
- ``last_seq``: the sequence number of the newest event of the aggregate;
- ``published_seq``: the highest sequence confirmed by the broker (only ever raised);
- ``outbox_pending``: true while ``published_seq < last_seq`` may hold;
- ``updated_ms``: when the document last changed.

The writer publishes right after its write (the fast path) and queues the progress
mark, written with others' within a fraction of a second (group commit); the relay
sweeps documents left pending for longer than a grace period (the safety net after a
crash or a broker outage). Both may publish the same event: every consumer is
idempotent (docs/architecture.md says how each one is).

The writers' side (staging events, inserting a new aggregate) is in
``outbox_documents.py``, re-exported here; this module holds the relay.
"""

import logging
import os
import socket
import threading
import time
from collections import OrderedDict

from pymongo import UpdateOne

from services.common import clock, group_commit, ids, metrics, sweep_lease
from services.common.outbox_documents import (  # noqa: F401 - also this module's names
    FastPath,
    insert_new,
    new_document,
    next_sequence,
    stage,
)

log = logging.getLogger(__name__)

RECENT = 20000  # documents whose published sequence a relay remembers (~2 MB)
# the writers' fast path tries twice (the second on another node); the sweep, three times
FAST_PATH_ATTEMPTS = 2
FORGET_S = 1.0  # how long after its mark is written: longer than a command takes
SWEEP_LEASE_MS = 10_000  # a sweep holding it longer has died: another instance sweeps


class OutboxRelay:
    """Publishes the unsent events of documents in the given collections (name -> collection)."""

    def __init__(self, publisher, collections, grace_s=2.0):
        self.publisher = publisher
        self.collections = collections
        self.grace_s = grace_s
        # collection name -> the updated_ms from which nothing pending can be older
        # (the sweep's last look found none older): no look before that plus grace
        self._quiet_since: dict = {}
        self.lease_ms = SWEEP_LEASE_MS
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{ids.uuid4().hex[:8]}"
        # (collection, document id) -> [the highest sequence this relay published, when
        # to forget it]: a command whose read of the document predates the progress
        # mark (still queued, or written after the read) must not publish those events
        # again. Forgotten FORGET_S after the mark is written (a command may still hold
        # a document it read before), at the latest past RECENT entries.
        self._recent = OrderedDict()
        self._unmarked_lock = threading.Lock()

    def publish_now(self, name, document):
        """The writer's fast path: publish right after the write; on failure leave it
        to the sweep (the events are safe in the document)."""
        return self.publish_now_many(name, [document])

    def publish_now_many(self, name, documents):
        """The fast path for a batch of written documents: their events are published
        together, confirms awaited once; what is not confirmed is left to the sweep."""
        try:
            # The progress marks are not waited for: until written the documents stay
            # pending, and past the grace period the relay would publish again.
            return self.publish_batch(
                [(self.collections[name], doc) for doc in documents],
                wait=False,
                attempts=FAST_PATH_ATTEMPTS,
            )
        except Exception as exc:  # noqa: BLE001 - the sweep retries; never lose the write
            log.warning(
                "publishing %d %s document(s) deferred to the relay: %s",
                len(documents),
                name,
                type(exc).__name__,
            )
            return 0

    def publish_batch(self, documents, wait=True, attempts=None):
        """Publish the unsent events of many ``(collection, document)`` together (one
        confirm wait) and record each document's progress; returns the events published.

        Raises the publisher's error after marking what was confirmed, when some were
        not: each document's mark covers its events up to the first unconfirmed one.
        """
        plan: list[tuple] = []
        envelopes: list[dict] = []
        for collection, document in documents:
            key = (collection.full_name, document["_id"])
            with self._unmarked_lock:
                published = max(
                    document.get("published_seq", 0), self._recent.get(key, (0, None))[0]
                )
            events = [
                event for event in document.get("outbox", []) if event["sequence"] > published
            ]
            plan.append((collection, document, key, published, len(envelopes), events))
            envelopes += events
        failed, error = self._publish(envelopes, attempts) if envelopes else (set(), None)
        total = 0
        for collection, document, key, published, first, events in plan:
            sent = published
            for offset, event in enumerate(events):
                if first + offset in failed:
                    break
                sent = event["sequence"]
                metrics.EVENTS_PUBLISHED.labels(service_of(collection), event["type"]).inc()
            if sent > published or not events:
                self._mark(collection, document, key, sent, wait)
            total += sent - published
        if error is not None:
            raise error
        return total

    def _publish(
        self, envelopes: list, attempts: int | None = None
    ) -> tuple[set[int], Exception | None]:
        """Publish ``envelopes``: the positions not confirmed and the publisher's error
        (none and None when all were). The caller marks what was confirmed, then raises."""
        batch = getattr(self.publisher, "publish_batch", None)
        if batch is not None:
            try:
                batch(envelopes, **({"attempts": attempts} if attempts else {}))
            except Exception as exc:  # noqa: BLE001 - marked by the caller, raised after
                # its ``failed`` (messaging.BatchUnconfirmed) names the unconfirmed ones;
                # any other error confirms none
                return set(getattr(exc, "failed", range(len(envelopes)))), exc
            return set(), None
        for position, envelope in enumerate(envelopes):  # a publisher without batches
            try:
                self.publisher.publish(envelope)
            except Exception as exc:  # noqa: BLE001 - marked by the caller, raised after
                return set(range(position, len(envelopes))), exc
        return set(), None

    def _mark(self, collection, document, key, sent, wait):
        last_seq = document.get("last_seq", 0)
        # One statement, only if nothing was appended meanwhile (last_seq unchanged):
        # raise the progress, clear the flag and empty the outbox, whose events (personal
        # data among them) are now the consumers'. Otherwise the writer that appended
        # publishes and marks its own document, whose outbox holds these events too (a
        # copy published again in that rare race is met by idempotent consumers); a
        # second statement for that race cost every mark one more document (issue 24).
        progress = {"$max": {"published_seq": sent}}
        finished = {"outbox_pending": False, "outbox": []} if sent >= last_seq else {}
        mark = [
            UpdateOne(
                {"_id": document["_id"], "last_seq": last_seq},
                {**progress, "$set": finished} if finished else progress,
            )
        ]
        with self._unmarked_lock:  # before the mark is queued: a command may read meanwhile
            self._forget_expired()
            self._recent[key] = [max(sent, self._recent.pop(key, (0, None))[0]), None]
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        if wait:
            group_commit.writer(collection).write(mark)
            self._marked(key, sent)
        else:
            group_commit.writer(collection).write_soon(mark, then=lambda: self._marked(key, sent))

    def _marked(self, key, sequence):
        with self._unmarked_lock:
            entry = self._recent.get(key)
            if entry is not None and entry[0] <= sequence:
                entry[1] = time.monotonic() + FORGET_S

    def _forget_expired(self):
        # oldest first, up to the first one still needed: cheap under load
        now = time.monotonic()
        while self._recent:
            key, (_, at) = next(iter(self._recent.items()))
            if at is None or at >= now:
                return
            del self._recent[key]

    @property
    def _unmarked(self):
        """What this relay still remembers having published: document -> sequence."""
        with self._unmarked_lock:
            self._forget_expired()
            return {key: sequence for key, (sequence, _) in self._recent.items()}

    def sweep(self, limit=200):
        """Publish what writers left behind; returns the number of events published.

        Costs what there is to do, not what time passes: a collection is looked at (one
        indexed read, which also feeds the backlog gauges) only once something in it
        can have come due, the oldest pending document's ``updated_ms`` plus the grace
        period (with none pending: the last look plus the grace period, as anything
        written later is due no sooner). Stale documents are read and published by one
        instance at a time (sweep_lease.py)."""
        now_ms = clock.to_ms(clock.now())
        grace_ms = int(self.grace_s * 1000)
        cutoff = now_ms - grace_ms
        total = 0
        for name, collection in self.collections.items():
            quiet_since = self._quiet_since.get(name)
            if quiet_since is not None and now_ms < quiet_since + grace_ms:
                continue
            oldest = self.measure_backlog(name, collection, now_ms)
            if oldest is None or oldest >= cutoff:  # nothing stale: due at the earliest
                self._quiet_since[name] = now_ms if oldest is None else oldest
                continue
            self._quiet_since.pop(name, None)  # stale: look again at the next tick
            published, ok = sweep_lease.publish_stale(self, name, collection, cutoff, limit)
            total += published
            if not ok:
                break  # broker down: try again next sweep
        if total:
            log.info("outbox relay published %d event(s) left pending", total)
        return total

    @staticmethod
    def measure_backlog(name, collection, now_ms):
        """The backlog gauges (metrics.py): pending documents, up to 1000, and the oldest.
        Returns the oldest pending document's ``updated_ms`` (None: none pending; 0: not
        measured, so possibly stale)."""
        try:
            pending = [
                doc.get("updated_ms", now_ms)
                for doc in collection.find(
                    {"outbox_pending": True},
                    {"updated_ms": 1},
                    sort=[("updated_ms", 1)],
                    limit=1000,
                )
            ]
        except Exception as exc:  # noqa: BLE001 - a gauge never stops the relay
            log.debug("outbox backlog of %s not measured: %s", name, type(exc).__name__)
            return 0
        metrics.observe_outbox(service_of(collection), name, pending, now_ms)
        return min(pending, default=None)


def relay_for(settings, service, collections):
    """The relay of a service's outbox collections (names in its database): the one
    wiring its worker (dependencies.Outbox) and its API share."""
    from services.common import mongo  # the store's client, lazily
    from services.common.messaging import EventPublisher  # no import cycle

    database = mongo.database(settings, service)
    return OutboxRelay(
        EventPublisher(settings.amqp_uri),
        {name: database[name] for name in collections},
        settings.relay_grace_s,
    )


def service_of(collection):
    """The owning service, from the database name ``<prefix>_<service>``."""
    database = getattr(collection, "database", None)
    return str(getattr(database, "name", "unknown")).rsplit("_", 1)[-1]


def ensure_indexes(collection):
    collection.create_index([("outbox_pending", 1), ("updated_ms", 1)])
    # nx-27017 ignores compound indexes; without this the sweep scans every document
    collection.create_index("outbox_pending")
