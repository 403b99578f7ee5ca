"""The data of every event the services publish, as marshmallow schemas.

The catalogue (``contracts.py``) names these; nothing else should define event data.
Here: requests, the residents' registry, referrals, messages and rosters; the case
events (``case_events.py``) and the station-program events (``program_events.py``) are
modules of their own, to keep each readable, and are re-exported here: this module
remains the one place to import event data from.
"""

from marshmallow import fields, validate

from services.common.case_events import (  # noqa: F401 - also this module's names
    Assignee,
    CaseAccepted,
    CaseActionRecorded,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseRef,
    CaseReferralAnswered,
    CaseReferred,
    CaseReopened,
    CaseRequestLinked,
    CaseResidentUnreached,
    CaseResolved,
    CaseSlaBreached,
    ResidentDisplay,
    Staff,
)
from services.common.fields import (
    BoundedInteger,
    Categories,
    IdCardNumber,
    Instant,
    Line,
    Notes,
    Phone,
    StationId,
    Strict,
)
from services.common.program_events import (  # noqa: F401 - also this module's names
    PROGRAM_KINDS,
    ActivityHeld,
    AidDistributed,
    DonationReceived,
    ProgramRecordCorrected,
    ProgramRef,
    SocialOrganisationCultivated,
    VolunteerJoined,
    VolunteerTeamFormed,
)
from services.common.vocabulary import (
    CHANNELS,
    INBOUND_KINDS,
    MESSAGE_CHANNELS,
    MESSAGE_STATUSES,
    NEED_TYPES,
    PRIORITIES,
    RECIPIENT_ROLES,
    REFERRAL_ANSWERS,
    ROSTER_ROLES,
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
