"""Events from other government systems: which types exist, who may send them, and what
each becomes (a request, or a key-persons registry update). Pure: no I/O."""

import builtins
import uuid
from dataclasses import dataclass
from datetime import timedelta

from marshmallow import ValidationError

from services.common import clock
from services.common.contracts import RESIDENT_REGISTRY_UPDATED
from services.common.envelope import data_schema
from services.common.privacy import mask_id_number, mask_name, mask_phone
from services.intake import domain
from services.intake.schemas.inbound import (
    CheckinMissedData,
    InboundEnvelope,
    KeyPersonUpdateData,
    PetitionForwardedData,
    ReferralAnswerData,
    ReferralData,
)

INBOUND_NAMESPACE = uuid.UUID("0c7e3d52-96a1-4f4e-8b8e-5d1c2a7f9e40")
CLOCK_SKEW = timedelta(minutes=5)
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class InboundType:
    type: str
    kind: str  # vocabulary.INBOUND_KINDS: what the request's source says it was
    schema: builtins.type  # (``type`` here is the field above)
    becomes: str  # "request", "registry_update" or "referral_answer"
    description: str


INBOUND_TYPES = {
    t.type: t
    for t in (
        InboundType(
            "gov.suyu.civil_affairs.referral.v1",
            "referral",
            ReferralData,
            "request",
            "The civil affairs bureau refers a resident to her station (channel referral).",
        ),
        InboundType(
            "gov.suyu.civil_affairs.key_person_update.v1",
            "key_person_update",
            KeyPersonUpdateData,
            "registry_update",
            "A person was added to, changed in or removed from the key-persons-of-concern "
            "list; published on as shegong.resident.registry_updated.v1.",
        ),
        InboundType(
            "gov.suyu.elderly_care.checkin_missed.v1",
            "checkin_missed",
            CheckinMissedData,
            "request",
            "An elderly person living alone missed a check-in: a home visit "
            "request (channel alert).",
        ),
        InboundType(
            "gov.suyu.petition.forwarded.v1",
            "petition",
            PetitionForwardedData,
            "request",
            "The petition office forwards a petition (channel petition).",
        ),
        InboundType(
            "gov.suyu.agency.referral_answered.v1",
            "referral_answer",
            ReferralAnswerData,
            "referral_answer",
            "A partner agency answers a referral made to it (accepted, "
            "rejected with a reason, done); published on as shegong.referral.answered.v1.",
        ),
    )
}


class InboundRejected(Exception):
    """An inbound event refused for good, whatever the transport: ``code`` says why (one
    of REFUSALS), ``reason`` in words, ``fields`` which fields. HTTP maps the code to its
    status (api/events.py: http_status); on AMQP the event is dead-lettered with the reason."""

    def __init__(
        self, code: str, reason: str, fields: dict | None = None, known_later: bool = False
    ) -> None:
        super().__init__(reason)
        self.code, self.reason, self.fields = code, reason, fields or {}
        # what it names may be learnt shortly: on AMQP retried before it is dead-lettered
        self.known_later = known_later


REFUSALS = (
    "unsupported_media_type",
    "malformed_json",  # the message cannot be read
    "unknown_system",
    "unauthenticated",  # who sent it is not proven
    "forbidden",
    "type_not_allowed",
    "not_your_referral",  # the sender may not
    "invalid_event",
    "unknown_type",
    "invalid_data",
    "unknown_referral",  # what it says
    "conflict",  # a concurrent answer: try again
)
TRY_AGAIN = frozenset({"conflict"})  # not the event's fault: retried, never dead-lettered


def parse_envelope(body):
    """The CloudEvents envelope, validated (invalid_event otherwise)."""
    if not isinstance(body, dict):
        raise InboundRejected("invalid_event", "an event must be a JSON object")
    try:
        return data_schema(InboundEnvelope).load(body)  # one shared instance: built once
    except ValidationError as exc:
        raise InboundRejected(
            "invalid_event", "invalid CloudEvents 1.0 envelope", exc.normalized_messages()
        ) from None


def authorise(system, envelope):
    """The type must be known and this system allowed to send it, as itself."""
    if system.source != envelope["source"]:
        raise InboundRejected(
            "forbidden",
            f"system {system.id} sends as source {system.source}, not {envelope['source']}",
        )
    if envelope["type"] not in INBOUND_TYPES:
        raise InboundRejected("unknown_type", f"unknown event type {envelope['type']}")
    if not system.may_send(envelope["type"]):
        raise InboundRejected(
            "type_not_allowed", f"system {system.id} may not send {envelope['type']}"
        )
    return INBOUND_TYPES[envelope["type"]]


def load_data(inbound_type, envelope):
    try:
        return data_schema(inbound_type.schema).load(envelope["data"])
    except ValidationError as exc:
        raise InboundRejected(
            "invalid_data", f"invalid data for {inbound_type.type}", exc.normalized_messages()
        ) from None


def inbound_id(source, event_id):
    """Events are deduplicated on (source, id): a repeat names the same record."""
    return str(uuid.uuid5(INBOUND_NAMESPACE, f"{source}\x1f{event_id}"))


def event_time(envelope, now):
    """When the system says it happened; now if it did not say, or says the future."""
    given = envelope.get("time")
    if given and clock.parse_iso(given) <= now + CLOCK_SKEW:
        return given
    return clock.iso(now)


def source_of(system, inbound_type, envelope):
    return {"system": system.id, "kind": inbound_type.kind, "event_id": envelope["id"]}


def _need(need_type, description):
    return {"type": need_type, "description": description[:MAX_DESCRIPTION]}


def request_body(inbound_type, envelope, data, now):
    """The request an inbound event stands for, shaped as POST /v1/requests loads it."""
    kind = inbound_type.kind
    if kind == "referral":
        channel, need = "referral", data["need"]
    elif kind == "checkin_missed":
        text = f"独居老人未按时报平安：应于 {data['due_at']} 报平安"
        if data.get("last_checkin_at"):
            text += f"，上次报平安 {data['last_checkin_at']}"
        if data.get("note"):
            text += f"。{data['note']}"
        channel, need = "alert", _need("home_visit", text)
    elif kind == "petition":
        channel = "petition"
        need = _need(data["need_type"], f"信访件 {data['petition_no']}：{data['summary']}")
    else:
        raise ValueError(f"{inbound_type.type} does not become a request")
    return {
        "channel": channel,
        "station": data["station"],
        "resident": data["resident"],
        "need": need,
        "received_at": event_time(envelope, now),
    }


def registry_update(record_id, system, inbound_type, envelope, data, pseudonym_key, now):
    """What intake keeps of a key-persons change (masked), and the event for casework."""
    person = data["person"]
    ref = domain.registered_person_ref(pseudonym_key, person)
    source = source_of(system, inbound_type, envelope)
    updated_at = event_time(envelope, now)
    event_data = {
        "change": data["change"],
        "resident_ref": ref,
        "person": person,
        "source": source,
        "updated_at": updated_at,
    }
    update = {
        "_id": record_id,
        "change": data["change"],
        "resident_ref": ref,
        "source": source,
        "person": {
            "id_number": mask_id_number(person["id_number"]),
            "name": mask_name(person.get("name")),
            "phone": mask_phone(person.get("phone")),
            "station": person.get("station"),
            "categories": person.get("categories", []),
        },
        "updated_at": updated_at,
        "recorded_at": clock.iso(now),
    }
    return update, (RESIDENT_REGISTRY_UPDATED, event_data)
