"""Recording requests, many at once: the one path of every request, whether a station's
staff POST one (a batch of one) or another system sends a burst of events.

A batch costs the store a constant number of commands, whatever its size: the ids
already stored found with one read (``_id`` ``$in``, only for ids that may repeat an
earlier event), the residents' need claims inserted with one write, the requests with
one, and their events published together, their confirms awaited together. Within a
batch the first request of a resident for a need claims it and the later ones repeat
it; an id named twice is recorded once (the later ones answered as repeats of it).
"""

import logging
from dataclasses import dataclass

from services.common import clock
from services.common.envelope import new_event
from services.common.messaging import BrokerProbe
from services.common.outbox import FastPath
from services.intake import domain
from services.intake.store import RequestStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewRequest:
    """A validated request to record under ``request_id`` (POST /v1/requests' body)."""

    request_id: str
    body: dict
    caller: str
    fingerprint: str
    idempotency_key: str | None = None
    source: dict | None = None


def record_requests(
    store: RequestStore,
    relay: FastPath,
    broker: BrokerProbe | None,
    items: list[NewRequest],
    pseudonym_key: str,
    may_repeat: bool = True,
) -> list:
    """Record ``items`` (NewRequest) together; per item, in order, ``(document,
    replayed)``: replayed when its id was stored before (or earlier in the batch).

    ``may_repeat``: the ids may name requests recorded before (an inbound event's id):
    those are read first, with one read, and touch no need claim. Without it (fresh
    ids) a stored one is still found, by the insert. Every new document is stored and
    its event published now or, should that fail, by the relay (``broker.failed()``
    is told then).
    """
    outcomes: list = [None] * len(items)
    first_of: dict = {}
    for position, item in enumerate(items):
        first_of.setdefault(item.request_id, position)
    firsts = list(first_of.values())
    if may_repeat and firsts:
        stored = store.get_many([items[p].request_id for p in firsts])
        for position in firsts:
            if items[position].request_id in stored:
                outcomes[position] = (stored[items[position].request_id], True)
    new = [p for p in firsts if outcomes[p] is None]
    documents = _write(store, [items[p] for p in new], pseudonym_key) if new else []
    twins = [items[p].request_id for p, d in zip(new, documents, strict=True) if d is None]
    stored = store.get_many(twins) if twins else {}  # a concurrent twin inserted it first
    for position, document in zip(new, documents, strict=True):
        outcomes[position] = (
            (document, False)
            if document is not None
            else (stored.get(items[position].request_id), True)
        )
    for position, item in enumerate(items):
        if outcomes[position] is None:  # the same id earlier in this batch
            outcomes[position] = (outcomes[first_of[item.request_id]][0], True)
    written = [d for d in documents if d is not None]
    if written and not relay.publish_now_many("requests", written) and broker is not None:
        broker.failed()
    return outcomes


def _write(store, items: list, pseudonym_key) -> list:
    """Claim the residents' needs and insert the requests with their events, each with
    one write; per item the document, or None if its id was stored meanwhile."""
    now = clock.now()
    repeats = store.claim_needs(
        [
            (
                domain.resident_ref(pseudonym_key, item.body["resident"]),
                item.body["need"]["type"],
                item.request_id,
            )
            for item in items
        ],
        clock.to_ms(now),
    )
    changes, described = [], []
    for item, repeat_of in zip(items, repeats, strict=True):
        request, (contract, data) = domain.receive(
            item.request_id,
            item.body,
            item.caller,
            item.fingerprint,
            item.idempotency_key,
            pseudonym_key,
            now,
            repeat_of=repeat_of,
            source=item.source,
        )
        changes.append(
            (
                request,
                [
                    new_event(
                        contract,
                        data,
                        subject=item.request_id,
                        correlation_id=item.request_id,
                        sequence=1,
                        time=now,
                    )
                ],
            )
        )
        described.append(
            (item.request_id, data["channel"], data["station"], data["need"]["type"], repeat_of)
        )
    documents = store.add_many(changes)
    for document, (request_id, channel, station, need, repeat_of) in zip(
        documents, described, strict=True
    ):
        if document is not None:
            log.info(
                "request %s received (%s, %s, %s%s)",
                request_id,
                channel,
                station,
                need,
                f", repeat of {repeat_of}" if repeat_of else "",
            )
    return documents
