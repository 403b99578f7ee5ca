"""The reporting HTTP API (gunicorn): ``gunicorn 'services.reporting.api:create_app()'``."""

from werkzeug.wrappers import Response

from services.common import clock, config, mongo
from services.common.http import (
    Api,
    ApiError,
    Route,
    json_response,
    require_station,
    route,
    scoped_station,
)
from services.common.vocabulary import district
from services.reporting.api import dashboard as api_dashboard
from services.reporting.domain import csv_text
from services.reporting.domain import stations as domain_stations
from services.reporting.handlers import reports
from services.reporting.schemas import (
    StationsOut,
    StationsQuery,
    SummaryOut,
    SummaryQuery,
    TimeseriesOut,
    TimeseriesQuery,
    TraceOut,
)
from services.reporting.store import ReportStore

routes: list[Route] = []


def _period(call):
    query = call.query
    station = scoped_station(call.principal, query.get("station"))
    date_from = query["date_from"].isoformat() if query.get("date_from") else None
    date_to = query["date_to"].isoformat() if query.get("date_to") else None
    return station, date_from, date_to


def _wants_csv(call):
    if call.query.get("format"):
        return call.query["format"] == "csv"
    best = call.request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def _csv(text, name):
    return Response(
        text.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@route(routes, "/v1/reports/summary", query=SummaryQuery, response=SummaryOut, errors=(403,))
def get_summary(call):
    """The figures for a station (or the district, station omitted) over a period.

    ``Accept: text/csv`` or ``format=csv``: the same figures as CSV (figure, value).
    """
    station, date_from, date_to = _period(call)
    figures = reports.summary(call.context, station, date_from, date_to)
    body = SummaryOut().dump(
        {
            "district": district()["id"],
            "station": station,
            "date_from": date_from,
            "date_to": date_to,
            **figures,
        }
    )
    if _wants_csv(call):
        rows = csv_text.flatten(body)
        rows += [(f"table.{row['figure']}", row["value"]) for row in body["table"]]
        return _csv(csv_text.to_csv(("figure", "value"), rows), "summary")
    return json_response(body)


@route(routes, "/v1/reports/stations", query=StationsQuery, response=StationsOut, errors=(403,))
def get_stations(call):
    """Every township station side by side for a period: requests, cases by priority and
    by status now, time to accept (median, p90), breaches, programmes, and the cases
    open now by age. Station staff get their own station's row.

    ``Accept: text/csv`` or ``format=csv``: the same, one CSV line per station.
    """
    station, date_from, date_to = _period(call)
    now = clock.now()
    rows = reports.stations_side_by_side(
        call.context, date_from, date_to, clock.to_ms(now), station
    )
    if _wants_csv(call):
        return _csv(csv_text.to_csv(*domain_stations.csv_rows(rows)), "stations")
    return json_response(
        StationsOut().dump(
            {
                "district": district()["id"],
                "date_from": date_from,
                "date_to": date_to,
                "as_of": clock.iso(now),
                "stations": rows,
            }
        )
    )


@route(
    routes, "/v1/reports/timeseries", query=TimeseriesQuery, response=TimeseriesOut, errors=(403,)
)
def get_timeseries(call):
    """One figure per day, ISO week or month, for a station or the district.

    ``Accept: text/csv`` or ``format=csv``: the same points as CSV (period, value).
    """
    station, date_from, date_to = _period(call)
    metric, interval = call.query["metric"], call.query["interval"]
    found = reports.series(
        call.context, metric, interval, station, date_from, date_to, clock.local_day(clock.now())
    )
    cut = (
        {"X-Series-Truncated": "true", "X-Series-First-Kept": found["first_kept"]}
        if found["truncated"]
        else {}
    )
    if _wants_csv(call):
        answer = _csv(
            csv_text.to_csv(
                ("period", metric), [(p["period"], p["value"]) for p in found["points"]]
            ),
            f"{metric}-{interval}",
        )
        answer.headers.update(cut)
        return answer
    return json_response(
        TimeseriesOut().dump(
            {
                "metric": metric,
                "interval": interval,
                "station": station,
                "date_from": date_from,
                "date_to": date_to,
                **found,
            }
        ),
        headers=cut or None,
    )


@route(routes, "/v1/trace/<request_id>", response=TraceOut, errors=(403, 404))
def get_trace(call, request_id):
    """Everything that happened to one request, in order, across every service."""
    station, events = reports.trace(call.context, request_id)
    if not events:
        raise ApiError(404, "not_found", "no event of this request is known")
    if station:
        require_station(call.principal, station)
    elif not call.principal.district_wide:
        raise ApiError(403, "forbidden", "this request belongs to no station you may see")
    return json_response(
        TraceOut().dump({"request_id": request_id, "station": station, "events": events})
    )


def create_app(settings=None):
    """The reporting WSGI app on ``settings``. gunicorn calls it with none: this is the
    API process's entry point, where the environment is read (once); a test passes its own."""
    if settings is None:
        settings = config.settings()
    store = ReportStore(mongo.database(settings, "reporting"))
    return Api("reporting", settings, routes + api_dashboard.routes, store)
