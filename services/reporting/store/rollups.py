"""The month and all-time rollups (domain_rollups) in reporting's database:
``rollup_v<N>`` beside ``daily_v<N>``, one document per station (or the district) and
month, and one per station for all time.

``key`` repeats the ``_id`` (``M|<station>|<YYYY-MM>``, ``A|<station>``) on an index of
its own: a station's months are one range of it (the embedded store reads every
document for a range over ``_id``). Histograms and rows are stored as short text, the
distinct references as two arrays of machine integers: a month of the whole district
is a few tens of kilobytes, and a report reads a few of them.
"""

from collections.abc import Iterable

from pymongo import DeleteOne, ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from services.common import mongo
from services.reporting.domain import rollups, sketches


def packed(rollup: dict) -> dict:
    """A rollup (as domain_rollups keeps it in memory) as stored."""
    return {
        "_id": rollup["_id"],
        "key": rollup["_id"],
        "level": rollup["level"],
        "station": rollup["station"],
        "period": rollup["period"],
        "counts": dict(sorted(rollup["counts"].items())),
        "durations": {
            name: sketches.pack_histogram(histogram)
            for name, histogram in sorted(rollup["durations"].items())
            if histogram["counts"]
        },
        "distinct": {
            name: sketches.pack_distinct(multiset)
            for name, multiset in sorted(rollup["distinct"].items())
            if multiset
        },
        "rows": {day: rollups.pack_row(row) for day, row in sorted(rollup["rows"].items())},
        "opened": sketches.pack_counts(rollup.get("opened") or {}),
    }


def unpacked(document: dict, for_update: bool = True) -> dict:
    """A stored rollup as domain_rollups keeps it; ``for_update`` False (a report
    reading it): the distinct references and the rows stay packed (totals_of, rows_in
    read them)."""
    return {
        "_id": document["_id"],
        "level": document["level"],
        "station": document["station"],
        "period": document.get("period"),
        "counts": document.get("counts") or {},
        "durations": {
            name: sketches.unpack_histogram(text)
            for name, text in (document.get("durations") or {}).items()
        },
        "distinct": {
            name: sketches.unpack_distinct(packed) if for_update else packed
            for name, packed in (document.get("distinct") or {}).items()
        },
        # a report parses the rows it uses only (rows_in)
        "rows": {
            day: rollups.unpack_row(text) if for_update else text
            for day, text in (document.get("rows") or {}).items()
        },
        "opened": sketches.unpack_counts(document.get("opened")),
    }


class RollupStore:
    """One projection version's rollups."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    def ensure_indexes(self) -> None:
        self.collection.create_index("key")

    def load(self, ids: Iterable[str]) -> dict[str, dict]:
        """``{_id: rollup}`` of those of ``ids`` that exist, to be changed and saved."""
        if not ids:
            return {}
        return {d["_id"]: unpacked(d) for d in self.collection.find({"_id": {"$in": list(ids)}})}

    @staticmethod
    def stored(changed: Iterable[dict]) -> list[dict]:
        """Changed rollups as they are written: each packed, or ``{"_id", "removed"}``
        for a station's open cases once none is open (removed: as if there had never
        been any). ReportStore keeps them in its pass document before writing them."""
        return [
            {"_id": r["_id"], "removed": True}
            if r["level"] == rollups.OPEN and not r["opened"]
            else packed(r)
            for r in changed
        ]

    def write(self, stored: Iterable[dict]) -> None:
        """Write rollups as ``stored`` gives them, in one bulk write."""
        operations = [
            DeleteOne({"_id": r["_id"]})
            if r.get("removed")
            else ReplaceOne({"_id": r["_id"]}, r, upsert=True)
            for r in stored
        ]
        if operations:
            self.collection.bulk_write(operations, ordered=False)

    def save(self, changed: Iterable[dict]) -> None:
        self.write(self.stored(changed))

    def insert_new(self, made: Iterable[dict], chunk: int = 1000) -> int:
        """Insert rollups made from the daily figures (a migration, a rebuild); those
        already there (another instance's) are left as they are. Returns how many."""
        inserted = 0
        documents = [packed(r) for r in made]
        for start in range(0, len(documents), chunk):
            try:
                inserted += len(
                    self.collection.insert_many(
                        documents[start : start + chunk], ordered=False
                    ).inserted_ids
                )
            except BulkWriteError as exc:
                if not mongo.only_duplicates(exc.details.get("writeErrors", [])):
                    raise
                inserted += exc.details.get("nInserted", 0)
        return inserted

    def months(self, station: str, first: str | None = None, last: str | None = None) -> list[dict]:
        """A station's (or the district's) month rollups from ``first`` to ``last``
        (YYYY-MM, inclusive; None: open), oldest first, for reading."""
        prefix = rollups.rollup_id(rollups.MONTH, station) + "|"
        query = {"key": {"$gte": prefix + (first or ""), "$lte": prefix + (last or "~")}}
        return [unpacked(d, for_update=False) for d in self.collection.find(query)]

    def read(self, ids: list[str]) -> list[dict]:
        """The rollups of ``ids`` that exist, for reading (one ``_id`` lookup)."""
        if not ids:
            return []
        return [unpacked(d, for_update=False) for d in self.collection.find({"_id": {"$in": ids}})]

    def open_cases(self, stations: Iterable[str]) -> dict[str, list[int]]:
        """``{station: [opened_ms of each case open now]}`` (one ``_id`` lookup)."""
        ids = [rollups.rollup_id(rollups.OPEN, station) for station in stations]
        found = {d["station"]: unpacked(d) for d in self.collection.find({"_id": {"$in": ids}})}
        return open_cases(found)

    def all_time(self, stations: Iterable[str]) -> dict[str, dict]:
        """``{station: all-time rollup}`` of those of ``stations`` that have one."""
        ids = [rollups.rollup_id(rollups.ALL, station) for station in stations]
        return {
            d["station"]: unpacked(d, for_update=False)
            for d in self.collection.find({"_id": {"$in": ids}})
        }


def open_cases(rollups_read: dict) -> dict[str, list[int]]:
    """``{station: [opened_ms of each case open now]}`` of stations' open-case rollups."""
    return {
        station: [ms for ms, n in sorted(rollup["opened"].items()) for _ in range(n)]
        for station, rollup in rollups_read.items()
    }


def rows_in(
    months: Iterable[dict], date_from: str | None = None, date_to: str | None = None
) -> dict[str, dict]:
    """``{day: row}`` of month rollups (as read for a report) within the dates
    (inclusive; None: open)."""
    return {
        f"{month['period']}-{day}": rollups.unpack_row(text)
        for month in months
        for day, text in month["rows"].items()
        if rollups.in_period(f"{month['period']}-{day}", date_from, date_to)
    }
