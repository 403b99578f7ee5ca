"""The rest of a case's life (pure, no I/O): referral, closing, reopening, cancelling,
reassignment and escalation, service-level breaches, and repeat requests.

Escalation and reassignment change the owner, never the status. Every command returns
``(case, events)`` like those of domain/__init__.py, or raises a CaseError with the reason.
"""

from dataclasses import replace

from services.casework.domain import (
    IllegalTransition,
    NotAllowed,
    assigned_event,
    changed,
    escalated_event,
    log_action,
    require_owner_or_head,
    require_status,
    resolved,
    sla,
)
from services.casework.domain.roster import staff
from services.common import clock
from services.common.contracts import (
    CASE_CANCELLED,
    CASE_CLOSED,
    CASE_REFERRAL_ANSWERED,
    CASE_REFERRED,
    CASE_REOPENED,
    CASE_REQUEST_LINKED,
    CASE_SLA_BREACHED,
)
from services.common.vocabulary import OPEN_CASE_STATUSES

CANCELLABLE = ("received", "assigned", "accepted", "in_progress")


class RepeatNotYetOpened(Exception):
    """A repeat request whose first request has no case yet: it must wait for that case
    to join it, or it would open a second case for the same resident and need.

    Not a CaseError (no HTTP answer): the entrypoint raises it so that the message is
    retried with the service's retry delays, and dead-lettered with this reason if the
    first request's case is still missing when the delays are used up.
    """

    def __init__(self, request_id, first_request_id):
        super().__init__(
            f"request {request_id} repeats request {first_request_id}, which has "
            "no case yet; retried until it has one (if it never gets one: "
            "replay the first request's request.received, then this one)"
        )
        self.request_id = request_id
        self.first_request_id = first_request_id


def _require_head(case, actor, command):
    if actor.role == "district_admin":
        return
    if actor.role == "station_head" and actor.station == case.station:
        return
    raise NotAllowed(f"only the station head or the district may {command}")


def refer(case, actor, agency, note, now):
    """Refer the case to another agency (civil affairs, health, disabled persons'
    federation...); it stays open, owned by its worker, until the agency answers."""
    require_status(case, "refer", ("accepted", "in_progress"))
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    case = changed(
        case,
        status="referred",
        actions=log_action(case, actor, "referral", note, at),
        referral={
            "agency": agency,
            "referred_by": actor.id,
            "referred_at": at,
            "answer": None,
            "answered_at": None,
        },
    )
    return case, [
        (
            CASE_REFERRED,
            {**case.ref(), "agency": agency, "referred_by": actor.id, "referred_at": at},
        )
    ]


def answer_referral(case, actor, accepted, note, now):
    """Record the agency's answer: accepted resolves the case (the agency takes it on),
    rejected hands it back to its worker, in progress."""
    require_status(case, "answer the referral of", ("referred",))
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    agency = case.referral["agency"]
    referral = {
        **case.referral,
        "answer": "accepted" if accepted else "rejected",
        "answered_at": at,
    }
    if accepted:
        case, events = resolved(
            replace(case, referral=referral), actor, note or f"已转介至{agency}", at
        )
    else:
        case, events = changed(case, status="in_progress", referral=referral), []
    answered = (
        CASE_REFERRAL_ANSWERED,
        {**case.ref(), "agency": agency, "accepted": accepted, "answered_at": at},
    )
    return case, [answered, *events]


def close(case, actor, now):
    """File a resolved case; closed is final."""
    require_status(case, "close", ("resolved",))
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    case = changed(case, status="closed", closed_at=at)
    return case, [(CASE_CLOSED, {**case.ref(), "closed_by": actor.id, "closed_at": at})]


def reopen(case, actor, reason, now, window_s, levels):
    """Reopen a resolved case within ``window_s`` of its resolution: back to its owner,
    assigned, with fresh service-level clocks."""
    require_status(case, "reopen", ("resolved",))
    require_owner_or_head(case, actor)
    resolved_ms = clock.to_ms(clock.parse_iso(case.resolved_at))
    if clock.to_ms(now) - resolved_ms > window_s * 1000:
        raise IllegalTransition(
            f"the case was resolved more than {window_s // 86400} day(s) "
            "ago and can no longer be reopened; open a new request"
        )
    at = clock.iso(now)
    accept_due, resolve_due = sla.due_times(levels, case.priority, clock.to_ms(now))
    case = changed(
        case,
        status="assigned",
        assigned_at=at,
        accepted_at=None,
        resolved_at=None,
        resolution_summary=None,
        reopened_at=at,
        reopen_count=case.reopen_count + 1,
        accept_due_ms=accept_due,
        resolve_due_ms=resolve_due,
        sla_breached=(),
    )
    return case, [
        (
            CASE_REOPENED,
            {**case.ref(), "reopened_by": actor.id, "reason": reason, "reopened_at": at},
        ),
        assigned_event(case, "reopened", at),
    ]


