"""The intake service layer: receive a request (write it, publish it); follow a request's
case; learn of referrals. Its parts: inbound (events from other government systems),
recording (requests many at once, the one path of every request), referrals (the
agencies' answers)."""

import logging

from services.common import clock, ids
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
    key_id = (
        domain.idempotency_key_id(caller, idempotency_key) if idempotency_key is not None else None
    )
    if not broker.reachable():
        # a live key's request is answered still (one read, only while the broker is
        # down); nothing else is recorded: a 503 leaves nothing behind
        stored = store.holding("key_claim", key_id) if key_id is not None else None
        if stored is None or not domain.key_live(stored, clock.to_ms(clock.now())):
            raise BrokerUnavailable("broker unreachable; request not recorded")
        domain.check_replay(stored, body_fingerprint)
        return stored, True
    # a batch of one, under a fresh id: nothing is read first. The key's claim is made
    # by the request's own insert (unique ``key_claim``): a replay, or a concurrent twin
    # with the same key, is met by it and answered with the request the key names.
    [(document, replayed)] = recording.record_requests(
        store,
        relay,
        broker,
        [
            recording.NewRequest(
                ids.new_id(),
                body,
                caller,
                body_fingerprint,
                idempotency_key,
                key_id=key_id,
                key_ttl_s=idempotency_ttl_s,
            )
        ],
        pseudonym_key,
        may_repeat=False,
    )
    if replayed:
        domain.check_replay(document, body_fingerprint)
    return document, replayed


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
