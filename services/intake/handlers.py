"""The intake service layer: record a request and publish it; follow its case."""
import logging

from services.common import clock
from services.common.envelope import new_event
from services.common.messaging import BrokerUnavailable
from services.intake import domain

log = logging.getLogger(__name__)


def submit_request(store, relay, broker, body, caller, idempotency_key, pseudonym_key):
    """Record a validated request and publish ``request.received``.

    Returns ``(document, replayed)``. Guarantees: BrokerUnavailable (503) means nothing
    was recorded; a returned document is stored and its event will be published, now
    or by the relay. The same caller and Idempotency-Key always name the same request.
    """
    body_fingerprint = domain.fingerprint(body)
    request_id = domain.request_id_for(caller, idempotency_key)
    if idempotency_key is not None:
        existing = store.get(request_id)
        if existing:
            domain.check_replay(existing, body_fingerprint)
            return existing, True
    if not broker.reachable():
        raise BrokerUnavailable("broker unreachable; request not recorded")
    now = clock.now()
    record, (contract, data) = domain.receive(request_id, body, caller, body_fingerprint,
                                              idempotency_key, pseudonym_key, now)
    envelope = new_event(contract, data, subject=request_id, correlation_id=request_id,
                         sequence=1, time=now)
    document = store.add(record, [envelope])
    if document is None:  # a concurrent retry with the same key inserted it first
        existing = store.get(request_id)
        domain.check_replay(existing, body_fingerprint)
        return existing, True
    log.info("request %s recorded (%s, %s, %s)", request_id, data["channel"], data["station"],
             data["need"]["type"])
    if not relay.publish_now("requests", document):
        broker.failed()
    return document, False


def follow_case(store, case_id, request_id, status):
    store.follow_case(request_id, case_id, status)
