"""The writers' side of the outbox (outbox.py describes its fields): staging events in
an aggregate's document, inserting a new aggregate with its first events, numbering
the next event, and what a writer needs of a relay (``FastPath``).

Pure functions of a document and one insert; apart from the relay (outbox.py, which
re-exports these names, the import path the services use) so that each stays readable.
"""

from typing import Protocol

from pymongo.errors import DuplicateKeyError

from services.common import clock


def stage(document, envelopes):
    """Append events to a document's outbox, pure: returns the fields to write.

    Events already confirmed published are dropped from the outbox as it is rewritten.
    Each envelope must already carry its ``sequence``.
    """
    published = document.get("published_seq", 0)
    kept = [event for event in document.get("outbox", []) if event["sequence"] > published]
    outbox = kept + list(envelopes)
    last_seq = outbox[-1]["sequence"] if outbox else document.get("last_seq", 0)
    return {"outbox": outbox, "last_seq": last_seq, "outbox_pending": bool(outbox)}


def new_document(document, envelopes):
    """A new aggregate with its first events in its outbox, as it is inserted (pure)."""
    return {**document, **stage({}, envelopes), "updated_ms": clock.to_ms(clock.now())}


def insert_new(collection, document, envelopes):
    """Insert a new aggregate with its first events; None if its ``_id`` (or another
    unique key) exists already: the caller has met a retry or a concurrent twin."""
    document = new_document(document, envelopes)
    try:
        collection.insert_one(document)
    except DuplicateKeyError:
        return None
    return document


def next_sequence(document):
    return document.get("last_seq", 0) + 1


class FastPath(Protocol):
    """What a writer needs of a relay: its fast path. An OutboxRelay, or a
    group_commit.GroupPublish sharing one relay's fast path among threads."""

    def publish_now(self, name: str, document: dict) -> int: ...

    def publish_now_many(self, name: str, documents: list) -> int: ...
