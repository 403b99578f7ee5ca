"""marshmallow schemas of the reporting HTTP API."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.common.fields import Strict
from services.common.vocabulary import stations


class SummaryQuery(Strict):
    station = fields.String(validate=validate.OneOf(sorted(stations()),
                                                    error="unknown station {input!r}"))
    # 'from' is a Python keyword: the query parameters map onto date_from / date_to.
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")

    @validates_schema
    def _ordered(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("'from' must not be after 'to'", "from")


class Durations(Schema):
    count = fields.Integer(required=True)
    median = fields.Float(allow_none=True, metadata={"description": "seconds"})
    p90 = fields.Float(allow_none=True, metadata={"description": "seconds, nearest rank"})


class DayOut(Schema):
    day = fields.String(metadata={"description": "YYYY-MM-DD, the district's calendar"})
    requests_received = fields.Integer()
    cases_opened = fields.Integer()
    cases_accepted = fields.Integer()
    cases_resolved = fields.Integer()


def _tally(description):
    return fields.Dict(keys=fields.String(), values=fields.Integer(),
                       metadata={"description": description})


class SummaryOut(Schema):
    """The figures of a station (or the district) for a period, from the events alone."""
    district = fields.String()
    station = fields.String(allow_none=True, metadata={"description": "null: the whole district"})
    date_from = fields.String(data_key="from", allow_none=True)
    date_to = fields.String(data_key="to", allow_none=True)
    requests_received = fields.Integer()
    requests_by_channel = _tally("requests received, by channel")
    requests_by_need_type = _tally("requests received, by need type")
    residents_served = fields.Integer(metadata={"description": "distinct residents (pseudonymous)"})
    cases_opened = fields.Integer()
    cases_by_priority = _tally("cases opened, by priority")
    cases_by_need_type = _tally("cases opened, by need type")
    cases_accepted = fields.Integer()
    cases_resolved = fields.Integer()
    urgent_cases_resolved = fields.Integer()
    time_to_accept_seconds = fields.Nested(Durations, metadata={
        "description": "from the request's received_at to acceptance, cases accepted in the period"})
    time_to_resolve_seconds = fields.Nested(Durations, metadata={
        "description": "from the request's received_at to resolution, cases resolved in the period"})
    messages_sent = fields.Integer()
    by_day = fields.List(fields.Nested(DayOut), metadata={
        "description": "the same counts per district calendar day (days with any)"})
