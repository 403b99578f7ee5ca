"""The reporting adapter over its own MongoDB database.

- ``event_batches``: the permanent event store, one document per kept batch (one group
  commit: ``events``, the redacted records, see domain_events; a fresh ``_id``;
  ``stored_ms``; ``pending: 1`` until a pass has projected it, then 0). A repeat is
  kept again in its own batch: projection is idempotent, and readers take an event id
  once. The request timeline finds a request's batches through the facts
  (``batches``: domain.fold).
- ``events``: one document per event id: the event store as it was kept before the
  batches (read by the timeline and the rebuild; its pending events are moved into a
  batch once, ``_move_pending``), and the events the projection rules failed on
  (``pending: 2``, with ``projection_error``: quarantined; a rebuild retries them).
- ``facts_v<N>``, ``daily_v<N>`` and ``rollup_v<N>``: projection version N (facts per
  request, case, message and programme item; daily figures per station and day, and per
  day for the whole district; the same rolled up by month and for all time:
  store_rollups). ``projection`` in ``meta`` names the version readers use and live
  events go into (``current``) and the one a rebuild is filling (``building``);
  switching is one single-document update. ``projector-lease`` in ``meta``: who
  projects now; ``projector-pass``: the last pass's writes, kept whole (save).
"""

from collections.abc import Iterable

from pymongo import ASCENDING, ReplaceOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import migrations
from services.common.vocabulary import OPEN_CASE_STATUSES
from services.reporting.domain import figures as domain_figures
from services.reporting.domain import rollups as domain_rollups
from services.reporting.store.events import QUARANTINED, EventStore, records_of
from services.reporting.store.rollups import RollupStore

__all__ = ["QUARANTINED", "ReportStore", "records_of"]

POINTER = "projection"
LEASE = "projector-lease"
JOURNAL = "projector-pass"  # the last pass's writes, as one document (save)
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


class ReportStore(EventStore):
    def __init__(self, database: Database) -> None:
        self.database = database
        self.events = database["events"]
        self.batches = database["event_batches"]
        self.meta = database["meta"]

    def ensure_indexes(self) -> None:
        self.batches.create_index([("pending", ASCENDING)])
        self.batches.create_index([("stored_ms", ASCENDING)])
        self.events.create_index([("pending", ASCENDING)])
        self.events.create_index([("correlationid", ASCENDING)])
        self.events.create_index([("request_id", ASCENDING)])
        self.events.create_index([("linked_request_id", ASCENDING)])
        self.events.create_index([("stored_ms", ASCENDING)])
        self.meta.update_one(
            {"_id": POINTER}, {"$setOnInsert": {"current": 1, "building": None}}, upsert=True
        )
        self.ensure_version_indexes(self.versions()["current"])
        migrations.run_once(self.database, "event_batches", self._move_pending)

    def ensure_version_indexes(self, version: int) -> None:
        # daily figures are read by _id only (the days a period leaves over, by the
        # rollups' cover); the facts by status (the open cases) and kind (the rosters)
        self.facts(version).create_index("status")
        self.facts(version).create_index("kind")
        self.facts(version).create_index("request_id")  # the timeline of a request
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
        """Write a pass's changed facts, daily figures and rollups whole, a bulk write
        each, after the pass itself as one document (``projector-pass`` in ``meta``).

        The three writes are not one: a projector killed between them would leave facts
        that already hold their events beside figures that never counted them, and
        projecting those events again changes nothing (the facts are as they make them).
        The pass document is written atomically first, so whoever projects next writes
        it again before its own first pass (finish_pass): what was cut short is finished,
        what was finished is written as it is."""
        stored_dailies = [_packed(r) for r in dailies]
        stored_rollups = self.rollups(version).stored(rollups)
        if not (facts or stored_dailies or stored_rollups):
            return
        self.meta.replace_one(
            {"_id": JOURNAL},
            {
                "_id": JOURNAL,
                "version": version,
                "facts": facts,
                "dailies": stored_dailies,
                "rollups": stored_rollups,
            },
            upsert=True,
        )
        self._write(version, facts, stored_dailies, stored_rollups)

    def finish_pass(self, version: int) -> int:
        """Write the last pass again (save), if it went into ``version``: before the first
        pass of a projector that took over, or whose own last pass failed. Only the last
        pass is kept, and nothing but a pass writes its documents, so writing it again
        is harmless once it was finished. Returns the documents written."""
        last = self.meta.find_one({"_id": JOURNAL})
        if not last or last.get("version") != version:
            return 0
        self._write(version, last["facts"], last["dailies"], last["rollups"])
        return len(last["facts"]) + len(last["dailies"]) + len(last["rollups"])

    def _write(self, version: int, facts: list, dailies: list, rollups: list) -> None:
        if facts:
            self.facts(version).bulk_write(
                [ReplaceOne({"_id": f["_id"]}, f, upsert=True) for f in facts], ordered=False
            )
        if dailies:
            self.daily(version).bulk_write(
                [ReplaceOne({"_id": r["_id"]}, r, upsert=True) for r in dailies],
                ordered=False,
            )
        self.rollups(version).write(rollups)

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
