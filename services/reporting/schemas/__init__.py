"""marshmallow schemas of the reporting HTTP API."""

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.common.fields import Strict
from services.common.vocabulary import stations
from services.reporting.domain.figures import METRICS
from services.reporting.domain.series import INTERVALS, MAX_POINTS

FORMATS = ("json", "csv")
# the calendar the figures may be asked for: wide, but finite
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


class PeriodQuery(Strict):
    station = fields.String(
        validate=validate.OneOf(sorted(stations()), error="unknown station {input!r}")
    )
    # 'from' is a Python keyword: the query parameters map onto date_from / date_to.
    date_from = fields.Date(data_key="from", validate=validate.Range(FIRST_DAY, LAST_DAY))
    date_to = fields.Date(data_key="to", validate=validate.Range(FIRST_DAY, LAST_DAY))
    format = fields.String(
        validate=validate.OneOf(FORMATS),
        metadata={"description": "csv: the same figures as CSV (as with Accept: text/csv)"},
    )

    @validates_schema
    def _ordered(self, data, **_):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("'from' must not be after 'to'", "from")


class SummaryQuery(PeriodQuery):
    pass


class StationsQuery(PeriodQuery):
    """A period, for every station at once (no ``station``)."""

    class Meta:
        exclude = ("station",)


class TimeseriesQuery(PeriodQuery):
    metric = fields.String(required=True, validate=validate.OneOf(sorted(METRICS)))
    interval = fields.String(load_default="day", validate=validate.OneOf(INTERVALS))

    @validates_schema
    def _bounded(self, data, **_):
        first, last = data.get("date_from"), data.get("date_to")
        if (
            first
            and last
            and data.get("interval", "day") == "day"
            and (last - first).days >= MAX_POINTS
        ):
            raise ValidationError(
                f"a daily series has at most {MAX_POINTS} days; ask for weeks or months", "to"
            )


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
    cases_closed = fields.Integer()
    cases_cancelled = fields.Integer()
    sla_breaches = fields.Integer()
    messages_sent = fields.Integer()
    messages_delivered = fields.Integer()
    messages_failed = fields.Integer()
    cases_by_status = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "cases opened that day, by their status now"},
    )


def _tally(description):
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": description}
    )


class ProgramsOut(Schema):
    volunteer_teams_formed = fields.Integer(metadata={"description": "志愿服务队"})
    volunteers_joined = fields.Integer()
    social_organisations_cultivated = fields.Integer(metadata={"description": "社会组织"})
    donations = fields.Integer()
    donations_by_kind = _tally("donations received, money or goods")
    donations_fen = fields.Integer(metadata={"description": "money donated, integer fen"})
    donations_yuan = fields.Float()
    goods_quantity = fields.Integer()
    aid_distributions = fields.Integer()
    households_aided = fields.Integer(
        metadata={
            "description": "distinct households in hardship given aid supplies (pseudonymous)"
        }
    )
    aid_value_fen = fields.Integer()
    activities = fields.Integer()
    activities_by_type = _tally("activities held, by type")
    trainings = fields.Integer()
    activity_participants = fields.Integer()


class TableRow(Schema):
    figure = fields.String()
    label = fields.String()
    value = fields.Float()
    unit = fields.String()


class SummaryOut(Schema):
    """The figures of a station (or the district) for a period, from the events alone."""

    district = fields.String()
    station = fields.String(allow_none=True, metadata={"description": "null: the whole district"})
    date_from = fields.String(data_key="from", allow_none=True)
    date_to = fields.String(data_key="to", allow_none=True)
    requests_received = fields.Integer()
    requests_by_channel = _tally("requests received, by channel")
    requests_by_need_type = _tally("requests received, by need type")
    repeat_requests = fields.Integer()
    residents_served = fields.Integer(metadata={"description": "distinct residents (pseudonymous)"})
    cases_opened = fields.Integer()
    cases_by_priority = _tally("cases opened, by priority")
    cases_by_need_type = _tally("cases opened, by need type")
    cases_by_status = _tally("cases opened in the period, by their status now")
    cases_accepted = fields.Integer()
    cases_accepted_by_priority = _tally("cases accepted (first acceptance), by priority")
    cases_resolved = fields.Integer()
    cases_resolved_by_priority = _tally("cases resolved, by priority")
    cases_closed = fields.Integer()
    cases_closed_by_priority = _tally("cases closed, by priority")
    cases_cancelled = fields.Integer()
    cases_cancelled_by_priority = _tally("cases cancelled, by priority")
    cases_reopened = fields.Integer()
    urgent_cases_resolved = fields.Integer()
    time_to_accept_seconds = fields.Nested(
        Durations,
        metadata={
            "description": "from the request's received_at to acceptance, "
            "cases accepted in the period"
        },
    )
    time_to_resolve_seconds = fields.Nested(
        Durations,
        metadata={
            "description": "from the request's received_at to resolution, "
            "cases resolved in the period"
        },
    )
    sla_breaches = fields.Integer()
    sla_breaches_by_kind = _tally("service levels breached, by kind")
    escalations = fields.Integer()
    referrals = fields.Integer()
    actions_by_type = _tally("work recorded on cases, by type")
    messages_sent = fields.Integer()
    messages_delivered = fields.Integer()
    messages_failed = fields.Integer()
    programs = fields.Nested(ProgramsOut)
    table = fields.List(
        fields.Nested(TableRow),
        metadata={"description": "the district's table (DOMAIN.md), labelled in Chinese"},
    )
    by_day = fields.List(
        fields.Nested(DayOut),
        metadata={"description": "the same counts per district calendar day (days with any)"},
    )


