"""The data of the station-program events (volunteer teams, social organisations,
donations, aid, activities) and of their corrections: each carries ``ProgramRef``.

Part of the event schemas (``events.py``, which re-exports these names; the catalogue,
``contracts.py``, names them from there).
"""

from marshmallow import fields, validate

from services.common.fields import (
    MAX_AMOUNT_FEN,
    MAX_PARTICIPANTS,
    MAX_QUANTITY,
    BoundedInteger,
    Day,
    Line,
    Notes,
    StationId,
    Strict,
)
from services.common.vocabulary import ACTIVITY_TYPES, DONATION_KINDS

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
