"""The notifications adapter over its own MongoDB database.

``contacts``: how to reach a request's resident (kept here only to send and receive
receipts); ``messages``: one document per (event, recipient, template), holding the
message, its status history and its outbox.
"""
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from services.common import clock, outbox


class NotificationStore:
    def __init__(self, database):
        self.contacts = database["contacts"]
        self.messages = database["messages"]

    def ensure_indexes(self):
        self.messages.create_index("case_id")
        self.messages.create_index("station")
        outbox.ensure_indexes(self.messages)

    def remember_contact(self, request_id, station, name, phone):
        self.contacts.update_one({"_id": request_id},
                                 {"$setOnInsert": {"station": station, "name": name,
                                                   "phone": phone}}, upsert=True)

    def contact(self, request_id):
        return self.contacts.find_one({"_id": request_id})

    def record_intent(self, message):
        """Insert the message before sending; returns the stored one if it already exists."""
        try:
            self.messages.insert_one({**message, "updated_ms": clock.to_ms(clock.now())})
            return message
        except DuplicateKeyError:
            return self.messages.find_one({"_id": message["_id"]})

    def mark_sent(self, message, provider, provider_id, envelopes):
        at = clock.iso(clock.now())
        changes = {"status": "sent", "provider": provider, "provider_message_id": provider_id,
                   "sent_at": at, "history": message.get("history", []) + [
                       {"status": "sent", "at": at, "provider": provider}],
                   **outbox.stage(message, envelopes), "updated_ms": clock.to_ms(clock.now())}
        self.messages.update_one({"_id": message["_id"]}, {"$set": changes})
        return {**message, **changes}

    def find(self, filters, limit=200):
        query = {key: value for key, value in filters.items() if value}
        return list(self.messages.find(query, sort=[("created_ms", DESCENDING)], limit=limit))
