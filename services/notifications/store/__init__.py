"""The notifications adapter over its own MongoDB database.

``contacts``: how to reach a request's resident and emergency contact (kept here only
to send and receive receipts); ``messages``: one document per (event, recipient,
template), holding the message, its whole history (created, each attempt, receipts),
when it is next due (``due_ms``, while it waits to be sent or retried) and its outbox.

Every change to a message is one conditional write on its ``version``: the change,
its history and its status events land together, or not at all (a concurrent writer
won; the caller reads again).
"""

from collections.abc import Iterable

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from services.common import clock, ids, migrations, mongo, outbox
from services.notifications.store import lists
from services.notifications.store.webhooks import WebhookDeliveries

# the collections whose documents carry an outbox: one list for the worker and the API
OUTBOX_COLLECTIONS = ("messages",)
FORGET_EVERY_MS = 60_000


def _conditional(message, changes, envelopes=(), unset=(), token=None):
    """``(condition, update, new document)``: the change, only to the version read."""
    fields = {
        **changes,
        "version": message.get("version", 1) + 1,
        "updated_ms": clock.to_ms(clock.now()),
    }
    if token is not None:
        fields["written_by"] = token
    if envelopes:
        fields.update(outbox.stage(message, list(envelopes)))
    merged = {**message, **fields}
    for name in unset:
        merged.pop(name, None)
    fields.update(lists.keys_of(merged))  # a status or read change moves it in the lists
    update = {"$set": fields}
    if unset:
        update["$unset"] = {name: "" for name in unset}
    document = {**message, **fields}
    for name in unset:
        document.pop(name, None)
    return {"_id": message["_id"], "version": message.get("version", 1)}, update, document


