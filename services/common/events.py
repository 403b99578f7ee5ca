"""The data of every event the services publish, as marshmallow schemas.

The catalogue (``contracts.py``) names these; nothing else should define event data.
"""

from marshmallow import fields, validate

from services.common.fields import (
    MAX_AMOUNT_FEN,
    MAX_PARTICIPANTS,
    MAX_QUANTITY,
    BoundedInteger,
    Categories,
    Day,
    IdCardNumber,
    Instant,
    Line,
    Notes,
    Phone,
    StationId,
    Strict,
)
from services.common.vocabulary import (
    ACTION_TYPES,
    ACTIVITY_TYPES,
    ASSIGNMENT_REASONS,
    CANCEL_REASONS,
    CASE_STATUSES,
    CHANNELS,
    DONATION_KINDS,
    ESCALATION_REASONS,
    INBOUND_KINDS,
    MESSAGE_CHANNELS,
    MESSAGE_STATUSES,
    NEED_TYPES,
    PRIORITIES,
    RECIPIENT_ROLES,
    REFERRAL_ANSWERS,
    ROSTER_ROLES,
    SLA_KINDS,
)


class EmergencyContactSchema(Strict):
    name = Line(required=True, validate=validate.Length(min=1, max=50))
    relation = Line(load_default="", validate=validate.Length(max=20))
    phone = Phone(required=True)


class ResidentSchema(Strict):
    name = Line(required=True, validate=validate.Length(min=1, max=50))
    phone = Phone(required=True)
    categories = Categories(load_default=list)
    id_number = IdCardNumber(load_default=None, allow_none=True)
    emergency_contact = fields.Nested(EmergencyContactSchema, load_default=None, allow_none=True)


class NeedSchema(Strict):
    type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    description = Notes(load_default="", validate=validate.Length(max=2000))


class SourceSchema(Strict):
    """Where a request came from when another government system sent it."""

    system = Line(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(sorted(INBOUND_KINDS)))
    event_id = Line(required=True, validate=validate.Length(min=1, max=200))


class RequestReceived(Strict):
    request_id = Line(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    resident_ref = Line(required=True)
    need = fields.Nested(NeedSchema, required=True)
    received_at = Instant(required=True)
    repeat_of = Line(load_default=None, allow_none=True)
    source = fields.Nested(SourceSchema, load_default=None, allow_none=True)


class RegisteredPerson(Strict):
    id_number = IdCardNumber(required=True)
    name = Line(load_default=None, allow_none=True, validate=validate.Length(max=50))
    phone = Phone(load_default=None, allow_none=True)
    station = StationId(load_default=None, allow_none=True)
    categories = Categories(load_default=list)
    emergency_contacts = fields.List(
        fields.Nested(EmergencyContactSchema), load_default=list, validate=validate.Length(max=5)
    )


class ResidentRegistryUpdated(Strict):
    """A change to the key-persons-of-concern list, from the civil affairs bureau."""

    change = fields.String(required=True, validate=validate.OneOf(("added", "changed", "removed")))
    resident_ref = Line(required=True)
    person = fields.Nested(RegisteredPerson, required=True)
    source = fields.Nested(SourceSchema, required=True)
    updated_at = Instant(required=True)


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


class ReferredResident(Strict):
    """The resident as an agency receives her: in full only what its purpose names."""

    name = Line(required=True)
    phone = Line(required=True)
    id_number = Line(load_default=None)
    categories = fields.List(Line(), load_default=None)
    emergency_contacts = fields.List(fields.Nested(EmergencyContactSchema), load_default=None)


class ReferralSent(Strict):
    """A referral as it leaves for the agency (``shegong.outbound``, routed by agency id)."""

    referral_id = Line(required=True)
    case_id = Line(required=True)
    agency = Line(required=True)
    station = StationId(required=True)
    need_type = fields.String(required=True, validate=validate.OneOf(sorted(NEED_TYPES)))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    purpose = Line(required=True)
    resident = fields.Nested(ReferredResident, required=True)
    need_description = Notes(load_default=None, allow_none=True)
    note = Notes(load_default=None, allow_none=True)
    referred_by = Line(required=True)
    referred_at = Instant(required=True)
    answer_with = Line(required=True)


class ReferralAnswered(Strict):
    """An agency's answer to a referral made to it, as intake received it."""

    referral_id = Line(required=True)
    case_id = Line(required=True)
    station = StationId(required=True)
    agency = Line(required=True)
    answer = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_ANSWERS)))
    reason = Notes(load_default="", validate=validate.Length(max=2000))
    answered_at = Instant(required=True)
    source = fields.Nested(SourceSchema, required=True)


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


