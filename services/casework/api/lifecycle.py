"""The casework HTTP API's commands for the rest of a case's life (domain/lifecycle.py,
domain/referrals.py): refer, record a referral's answer, close, reopen, cancel, reassign,
escalate. Each runs as cases.command: the answer is the case in full, recorded.
"""

from services.casework import handlers
from services.casework.api.cases import CASE_ERRORS, command, in_full
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import referrals as domain_referrals
from services.casework.domain.roster import station_head
from services.casework.schemas import (
    CancelCommand,
    CaseOut,
    CloseCommand,
    EscalateCommand,
    ReassignCommand,
    ReferCommand,
    ReferralAnswerCommand,
    ReopenCommand,
)
from services.common import agencies, ids
from services.common.http import ApiError, Route, route

routes: list[Route] = []


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
    agency = agencies.partners(call.context.settings).get(call.body["agency"])
    if agency is not None:
        store, referral_id = call.context.store, f"ref-{ids.uuid4()}"
        return command(
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
    return command(
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
    return command(
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
    return command(
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
    return command(
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
    return command(
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
    return command(
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
    return command(
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
