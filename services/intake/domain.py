"""Intake rules: identity of a request, idempotency, and the request's status. Pure."""
import hashlib
import json
import uuid

from services.common import clock
from services.common.contracts import REQUEST_RECEIVED
from services.common.privacy import mask_name, mask_phone, pseudonym
from services.common.vocabulary import REQUEST_STATUSES

IDEMPOTENCY_NAMESPACE = uuid.UUID("5b6f2a0e-4d0c-4c8e-9a57-2f7d1f0c3e11")

STATUS_RANK = {status: rank for rank, status in enumerate(REQUEST_STATUSES)}


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


def request_id_for(caller, idempotency_key):
    """A retried POST (same caller, same key) names the same request: one insert wins."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{caller}\x1f{idempotency_key}"))


def fingerprint(body):
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_replay(document, body_fingerprint):
    """A stored request found under the same key: the same body replays, another conflicts."""
    if document["fingerprint"] != body_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different body")


def receive(request_id, body, caller, body_fingerprint, idempotency_key, pseudonym_key, now):
    """The request as intake records it, and the event announcing it."""
    received_at = body.get("received_at") or clock.iso(now)
    resident = body["resident"]
    event_data = {
        "request_id": request_id, "channel": body["channel"], "station": body["station"],
        "resident": resident, "resident_ref": pseudonym(pseudonym_key, resident["phone"]),
        "need": body["need"], "received_at": received_at,
    }
    record = {
        "_id": request_id, "status": "received", "case_id": None,
        "channel": body["channel"], "station": body["station"], "need_type": body["need"]["type"],
        "resident": {"name": mask_name(resident["name"]), "phone": mask_phone(resident["phone"])},
        "received_at": received_at, "received_ms": clock.to_ms(clock.parse_iso(received_at)),
        "recorded_at": clock.iso(now), "recorded_by": caller,
        "idempotency_key": idempotency_key, "fingerprint": body_fingerprint,
    }
    return record, (REQUEST_RECEIVED, event_data)


def earlier_statuses(status):
    """The statuses a request may move to ``status`` from: it only moves forward,
    whatever order the case events arrive in."""
    return [name for name, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
