"""The intake service layer: receive a request (write it, publish it); follow a request's
case; learn of referrals. Its parts: inbound (events from other government systems),
recording (requests many at once, the one path of every request), referrals (the
agencies' answers)."""

import logging
import uuid

from services.common import clock
from services.common.messaging import BrokerProbe, BrokerUnavailable
from services.common.outbox import FastPath
from services.intake import domain
from services.intake.handlers import recording, referrals
from services.intake.store import RequestStore

log = logging.getLogger(__name__)


def receive_request(
    store: RequestStore,
    relay: FastPath,
    broker: BrokerProbe,
    body: dict,
    caller: str,
    idempotency_key: str | None,
    pseudonym_key: str,
    idempotency_ttl_s: int = 86400,
) -> tuple[dict, bool]:
    """Record a validated request and publish ``request.received``.

    Returns ``(document, replayed)``. Guarantees: BrokerUnavailable (503) means nothing
    was recorded; a returned document is stored and its event will be published, now
    or by the relay. The same caller and Idempotency-Key name the same request until
    the key expires (``idempotency_ttl_s``); after that the key is free again.
    """
    body_fingerprint = domain.fingerprint(body)
    request_id = str(uuid.uuid4())
    if idempotency_key is not None:
        request_id, existing = _claim_key(
            store, broker, caller, idempotency_key, body_fingerprint, idempotency_ttl_s
        )
        if existing is not None:
            return existing, True
    if not broker.reachable():
        raise BrokerUnavailable("broker unreachable; request not recorded")
    # a batch of one; the id is fresh (or its key's, whose request is not stored yet):
    # nothing is read first, a concurrent twin with the same key is met by the insert
    [(document, replayed)] = recording.record_requests(
        store,
        relay,
        broker,
        [recording.NewRequest(request_id, body, caller, body_fingerprint, idempotency_key)],
        pseudonym_key,
        may_repeat=False,
    )
    if replayed:
        domain.check_replay(document, body_fingerprint)
    return document, replayed


def _claim_key(store, broker, caller, key, body_fingerprint, ttl_s):
    """The request id this key names, and the request if it was recorded already.

    IdempotencyConflict if the live key was used with another body."""
    key_id = domain.idempotency_key_id(caller, key)
    for _ in range(3):  # a lost race is settled by reading the winner's claim
        now_ms = clock.to_ms(clock.now())
        # Claim first: nearly every key is new, and then the claim is one write instead
        # of two reads and a write. Only with the broker reachable: a 503 leaves nothing.
        if broker.reachable():
            fresh = domain.key_claim(
                key_id, str(uuid.uuid4()), caller, body_fingerprint, now_ms, ttl_s
            )
            if store.claim_key(fresh):
                return fresh["request_id"], None
        claim = store.key_claim(key_id)
        if domain.claim_live(claim, now_ms):
            domain.check_replay(claim, body_fingerprint)
            # None: claimed but not recorded (a crash, a 503): this retry records it
            return claim["request_id"], store.get(claim["request_id"])
        if not broker.reachable():  # before claiming: a 503 leaves nothing behind
            raise BrokerUnavailable("broker unreachable; request not recorded")
        if claim is None:  # purged since the claim above failed: claim it afresh
            continue
        # expired: free again, taken over by compare-and-set (a twin may win it)
        fresh = domain.key_claim(key_id, str(uuid.uuid4()), caller, body_fingerprint, now_ms, ttl_s)
        if store.claim_key(fresh, claim):
            return fresh["request_id"], None
    raise domain.IdempotencyConflict("this Idempotency-Key is being used concurrently; retry")


def learn_referral(store: RequestStore, envelope: dict, referred: dict) -> None:
    """casework referred a case to a registered agency: that agency may answer it."""
    referrals.learn(store, envelope, referred)


def follow_cases(store: RequestStore, items: list, request_field: str = "request_id") -> None:
    """Case events move their requests to the status each case's status implies: a batch
    ``[(position, envelope, case)]`` of one event type, in one write; ``request_field``
    names the request the event is about."""
    store.follow_cases(
        [
            (
                case["case_id"],
                domain.request_status(case["status"]),
                envelope["sequence"] or 1,
                case[request_field],
                case["request_id"],
            )
            for _, envelope, case in items
        ]
    )


def purge_expired_keys(store: RequestStore) -> int:
    return store.purge_expired_keys(clock.to_ms(clock.now()))
