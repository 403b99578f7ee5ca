"""casework's other records over its MongoDB database: the residents registry, the
hash-chained access log and the station programs (each its own collection)."""

from collections.abc import Iterable

from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.casework.domain import access as domain_access
from services.casework.domain import residents as domain_residents
from services.common import list_keys, migrations, outbox, paging

APPEND_ATTEMPTS = 50
SEARCH_READS = 1000  # residents a search reads per range at most: a name, not a letter


class ResidentStore:
    """``residents``: one document per person served (the only full personal data);
    ``resident_aliases``: other pseudonymous refs of the same person (intake may derive
    a request's ref from the phone and the registry's from the ID number);
    ``resident_keys``: ``id_number:<number>`` and ``phone:<phone>`` -> the record holding
    them, so that a batch finds its residents by ``_id`` reads alone;
    ``registry_events``: the ids of registry updates already applied."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.records = database["residents"]
        self.aliases = database["resident_aliases"]
        self.keys = database["resident_keys"]
        self.applied = database["registry_events"]

    def ensure_indexes(self) -> None:
        self.records.create_index("id_number")
        self.records.create_index("phone")
        self.records.create_index("station")
        for field in ("name", "given_name", "phone_reversed"):  # the search's ranges
            self.records.create_index(field)
        self.aliases.create_index("resident")
        migrations.run_once(self.database, "resident_keys", self._key_every_record)

    def _key_every_record(self):
        """Lookup keys and search fields for the records written before they existed."""
        written, batch = 0, []
        for record in self.records.find({}, {"id_number": 1, "phone": 1, "name": 1}):
            batch.append(record)
            if len(batch) == 1000:
                written += self._key(batch)
                batch = []
        return written + self._key(batch)

    def _key(self, records):
        if records:
            self.records.bulk_write(
                [
                    UpdateOne(
                        {"_id": record["_id"]}, {"$set": domain_residents.search_fields(record)}
                    )
                    for record in records
                ],
                ordered=False,
            )
        return self.save_keys([(record, None) for record in records])

    def save_keys(self, records: Iterable[tuple[dict, dict | None]]) -> int:
        """Point the lookup keys of each ``(record, as it was before)`` at it: those it
        did not have before (domain.residents.new_lookup_keys; the others already do)."""
        operations = [
            ReplaceOne({"_id": key}, {"_id": key, "resident": record["_id"]}, upsert=True)
            for record, before in records
            for key in domain_residents.new_lookup_keys(record, before)
        ]
        if operations:
            self.keys.bulk_write(operations, ordered=False)
        return len(operations)

    def note_open_case(self, record_id: str, need_type: str, case_id: str) -> None:
        """Note on the record the case just opened for a need (domain.with_open_case)."""
        self.records.update_one({"_id": record_id}, {"$set": {f"open_cases.{need_type}": case_id}})

    def search(
        self,
        station: str | None = None,
        text: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """``(records, next_cursor)``: a station's residents (None: all), by ref; with
        ``text``, those it finds (domain.residents.search_ranges: index ranges only, at
        most SEARCH_READS residents each)."""
        if not text:
            query: dict = {"station": station} if station else {}
            return paging.page(self.records, query, "ref", "_id", False, limit, cursor)
        found: dict = {}
        for field, lowest, beyond in domain_residents.search_ranges(text):
            query = {field: lowest} if beyond is None else {field: {"$gte": lowest, "$lt": beyond}}
            for record in self.records.find(query, limit=SEARCH_READS):
                if not station or record.get("station") == station:
                    found[record["_id"]] = record
        return paging.in_memory(list(found.values()), "ref", "_id", False, limit, cursor)

    def refs_of(self, record_id: str) -> list[str]:
        """Every ref the resident is known by: the record's and its aliases."""
        return [record_id] + [alias["_id"] for alias in self.aliases.find({"resident": record_id})]

    def get(self, resident_ref: str) -> dict | None:
        return self.get_many([resident_ref])[resident_ref]

    def get_many(self, resident_refs: list[str]) -> dict[str, dict | None]:
        """The record of each ref (its own, or the one it is an alias of), or None: one
        ``_id`` read of the records, and of the aliases for the refs that are none."""
        refs = sorted(set(resident_refs))
        by_id = {doc["_id"]: doc for doc in self.records.find({"_id": {"$in": refs}})}
        missing = [ref for ref in refs if ref not in by_id]
        aliases = (
            {doc["_id"]: doc["resident"] for doc in self.aliases.find({"_id": {"$in": missing}})}
            if missing
            else {}
        )
        targets = sorted(set(aliases.values()) - set(by_id))
        if targets:
            by_id.update({doc["_id"]: doc for doc in self.records.find({"_id": {"$in": targets}})})
        return {ref: by_id.get(ref) or by_id.get(aliases.get(ref, "")) for ref in refs}


