"""Recording requests, many at once: the one path of every request, whether a station's
staff POST one (a batch of one) or another system sends a burst of events.

A batch without repeats costs the store a constant number of commands, whatever its
size: the ids already stored found with one read (``_id`` ``$in``, only for ids that
may repeat an earlier event), the requests inserted with one write (each holding its
claims: the resident's need if it is her first open request for it, the caller's
Idempotency-Key if it came with one, under unique indexes), and their events published
together, their confirms awaited together. A claim found held costs one equality read
(a repeat of a request stored before, a replay, a twin), and those requests one more
insert together. Within a batch the first request of a resident for a need claims it
and the later ones repeat it; an id named twice is recorded once (the later ones
answered as repeats of it).
"""

import logging
from dataclasses import dataclass

from services.common import clock, outbox
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
    key_id: str | None = None  # the key's claim (domain.idempotency_key_id), if keyed
    key_ttl_s: int = 86400  # how long the key names this request


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
    for position, outcome in zip(new, documents, strict=True):
        outcomes[position] = (
            outcome if outcome is not None else (stored.get(items[position].request_id), True)
        )
    for position, item in enumerate(items):
        if outcomes[position] is None:  # the same id earlier in this batch
            outcomes[position] = (outcomes[first_of[item.request_id]][0], True)
    written = [outcome[0] for outcome in documents if outcome is not None and not outcome[1]]
    if written and not relay.publish_now_many("requests", written) and broker is not None:
        broker.failed()
    return outcomes


# rounds of claims lost and settled before the remaining requests are recorded as
# first requests (a claim taken and released again and again by concurrent writers)
CLAIM_ROUNDS = 5


def _write(store, items: list, pseudonym_key) -> list:
    """Insert the requests with their events and claims (the Idempotency-Key's, the
    resident's need's) with one write; per item ``(document, replayed)``, or None if
    its id was stored meanwhile.

    Only lost claims cost more (a repeat, a replay, a twin): one equality read each,
    and one more insert for those of the batch still to record (with the in-batch
    repeats, written once the first of their need is). A batch without repeats is one
    insert, whatever its size.
    """
    now = clock.now()
    now_ms = clock.to_ms(now)
    needs = [
        domain.open_need(
            domain.resident_ref(pseudonym_key, item.body["resident"]), item.body["need"]["type"]
        )
        for item in items
    ]
    first_of: dict = {}
    for position, need in enumerate(needs):
        first_of.setdefault(need, position)
    repeat_of: list = [None] * len(items)
    claiming = [first_of[need] == position for position, need in enumerate(needs)]
    outcomes: list = [None] * len(items)
    decided = [False] * len(items)
    pending = [p for p in range(len(items)) if claiming[p]]
    waiting = [p for p in range(len(items)) if not claiming[p]]  # the first's fate first
    for attempt in range(CLAIM_ROUNDS + 2):
        if attempt >= CLAIM_ROUNDS:  # contended past reason: recorded as first requests
            claiming = [False] * len(items)
        documents = [
            _document(items[p], needs[p] if claiming[p] else None, repeat_of[p], now, pseudonym_key)
            for p in pending
        ]
        refused = store.insert_requests(documents) if documents else []
        again = []
        for position, document, field in zip(pending, documents, refused, strict=True):
            if field is None or field == "_id":  # new, or the same id stored meanwhile
                outcomes[position] = (document, False) if field is None else None
                decided[position] = True
                continue
            replay, repeats = _settle(
                store, items[position], needs[position], field, document[field], now_ms
            )
            if replay is not None:
                outcomes[position], decided[position] = (replay, True), True
                continue
            if repeats is not None:
                repeat_of[position], claiming[position] = repeats, False
            again.append(position)
        ready = [p for p in waiting if decided[first_of[needs[p]]]]
        for position in ready:  # a later request of the batch for a need: it repeats
            first = first_of[needs[position]]
            stored = outcomes[first][0] if outcomes[first] else None
            repeat_of[position] = (
                (stored.get("repeat_of") or stored["_id"]) if stored else items[first].request_id
            )
        waiting = [p for p in waiting if p not in ready]
        pending = again + ready
        if not pending:
            break
    if pending or waiting:
        raise domain.IdempotencyConflict("this Idempotency-Key is being used concurrently; retry")
    for position, outcome in enumerate(outcomes):
        if outcome is not None and not outcome[1]:
            request_id, document = items[position].request_id, outcome[0]
            log.info(
                "request %s received (%s, %s, %s%s)",
                request_id,
                document["channel"],
                document["station"],
                document["need_type"],
                f", repeat of {document['repeat_of']}" if document["repeat_of"] else "",
            )
    return outcomes


def _settle(store, item, need, field, value, now_ms):
    """A claim of ``item`` found held (``field`` = ``value``): who holds it, with one
    equality read. ``(replay, repeats)``: the request its live key names (a replay:
    decided), else the open request holding its need (a repeat: insert it again as
    one), else neither (a claim released: an expired key, the need of a request no
    longer open, or released meanwhile: insert it again)."""
    holder = store.holding(field, value)
    if holder is None:
        return None, None
    if item.key_id is not None and holder.get("key_claim") == item.key_id:
        if domain.key_live(holder, now_ms):
            return holder, None
        store.release(holder["_id"], "key_claim", item.key_id)  # expired: free again
        return None, None
    if field == "open_need" and holder.get("open_need") == need:
        if domain.need_still_open(holder):
            return None, holder["_id"]
        store.release(holder["_id"], "open_need", need)  # its case is over (resolved)
    return None, None


def _document(item, need, repeat_of, now, pseudonym_key):
    """The request as inserted, with its event; with its need's claim if it is the
    resident's first open request for it, its key's if it came with one (a field
    absent, never null, where there is no claim: the indexes are sparse)."""
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
    if need is not None:
        request["open_need"] = need
    if item.key_id is not None:
        request.update(domain.key_fields(item.key_id, clock.to_ms(now), item.key_ttl_s))
    event = new_event(
        contract,
        data,
        subject=item.request_id,
        correlation_id=item.request_id,
        sequence=1,
        time=now,
    )
    return outbox.new_document(request, [event])
