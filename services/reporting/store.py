"""The reporting adapter over its own MongoDB database.

- ``events``: the permanent event store, one document per event id (redacted; see
  domain_events). ``pending: 1`` marks events not yet projected.
- ``facts_v<N>`` and ``daily_v<N>``: projection version N (facts per request, case,
  message and programme item; roll-ups per station and day). ``projection`` in
  ``meta`` names the version readers use (``current``) and the one a rebuild is
  filling (``building``); switching is one single-document update.
"""
from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

POINTER = "projection"


class ReportStore:
    def __init__(self, database):
        self.database = database
        self.events = database["events"]
        self.meta = database["meta"]

    def ensure_indexes(self):
        self.events.create_index([("pending", ASCENDING)])
        self.events.create_index([("correlationid", ASCENDING)])
        self.events.create_index([("request_id", ASCENDING)])
        self.events.create_index([("stored_ms", ASCENDING)])
        self.meta.update_one({"_id": POINTER}, {"$setOnInsert": {"current": 1, "building": None}},
                             upsert=True)
        self.ensure_version_indexes(self.versions()["current"])

    def ensure_version_indexes(self, version):
        self.daily(version).create_index([("day", ASCENDING)])
        self.daily(version).create_index([("station", ASCENDING), ("day", ASCENDING)])

    # -- the event store ------------------------------------------------------------

    def keep(self, record):
        """Store an event once: False if its id is already stored (a repeat)."""
        try:
            self.events.insert_one({**record, "pending": 1})
            return True
        except DuplicateKeyError:
            return False

    def keep_many(self, records):
        """Store a batch of events (the benchmark and tests); repeats are skipped."""
        try:
            self.events.insert_many([{**r, "pending": 1} for r in records], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def pending(self, limit):
        return list(self.events.find({"pending": 1}).limit(limit))

    def mark_projected(self, event_ids):
        if event_ids:
            self.events.update_many({"_id": {"$in": list(event_ids)}}, {"$set": {"pending": 0}})

    def all_events(self, batch_size, stored_since_ms=None):
        """Every stored event, in batches of at most ``batch_size`` (by id)."""
        query = {} if stored_since_ms is None else {"stored_ms": {"$gte": stored_since_ms}}
        last = None
        while True:
            page = dict(query)
            if last is not None:
                page["_id"] = {"$gt": last}
            batch = list(self.events.find(page).sort("_id", ASCENDING).limit(batch_size))
            if not batch:
                return
            yield batch
            last = batch[-1]["_id"]

    def correlated(self, request_id):
        """Every stored event of a request: by correlation id, or naming the request."""
        found = {e["_id"]: e for e in self.events.find({"correlationid": request_id})}
        found.update({e["_id"]: e for e in self.events.find({"request_id": request_id})})
        return list(found.values())

    # -- projection versions --------------------------------------------------------

    def versions(self):
        pointer = self.meta.find_one({"_id": POINTER}) or {"current": 1, "building": None}
        return {"current": pointer.get("current") or 1, "building": pointer.get("building"),
                "building_since_ms": pointer.get("building_since_ms")}

    def active_versions(self):
        """The versions live events go into: the current one and any being built."""
        versions = self.versions()
        return [v for v in (versions["current"], versions["building"]) if v]

    def start_building(self, version, since_ms):
        self.meta.update_one({"_id": POINTER}, {"$set": {"building": version,
                                                         "building_since_ms": since_ms}})
        self.ensure_version_indexes(version)

    def switch_to(self, version):
        """Readers use ``version`` from now on (one single-document write)."""
        self.meta.update_one({"_id": POINTER}, {"$set": {"current": version, "building": None,
                                                         "building_since_ms": None}})

    def drop_version(self, version):
        self.facts(version).drop()
        self.daily(version).drop()

    def facts(self, version):
        return self.database[f"facts_v{version}"]

    def daily(self, version):
        return self.database[f"daily_v{version}"]

    # -- projections ----------------------------------------------------------------

    def load_facts(self, version, keys):
        if not keys:
            return {}
        return {f["_id"]: f for f in self.facts(version).find({"_id": {"$in": list(keys)}})}

    def load_rollups(self, version, keys):
        if not keys:
            return {}
        return {r["_id"]: r for r in self.daily(version).find({"_id": {"$in": list(keys)}})}

    def save(self, version, facts, rollups):
        """Write changed facts and roll-ups whole, in two bulk writes."""
        if facts:
            self.facts(version).bulk_write([ReplaceOne({"_id": f["_id"]}, f, upsert=True)
                                            for f in facts], ordered=False)
        if rollups:
            self.daily(version).bulk_write([ReplaceOne({"_id": r["_id"]}, r, upsert=True)
                                            for r in rollups], ordered=False)

    def rollups(self, station=None, date_from=None, date_to=None, version=None):
        """The daily roll-ups of the period (inclusive days), of one station or all."""
        version = version or self.versions()["current"]
        query = {}
        if date_from or date_to:
            query["day"] = {}
            if date_from:
                query["day"]["$gte"] = date_from
            if date_to:
                query["day"]["$lte"] = date_to
        if station:
            query["station"] = station
        return list(self.daily(version).find(query, {"_id": 0, "station": 1, "day": 1,
                                                     "counts": 1, "samples": 1}))

    def all_facts(self, version):
        return list(self.facts(version).find())
