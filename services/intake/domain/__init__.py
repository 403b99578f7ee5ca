"""Intake rules: identity of a request, idempotency, repeats, and the request's status. Pure."""

import hashlib
import json
import uuid

from services.common import clock
from services.common.contracts import REQUEST_RECEIVED
from services.common.privacy import mask_id_number, mask_name, mask_phone, pseudonym

IDEMPOTENCY_NAMESPACE = uuid.UUID("5b6f2a0e-4d0c-4c8e-9a57-2f7d1f0c3e11")

# A new request for the same need repeats a request in these statuses (until its case ends).
REPEATABLE_REQUEST_STATUSES = ("received", "case_opened")

# The request's status follows its case's status (the case event says it).
STATUS_OF_CASE = {
    "received": "case_opened",
    "assigned": "case_opened",
    "accepted": "case_opened",
    "in_progress": "case_opened",
    "referred": "case_opened",
    "resolved": "resolved",
    "closed": "closed",
    "cancelled": "cancelled",
}


# a request whose case ended for good (a resolved case may still be reopened)
FINAL_REQUEST_STATUSES = ("closed", "cancelled")


def open_need(resident_ref, need_type):
    """What a resident's first open request for a need holds (``open_need``, unique on
    the requests) until its case ends: a later request for that need repeats it."""
    return f"{resident_ref}|{need_type}"


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


def idempotency_key_id(caller, idempotency_key):
    """The same caller and key name the same claim, whoever of two concurrent twins wins."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{caller}\x1f{idempotency_key}"))


def fingerprint(body):
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_replay(document, body_fingerprint):
    """A stored request found under the same key: the same body replays, another conflicts."""
    if document["fingerprint"] != body_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was already used with a different body")


def key_fields(key_id, now_ms, ttl_s):
    """What a request recorded under an Idempotency-Key holds: the key (``key_claim``,
    unique on the requests) names it until ``key_expires_ms``."""
    return {"key_claim": key_id, "key_expires_ms": now_ms + int(ttl_s * 1000)}


def key_live(request, now_ms):
    """Whether the key ``request`` holds still names it: an expired key is free again, a
    new request may be made under it."""
    return request is not None and request.get("key_expires_ms", 0) > now_ms


def resident_ref(pseudonym_key, resident):
    """The resident's pseudonymous id: from her phone, as every request since the foundation."""
    return pseudonym(pseudonym_key, resident["phone"])


def registered_person_ref(pseudonym_key, person):
    """A registry entry's ref: the phone's, to meet her requests; else the ID number's."""
    if person.get("phone"):
        return pseudonym(pseudonym_key, person["phone"])
    return pseudonym(pseudonym_key, "id_number", person["id_number"])


def need_still_open(first_request):
    """Whether the request holding a resident's need is still open: a new request for
    that need then repeats it (else it takes the need over)."""
    return first_request["status"] in REPEATABLE_REQUEST_STATUSES


def masked_contact(contact):
    if not contact:
        return None
    return {
        "name": mask_name(contact["name"]),
        "relation": contact.get("relation", ""),
        "phone": mask_phone(contact["phone"]),
    }


def masked_resident(resident):
    """What intake keeps of a resident: masked; casework, the registry, gets her in full."""
    masked = {"name": mask_name(resident["name"]), "phone": mask_phone(resident["phone"])}
    if resident.get("id_number"):
        masked["id_number"] = mask_id_number(resident["id_number"])
    if resident.get("emergency_contact"):
        masked["emergency_contact"] = masked_contact(resident["emergency_contact"])
    return masked


def receive(
    request_id,
    body,
    caller,
    body_fingerprint,
    idempotency_key,
    pseudonym_key,
    now,
    repeat_of=None,
    source=None,
):
    """The request as intake records it, and the event announcing it."""
    received_at = body.get("received_at") or clock.iso(now)
    resident = body["resident"]
    ref = resident_ref(pseudonym_key, resident)
    event_data = {
        "request_id": request_id,
        "channel": body["channel"],
        "station": body["station"],
        "resident": resident,
        "resident_ref": ref,
        "need": body["need"],
        "received_at": received_at,
        "repeat_of": repeat_of,
        "source": source,
    }
    request = {
        "_id": request_id,
        "status": "received",
        "case_id": None,
        "case_seq": 0,
        "channel": body["channel"],
        "station": body["station"],
        "need_type": body["need"]["type"],
        "resident": masked_resident(resident),
        "resident_ref": ref,
        "categories": list(resident.get("categories") or []),
        "received_at": received_at,
        "received_ms": clock.to_ms(clock.parse_iso(received_at)),
        "recorded_at": clock.iso(now),
        "recorded_by": caller,
        "idempotency_key": idempotency_key,
        "fingerprint": body_fingerprint,
        "repeat_of": repeat_of,
        "source": source,
    }
    return request, (REQUEST_RECEIVED, event_data)


def request_status(case_status):
    """The request's status once its case has ``case_status``."""
    return STATUS_OF_CASE[case_status]