class StationProgramsOut(Schema):
    volunteer_teams_formed = fields.Integer(metadata={"description": "志愿服务队"})
    volunteers_joined = fields.Integer()
    social_organisations_cultivated = fields.Integer(metadata={"description": "社会组织"})
    donations_yuan = fields.Float()
    households_aided = fields.Integer()
    activities = fields.Integer()


class OpenCasesByAge(Schema):
    under_1d = fields.Integer(metadata={"description": "opened less than a day ago"})
    _1_to_3d = fields.Integer(data_key="1_to_3d", attribute="1_to_3d")
    _3_to_7d = fields.Integer(data_key="3_to_7d", attribute="3_to_7d")
    _7_to_30d = fields.Integer(data_key="7_to_30d", attribute="7_to_30d")
    over_30d = fields.Integer(metadata={"description": "opened 30 days ago or more"})


class StationRowOut(Schema):
    station = fields.String()
    name = fields.String()
    requests_received = fields.Integer()
    cases_opened = fields.Integer()
    cases_by_priority = _tally("cases opened in the period, by priority")
    cases_by_status = _tally("cases opened in the period, by their status now")
    time_to_accept_seconds = fields.Nested(
        Durations,
        metadata={
            "description": "from the request's received_at to acceptance, "
            "cases accepted in the period"
        },
    )
    sla_breaches = fields.Integer()
    programs = fields.Nested(StationProgramsOut)
    open_cases = fields.Integer(metadata={"description": "cases open now, whatever the period"})
    open_cases_by_age = fields.Nested(
        OpenCasesByAge,
        metadata={"description": "the cases open now by the time since they were opened"},
    )


class StationsOut(Schema):
    """Every township station side by side for a period (station staff: their own)."""

    district = fields.String()
    date_from = fields.String(data_key="from", allow_none=True)
    date_to = fields.String(data_key="to", allow_none=True)
    as_of = fields.String(metadata={"description": "when the open cases were counted"})
    stations = fields.List(fields.Nested(StationRowOut))


class PointOut(Schema):
    period = fields.String(metadata={"description": "first day of the day, ISO week or month"})
    value = fields.Float(allow_none=True)


class TimeseriesOut(Schema):
    """One figure per day, week or month."""

    metric = fields.String()
    interval = fields.String()
    station = fields.String(allow_none=True)
    date_from = fields.String(data_key="from", allow_none=True)
    date_to = fields.String(data_key="to", allow_none=True)
    points = fields.List(fields.Nested(PointOut))
    truncated = fields.Boolean(
        metadata={
            "description": f"true: the series had more than {MAX_POINTS} periods and the newest "
            f"{MAX_POINTS} are shown; older ones (and their data) were left out"
        }
    )
    first_kept = fields.String(
        allow_none=True,
        metadata={
            "description": "the first period shown (null: none); with truncated, everything "
            "before it was left out"
        },
    )


class TraceEvent(Schema):
    id = fields.String()
    type = fields.String()
    step = fields.String(metadata={"description": "e.g. case.opened"})
    time = fields.String()
    source = fields.String()
    subject = fields.String(allow_none=True)
    sequence = fields.Integer(allow_none=True)
    correlationid = fields.String()
    causationid = fields.String(allow_none=True)
    station = fields.String(allow_none=True)
    data = fields.Dict(metadata={"description": "the event's data, personal fields removed"})


class TraceOut(Schema):
    """Everything that happened to one request, in order, across the services."""

    request_id = fields.String()
    station = fields.String(allow_none=True)
    events = fields.List(fields.Nested(TraceEvent))
