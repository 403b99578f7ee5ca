"""marshmallow schemas of the station programs API, the rosters and the access log."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.common.fields import (
    MAX_AMOUNT_FEN,
    MAX_PARTICIPANTS,
    MAX_QUANTITY,
    MAX_SEQUENCE,
    BoundedInteger,
    Day,
    Line,
    Notes,
    Phone,
    Strict,
)
from services.common.paging import Cursor
from services.common.vocabulary import ACTIVITY_TYPES, DONATION_KINDS


class ProgramCommand(Strict):
    on = Day(
        load_default=None,
        metadata={"description": "the day it counts for (default: today in the district)"},
    )


class VolunteerTeamCommand(ProgramCommand):
    name = Line(required=True, validate=validate.Length(min=1, max=100))


class VolunteerCommand(ProgramCommand):
    name = Line(required=True, validate=validate.Length(min=1, max=50))
    phone = Phone(required=True)


class SocialOrganisationCommand(ProgramCommand):
    name = Line(required=True, validate=validate.Length(min=1, max=100))


class DonationCommand(ProgramCommand):
    kind = fields.String(required=True, validate=validate.OneOf(sorted(DONATION_KINDS)))
    amount_fen = BoundedInteger(0, MAX_AMOUNT_FEN, load_default=0)
    goods = Line(load_default="", validate=validate.Length(max=200))
    quantity = BoundedInteger(0, MAX_QUANTITY, load_default=0)
    donor = Line(load_default="", validate=validate.Length(max=100))

    @validates_schema
    def _money_or_goods(self, data, **_):
        if data["kind"] == "money" and data["amount_fen"] <= 0:
            raise ValidationError(
                "a money donation needs amount_fen > 0 (integer fen)", "amount_fen"
            )
        if data["kind"] == "goods" and not data["goods"]:
            raise ValidationError("a goods donation says what the goods are", "goods")


class AidCommand(ProgramCommand):
    household_ref = Line(required=True, validate=validate.Length(min=1, max=100))
    items = Line(required=True, validate=validate.Length(min=1, max=200))
    value_fen = BoundedInteger(0, MAX_AMOUNT_FEN, load_default=0)


class ActivityCommand(ProgramCommand):
    activity_type = fields.String(required=True, validate=validate.OneOf(sorted(ACTIVITY_TYPES)))
    title = Line(required=True, validate=validate.Length(min=1, max=100))
    participants = BoundedInteger(0, MAX_PARTICIPANTS, load_default=0)


KIND_COMMANDS = {
    "volunteer_team": VolunteerTeamCommand,
    "volunteer": VolunteerCommand,
    "social_organisation": SocialOrganisationCommand,
    "donation": DonationCommand,
    "aid": AidCommand,
    "activity": ActivityCommand,
}


class CorrectionCommand(Strict):
    reason = Notes(required=True, validate=validate.Length(min=1, max=500))
    void = fields.Boolean(
        load_default=False,
        truthy={True},
        falsy={False},
        metadata={"description": "true: the record should not have been made; it counts no more"},
    )
    values = fields.Dict(
        load_default=None,
        metadata={
            "description": "the record as it should have been: the body its kind is recorded "
            "with (e.g. a donation's kind and amount_fen)"
        },
    )

    @staticmethod
    def values_or_void(data: dict) -> None:
        """Checked once the caller may touch the record (values of its kind, or void)."""
        if not data["void"] and not data.get("values"):
            raise ValidationError(
                {"values": ["a correction gives the corrected values (or void: true)"]}
            )
        if data["void"] and data.get("values"):
            raise ValidationError({"values": ["a void gives no values"]})


class ProgramQuery(Strict):
    kind = fields.String(
        validate=validate.OneOf(
            ("volunteer_team", "volunteer", "social_organisation", "donation", "aid", "activity")
        )
    )
    cursor = Cursor()
    limit = BoundedInteger(1, 500, strict=False, load_default=200)


class ProgramOut(Schema):
    record_id = fields.String(attribute="_id")
    kind = fields.String()
    corrects = fields.String(
        allow_none=True, metadata={"description": "a correction: the record it corrects or voids"}
    )
    station = fields.String()
    on = fields.String()
    recorded_by = fields.String()
    recorded_at = fields.String()
    details = fields.Dict()


class ProgramHistoryOut(Schema):
    """A record, every correction of it in order, and what it says now."""

    record = fields.Nested(ProgramOut)
    corrections = fields.List(fields.Nested(ProgramOut))
    void = fields.Boolean()
    revision = fields.Integer()
    current = fields.Dict(
        allow_none=True,
        metadata={"description": "the record's data as the latest revision says; null when voided"},
    )


class ProgramList(Schema):
    records = fields.List(fields.Nested(ProgramOut))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "pass as ``cursor`` for the next page; null on the last page"},
    )


class RosterQuery(Strict):
    day = fields.Date(load_default=None)


class OnDutyOut(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()


class RosterOut(Schema):
    station = fields.String()
    day = fields.String()
    holiday = fields.Boolean()
    on_duty = fields.List(fields.Nested(OnDutyOut))
    station_head = fields.Nested(OnDutyOut, allow_none=True)


class AccessQuery(Strict):
    case_id = Line(validate=validate.Length(max=200))
    resident_ref = Line(validate=validate.Length(max=200))
    after_seq = BoundedInteger(0, MAX_SEQUENCE, strict=False, load_default=0)
    cursor = Cursor()
    limit = BoundedInteger(1, 1000, strict=False, load_default=100)


class AccessEntryOut(Schema):
    seq = fields.Integer()
    case_id = fields.String(allow_none=True)
    resident_ref = fields.String(allow_none=True)
    actor = fields.String()
    role = fields.String()
    station = fields.String(allow_none=True)
    purpose = fields.String()
    at = fields.String()
    prev_hash = fields.String()
    hash = fields.String()


class AccessList(Schema):
    entries = fields.List(fields.Nested(AccessEntryOut))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "pass as ``cursor`` for the next page; null on the last page"},
    )


class AccessVerification(Schema):
    valid = fields.Boolean()
    checked = fields.Integer()
    first_invalid_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
