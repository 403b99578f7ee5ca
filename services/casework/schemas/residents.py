"""marshmallow schemas of the residents API (the registry, read by station staff)."""

from marshmallow import Schema, fields, validate

from services.casework.schemas import CaseSummaryOut
from services.common.fields import AnyDay, BoundedInteger, Line, Strict
from services.common.paging import Cursor
from services.common.vocabulary import stations


class ResidentQuery(Strict):
    q = Line(
        validate=validate.Length(min=1, max=50),
        metadata={"description": "part of a name, digits of a phone number, or a whole ID number"},
    )
    station = fields.String(validate=validate.OneOf(sorted(stations())))
    cursor = Cursor()
    limit = BoundedInteger(1, 200, strict=False, load_default=20)


class ContactOut(Schema):
    name = fields.String()
    relation = fields.String()
    phone = fields.String()


class ResidentSummaryOut(Schema):
    """A resident found: masked unless the caller's role sees personal data in full
    (station heads, district administrators; those reads are recorded)."""

    resident_ref = fields.String()
    station = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    key_person = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class ResidentList(Schema):
    residents = fields.List(fields.Nested(ResidentSummaryOut))
    masked = fields.Boolean(metadata={"description": "whether personal fields are masked"})
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "pass as ``cursor`` for the next page; null on the last page"},
    )


class ResidentOut(ResidentSummaryOut):
    """One resident in full with their emergency contacts and cases: the read is recorded."""

    emergency_contacts = fields.List(fields.Nested(ContactOut))
    cases = fields.List(fields.Nested(CaseSummaryOut))


class ExportQuery(Strict):
    from_ = AnyDay(
        required=True,
        data_key="from",
        metadata={"description": "first day of the period (district time), e.g. 2026-11-01"},
    )
    to = AnyDay(required=True, metadata={"description": "last day of the period, included"})
    station = fields.String(validate=validate.OneOf(sorted(stations())))
    personal = fields.String(
        load_default="masked",
        validate=validate.OneOf(("masked", "full")),
        metadata={"description": "full: names and phones in full (station heads, district admins)"},
    )
