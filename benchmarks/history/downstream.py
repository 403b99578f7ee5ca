"""What notifications and reporting make of a request's events, by their own code run
on an in-memory view of their stores:

- notifications: the contact of every request (``remember_contacts``), the messages its
  rules ask for (``handlers.intents``), sent by the real delivery state machine
  (``batch.deliver_many``: holds, claims, outcomes, status events) against a provider
  that accepts every message, then the sweep's later passes for what was held (quiet
  hours, rate limits) and ``forget_numbers`` once the number's keeping time is over;
- reporting: every event it consumes kept as its event store keeps it
  (``domain_events.record``; a request's events one batch), projected by
  ``handlers.project`` into facts and daily figures.
"""

import copy
import uuid

from benchmarks.history.clockwork import published
from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import data_schema
from services.notifications import handlers as notifications
from services.notifications.handlers import batch as notification_batch
from services.notifications.providers import Sent
from services.notifications.store import _conditional
from services.reporting import handlers as reporting
from services.reporting.domain import events as domain_events


class AcceptingProvider:
    """The carrier of the history: every SMS accepted at once."""

    name = "dev_file"

    def send(self, message):
        return Sent(
            self.name, f"history-{message['_id']}", [{"provider": self.name, "outcome": "accepted"}]
        )

    def send_first(self, message, in_doubt_since=None):
        return self.send(message)


class MemoryMessages:
    """NotificationStore's interface over a dict (the writes are the store's own
    ``_conditional`` updates), for the messages of the requests being written."""

    def __init__(self):
        self.messages, self.contacts, self.sent = {}, {}, {}

    def contact(self, request_id):
        return self.contacts.get(request_id)

    def case_priority(self, case_id):
        for message in self.messages.values():
            if message.get("case_id") == case_id and message.get("priority"):
                return message["priority"]
        return None

    def sent_to(self, phone_ref, since_ms, limit, template=None):
        found = [
            ms
            for ms, kind in self.sent.get(phone_ref, ())
            if ms >= since_ms and (template is None or kind == template)
        ]
        return sorted(found, reverse=True)[:limit]

    def get(self, message_id):
        return self.messages[message_id]

    def update(self, message, changes, envelopes=(), unset=()):
        _, _, document = _conditional(message, changes, envelopes, unset)
        self._keep(document)
        return document

    def update_all(self, changes):
        return [
            self.update(message, fields, envelopes, unset)
            for message, fields, envelopes, unset in changes
        ]

    def _keep(self, document):
        self.messages[document["_id"]] = document
        if document.get("sent_ms") and document.get("phone_ref"):
            self.sent.setdefault(document["phone_ref"], set()).add(
                (document["sent_ms"], document["template"])
            )


class QuietRelay:
    def publish_now(self, name, document):
        return 0

    def publish_now_many(self, name, documents):
        return 0


class Notifications:
    def __init__(self, settings):
        self.settings, self.memory, self.provider = settings, MemoryMessages(), AcceptingProvider()
        self.keep_ms = int(settings.notifications.keep_number_h * 3_600_000)

    def remember(self, request_data):
        resident = request_data["resident"]
        self.memory.contacts.setdefault(
            request_data["request_id"],
            {
                "_id": request_data["request_id"],
                "station": request_data["station"],
                "name": resident["name"],
                "phone": resident["phone"],
                "emergency_contact": resident.get("emergency_contact"),
            },
        )

    def notify(self, envelope, clock_, until):
        """The messages of one event, sent; returns their status events."""
        intents = notifications.intents(self.memory, self.settings, envelope, envelope["data"])
        now_ms = clock.to_ms(clock.now())
        messages = []
        for intent in intents:
            document = {**intent, "version": 1, "updated_ms": now_ms}
            self.memory._keep(document)
            messages.append(document)
        for _ in range(4):  # the sweep sends what was held, when it is due
            pending = [self.memory.get(m["_id"]) for m in messages]
            pending = [m for m in pending if m["status"] in ("created", "sending")]
            if not pending:
                break
            due = min(m.get("due_ms") or now_ms for m in pending)
            if due > clock.to_ms(until):
                break
            clock_.at(clock.from_ms(max(due, clock.to_ms(clock.now()))))
            notification_batch.deliver_many(
                self.memory, QuietRelay(), self.provider, self.settings, pending
            )
        return [event for m in messages for event in self.memory.get(m["_id"]).get("outbox", [])]

    def flush(self, now):
        """The contacts and messages written so far, as stored today; forgotten after."""
        now_ms = clock.to_ms(now)
        messages = []
        for message in self.memory.messages.values():
            if message.get("outbox"):
                message = published(message)
            erase = message.get("erase_after_ms")
            if erase is not None and erase <= now_ms:  # NotificationStore.forget_numbers
                message = {**message, "phone": None, "updated_ms": erase}
                message.pop("erase_after_ms")
            messages.append(message)
        contacts = list(self.memory.contacts.values())
        self.memory = MemoryMessages()
        return contacts, messages


class MemoryReports:
    """ReportStore's projection interface over dicts: the facts of the requests being
    written, the daily figures of the whole history."""

    def __init__(self):
        self.facts, self.dailies = {}, {}

    def load_facts(self, version, keys):
        return {key: copy.deepcopy(self.facts[key]) for key in keys if key in self.facts}

    def load_dailies(self, version, keys):
        return {key: copy.deepcopy(self.dailies[key]) for key in keys if key in self.dailies}

    def save(self, version, facts, dailies, rollups=()):
        """The rollups are left out: the store's migration makes them from the daily
        figures of the whole history once it is written."""
        self.facts.update({fact["_id"]: fact for fact in facts})
        self.dailies.update({daily["_id"]: daily for daily in dailies})

    def rollups(self, version):
        return NoRollups()


class NoRollups:
    """A rollup store that holds none (MemoryReports.save)."""

    def load(self, ids):
        return {}


class Reporting:
    def __init__(self):
        self.memory, self.batches = MemoryReports(), []

    @staticmethod
    def consumes(envelope):
        return "reporting" in CATALOGUE[envelope["type"]].consumers

    def keep(self, envelopes, version):
        """Keep the events (in their order) as one batch of the event store and project
        them, as a group commit and its pass do (each fact records the batch)."""
        batch_id, records = str(uuid.uuid4()), []
        for envelope in envelopes:
            if not self.consumes(envelope):
                continue
            data = data_schema(CATALOGUE[envelope["type"]].schema).dump(envelope["data"])
            stored_ms = clock.to_ms(clock.parse_iso(envelope["time"])) + 300
            records.append(domain_events.record(envelope, data, stored_ms))
        if records:
            self.batches.append(
                {
                    "_id": batch_id,
                    "events": records,
                    "pending": 0,
                    "stored_ms": max(r["stored_ms"] for r in records),
                }
            )
            reporting.project(self.memory, version, [{**r, "batch": batch_id} for r in records])

    def flush(self):
        """The batches and facts kept so far (a request's facts are final once its whole
        life is written); the daily figures stay until the end."""
        batches, facts = self.batches, list(self.memory.facts.values())
        self.batches, self.memory.facts = [], {}
        return batches, facts
