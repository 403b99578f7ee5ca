"""The events catalogue: every event type, its data schema, producer and consumers.

This module is the single definition of the AMQP contract. Producers build events
with ``envelope.new_event(CONTRACT, data)``, consumers validate them with
``envelope.load_event(body, CONTRACT)``, the topology and the docs are generated from
``CATALOGUE``, and a test checks the declared consumers against the code.

An event type carries its version (``.v1``); a breaking change is a new type that is
published alongside the old one until every consumer has moved.
"""
from dataclasses import dataclass

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.common import clock
from services.common.vocabulary import (
    ACTION_TYPES, CHANNELS, MESSAGE_CHANNELS, MESSAGE_STATUSES, NEED_TYPES, PRIORITIES,
    RECIPIENT_ROLES, RESIDENT_CATEGORIES, stations,
)

MAINLAND_MOBILE = r"^1[3-9]\d{9}$"


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _instant_validator(value):
    try:
        clock.parse_iso(value)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("must be an ISO 8601 time with a UTC offset, "
                              "e.g. 2023-05-29T08:00:00+08:00") from None


def Instant(**kwargs):
    """An ISO 8601 instant with offset, kept as the string it was given."""
    return fields.String(validate=_instant_validator, **kwargs)


def StationId(**kwargs):
    return fields.String(validate=validate.OneOf(sorted(stations()),
                                                 error="unknown station {input!r}"), **kwargs)


def Phone(**kwargs):
    return fields.String(validate=validate.Regexp(
        MAINLAND_MOBILE, error="must be a mainland China mobile number (11 digits, 1[3-9]…)"),
        **kwargs)


class ResidentSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = Phone(required=True)
    categories = fields.List(fields.String(validate=validate.OneOf(sorted(RESIDENT_CATEGORIES))),
                             load_default=list, validate=validate.Length(max=len(RESIDENT_CATEGORIES)))


class NeedSchema(Strict):
    type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    description = fields.String(load_default="", validate=validate.Length(max=2000))


class RequestReceived(Strict):
    request_id = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    resident_ref = fields.String(required=True)
    need = fields.Nested(NeedSchema, required=True)
    received_at = Instant(required=True)


class CaseRef(Strict):
    """Fields every case event carries, so consumers need no lookup to route it."""
    case_id = fields.String(required=True)
    request_id = fields.String(required=True)
    station = StationId(required=True)


class CaseOpened(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    priority_reason = fields.String(required=True)
    need_type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    resident_ref = fields.String(required=True)
    categories = fields.List(fields.String(validate=validate.OneOf(sorted(RESIDENT_CATEGORIES))),
                             required=True)
    request_received_at = Instant(required=True)
    opened_at = Instant(required=True)


class Assignee(Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    phone = Phone(required=True)


class ResidentDisplay(Strict):
    """What the assigned worker's SMS may show of the resident: masked."""
    name = fields.String(required=True)
    phone = fields.String(required=True)


class CaseAssigned(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    need_type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    assignee = fields.Nested(Assignee, required=True)
    resident = fields.Nested(ResidentDisplay, required=True)
    assigned_at = Instant(required=True)


class CaseAccepted(CaseRef):
    accepted_by = fields.String(required=True)
    assignee_name = fields.String(required=True)
    accepted_at = Instant(required=True)


class CaseActionRecorded(CaseRef):
    action_type = fields.String(required=True, validate=validate.OneOf(sorted(ACTION_TYPES)))
    recorded_by = fields.String(required=True)
    recorded_at = Instant(required=True)


class CaseResolved(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    resolved_by = fields.String(required=True)
    assignee_name = fields.String(required=True)
    resolved_at = Instant(required=True)


class MessageSent(Strict):
    message_id = fields.String(required=True)
    case_id = fields.String(load_default=None, allow_none=True)
    station = StationId(load_default=None, allow_none=True)
    recipient_role = fields.String(required=True, validate=validate.OneOf(RECIPIENT_ROLES))
    channel = fields.String(required=True, validate=validate.OneOf(MESSAGE_CHANNELS))
    template = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(required=True, validate=validate.OneOf(MESSAGE_STATUSES))
    sent_at = Instant(required=True)


@dataclass(frozen=True)
class EventContract:
    type: str
    producer: str
    schema: type
    consumers: tuple
    description: str


REQUEST_RECEIVED = EventContract(
    "shegong.request.received.v1", "intake", RequestReceived,
    ("casework", "notifications", "reporting"),
    "A resident's request was recorded by a station (phone, walk-in, online, referral).")
CASE_OPENED = EventContract(
    "shegong.case.opened.v1", "casework", CaseOpened, ("intake", "reporting"),
    "A case was opened for a request in the resident's township station, with its priority.")
CASE_ASSIGNED = EventContract(
    "shegong.case.assigned.v1", "casework", CaseAssigned, ("notifications", "reporting"),
    "A case was given to a social worker on duty at the station.")
CASE_ACCEPTED = EventContract(
    "shegong.case.accepted.v1", "casework", CaseAccepted, ("notifications", "reporting"),
    "The assigned social worker accepted the case.")
CASE_ACTION_RECORDED = EventContract(
    "shegong.case.action_recorded.v1", "casework", CaseActionRecorded, ("reporting",),
    "Work on the case was recorded (call, visit, purchase, delivery, note).")
CASE_RESOLVED = EventContract(
    "shegong.case.resolved.v1", "casework", CaseResolved,
    ("intake", "notifications", "reporting"),
    "The case was resolved; the resident is told.")
MESSAGE_SENT = EventContract(
    "shegong.message.sent.v1", "notifications", MessageSent, ("reporting",),
    "An SMS or message was handed to the provider.")

CATALOGUE = {contract.type: contract for contract in (
    REQUEST_RECEIVED, CASE_OPENED, CASE_ASSIGNED, CASE_ACCEPTED, CASE_ACTION_RECORDED,
    CASE_RESOLVED, MESSAGE_SENT,
)}
