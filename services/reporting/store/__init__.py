"""The reporting adapter over its own MongoDB database.

- ``events``: the permanent event store, one document per event id (redacted; see
  domain_events). ``pending: 1`` marks events not yet projected, ``2`` events the projection rules
  failed on (quarantined, with ``projection_error``; a rebuild retries them).
- ``facts_v<N>``, ``daily_v<N>`` and ``rollup_v<N>``: projection version N (facts per
  request, case, message and programme item; daily figures per station and day, and per
  day for the whole district; the same rolled up by month and for all time:
  store_rollups). ``projection`` in ``meta`` names the version readers use and live
  events go into (``current``) and the one a rebuild is filling (``building``);
  switching is one single-document update. ``projector-lease`` in ``meta``: who
  projects now.
"""

from collections.abc import Iterable, Iterator

from pymongo import ASCENDING, ReplaceOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common import migrations, mongo
from services.common.vocabulary import OPEN_CASE_STATUSES
from services.reporting.domain import figures as domain_figures
from services.reporting.domain import rollups as domain_rollups
from services.reporting.store.rollups import RollupStore

POINTER = "projection"
QUARANTINED = 2  # ``pending`` of an event the projection rules failed on
LEASE = "projector-lease"
SEPARATOR = "\x1f"


# Samples are stored as one string per list: a year of the district is 365 documents,
# and one string is far cheaper to store, send and read than thousands of list items.
def _packed(daily: dict) -> dict:
    return {
        **daily,
        "samples": {
            name: SEPARATOR.join(str(v) for v in values)
            for name, values in daily.get("samples", {}).items()
        },
    }


def _unpacked(daily: dict) -> dict:
    samples = {}
    for name, text in (daily.get("samples") or {}).items():
        values = text.split(SEPARATOR) if text else []
        samples[name] = list(map(int, values)) if name.endswith("_ms") else values
    return {**daily, "samples": samples}


class ReportStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.events = database["events"]
        self.meta = database["meta"]

    def ensure_indexes(self) -> None:
        self.events.create_index([("pending", ASCENDING)])
        self.events.create_index([("correlationid", ASCENDING)])
        self.events.create_index([("request_id", ASCENDING)])
        self.events.create_index([("linked_request_id", ASCENDING)])
        self.events.create_index([("stored_ms", ASCENDING)])
        self.meta.update_one(
            {"_id": POINTER}, {"$setOnInsert": {"current": 1, "building": None}}, upsert=True
        )
        self.ensure_version_indexes(self.versions()["current"])

    def ensure_version_indexes(self, version: int) -> None:
        # daily figures are read by _id only (the days a period leaves over, by the
        # rollups' cover); the facts by status (the open cases) and kind (the rosters)
        self.facts(version).create_index("status")
        self.facts(version).create_index("kind")
        self.rollups(version).ensure_indexes()
        migrations.run_once(self.database, f"rollup_v{version}", lambda: self._roll_up(version))

    def _roll_up(self, version: int) -> int:
        """The month and all-time rollups of the daily figures written before they
        existed (read once, in one pass), and the open cases (rollups another instance
        made are kept)."""
        dailies = (_unpacked(d) for d in self.daily(version).find({}, batch_size=500))
        made = domain_rollups.rollups_of(
            dailies, lambda d: domain_figures.row_of([d]), self.open_case_facts(version)
        )
        return self.rollups(version).insert_new(made)

    # -- the event store ------------------------------------------------------------

    def keep_many(self, records: list[dict]) -> int:
        """Store a batch of events; repeats (ids already stored) are skipped. Returns
        how many were new."""
        try:
            return len(
                self.events.insert_many(
                    [{**r, "pending": 1} for r in records], ordered=False
                ).inserted_ids
            )
        except BulkWriteError as exc:
            if not mongo.only_duplicates(exc.details.get("writeErrors", [])):
                raise
            return exc.details.get("nInserted", 0)

    def pending(self, limit: int) -> list[dict]:
        return list(self.events.find({"pending": 1}).limit(limit))

    def a_pending_id(self) -> str | None:
        """The id of an event waiting to be projected, or None (one indexed read of one
        id; the same one while it waits, the first on the index)."""
        found = self.events.find_one({"pending": 1}, {"_id": 1})
        return None if found is None else found["_id"]

    def quarantine(self, event_id: str, reason: str) -> None:
        """An event its projection rules failed on: kept, left out, reason recorded."""
        self.events.update_one(
            {"_id": event_id}, {"$set": {"pending": QUARANTINED, "projection_error": reason[:1000]}}
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
        if event_ids:
            self.events.update_many({"_id": {"$in": list(event_ids)}}, {"$set": {"pending": 0}})

    def all_events(
        self, batch_size: int, stored_since_ms: int | None = None
    ) -> Iterator[list[dict]]:
        """Every stored event (in no particular order), in batches of ``batch_size``."""
        query = {} if stored_since_ms is None else {"stored_ms": {"$gte": stored_since_ms}}
        batch = []
        for event in self.events.find(query, batch_size=batch_size):
            batch.append(event)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def correlated(self, request_id: str) -> list[dict]:
        """Every stored event of a request: by correlation id, or naming the request."""
        found = {e["_id"]: e for e in self.events.find({"correlationid": request_id})}
        found.update({e["_id"]: e for e in self.events.find({"request_id": request_id})})
        # a repeat request joined an open case: the case's linking event belongs to it too
        found.update({e["_id"]: e for e in self.events.find({"linked_request_id": request_id})})
        return list(found.values())

    # -- the projector's lease --------------------------------------------------------

    def take_lease(self, owner: str, now_ms: int, ttl_ms: int, last_owner: bool = True) -> bool:
        """True if ``owner`` holds the projector lease now (taken or renewed until
        ``now_ms + ttl_ms``): one process projects at a time. ``last_owner``: false
        if ``owner`` knows another took the lease after it (it was refused since)."""
        until = now_ms + ttl_ms
        lease = {"$set": {"owner": owner, "until_ms": until}}
        if last_owner and self.meta.update_one({"_id": LEASE, "owner": owner}, lease).matched_count:
            return True  # renewed, or taken again by its last owner: one command
        # then read, not write blindly: a refusal (what a second instance meets most)
        # costs one command (two if it may have been the last owner), not three; a
        # lease run out is taken on what was read
        held = self.meta.find_one({"_id": LEASE})
        if held is None:
            try:  # the first lease ever taken
                self.meta.insert_one({"_id": LEASE, "owner": owner, "until_ms": until})
                return True
            except DuplicateKeyError:  # another owner took it meanwhile
                return False
        if held.get("owner") != owner and held.get("until_ms", 0) >= now_ms:
            return False  # another owner holds it
        taken = self.meta.update_one(
            {"_id": LEASE, "owner": held.get("owner"), "until_ms": held.get("until_ms")}, lease
        )
        return bool(taken.matched_count)  # none: another owner took it meanwhile

    def release_lease(self, owner: str) -> None:
        self.meta.update_one({"_id": LEASE, "owner": owner}, {"$set": {"until_ms": 0}})

    # -- projection versions --------------------------------------------------------

    def versions(self) -> dict:
        pointer = self.meta.find_one({"_id": POINTER}) or {"current": 1, "building": None}
        return {
            "current": pointer.get("current") or 1,
            "building": pointer.get("building"),
            "building_since_ms": pointer.get("building_since_ms"),
        }

    def start_building(self, version: int, since_ms: int) -> None:
        self.meta.update_one(
            {"_id": POINTER}, {"$set": {"building": version, "building_since_ms": since_ms}}
        )
        self.ensure_version_indexes(version)

    def switch_to(self, version: int) -> None:
        """Readers use ``version`` from now on (one single-document write)."""
        self.meta.update_one(
            {"_id": POINTER},
            {"$set": {"current": version, "building": None, "building_since_ms": None}},
        )

    def drop_version(self, version: int) -> None:
        self.facts(version).drop()
        self.daily(version).drop()
        self.rollups(version).collection.drop()

    def facts(self, version: int) -> Collection:
        return self.database[f"facts_v{version}"]

    def daily(self, version: int) -> Collection:
        return self.database[f"daily_v{version}"]

    def rollups(self, version: int) -> RollupStore:
        return RollupStore(self.database[f"rollup_v{version}"])

    # -- projections ----------------------------------------------------------------

    def load_facts(self, version: int, keys: Iterable[str]) -> dict[str, dict]:
        if not keys:
            return {}
        return {f["_id"]: f for f in self.facts(version).find({"_id": {"$in": list(keys)}})}

    def load_dailies(self, version: int, keys: Iterable[str]) -> dict[str, dict]:
        if not keys:
            return {}
        return {
            r["_id"]: _unpacked(r) for r in self.daily(version).find({"_id": {"$in": list(keys)}})
        }

    def save(
        self, version: int, facts: list[dict], dailies: list[dict], rollups: Iterable[dict] = ()
    ) -> None:
        """Write changed facts, daily figures and rollups whole, a bulk write each."""
        if facts:
            self.facts(version).bulk_write(
                [ReplaceOne({"_id": f["_id"]}, f, upsert=True) for f in facts], ordered=False
            )
        if dailies:
            self.daily(version).bulk_write(
                [ReplaceOne({"_id": r["_id"]}, _packed(r), upsert=True) for r in dailies],
                ordered=False,
            )
        self.rollups(version).save(rollups)

    def write_version(
        self, version: int, facts: Iterable[dict], dailies: Iterable[dict], chunk: int = 5000
    ) -> None:
        """Insert a new version's facts, daily figures and rollups (a rebuild), in bulk."""
        dailies, facts = list(dailies), list(facts)
        made = domain_rollups.rollups_of(dailies, lambda d: domain_figures.row_of([d]), facts)
        self.rollups(version).insert_new(made, chunk)
        migrations.mark_done(self.database, [f"rollup_v{version}"])
        for collection, documents in (
            (self.facts(version), list(facts)),
            (self.daily(version), [_packed(r) for r in dailies]),
        ):
            for start in range(0, len(documents), chunk):
                collection.insert_many(documents[start : start + chunk], ordered=False)

    def rosters(self, version: int | None = None) -> dict[str, dict]:
        """``{station: {"total", "workers", "station_heads"}}`` as each station's latest
        published roster says (stations that never published one are absent)."""
        version = version or self.versions()["current"]
        return {
            fact["station"]: fact["staff"]
            for fact in self.facts(version).find({"kind": "roster"})
            if fact.get("staff")
        }

    def open_case_facts(self, version: int) -> list[dict]:
        """The facts of the cases whose status now is an open one (the migration that
        makes the open-case rollups): one index range a status."""
        return [
            fact
            for status in OPEN_CASE_STATUSES
            for fact in self.facts(version).find(
                # no $in; only case facts have a status, and a second field would let the
                # embedded store take the ``kind`` index instead
                {"status": status},
                {"kind": 1, "status": 1, "station": 1, "opened_ms": 1, "request_received_ms": 1},
            )
        ]

    def all_facts(self, version: int) -> list[dict]:
        return list(self.facts(version).find())
