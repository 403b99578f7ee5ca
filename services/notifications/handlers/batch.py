"""notifications' event handlers on batches (the batch entrypoints of service.py).

For a batch: the residents' contacts it carries are remembered in one bulk write; the
contacts its messages need are read in one query; every message the rules ask for is
recorded in one insert (each once: its id is event:recipient:template, so a repeated
event finds its message); then each is sent as one at a time would (its claim, its
provider call, its outcome: the delivery state machine of handlers/__init__.py), and the
status events of the whole batch are published together, their confirms awaited once.

An event whose messages cannot be decided or sent now (a resident's contact not yet
known, the store away) is returned with its exception, to be retried alone.
"""
from __future__ import annotations

import logging

from eventlet.greenpool import GreenPool

from services.notifications import handlers

log = logging.getLogger(__name__)

SENDERS = 8  # messages of a batch in flight at once (different numbers)


class _BatchStore:
    """The store as the batch sees it: contacts read once for the whole batch."""

    def __init__(self, store, contacts: dict) -> None:
        self._store, self._contacts = store, contacts

    def contact(self, request_id):
        found = self._contacts.get(request_id)
        return found if found is not None else self._store.contact(request_id)

    def __getattr__(self, name):
        return getattr(self._store, name)


class CollectingRelay:
    """Collects the writer's fast-path publishes of a batch and publishes them together
    (the newest copy of each document: it holds every event staged before)."""

    def __init__(self, relay) -> None:
        self.relay = relay
        self._documents: dict = {}

    def publish_now(self, name, document):
        self._documents[(name, document["_id"])] = (name, document)
        return 0

    def publish_now_many(self, name, documents):
        for document in documents:
            self.publish_now(name, document)
        return 0

    def flush(self) -> int:
        by_name: dict = {}
        for name, document in self._documents.values():
            by_name.setdefault(name, []).append(document)
        self._documents = {}
        return sum(self.relay.publish_now_many(name, documents)
                   for name, documents in by_name.items())


def remember_contacts(store, items: list) -> None:
    """The residents' contacts of a batch of request.received, in one bulk write."""
    store.remember_contacts([
        (request["request_id"], request["station"], request["resident"]["name"],
         request["resident"]["phone"], request["resident"].get("emergency_contact"))
        for _, _, request in items])


def notify_many(store, relay, sender, settings, items: list) -> dict:
    """handlers.notify for a batch ``[(position, envelope, data)]``; returns
    ``{position: exception}`` for the events to retry alone."""
    failures: dict = {}
    view = _BatchStore(store, store.contacts_of(
        {data["request_id"] for _, _, data in items if data.get("request_id")}))
    planned = []  # (position, intent)
    for position, envelope, data in items:
        try:
            planned += [(position, intent)
                        for intent in handlers.intents(view, settings, envelope, data)]
        except Exception as exc:  # noqa: BLE001 - retried alone (RecipientUnknown among them)
            failures[position] = exc
    if not planned:
        return failures
    stored = store.record_intents([intent for _, intent in planned])
    collecting = CollectingRelay(relay)
    # One number's messages one after another (its rate limit counts what went before);
    # different numbers side by side: the providers' answers are waited for together.
    lanes: dict = {}
    for (position, _), message in zip(planned, stored, strict=True):
        if position not in failures:  # else retried alone: its messages are sent then
            lanes.setdefault(message.get("phone_ref") or message["_id"], []).append(
                (position, message))

    def run(lane):
        for position, message in lane:
            try:
                handlers.deliver(store, collecting, sender, settings, message)
            except Exception as exc:  # noqa: BLE001 - retried alone; a sent one stays sent
                log.warning("message %s of a batch not delivered: %s", message["_id"],
                            type(exc).__name__)
                failures[position] = exc

    pool = GreenPool(SENDERS)
    for lane in lanes.values():
        pool.spawn_n(run, lane)
    pool.waitall()
    collecting.flush()
    return failures
