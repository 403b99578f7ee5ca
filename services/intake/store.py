"""The intake adapter over its own MongoDB database: the ``requests`` collection.

One document per request holds what intake recorded (the resident masked), the
idempotency fingerprint, the request's status and its outbox.
"""
from services.common import outbox
from services.intake.domain import earlier_statuses


class RequestStore:
    def __init__(self, database):
        self.requests = database["requests"]

    def ensure_indexes(self):
        self.requests.create_index("station")
        outbox.ensure_indexes(self.requests)

    def add(self, record, envelopes):
        """Insert a new request with its event; None if the id exists (a retried key)."""
        return outbox.insert_new(self.requests, record, envelopes)

    def get(self, request_id):
        return self.requests.find_one({"_id": request_id})

    def follow_case(self, request_id, case_id, status):
        """Move a request forward to ``status`` with its case; never backward."""
        self.requests.update_one({"_id": request_id, "status": {"$in": earlier_statuses(status)}},
                                 {"$set": {"status": status, "case_id": case_id}})
