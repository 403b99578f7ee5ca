"""The data of casework's case events (``case.*``): what every one carries (``CaseRef``)
and each event's own fields, with the staff and resident shapes they nest.

Part of the event schemas (``events.py``, which re-exports these names; the catalogue,
``contracts.py``, names them from there); apart because they are the largest family.
"""

from marshmallow import fields, validate

from services.common.fields import Categories, Instant, Line, Notes, Phone, StationId, Strict
from services.common.vocabulary import (
    ACTION_TYPES,
    ASSIGNMENT_REASONS,
    CANCEL_REASONS,
    CASE_STATUSES,
    CHANNELS,
    ESCALATION_REASONS,
    INBOUND_KINDS,
    NEED_TYPES,
    PRIORITIES,
    REFERRAL_ANSWERS,
    SLA_KINDS,
)


class CaseRef(Strict):
    """Fields every case event carries, so consumers need no lookup to route it.

    ``status`` is the case's status after the event; with the envelope's ``sequence``
    it lets a projection keep the latest state whatever order events arrive in.
    """

    case_id = Line(required=True)
    request_id = Line(required=True)
    station = StationId(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))


class Staff(Strict):
    id = Line(required=True)
    name = Line(required=True)
    phone = Phone(required=True)


Assignee = Staff


class ResidentDisplay(Strict):
    """What staff messages may show of the resident: masked."""

    name = Line(required=True)
    phone = Line(required=True)


class CaseOpened(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    priority_reason = Line(required=True)
    need_type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    resident_ref = Line(required=True)
    categories = Categories(required=True)
    channel = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(sorted(CHANNELS))
    )
    origin = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(sorted(INBOUND_KINDS))
    )
    request_received_at = Instant(required=True)
    opened_at = Instant(required=True)


class CaseAssigned(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    need_type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    assignee = fields.Nested(Staff, required=True)
    resident = fields.Nested(ResidentDisplay, required=True)
    reason = fields.String(load_default="initial", validate=validate.OneOf(ASSIGNMENT_REASONS))
    origin = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(sorted(INBOUND_KINDS))
    )
    assigned_at = Instant(required=True)


class CaseAccepted(CaseRef):
    accepted_by = Line(required=True)
    assignee_name = Line(required=True)
    accepted_at = Instant(required=True)


class CaseActionRecorded(CaseRef):
    action_type = fields.String(required=True, validate=validate.OneOf(sorted(ACTION_TYPES)))
    recorded_by = Line(required=True)
    recorded_at = Instant(required=True)


class CaseResolved(CaseRef):
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    resolved_by = Line(required=True)
    assignee_name = Line(required=True)
    resolved_at = Instant(required=True)


class CaseRequestLinked(CaseRef):
    """A repeat call was added to this open case instead of opening a second one."""

    linked_request_id = Line(required=True)
    linked_at = Instant(required=True)


class CaseEscalated(CaseRef):
    reason = fields.String(required=True, validate=validate.OneOf(sorted(ESCALATION_REASONS)))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    station_head = fields.Nested(Staff, required=True)
    escalated_at = Instant(required=True)


class CaseSlaBreached(CaseRef):
    kind = fields.String(required=True, validate=validate.OneOf(SLA_KINDS))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    due_at = Instant(required=True)
    breached_at = Instant(required=True)


class CaseReferred(CaseRef):
    """``agency``: a registered agency's id (``referral_id`` set: the referral is sent
    to it) or, for a referral made by other means, its name as staff typed it."""

    agency = Line(required=True, validate=validate.Length(min=1, max=100))
    referred_by = Line(required=True)
    referred_at = Instant(required=True)
    referral_id = Line(load_default=None, allow_none=True)


class CaseResidentUnreached(CaseRef):
    """An SMS to the case's resident ended failed: someone phones them instead."""

    message_id = Line(required=True)
    template = Line(required=True, validate=validate.Length(min=1, max=100))
    reason = Notes(load_default=None, allow_none=True, validate=validate.Length(max=500))
    failed_at = Instant(required=True)
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    assignee = fields.Nested(Staff, load_default=None, allow_none=True)


class CaseReferralAnswered(CaseRef):
    agency = Line(required=True, validate=validate.Length(min=1, max=100))
    accepted = fields.Boolean(required=True)
    answered_at = Instant(required=True)
    referral_id = Line(load_default=None, allow_none=True)
    answer = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(sorted(REFERRAL_ANSWERS))
    )
    reason = Notes(load_default="", validate=validate.Length(max=2000))


class CaseClosed(CaseRef):
    closed_by = Line(required=True)
    closed_at = Instant(required=True)


class CaseReopened(CaseRef):
    reopened_by = Line(required=True)
    reason = Notes(load_default="", validate=validate.Length(max=500))
    reopened_at = Instant(required=True)


class CaseCancelled(CaseRef):
    reason = fields.String(required=True, validate=validate.OneOf(sorted(CANCEL_REASONS)))
    cancelled_by = Line(required=True)
    cancelled_at = Instant(required=True)