def cancel(case, actor, reason, now):
    """Cancel an open case: a duplicate, or withdrawn by the resident."""
    require_status(case, "cancel", CANCELLABLE)
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    case = changed(case, status="cancelled", cancelled_at=at, cancel_reason=reason)
    return case, [
        (
            CASE_CANCELLED,
            {**case.ref(), "reason": reason, "cancelled_by": actor.id, "cancelled_at": at},
        )
    ]


def reassign(case, actor, worker, now):
    """The station head gives an open case to another of the station's workers.

    An unowned ("received") case becomes assigned; otherwise the status is kept and
    the new owner carries on from where the case is.
    """
    require_status(case, "reassign", OPEN_CASE_STATUSES)
    _require_head(case, actor, "reassign a case")
    if worker.station != case.station:
        raise IllegalTransition(f"{worker.id} is not a worker of station {case.station}")
    if case.assignee and case.assignee["id"] == worker.id:
        raise IllegalTransition(f"the case is already {worker.id}'s")
    at = clock.iso(now)
    # assigned_at is when the case first got an owner: the milestones stay in order
    owned = case.status != "received"
    case = changed(
        case,
        status=case.status if owned else "assigned",
        assignee=staff(worker),
        assigned_at=case.assigned_at if owned else at,
    )
    return case, [assigned_event(case, "reassigned", at)]


def _escalated(case, head, reason, at):
    """The owner becomes the station head (an unowned case becomes assigned)."""
    owned = case.status != "received"
    return replace(
        case,
        status=case.status if owned else "assigned",
        assignee=staff(head),
        assigned_at=case.assigned_at if owned else at,
        escalations=case.escalations + ({"reason": reason, "at": at, "station_head": head.id},),
    )


def escalate(case, actor, head, note, now):
    """Hand an open case up to the station head (by hand: too hard, too risky)."""
    require_status(case, "escalate", OPEN_CASE_STATUSES)
    require_owner_or_head(case, actor)
    if head is None:
        raise IllegalTransition(f"station {case.station} has no station head to escalate to")
    at = clock.iso(now)
    if case.assignee and case.assignee["id"] == head.id:
        raise IllegalTransition("the case is already the station head's")
    actions = log_action(case, actor, "note", note, at) if note else case.actions
    case = changed(_escalated(case, head, "manual", at), actions=actions)
    return case, [escalated_event(case, "manual", head, at)]


def breach(case, head, now):
    """The service-level clocks that ran out: one breach event each, and (once per
    breach) the case goes to the station head. Nothing due: ``(case, [])``."""
    now_ms = clock.to_ms(now)
    due = sla.breaches(
        case.status, case.accept_due_ms, case.resolve_due_ms, case.sla_breached, now_ms
    )
    if not due:
        return case, []
    at = clock.iso(now)
    events = [
        (
            CASE_SLA_BREACHED,
            {
                **case.ref(),
                "kind": kind,
                "priority": case.priority,
                "due_at": clock.iso(clock.from_ms(due_ms)),
                "breached_at": at,
            },
        )
        for kind, due_ms in due
    ]
    escalate_to = (
        head
        if head is not None and not (case.assignee and case.assignee["id"] == head.id)
        else None
    )
    if escalate_to:
        case = _escalated(case, head, "sla_breach", at)
    # the breach flags are set in the same write as the events: each breach is reported once
    case = changed(case, sla_breached=case.sla_breached + tuple(kind for kind, _ in due))
    if escalate_to:
        events.append(escalated_event(case, "sla_breach", head, at))
    return case, [(contract, {**data, "status": case.status}) for contract, data in events]


def link_request(case, request, now):
    """A repeat request joins its open case instead of opening a second one."""
    require_status(case, "add a request to", OPEN_CASE_STATUSES)
    if any(link["request_id"] == request["request_id"] for link in case.linked_requests):
        return case, []
    at = clock.iso(now)
    case = changed(
        case,
        linked_requests=case.linked_requests
        + (
            {
                "request_id": request["request_id"],
                "channel": request.get("channel"),
                "received_at": request.get("received_at"),
                "linked_at": at,
            },
        ),
    )
    return case, [
        (
            CASE_REQUEST_LINKED,
            {**case.ref(), "linked_request_id": request["request_id"], "linked_at": at},
        )
    ]
