"""Casework rules: the Case, its refusals, and the worker's own commands on it (accept,
record an action, resolve).

Pure: no I/O, no clock (times are passed in), no ids generated here. Each command
returns the changed case and the domain events it causes as ``(contract, data)``
pairs; the service layer stores both in one write. Opening a case (triage, the case's
id, assignment) is in opening.py beside this module; the rest of the case's life
(referral, closing, reopening, cancelling, reassignment, escalation, service-level
breaches, repeat requests) in lifecycle.py; rosters in roster.py; service levels in
sla.py.
"""

from dataclasses import dataclass, field, replace

from services.casework.domain import sla
from services.casework.domain.roster import staff
from services.common import clock
from services.common.config import DEFAULT_SERVICE_LEVELS
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ACTION_RECORDED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_RESOLVED,
)
from services.common.privacy import mask_name, mask_phone
from services.common.vocabulary import OPEN_CASE_STATUSES

OWNED_STATUSES = ("assigned", "accepted", "in_progress", "referred")
FINAL_STATUSES = ("closed", "cancelled")
DEFAULT_LEVELS = sla.parse_service_levels(DEFAULT_SERVICE_LEVELS)


class CaseError(Exception):
    """A command the rules refuse; ``code`` names the rule, ``reason`` says why.

    The API maps each kind to its HTTP answer (api/cases.py, ``HTTP_STATUS``); the domain
    knows nothing of HTTP.
    """

    code = "conflict"

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class IllegalTransition(CaseError):
    code = "illegal_transition"


class NotAllowed(CaseError):
    code = "forbidden"


class StaleCase(CaseError):
    """The case changed since the caller read it (optimistic concurrency)."""

    code = "version_conflict"


# -- the case ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_id: str
    request_id: str
    station: str
    status: str
    priority: str
    priority_reason: str
    need_type: str
    need_description: str
    resident: dict  # masked name and phone, categories (in full: the registry)
    resident_ref: str
    assignee: dict | None  # id, name, phone; None while nobody owns the case
    correlation_id: str
    request_received_at: str
    opened_at: str
    assigned_at: str | None = None
    accepted_at: str | None = None
    resolved_at: str | None = None
    resolution_summary: str | None = None
    actions: tuple = field(default_factory=tuple)
    version: int = 1
    channel: str | None = None
    origin: str | None = None
    closed_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    reopened_at: str | None = None
    reopen_count: int = 0
    referral: dict | None = None  # agency, referred_by, referred_at, answer, answered_at
    escalations: tuple = field(default_factory=tuple)
    linked_requests: tuple = field(default_factory=tuple)
    accept_due_ms: int | None = None
    resolve_due_ms: int | None = None
    sla_breached: tuple = field(default_factory=tuple)  # kinds, each at most once per cycle
    sla_due_ms: int | None = None  # the earliest running clock: what the timer queries

    @property
    def is_open(self):
        return self.status in OPEN_CASE_STATUSES

    @property
    def due_ms(self):
        """The deadline it works against now (sla.current_due_ms)."""
        return sla.current_due_ms(self.status, self.accept_due_ms, self.resolve_due_ms)

    def ref(self):
        return {
            "case_id": self.case_id,
            "request_id": self.request_id,
            "station": self.station,
            "status": self.status,
        }


def changed(case, **changes):
    """The case with ``changes``, one version on, its next service-level check recomputed."""
    case = replace(case, **changes, version=case.version + 1)
    return replace(
        case,
        sla_due_ms=sla.next_due_ms(
            case.status, case.accept_due_ms, case.resolve_due_ms, case.sla_breached
        ),
    )


def resident_in_event(resident):
    """What casework's events carry of a resident: name and phone, masked."""
    return {"name": mask_name(resident["name"]), "phone": mask_phone(resident["phone"])}


def assigned_event(case, reason, at):
    return (
        CASE_ASSIGNED,
        {
            **case.ref(),
            "priority": case.priority,
            "need_type": case.need_type,
            "assignee": dict(case.assignee),
            "resident": resident_in_event(case.resident),
            "reason": reason,
            "origin": case.origin,
            "assigned_at": at,
        },
    )


def escalated_event(case, reason, head, at):
    return (
        CASE_ESCALATED,
        {
            **case.ref(),
            "reason": reason,
            "priority": case.priority,
            "station_head": staff(head),
            "escalated_at": at,
        },
    )


def require_status(case, command, allowed):
    if case.status not in allowed:
        raise IllegalTransition(
            f"cannot {command} a case that is {case.status} (allowed from: {', '.join(allowed)})"
        )


def require_owner_or_head(case, actor):
    if case.assignee and actor.id == case.assignee["id"]:
        return
    if actor.role in ("station_head", "district_admin"):
        return
    raise NotAllowed("only the assigned worker or the station head may do this")


def accept(case, actor, now):
    """The assigned worker takes the case on."""
    require_status(case, "accept", ("assigned",))
    if not case.assignee or actor.id != case.assignee["id"]:
        raise NotAllowed("only the assigned worker may accept the case")
    at = clock.iso(now)
    case = changed(case, status="accepted", accepted_at=at)
    return case, [
        (
            CASE_ACCEPTED,
            {
                **case.ref(),
                "accepted_by": actor.id,
                "assignee_name": case.assignee["name"],
                "accepted_at": at,
            },
        )
    ]


def log_action(case, actor, action_type, note, at):
    return case.actions + ({"type": action_type, "note": note, "by": actor.id, "at": at},)


def record_action(case, actor, action_type, note, now):
    """Append work done (call, visit, purchase, delivery, referral, note) to an accepted case.

    The log is append-only: entries are never changed or removed.
    """
    require_status(case, "record an action on", ("accepted", "in_progress", "referred"))
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    status = "referred" if case.status == "referred" else "in_progress"
    case = changed(case, status=status, actions=log_action(case, actor, action_type, note, at))
    return case, [
        (
            CASE_ACTION_RECORDED,
            {**case.ref(), "action_type": action_type, "recorded_by": actor.id, "recorded_at": at},
        )
    ]


def resolve(case, actor, summary, now):
    """Close the work: the resident is told and the district counts it."""
    require_status(case, "resolve", ("accepted", "in_progress"))
    require_owner_or_head(case, actor)
    return resolved(case, actor, summary, clock.iso(now))


def resolved(case, actor, summary, at):
    case = changed(case, status="resolved", resolved_at=at, resolution_summary=summary)
    return case, [
        (
            CASE_RESOLVED,
            {
                **case.ref(),
                "priority": case.priority,
                "resolved_by": actor.id,
                "assignee_name": case.assignee["name"],
                "resolved_at": at,
            },
        )
    ]
