"""The casework adapter over its own MongoDB database.

Collections: ``cases`` (one document per case: state, action log and outbox),
``workload`` (open cases per worker), ``request_links`` (repeat requests joined to a
case); the rosters (``workers``, ``calendar``, ``rosters``) are in roster.py, the
residents registry, the access log and the station programs in records.py, the lists of
cases in lists.py, a batch's bulk reads and writes in batch.py.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from datetime import date

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from services.casework.domain import Case, StaleCase
from services.casework.store import lists
from services.casework.store.records import AccessLog, ProgramStore, ResidentStore
from services.casework.store.roster import RosterStore
from services.common import clock, list_keys, migrations, mongo, outbox
from services.common.auth import Principal
from services.common.vocabulary import OPEN_CASE_STATUSES

CASE_FIELDS = {f.name for f in fields(Case)}
TUPLE_FIELDS = ("actions", "escalations", "linked_requests", "sla_breached")


def as_document(case: Case) -> dict:
    """A case as its document in ``cases`` (without the outbox: the writer stages it)."""
    document = asdict(case)
    for name in TUPLE_FIELDS:
        document[name] = list(getattr(case, name))
    document["_id"] = case.case_id
    document["due_sort_ms"] = case.due_ms  # derived, for the lists sorted by due time
    document.update(lists.keys_of(case))
    return document


def as_case(document: dict) -> Case:
    """The case a ``cases`` document holds."""
    values = {key: value for key, value in document.items() if key in CASE_FIELDS}
    for name in TUPLE_FIELDS:
        values[name] = tuple(values.get(name) or ())
    return Case(**values)


# the collections whose documents carry an outbox: one list for the worker and the API
OUTBOX_COLLECTIONS = ("cases", "programs", "rosters")


class CaseStore(RosterStore):
    """The cases, the workload counters, the repeat requests' links, and (as attributes)
    the residents registry, the access log and the programs; the rosters are RosterStore's."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.cases = database["cases"]
        self.links = database["request_links"]
        self.workload = database["workload"]  # open cases per worker, for assignment
        self.residents = ResidentStore(database)
        self.access_log = AccessLog(database)
        self.programs = ProgramStore(database)

    def ensure_indexes(self) -> None:
        self.cases.create_index("request_id", unique=True)
        self.cases.create_index([("station", ASCENDING), ("status", ASCENDING)])
        self.cases.create_index([("assignee.id", ASCENDING), ("status", ASCENDING)])
        self.cases.create_index([("resident_ref", ASCENDING), ("need_type", ASCENDING)])
        # The development store uses single-field indexes only (a compound one is
        # ignored: the repeat lookup of every new case scanned all cases); on MongoDB
        # the compound index serves and this one is merely redundant.
        self.cases.create_index("resident_ref")
        self.cases.create_index("sla_due_ms")  # the service-level timer's query
        # the export reads the lists by opening time (lists.opened_between)
        mongo.drop_retired_indexes(self.cases, ([("opened_at", ASCENDING)],))
        for field in lists.FIELDS:
            self.cases.create_index(field)
        # the open cases alone (work at hand), for the workload reconcile and migrations
        self.cases.create_index("status")
        lists.key_cases_once(self.cases.database, self._key_every_case)
        outbox.ensure_indexes(self.cases)
        self.ensure_roster_indexes()
        self.residents.ensure_indexes()
        self.access_log.ensure_indexes()
        self.programs.ensure_indexes()
        migrations.run_once(self.cases.database, "open_case_hints", self._hint_open_cases)

    def _hint_open_cases(self):
        """Note every open case on its resident's record (domain.residents.with_open_case),
        for the cases opened before records noted them."""
        noted = 0
        for document in self.open_cases({"resident_ref": 1, "need_type": 1}):
            record = self.residents.get(document["resident_ref"])
            if record is not None:
                self.residents.note_open_case(record["_id"], document["need_type"], document["_id"])
                noted += 1
        return noted

    def open_cases(self, projection: dict) -> Iterator[dict]:
        """Every open case (the work at hand), read through the ``status`` index."""
        for status in OPEN_CASE_STATUSES:
            yield from self.cases.find({"status": status}, projection)

    # -- cases ---------------------------------------------------------------------
    def get(self, case_id: str) -> tuple[Case, dict] | tuple[None, None]:
        """(case, document) or (None, None)."""
        document = self.cases.find_one({"_id": case_id})
        return (as_case(document), document) if document else (None, None)

    def for_request(self, request_id: str) -> tuple[Case, dict] | tuple[None, None]:
        """The case a request opened, or the one it was linked to as a repeat."""
        document = self.cases.find_one({"request_id": request_id})
        if document is None:
            link = self.links.find_one({"_id": request_id})
            document = link and self.cases.find_one({"_id": link["case_id"]})
        return (as_case(document), document) if document else (None, None)

    def record_link(self, request_id: str, case_id: str) -> None:
        """Remember which case a repeat request joined (idempotent)."""
        self.links.replace_one(
            {"_id": request_id}, {"_id": request_id, "case_id": case_id}, upsert=True
        )

    def save(self, case: Case, document: dict, envelopes: list[dict]) -> dict:
        """Write a changed case and its events if nobody changed it since ``document``."""
        changes = {key: value for key, value in as_document(case).items() if key != "_id"}
        changes.update(outbox.stage(document, envelopes))
        changes["updated_ms"] = clock.to_ms(clock.now())
        result = self.cases.update_one(
            {"_id": case.case_id, "version": document["version"]}, {"$set": changes}
        )
        if not result.matched_count:
            raise StaleCase(f"case {case.case_id} changed since version {document['version']}")
        self._count_owner_change(as_case(document), case)
        return {**document, **changes}

    def opened_between(
        self, station: str | None, first_day: date, last_day: date, limit: int
    ) -> list[Case]:
        """Cases opened from ``first_day`` to ``last_day`` (district days, both
        included), oldest first, at most ``limit`` (lists.opened_between)."""
        return lists.opened_between(
            self.cases, station, first_day.isoformat(), last_day.isoformat(), limit, as_case
        )

    def page(
        self, filters: dict, order: str = "due", limit: int = 100, cursor: str | None = None
    ) -> tuple[list[Case], str | None]:
        """One page of cases, ``(cases, next_cursor)`` (store/lists.py)."""
        return lists.page(self.cases, filters, order, limit, cursor, as_case)

    def _key_every_case(self):
        return lists.key_every_case(self.cases, as_case)

    def referred(
        self, station: str | None = None, agency: str | None = None, limit: int = 2000
    ) -> list[Case]:
        """Cases that were ever referred, newest referral first (store/lists.py)."""
        return lists.referred(self.cases, station, agency, limit, as_case)

    def due(self, now_ms: int, limit: int = 200) -> list[Case]:
        """Cases whose next service-level check is due, earliest first (indexed)."""
        cursor = self.cases.find(
            {"sla_due_ms": {"$lte": now_ms}}, sort=[("sla_due_ms", 1)], limit=limit
        )
        return [as_case(document) for document in cursor]

    # -- workload: open cases per worker ---------------------------------------------
    # A counter per worker, moved after each case write that changes who owns an open
    # case, makes assignment a read of a few small documents instead of a count over
    # every open case of the station (the count grew with the backlog: docs/
    # performance.md). The counter is not written atomically with the case (no
    # transactions), so a crash between the two can leave it off by one: the timer's
    # reconcile_workload() recounts from the cases and corrects it.
    def _count_owner_change(self, before, after):
        def owner(case):
            return case.assignee["id"] if case and case.is_open and case.assignee else None

        was, now = owner(before), owner(after)
        if was == now:
            return
        if was:
            self.workload.update_one({"_id": was}, {"$inc": {"open": -1}}, upsert=True)
        if now:
            self.workload.update_one({"_id": now}, {"$inc": {"open": 1}}, upsert=True)

    def counted_open_cases(self, stations: set[str]) -> Counter[str]:
        """Open cases per assigned worker of these stations, counted from the open cases
        themselves (read through the ``status`` index: what is open, not all history)."""
        counted: Counter[str] = Counter()
        # the district's list of each open status, a chunk at a time: one read of every
        # open case held the store for everyone (the slowest 1 % of requests of a
        # benchmark phase all waited on it, docs/performance.md); not "assignee.id": the
        # embedded store answers a dotted projection with a literal top-level key
        district = lists.LISTS[("district", "due")]
        for document in (
            case
            for status in OPEN_CASE_STATUSES
            for case in list_keys.walk(
                self.cases, district, "*", status, {"station": 1, "assignee": 1}
            )
        ):
            owner = (document.get("assignee") or {}).get("id")
            if owner and document.get("station") in stations:
                counted[owner] += 1
        return counted

    def reconcile_workload(self, *stations: str) -> list[str]:
        """Set the stations' counters to the counted truth; returns the workers corrected."""
        truth = self.counted_open_cases(set(stations))
        ids = {worker.id for station in stations for worker in self.roster(station)} | set(truth)
        kept = {row["_id"]: row["open"] for row in self.workload.find({"_id": {"$in": list(ids)}})}
        corrected = sorted(worker for worker in ids if kept.get(worker, 0) != truth.get(worker, 0))
        for worker in corrected:
            self.workload.update_one(
                {"_id": worker}, {"$set": {"open": truth.get(worker, 0)}}, upsert=True
            )
        return corrected

    # -- access log ----------------------------------------------------------------
    def record_access(
        self,
        case_id: str | None,
        principal: Principal,
        purpose: str,
        station: str | None = None,
        resident_ref: str | None = None,
    ) -> dict:
        """Append a read of a case's (or, with ``resident_ref``, a resident's) personal
        data to the hash-chained access log."""
        now = clock.now()
        entry = {
            "case_id": case_id,
            "actor": principal.id,
            "role": principal.role,
            "station": station,
            "purpose": purpose,
            "at": clock.iso(now),
            "at_ms": clock.to_ms(now),
        }
        if resident_ref:
            entry["resident_ref"] = resident_ref
        return self.access_log.append(entry)

    def cases_of_resident(self, refs: Iterable[str], limit: int = 200) -> list[Case]:
        """The cases of a resident (all their refs), newest first: one index lookup a ref."""
        found = [
            document
            for ref in dict.fromkeys(refs)
            for document in self.cases.find(
                {"resident_ref": ref}, {"outbox": 0}, sort=[("opened_at", DESCENDING)], limit=limit
            )
        ]
        found.sort(key=lambda document: (document["opened_at"], document["_id"]), reverse=True)
        return [as_case(document) for document in found[:limit]]
