"""The reporting HTTP API (gunicorn): ``gunicorn 'services.reporting.api:create_app()'``."""
from services.common import config, mongo
from services.common.http import Api, json_response, route, scoped_station
from services.common.vocabulary import district
from services.reporting import handlers
from services.reporting.schemas import SummaryOut, SummaryQuery
from services.reporting.store import ReportStore

routes = []


@route(routes, "/v1/reports/summary", query=SummaryQuery, response=SummaryOut, errors=(403,))
def get_summary(call):
    """The figures for a station (or the district, station omitted) over a period."""
    query = call.query
    station = scoped_station(call.principal, query.get("station"))
    date_from = query["date_from"].isoformat() if query.get("date_from") else None
    date_to = query["date_to"].isoformat() if query.get("date_to") else None
    figures = handlers.summary(call.context, station, date_from, date_to)
    return json_response(SummaryOut().dump({"district": district()["id"], "station": station,
                                            "date_from": date_from, "date_to": date_to,
                                            **figures}))


def create_app(settings=None):
    settings = settings or config.settings()
    store = ReportStore(mongo.database(settings, "reporting"))
    return Api("reporting", settings, routes, store)
