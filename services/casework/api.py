"""The casework HTTP API (gunicorn): read cases, accept, record work, resolve.

``gunicorn 'services.casework.api:create_app()'``
"""
from dataclasses import dataclass

from services.common import clock, config, mongo
from services.common.http import (
    Api, ApiError, json_response, require_station, route, scoped_station,
)
from services.common.messaging import EventPublisher
from services.common.outbox import OutboxRelay
from services.casework import domain, handlers
from services.casework.schemas import (
    AcceptCommand, ActionCommand, CaseList, CaseOut, CaseQuery, ResolveCommand,
)
from services.casework.store import CaseStore

routes = []


@dataclass
class Context:
    store: CaseStore
    relay: OutboxRelay


def _load_case(call, case_id):
    case, _ = call.context.store.get(case_id)
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    require_station(call.principal, case.station)
    return case


def _command(call, case_id, purpose, decide):
    body = call.body
    case = _load_case(call, case_id)
    try:
        changed = handlers.run_command(
            call.context.store, call.context.relay, case.case_id,
            lambda current: decide(current, body), expected_version=body.get("version"),
            causation_id=f"http:{call.correlation_id}")
    except domain.CaseError as exc:
        raise ApiError(exc.status, exc.code, exc.reason) from None
    call.context.store.record_access(case.case_id, call.principal, purpose)
    return json_response(CaseOut().dump(changed))


@route(routes, "/v1/cases", query=CaseQuery, response=CaseList, errors=(403,))
def list_cases(call):
    """Cases of a station (staff: their own), newest first; the resident masked."""
    query = call.query
    station = scoped_station(call.principal, query.get("station"))
    cases = call.context.store.find(station, query.get("status"), query.get("request_id"),
                                    query["limit"])
    return json_response(CaseList().dump({"cases": cases}))


@route(routes, "/v1/cases/<case_id>", response=CaseOut, errors=(403, 404))
def get_case(call, case_id):
    """One case in full, for its station's staff; the read is recorded."""
    case = _load_case(call, case_id)
    call.context.store.record_access(case.case_id, call.principal, "view")
    return json_response(CaseOut().dump(case))


@route(routes, "/v1/cases/<case_id>/accept", methods=["POST"], body=AcceptCommand,
       response=CaseOut, errors=(403, 404, 409))
def accept_case(call, case_id):
    """The assigned worker takes the case on (409 unless it is assigned)."""
    return _command(call, case_id, "accept",
                    lambda case, body: domain.accept(case, call.principal, clock.now()))


@route(routes, "/v1/cases/<case_id>/actions", methods=["POST"], body=ActionCommand,
       response=CaseOut, errors=(403, 404, 409))
def record_action(call, case_id):
    """Record work done on an accepted case: call, visit, purchase, delivery, note."""
    return _command(call, case_id, "record_action",
                    lambda case, body: domain.record_action(case, call.principal, body["type"],
                                                            body["note"], clock.now()))


@route(routes, "/v1/cases/<case_id>/resolve", methods=["POST"], body=ResolveCommand,
       response=CaseOut, errors=(403, 404, 409))
def resolve_case(call, case_id):
    """Resolve an accepted case; the resident is told and the district counts it."""
    return _command(call, case_id, "resolve",
                    lambda case, body: domain.resolve(case, call.principal, body["summary"],
                                                      clock.now()))


def create_app(settings=None):
    settings = settings or config.settings()
    database = mongo.database(settings, "casework")
    store = CaseStore(database)
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": store.cases},
                        settings.relay_grace_s)
    return Api("casework", settings, routes, Context(store, relay))
