"""marshmallow schemas of what other government systems send in: CloudEvents 1.0
(structured JSON) whose ``data`` is one of the inbound types below."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.common.envelope import json_media_type
from services.common.events import NeedSchema, RegisteredPerson, ResidentSchema
from services.common.fields import Instant, Line, Notes, StationId, Strict
from services.common.vocabulary import NEED_TYPES, REFERRAL_ANSWERS

SPECVERSION = "1.0"


class InboundEnvelope(Schema):
    """A CloudEvent as another system sends it (its own extensions are ignored)."""

    class Meta:
        unknown = EXCLUDE

    id = Line(required=True, validate=validate.Length(min=1, max=200))
    source = Line(required=True, validate=validate.Length(min=1, max=500))
    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    type = Line(required=True, validate=validate.Length(min=1, max=200))
    time = Instant(load_default=None, allow_none=True)
    subject = Line(load_default=None, allow_none=True, validate=validate.Length(max=200))
    datacontenttype = fields.String(load_default="application/json", validate=json_media_type)
    data = fields.Dict(required=True)


class ReferralData(Strict):
    """gov.suyu.civil_affairs.referral.v1: the civil affairs bureau refers a resident."""

    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    need = fields.Nested(NeedSchema, required=True)
    referral_no = Line(load_default=None, allow_none=True, validate=validate.Length(max=64))


class ReferralAnswerData(Strict):
    """gov.suyu.agency.referral_answered.v1: a partner agency answers a referral made to it."""

    referral_id = Line(required=True, validate=validate.Length(min=1, max=100))
    case_id = Line(required=True, validate=validate.Length(min=1, max=100))
    answer = fields.String(required=True, validate=validate.OneOf(sorted(REFERRAL_ANSWERS)))
    reason = Notes(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _reason_of_a_rejection(self, data, **kwargs):
        if data.get("answer") == "rejected" and not data.get("reason", "").strip():
            raise ValidationError("a rejection says why", "reason")


class KeyPersonUpdateData(Strict):
    """gov.suyu.civil_affairs.key_person_update.v1: the key-persons-of-concern list changed."""

    change = fields.String(required=True, validate=validate.OneOf(("added", "changed", "removed")))
    person = fields.Nested(RegisteredPerson, required=True)


class CheckinMissedData(Strict):
    """gov.suyu.elderly_care.checkin_missed.v1: an elderly person living alone did not
    check in (报平安) when due."""

    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    due_at = Instant(required=True)
    last_checkin_at = Instant(load_default=None, allow_none=True)
    note = Notes(load_default="", validate=validate.Length(max=500))


class PetitionForwardedData(Strict):
    """gov.suyu.petition.forwarded.v1: the petition office forwards a petition (信访转办)."""

    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    petition_no = Line(required=True, validate=validate.Length(min=1, max=64))
    need_type = fields.String(
        load_default="petition_mediation", validate=validate.OneOf(sorted(NEED_TYPES))
    )
    summary = Notes(required=True, validate=validate.Length(min=1, max=2000))


class InboundResult(Schema):
    """The answer for one event of POST /v1/events."""

    id = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "accepted, duplicate or rejected"})
    code = fields.Integer(metadata={"description": "the HTTP status this event alone gets"})
    request_id = fields.String(allow_none=True)
    repeat_of = fields.String(allow_none=True)
    error = fields.Dict(allow_none=True)


class InboundResults(Schema):
    results = fields.List(fields.Nested(InboundResult))
