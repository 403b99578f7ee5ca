"""The casework HTTP API (gunicorn): cases and their whole life, station programs
(programs.py), rosters and the access log (access.py).

``gunicorn 'services.casework.api:create_app()'``
"""

import uuid
from dataclasses import dataclass, replace

from services.casework import domain, handlers
from services.casework.api import access, export, programs, referrals, residents
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import referrals as domain_referrals
from services.casework.domain.roster import calendar_warning, station_head
from services.casework.schemas import (
    AcceptCommand,
    ActionCommand,
    CancelCommand,
    CaseList,
    CaseOut,
    CaseQuery,
    CloseCommand,
    EscalateCommand,
    ReassignCommand,
    ReferCommand,
    ReferralAnswerCommand,
    ReopenCommand,
    ResolveCommand,
)
from services.casework.store import OUTBOX_COLLECTIONS, CaseStore
from services.common import agencies, clock, config, mongo
from services.common.http import (
    Api,
    ApiError,
    Route,
    json_response,
    require_station,
    route,
    scoped_station,
)
from services.common.outbox import OutboxRelay, relay_for

routes: list[Route] = []
CASE_ERRORS = (403, 404, 409)


@dataclass
class Context:
    store: CaseStore
    relay: OutboxRelay
    settings: config.Settings


# The HTTP answer to each kind of refusal the case rules make.
HTTP_STATUS = {domain.NotAllowed: 403, domain.IllegalTransition: 409, domain.StaleCase: 409}


def http_status(refusal: domain.CaseError) -> int:
    """The HTTP status for a refusal: its kind's, else 409 (a conflict with the rules)."""
    return next((status for kind, status in HTTP_STATUS.items() if isinstance(refusal, kind)), 409)


def _load_case(call, case_id):
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


def _command(call, case_id, purpose, decide):
    """Run a command on a case as the caller; the answer (resident in full) is recorded."""
    body = call.body
    case = _load_case(call, case_id)
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
    case = _load_case(call, case_id)
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
    return _command(
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
    return _command(
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
    return _command(
        call,
        case_id,
        "resolve",
        lambda case, body, now: domain.resolve(case, call.principal, body["summary"], now),
    )


@route(
    routes,
    "/v1/cases/<case_id>/refer",
    methods=["POST"],
    body=ReferCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def refer_case(call, case_id):
    """Refer an accepted case to another agency; it waits for the agency's answer.

    ``agency`` the id of a registered partner agency (docs/agencies.md): the referral is
    sent to it (only what its purpose names) and it answers itself. Any other name: a
    referral made by other means, whose answer staff record (``referral-answer``).
    """
    agency = agencies.registry(call.context.settings).get(call.body["agency"])
    if agency is not None:
        store, referral_id = call.context.store, f"ref-{uuid.uuid4()}"
        return _command(
            call,
            case_id,
            "refer",
            lambda case, body, now: domain_referrals.refer_to_agency(
                case,
                call.principal,
                agency,
                in_full(store, case).resident,
                body["note"],
                now,
                referral_id,
            ),
        )
    return _command(
        call,
        case_id,
        "refer",
        lambda case, body, now: domain_lifecycle.refer(
            case, call.principal, body["agency"], body["note"], now
        ),
    )


@route(
    routes,
    "/v1/cases/<case_id>/referral-answer",
    methods=["POST"],
    body=ReferralAnswerCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def answer_referral(call, case_id):
    """The agency's answer: accepted resolves the case, rejected returns it to its worker."""
    return _command(
        call,
        case_id,
        "answer_referral",
        lambda case, body, now: domain_lifecycle.answer_referral(
            case, call.principal, body["accepted"], body["note"], now
        ),
    )


@route(
    routes,
    "/v1/cases/<case_id>/close",
    methods=["POST"],
    body=CloseCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def close_case(call, case_id):
    """File a resolved case; closed is final."""
    return _command(
        call,
        case_id,
        "close",
        lambda case, body, now: domain_lifecycle.close(case, call.principal, now),
    )


@route(
    routes,
    "/v1/cases/<case_id>/reopen",
    methods=["POST"],
    body=ReopenCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def reopen_case(call, case_id):
    """Reopen a resolved case within the allowed period (SHEGONG_REOPEN_DAYS)."""
    settings = call.context.settings
    return _command(
        call,
        case_id,
        "reopen",
        lambda case, body, now: domain_lifecycle.reopen(
            case,
            call.principal,
            body["reason"],
            now,
            settings.reopen_window_s,
            handlers.service_levels(settings),
        ),
    )


@route(
    routes,
    "/v1/cases/<case_id>/cancel",
    methods=["POST"],
    body=CancelCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def cancel_case(call, case_id):
    """Cancel an open case: a duplicate, or withdrawn by the resident."""
    return _command(
        call,
        case_id,
        "cancel",
        lambda case, body, now: domain_lifecycle.cancel(case, call.principal, body["reason"], now),
    )


@route(
    routes,
    "/v1/cases/<case_id>/reassign",
    methods=["POST"],
    body=ReassignCommand,
    response=CaseOut,
    errors=CASE_ERRORS + (422,),
)
def reassign_case(call, case_id):
    """The station head gives the case to another worker of the station."""
    worker = call.context.store.worker(call.body["worker_id"])
    if worker is None:
        raise ApiError(
            422,
            "invalid_fields",
            "some fields are invalid",
            {"worker_id": [f"no worker {call.body['worker_id']}"]},
        )
    return _command(
        call,
        case_id,
        "reassign",
        lambda case, body, now: domain_lifecycle.reassign(case, call.principal, worker, now),
    )


@route(
    routes,
    "/v1/cases/<case_id>/escalate",
    methods=["POST"],
    body=EscalateCommand,
    response=CaseOut,
    errors=CASE_ERRORS,
)
def escalate_case(call, case_id):
    """Hand the case up to the station head."""
    store = call.context.store
    return _command(
        call,
        case_id,
        "escalate",
        lambda case, body, now: domain_lifecycle.escalate(
            case,
            call.principal,
            station_head(store.roster(case.station), case.station),
            body["note"],
            now,
        ),
    )


def create_app(settings=None):
    """The casework WSGI app on ``settings``. gunicorn calls it with none: this is the API
    process's entry point, where the environment is read (once); a test passes its own."""
    if settings is None:
        settings = config.settings()
    database = mongo.database(settings, "casework")
    store = CaseStore(database)
    relay = relay_for(settings, "casework", OUTBOX_COLLECTIONS)
    api = Api(
        "casework",
        settings,
        export.routes
        + routes
        + programs.routes
        + access.routes
        + residents.routes
        + referrals.routes,
        Context(store, relay, settings),
    )
    api.warning_checks["holiday_calendar"] = lambda: calendar_warning(
        store.calendar(), clock.local_day(clock.now()), settings.holiday_warning_days
    )
    return api