class AccessLog:
    """``case_access``: append-only, each entry chained to the previous by hash.

    Appending is optimistic: an entry takes the number after the newest and a unique
    index on ``seq`` lets only one writer have it; the loser re-reads and tries again.
    """

    def __init__(self, database: Database) -> None:
        self.entries = database["case_access"]

    def ensure_indexes(self) -> None:
        self.entries.create_index("seq", unique=True)
        self.entries.create_index("case_id")
        self.entries.create_index("resident_ref")

    def last(self) -> dict | None:
        return self.entries.find_one({"seq": {"$gte": 1}}, sort=[("seq", DESCENDING)])

    def append(self, entry: dict) -> dict:
        for _ in range(APPEND_ATTEMPTS):
            chained = domain_access.chain(self.last(), entry)
            try:
                self.entries.insert_one({**chained, "_id": f"{chained['seq']:012d}"})
                return chained
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not append to the access log: too much contention")

    def page(
        self,
        case_id: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        cursor: str | None = None,
        resident_ref: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """``(entries, next_cursor)`` in ``seq`` order."""
        query: dict = {"seq": {"$gt": after_seq}}
        if case_id:
            query["case_id"] = case_id
        if resident_ref:
            query["resident_ref"] = resident_ref
        return paging.page(self.entries, query, "seq", "seq", False, limit, cursor)

    def verify(self, batch: int = 500) -> dict:
        """Walk the whole chain in order; the first entry that does not hold is reported."""
        previous, checked = None, 0
        while True:
            after = previous["seq"] if previous else 0
            entries = list(
                self.entries.find({"seq": {"$gt": after}}, sort=[("seq", ASCENDING)], limit=batch)
            )
            result = domain_access.verify(entries, previous)
            checked += result["checked"]
            if not result["valid"] or len(entries) < batch:
                return {**result, "checked": checked}
            previous = entries[-1]


# A station's records (or the district's), newest first (services/common/list_keys.py);
# a kind asked for is kept from them: six kinds, so a page reads six times what it shows
# at the most.
PROGRAM_LISTS = {"station": "list_station_recorded", "district": "list_district_recorded"}


def program_keys(record: dict) -> dict:
    return {
        PROGRAM_LISTS["station"]: list_keys.key(
            record["station"], "all", record.get("recorded_ms"), record["_id"]
        ),
        PROGRAM_LISTS["district"]: list_keys.key(
            "*", "all", record.get("recorded_ms"), record["_id"]
        ),
    }


class ProgramStore:
    """``programs``: one document per recorded station activity, donation, team...,
    with its event in its own outbox. Its ``_id`` comes from the station, the kind and
    the caller's idempotency key, so a retried POST finds the first record."""

    def __init__(self, database: Database) -> None:
        self.records = database["programs"]

    def ensure_indexes(self) -> None:
        self.records.create_index([("station", ASCENDING), ("kind", ASCENDING), ("on", ASCENDING)])
        self.records.create_index("corrects")
        for field in PROGRAM_LISTS.values():
            self.records.create_index(field)
        outbox.ensure_indexes(self.records)
        migrations.run_once(self.records.database, "program_list_keys", self._key_every_record)

    def _key_every_record(self):
        """The list keys of records stored before they existed."""
        operations = [
            UpdateOne({"_id": record["_id"]}, {"$set": program_keys(record)})
            for record in self.records.find({}, {"station": 1, "recorded_ms": 1})
        ]
        if operations:
            self.records.bulk_write(operations, ordered=False)
        return len(operations)

    def add(self, record: dict, envelopes: list[dict]) -> dict | None:
        """Insert a record with its event; None if its id exists (a retry)."""
        return outbox.insert_new(self.records, {**record, **program_keys(record)}, envelopes)

    def get(self, record_id: str) -> dict | None:
        return self.records.find_one({"_id": record_id})

    def corrections_of(self, record_id: str) -> list[dict]:
        """The corrections and voids of a record, in the order they were made."""
        return list(
            self.records.find(
                {"corrects": record_id},
                {"outbox": 0},
                sort=[("recorded_ms", ASCENDING), ("_id", ASCENDING)],
            )
        )

    def page(
        self,
        station: str | None = None,
        kind: str | None = None,
        limit: int = 200,
        cursor: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """``(records, next_cursor)``, newest first."""
        scope = "station" if station else "district"
        return list_keys.page(
            self.records,
            PROGRAM_LISTS[scope],
            station or "*",
            ["all"],
            "recorded",
            "recorded_ms",
            True,
            limit,
            cursor,
            {"outbox": 0},
            keep=lambda record: not kind or record.get("kind") == kind,
        )
