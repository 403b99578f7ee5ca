"""The casework adapter over its own MongoDB database.

Collections: ``cases`` (one document per case: state, action log and outbox),
``workers`` (the stations' rosters) and ``case_access`` (who read a case's personal
data, append-only).
"""
from dataclasses import asdict, fields

from pymongo import ASCENDING, DESCENDING

from services.common import clock, outbox
from services.casework.domain import OPEN_STATUSES, Case, StaleCase, Worker

CASE_FIELDS = {f.name for f in fields(Case)}


def _document(case):
    document = asdict(case)
    document["actions"] = list(case.actions)
    document["_id"] = case.case_id
    return document


def _case(document):
    values = {key: value for key, value in document.items() if key in CASE_FIELDS}
    values["actions"] = tuple(values.get("actions") or ())
    return Case(**values)


class CaseStore:
    def __init__(self, database):
        self.cases = database["cases"]
        self.workers = database["workers"]
        self.access = database["case_access"]

    def ensure_indexes(self):
        self.cases.create_index("request_id", unique=True)
        self.cases.create_index([("station", ASCENDING), ("status", ASCENDING)])
        self.cases.create_index([("assignee.id", ASCENDING), ("status", ASCENDING)])
        outbox.ensure_indexes(self.cases)
        self.workers.create_index("station")
        self.access.create_index("case_id")

    # -- cases ---------------------------------------------------------------------
    def add(self, case, envelopes):
        """Insert a new case with its events; None if the request already has a case."""
        return outbox.insert_new(self.cases, _document(case), envelopes)

    def get(self, case_id):
        """(case, document) or (None, None)."""
        document = self.cases.find_one({"_id": case_id})
        return (_case(document), document) if document else (None, None)

    def for_request(self, request_id):
        document = self.cases.find_one({"request_id": request_id})
        return (_case(document), document) if document else (None, None)

    def save(self, case, document, envelopes):
        """Write a changed case and its events if nobody changed it since ``document``."""
        changes = {key: value for key, value in _document(case).items() if key != "_id"}
        changes.update(outbox.stage(document, envelopes))
        changes["updated_ms"] = clock.to_ms(clock.now())
        result = self.cases.update_one({"_id": case.case_id, "version": document["version"]},
                                       {"$set": changes})
        if not result.matched_count:
            raise StaleCase(f"case {case.case_id} changed since version {document['version']}")
        return {**document, **changes}

    def find(self, station=None, status=None, request_id=None, limit=100):
        query = {key: value for key, value in
                 (("station", station), ("status", status), ("request_id", request_id)) if value}
        cursor = self.cases.find(query, sort=[("opened_at", DESCENDING)], limit=limit)
        return [_case(document) for document in cursor]

    def open_counts(self, station):
        """Open cases per assigned worker of a station, in one grouped query.

        (Not count_documents per worker: its ``$group`` on a constant is evaluated
        document by document on the development server; docs/performance.md.)
        """
        pipeline = [{"$match": {"station": station, "status": {"$in": list(OPEN_STATUSES)}}},
                    {"$group": {"_id": "$assignee.id", "open": {"$sum": 1}}}]
        return {row["_id"]: row["open"] for row in self.cases.aggregate(pipeline)
                if row["_id"] is not None}

    # -- roster --------------------------------------------------------------------
    def roster(self, station):
        return [Worker(**{**{k: v for k, v in document.items() if k != "_id"},
                          "duty_days": tuple(document.get("duty_days", ()))})
                for document in self.workers.find({"station": station}, sort=[("_id", 1)])]

    def seed_roster(self, workers):
        for worker in workers:
            self.workers.replace_one({"_id": worker["id"]}, {"_id": worker["id"], **worker},
                                     upsert=True)

    # -- access log ----------------------------------------------------------------
    def record_access(self, case_id, principal, purpose):
        self.access.insert_one({"case_id": case_id, "actor": principal.id,
                                "role": principal.role, "purpose": purpose,
                                "at": clock.iso(clock.now()),
                                "at_ms": clock.to_ms(clock.now())})
