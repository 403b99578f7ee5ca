"""The casework HTTP API's cases: the lists, one case in full, and the worker's own
commands (accept, record an action, resolve); every command answers the case with its
resident in full, and the answer is recorded in the access log. The rest of a case's
life (referral, closing, reopening, ...) is in lifecycle.py.
"""

from dataclasses import replace

from services.casework import domain, handlers
from services.casework.schemas import (
    AcceptCommand,
    ActionCommand,
    CaseList,
    CaseOut,
    CaseQuery,
    ResolveCommand,
)
from services.common import clock
from services.common.http import (
    ApiError,
    Route,
    json_response,
    require_station,
    route,
    scoped_station,
)

routes: list[Route] = []
CASE_ERRORS = (403, 404, 409)


# The HTTP answer to each kind of refusal the case rules make.
HTTP_STATUS = {domain.NotAllowed: 403, domain.IllegalTransition: 409, domain.StaleCase: 409}


def http_status(refusal: domain.CaseError) -> int:
    """The HTTP status for a refusal: its kind's, else 409 (a conflict with the rules)."""
    return next((status for kind, status in HTTP_STATUS.items() if isinstance(refusal, kind)), 409)


def load_case(call, case_id):
    case, _ = call.context.store.get(case_id)
    if case is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    require_station(call.principal, case.station)
    return case


def in_full(store, case):
    """The case with its resident in full, from the registry (the only place it lives)."""
    record = store.residents.get(case.resident_ref)
    if not record:
        return case
    resident = {
        "name": record.get("name"),
        "phone": record.get("phone"),
        "categories": list(record.get("categories", case.resident.get("categories", []))),
        "id_number": record.get("id_number"),
        "emergency_contacts": list(record.get("emergency_contacts", [])),
    }
    return replace(case, resident=resident)


def command(call, case_id, purpose, decide):
    """Run a command on a case as the caller; the answer (resident in full) is recorded."""
    body = call.body
    case = load_case(call, case_id)
    now = clock.now()
    try:
        changed = handlers.run_command(
            call.context.store,
            call.context.relay,
            case.case_id,
            lambda current: decide(current, body, now),
            expected_version=body.get("version"),
            causation_id=f"http:{call.correlation_id}",
        )
    except domain.CaseError as exc:
        raise ApiError(http_status(exc), exc.code, exc.reason) from None
    call.context.store.record_access(case.case_id, call.principal, purpose, case.station)
    return json_response(CaseOut().dump(in_full(call.context.store, changed)))


@route(routes, "/v1/cases", query=CaseQuery, response=CaseList, errors=(403,))
def list_cases(call):
    """Cases of a station (staff: their own), earliest deadline first; the resident masked.

    ``status`` and ``priority`` take several values (``status=assigned,accepted``);
    ``assignee=me`` is the caller's own cases; ``overdue=true`` those past their
    acceptance or resolution deadline; ``sort=opened`` newest first. Paged: pass the
    answer's ``next_cursor`` as ``cursor``.
    """
    query = call.query
    assignee = query.get("assignee")
    filters = {
        "station": scoped_station(call.principal, query.get("station")),
        "statuses": query.get("status"),
        "priorities": query.get("priority"),
        "request_id": query.get("request_id"),
        "assignee": call.principal.id if assignee == "me" else assignee,
        "overdue": query.get("overdue"),
        "now_ms": clock.to_ms(clock.now()),
    }
    cases, next_cursor = call.context.store.page(
        filters, query["sort"], query["limit"], query.get("cursor")
    )
    return json_response(CaseList().dump({"cases": cases, "next_cursor": next_cursor}))


@route(routes, "/v1/cases/<case_id>", response=CaseOut, errors=(403, 404))
def get_case(call, case_id):
    """One case in full, for its station's staff; the read is recorded."""
    case = load_case(call, case_id)
    call.context.store.record_access(case.case_id, call.principal, "view", case.station)
    return json_response(CaseOut().dump(in_full(call.context.store, case)))


@route(
    routes,
    "/v1/cases/<case_id>/accept",
    methods=["POST"],
    body=AcceptCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def accept_case(call, case_id):
    """The assigned worker takes the case on (409 unless it is assigned)."""
    return command(
        call, case_id, "accept", lambda case, body, now: domain.accept(case, call.principal, now)
    )


@route(
    routes,
    "/v1/cases/<case_id>/actions",
    methods=["POST"],
    body=ActionCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def record_action(call, case_id):
    """Record work done: call, visit, purchase, delivery, referral, note (append-only)."""
    return command(
        call,
        case_id,
        "record_action",
        lambda case, body, now: domain.record_action(
            case, call.principal, body["type"], body["note"], now
        ),
    )


@route(
    routes,
    "/v1/cases/<case_id>/resolve",
    methods=["POST"],
    body=ResolveCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def resolve_case(call, case_id):
    """Resolve an accepted case; the resident is told and the district counts it."""
    return command(
        call,
        case_id,
        "resolve",
        lambda case, body, now: domain.resolve(case, call.principal, body["summary"], now),
    )