PROGRAM_KINDS = (
    "volunteer_team",
    "volunteer",
    "social_organisation",
    "donation",
    "aid",
    "activity",
)


class ProgramRef(Strict):
    """Fields every station-program event carries; ``on`` is the day it counts for."""

    station = StationId(required=True)
    recorded_by = Line(required=True)
    on = Day(required=True)


class VolunteerTeamFormed(ProgramRef):
    team_id = Line(required=True)
    name = Line(required=True, validate=validate.Length(min=1, max=100))


class VolunteerJoined(ProgramRef):
    team_id = Line(required=True)
    member_ref = Line(required=True)


class SocialOrganisationCultivated(ProgramRef):
    organisation_id = Line(required=True)
    name = Line(required=True, validate=validate.Length(min=1, max=100))


class DonationReceived(ProgramRef):
    donation_id = Line(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(sorted(DONATION_KINDS)))
    amount_fen = BoundedInteger(0, MAX_AMOUNT_FEN, load_default=0)
    goods = Line(load_default="", validate=validate.Length(max=200))
    quantity = BoundedInteger(0, MAX_QUANTITY, load_default=0)


class AidDistributed(ProgramRef):
    aid_id = Line(required=True)
    household_ref = Line(required=True)
    items = Line(required=True, validate=validate.Length(min=1, max=200))
    value_fen = BoundedInteger(0, MAX_AMOUNT_FEN, load_default=0)


class ProgramRecordCorrected(ProgramRef):
    """A program record corrected or voided: a new record referring to the original.

    ``original`` and ``corrected`` are the data of the original's event type (what it
    said, and what it says now); figures use the latest revision, none when void."""

    record_id = Line(required=True)
    corrects = Line(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PROGRAM_KINDS))
    revision = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    void = fields.Boolean(required=True)
    reason = Notes(required=True, validate=validate.Length(min=1, max=500))
    original = fields.Dict(required=True)
    corrected = fields.Dict(load_default=None, allow_none=True)


class ActivityHeld(ProgramRef):
    activity_id = Line(required=True)
    activity_type = fields.String(required=True, validate=validate.OneOf(sorted(ACTIVITY_TYPES)))
    title = Line(required=True, validate=validate.Length(min=1, max=100))
    participants = BoundedInteger(0, MAX_PARTICIPANTS, load_default=0)


class MessageStatus(Strict):
    """A message reached a status; one event per status reached."""

    message_id = Line(required=True)
    case_id = Line(load_default=None, allow_none=True)
    request_id = Line(load_default=None, allow_none=True)
    station = StationId(load_default=None, allow_none=True)
    recipient_role = fields.String(required=True, validate=validate.OneOf(RECIPIENT_ROLES))
    channel = fields.String(required=True, validate=validate.OneOf(MESSAGE_CHANNELS))
    template = Line(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(required=True, validate=validate.OneOf(MESSAGE_STATUSES))
    provider = Line(load_default=None, allow_none=True)
    reason = Notes(load_default=None, allow_none=True, validate=validate.Length(max=500))


class MessageSent(MessageStatus):
    sent_at = Instant(required=True)


class MessageDelivered(MessageStatus):
    delivered_at = Instant(required=True)


class MessageFailed(MessageStatus):
    failed_at = Instant(required=True)


class RosterMember(Strict):
    """One person on a station's roster, as other services may know them: no name or phone."""

    id = Line(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(required=True, validate=validate.OneOf(ROSTER_ROLES))
    duty_days = fields.List(
        BoundedInteger(1, 7), load_default=list, validate=validate.Length(max=7)
    )


class StationRosterPublished(Strict):
    """A station's roster as it now stands (whole, not a change): who is on it, in which
    role. Published when a roster is loaded and differs from the last one published."""

    station = StationId(required=True)
    staff = fields.List(
        fields.Nested(RosterMember), required=True, validate=validate.Length(max=500)
    )
    published_at = Instant(required=True)