class NotificationStore:
    def __init__(self, database: Database) -> None:
        self.contacts = database["contacts"]
        self.messages = database["messages"]
        self.webhooks = WebhookDeliveries(database)  # referrals POSTed to agencies
        self._next_erasure_ms = 0  # forget_numbers looks at most once a FORGET_EVERY_MS

    def ensure_indexes(self) -> None:
        self.messages.create_index("case_id")
        self.messages.create_index("station")
        self.messages.create_index("recipient_id")
        self.messages.create_index("created_ms")
        self.messages.create_index("due_ms")
        self.messages.create_index("erase_after_ms")
        self.messages.create_index([("phone_ref", ASCENDING), ("sent_ms", ASCENDING)])
        # the rate limit's query on the development store, which ignores compound indexes
        self.messages.create_index("phone_ref")
        self.messages.create_index([("provider", ASCENDING), ("provider_message_id", ASCENDING)])
        self.messages.create_index("provider_message_id")  # receipts, on the embedded store
        for field in lists.LISTS:
            self.messages.create_index(field)
        outbox.ensure_indexes(self.messages)
        self.webhooks.ensure_indexes()
        migrations.run_once(self.messages.database, "message_list_keys", self._key_every_message)

    def _key_every_message(self):
        """The list keys of messages stored before they existed."""
        changed, operations = 0, []
        for message in self.messages.find({}, {"outbox": 0, "history": 0}):
            operations.append(UpdateOne({"_id": message["_id"]}, {"$set": lists.keys_of(message)}))
            if len(operations) == 1000:
                changed += self.messages.bulk_write(operations, ordered=False).modified_count
                operations = []
        if operations:
            changed += self.messages.bulk_write(operations, ordered=False).modified_count
        return changed

    def remember_contacts(self, contacts: list[tuple]) -> None:
        """The contacts ``(request_id, station, name, phone, emergency)`` of residents'
        requests, in one unordered bulk of upserts keyed by request id: a repeated
        request.received changes nothing."""
        if contacts:
            self.contacts.bulk_write(
                [
                    UpdateOne(
                        {"_id": request_id},
                        {
                            "$setOnInsert": {
                                "station": station,
                                "name": name,
                                "phone": phone,
                                "emergency_contact": emergency,
                            }
                        },
                        upsert=True,
                    )
                    for request_id, station, name, phone, emergency in contacts
                ],
                ordered=False,
            )

    def contact(self, request_id: str) -> dict | None:
        return self.contacts.find_one({"_id": request_id})

    def contacts_of(self, request_ids: set[str]) -> dict[str, dict]:
        """The contacts of many requests in one read: request id -> contact."""
        if not request_ids:
            return {}
        return {doc["_id"]: doc for doc in self.contacts.find({"_id": {"$in": list(request_ids)}})}

    def case_priority(self, case_id: str) -> str | None:
        """The priority of a case as an earlier message of it recorded (None if unknown)."""
        found = self.messages.find_one(
            {"case_id": case_id, "priority": {"$in": ["urgent", "normal", "low"]}}, {"priority": 1}
        )
        return found["priority"] if found else None

    def record_new_intents(self, messages: list[dict]) -> tuple[list[dict], list[bool]]:
        """Insert messages before sending them, in one unordered insert; those that
        existed already (a repeated event's) are read back (one query): returns the stored
        messages in the given order, and per message whether this call inserted it."""
        if not messages:
            return [], []
        now_ms = clock.to_ms(clock.now())
        documents = [
            {**message, "version": 1, "updated_ms": now_ms, **lists.keys_of(message)}
            for message in messages
        ]
        try:
            self.messages.insert_many(documents, ordered=False)
            return documents, [True] * len(documents)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not mongo.only_duplicates(errors):
                raise
            refused = {error["index"] for error in errors}
        existing = {
            doc["_id"]: doc
            for doc in self.messages.find(
                {"_id": {"$in": [documents[index]["_id"] for index in refused]}}
            )
        }
        return [
            existing.get(document["_id"], document) if index in refused else document
            for index, document in enumerate(documents)
        ], [index not in refused for index in range(len(documents))]

    def get(self, message_id: str) -> dict | None:
        return self.messages.find_one({"_id": message_id})

    def by_provider_id(self, provider: str, provider_message_id: str) -> dict | None:
        return self.messages.find_one(
            {"provider": provider, "provider_message_id": provider_message_id}
        )

    def update(
        self,
        message: dict,
        changes: dict,
        envelopes: Iterable[dict] = (),
        unset: Iterable[str] = (),
    ) -> dict | None:
        """Write ``changes`` (and stage ``envelopes`` in the outbox) if nobody changed the
        message since it was read; returns the new document, or None on a conflict."""
        condition, update, document = _conditional(message, changes, envelopes, unset)
        done = self.messages.update_one(condition, update)
        return document if done.matched_count else None

    def update_all(self, changes: list[tuple]) -> list[dict | None]:
        """``update`` for many ``(message, changes, envelopes, unset)`` (different
        messages) in one bulk write; returns the new documents in order, None for each
        message somebody changed meanwhile. Which ones did is read back (one query),
        only when the bulk write says some did not match: each write of this call
        carries its token, so a concurrent write is never mistaken for this one."""
        if not changes:
            return []
        token = ids.uuid4().hex
        planned = [
            _conditional(message, fields, envelopes, unset, token)
            for message, fields, envelopes, unset in changes
        ]
        done = self.messages.bulk_write(
            [UpdateOne(condition, update) for condition, update, _ in planned], ordered=False
        )
        documents = [document for _, _, document in planned]
        if done.matched_count == len(planned):
            return documents
        mine = {
            found["_id"]
            for found in self.messages.find(
                {"_id": {"$in": [document["_id"] for document in documents]}, "written_by": token},
                {"_id": 1},
            )
        }
        return [document if document["_id"] in mine else None for document in documents]

    def due(self, now_ms: int, limit: int = 50) -> list[dict]:
        """Messages whose next attempt is due (new, deferred, retried or left in flight)."""
        return list(
            self.messages.find(
                {"due_ms": {"$lte": now_ms}}, sort=[("due_ms", ASCENDING)], limit=limit
            )
        )

    def forget_numbers(self, now_ms: int) -> int:
        """Erase the full number of sent messages whose receipt did not come in time.

        Looks at most once a FORGET_EVERY_MS (numbers are kept for hours: a minute more
        is nothing), not at every sweep: the sweep runs every second in each instance."""
        if now_ms < self._next_erasure_ms:
            return 0
        self._next_erasure_ms = now_ms + FORGET_EVERY_MS
        # the due ones by an index range, then written by _id (an update filtered on
        # another field reads the whole collection on the embedded store)
        due = [
            doc["_id"]
            for doc in self.messages.find(
                {"erase_after_ms": {"$lte": now_ms}}, {"_id": 1}, limit=1000
            )
        ]
        if not due:
            return 0
        done = self.messages.update_many(
            {"_id": {"$in": due}},
            {"$set": {"phone": None, "updated_ms": now_ms}, "$unset": {"erase_after_ms": ""}},
        )
        return done.modified_count

    def sent_to(
        self, phone_ref: str, since_ms: int, limit: int, template: str | None = None
    ) -> list[int]:
        """When SMS went to this phone (pseudonym) since ``since_ms``: at most ``limit``;
        with ``template``, only the SMS of that message kind."""
        query = {"phone_ref": phone_ref, "sent_ms": {"$gte": since_ms}}
        if template is not None:
            query["template"] = template
        found = self.messages.find(
            query, {"sent_ms": 1}, sort=[("sent_ms", DESCENDING)], limit=limit
        )
        return [document["sent_ms"] for document in found]

    def page(
        self,
        filters: dict,
        limit: int = 200,
        cursor: str | None = None,
        inbox: list | None = None,
        unread: bool | None = None,
    ) -> tuple[list[dict], str | None]:
        """``(messages, next_cursor)``, newest first (store/lists.py)."""
        return lists.page(self.messages, filters, limit, cursor, inbox, unread)
