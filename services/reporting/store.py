"""The reporting adapter over its own MongoDB database: the fact projections.

``request_facts``, ``case_facts`` and ``message_facts`` hold one document per
request, case and message, with flat fields only (see domain.facts).
"""
from pymongo import ASCENDING, UpdateOne

from services.common import group_commit

PROJECTIONS = {"requests": "request_facts", "cases": "case_facts", "messages": "message_facts"}

DAY_FIELDS = {"request_facts": ("received_day",),
              "case_facts": ("opened_day", "accepted_day", "resolved_day"),
              "message_facts": ("sent_day",)}


class ReportStore:
    def __init__(self, database):
        self.database = database

    def ensure_indexes(self):
        for collection, day_fields in DAY_FIELDS.items():
            for day_field in day_fields:
                self.database[collection].create_index([(day_field, ASCENDING)])
                self.database[collection].create_index([("station", ASCENDING),
                                                        (day_field, ASCENDING)])

    def apply(self, projection, key, fields):
        """Set an event's fields on its fact document (idempotent, order-independent).

        Concurrent handlers' upserts share one bulk write (group commit); each returns
        only once its own is stored, so its event is acked after the write as before."""
        collection = self.database[PROJECTIONS[projection]]
        group_commit.writer(collection).write([UpdateOne({"_id": key}, {"$set": fields},
                                                         upsert=True)])

    def rows(self, projection, day_field, station=None, date_from=None, date_to=None):
        """Fact documents whose ``day_field`` falls in the period (inclusive dates)."""
        query = {day_field: {"$exists": True}} if not (date_from or date_to) else {}
        if date_from or date_to:
            query[day_field] = {}
            if date_from:
                query[day_field]["$gte"] = date_from
            if date_to:
                query[day_field]["$lte"] = date_to
        if station:
            query["station"] = station
        return list(self.database[PROJECTIONS[projection]].find(query))
