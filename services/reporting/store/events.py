"""The event store of the reporting adapter (ReportStore's, see store/__init__.py):
kept batches (``event_batches``), the events kept one a document before them and the
quarantined ones (``events``), the passes' pending batches, the rebuild's stream and
the request timeline's reads."""

from collections.abc import Callable, Iterable, Iterator

from pymongo.collection import Collection

from services.common import clock, ids
from services.reporting.domain import events as domain_events

QUARANTINED = 2  # ``pending`` of an event the projection rules failed on
BATCH_EVENTS = 500  # events at most in one batch document (well within 16 MB)
PENDING_READ = 8  # batch documents a cursor round trip returns while a pass reads


def records_of(batch: dict) -> list[dict]:
    """The event records a batch document holds, each with the batch's id (``batch``)."""
    return [{**event, "batch": batch["_id"]} for event in batch["events"]]


class EventStore:
    """The event store's commands; ``ReportStore`` has the collections."""

    events: Collection
    batches: Collection
    facts: Callable[[int], Collection]
    versions: Callable[[], dict]

    def _move_pending(self) -> int:
        """Events kept one a document and not yet projected (by an earlier version) are
        moved into batches, which the passes read; marked projected where they are after.
        Stopped in between, some are in both: projected twice, which changes nothing."""
        moved = 0
        pending = list(self.events.find({"pending": 1}))
        for start in range(0, len(pending), BATCH_EVENTS):
            chunk = [
                {k: v for k, v in e.items() if k != "pending"}
                for e in pending[start : start + BATCH_EVENTS]
            ]
            self.keep_many(chunk)
            self.mark_projected([e["_id"] for e in chunk])
            moved += len(chunk)
        return moved

    # -- the event store ------------------------------------------------------------

    def keep_many(self, records: list[dict]) -> int:
        """Store a batch of event records: one document (or one per ``BATCH_EVENTS``),
        inserted with one command. A repeat is kept again (a projection applies it
        twice to the same result). Returns how many were kept."""
        if not records:
            return 0
        # when its records say they were stored (the rebuild's catch-up reads by it)
        stored_ms = max(r.get("stored_ms") or 0 for r in records) or clock.now_ms()
        self.batches.insert_many(
            [
                {
                    "_id": ids.new_id(),
                    "events": records[start : start + BATCH_EVENTS],
                    "pending": 1,
                    "stored_ms": stored_ms,
                }
                for start in range(0, len(records), BATCH_EVENTS)
            ]
        )
        return len(records)

    def pending(self, limit: int) -> list[dict]:
        """Batches waiting to be projected, read until they hold ``limit`` events."""
        batches, held = [], 0
        with self.batches.find({"pending": 1}, batch_size=PENDING_READ) as cursor:
            for batch in cursor:
                batches.append(batch)
                held += len(batch["events"])
                if held >= limit:
                    break
        return batches

    def a_pending_id(self) -> str | None:
        """The id of a batch waiting to be projected, or None (one indexed read of one
        id; the same one while it waits, the first on the index)."""
        found = self.batches.find_one({"pending": 1}, {"_id": 1})
        return None if found is None else found["_id"]

    def mark_batches_projected(self, batch_ids: Iterable[str]) -> None:
        if batch_ids:
            self.batches.update_many({"_id": {"$in": list(batch_ids)}}, {"$set": {"pending": 0}})

    def quarantine(self, record: dict, reason: str) -> None:
        """An event its projection rules failed on: kept by its id in ``events``, left
        out of the figures, reason recorded (its batch is projected without it)."""
        self.events.replace_one(
            {"_id": record["_id"]},
            {**record, "pending": QUARANTINED, "projection_error": reason[:1000]},
            upsert=True,
        )

    def quarantined(self, event_id: str) -> str | None:
        """The reason an event is quarantined, or None."""
        found = self.events.find_one({"_id": event_id, "pending": QUARANTINED})
        return found and found.get("projection_error")

    def quarantined_among(self, event_ids: Iterable[str]) -> dict[str, str]:
        """``{event id: reason}`` of those of ``event_ids`` that are quarantined."""
        found = self.events.find(
            {"_id": {"$in": list(event_ids)}, "pending": QUARANTINED}, {"projection_error": 1}
        )
        return {event["_id"]: event.get("projection_error") for event in found}

    def mark_projected(self, event_ids: Iterable[str]) -> None:
        """Events of ``events`` (kept one a document) projected after all."""
        if event_ids:
            self.events.update_many({"_id": {"$in": list(event_ids)}}, {"$set": {"pending": 0}})

    def all_events(
        self, batch_size: int, stored_since_ms: int | None = None
    ) -> Iterator[list[dict]]:
        """Every stored event (in no particular order; a repeat as often as it was
        kept), in lists of about ``batch_size``: those of ``events``, then those of the
        batches, each with the id of its batch (``batch``)."""
        query = {} if stored_since_ms is None else {"stored_ms": {"$gte": stored_since_ms}}
        out: list[dict] = []
        for event in self.events.find(query, batch_size=batch_size):
            out.append(event)
            if len(out) >= batch_size:
                yield out
                out = []
        for batch in self.batches.find(query, batch_size=max(1, batch_size // BATCH_EVENTS)):
            out.extend(records_of(batch))
            if len(out) >= batch_size:
                yield out
                out = []
        if out:
            yield out

    def correlated(self, request_id: str, version: int | None = None) -> list[dict]:
        """Every stored event of a request: by correlation id, or naming the request.
        Those kept one a document by their indexed fields; the batches through the facts
        of ``version`` (the current one): ``request:<id>`` and those whose ``request_id``
        it is record the batches holding their events (domain.fold)."""
        found = {e["_id"]: e for e in self.events.find({"correlationid": request_id})}
        found.update({e["_id"]: e for e in self.events.find({"request_id": request_id})})
        # a repeat request joined an open case: the case's linking event belongs to it too
        found.update({e["_id"]: e for e in self.events.find({"linked_request_id": request_id})})
        facts = self.facts(version or self.versions()["current"])
        own = facts.find_one({"_id": f"request:{request_id}"}, {"batches": 1})
        batch_ids = set((own or {}).get("batches") or [])
        for fact in facts.find({"request_id": request_id}, {"batches": 1}):
            batch_ids.update(fact.get("batches") or [])
        if batch_ids:
            for batch in self.batches.find({"_id": {"$in": sorted(batch_ids)}}):
                for event in batch["events"]:
                    if request_id in domain_events.trace_keys(event):
                        found.setdefault(event["_id"], event)
        return list(found.values())
