"""Casework rules: triage, the on-duty roster, and the life of a case.

Pure: no I/O, no clock (times are passed in), no ids generated here. Each command
returns the changed case and the domain events it causes as ``(contract, data)``
pairs; the service layer stores both in one write.
"""
from dataclasses import dataclass, field, replace

from services.common import clock
from services.common.contracts import (
    CASE_ACCEPTED, CASE_ACTION_RECORDED, CASE_ASSIGNED, CASE_OPENED, CASE_RESOLVED,
)
from services.common.privacy import mask_name, mask_phone

OPEN_STATUSES = ("received", "assigned", "accepted", "in_progress")


class CaseError(Exception):
    """A command the rules refuse; ``status`` and ``code`` are the HTTP answer."""
    status = 409
    code = "conflict"

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class IllegalTransition(CaseError):
    status = 409
    code = "illegal_transition"


class NotAllowed(CaseError):
    status = 403
    code = "forbidden"


class StaleCase(CaseError):
    """The case changed since the caller read it (optimistic concurrency)."""
    status = 409
    code = "version_conflict"


# -- triage --------------------------------------------------------------------------

URGENT_NEEDS = {"medicine_purchase", "daily_living_help", "psychological_support"}
PRIORITY_GROUPS = {"elderly", "child", "disabled", "hardship", "living_alone", "key_concern",
                   "no_family_nearby"}
LOW_NEEDS = {"policy_consultation"}


def triage(categories, need_type):
    """Priority of a request from who the resident is and what they need.

    Returns ``(priority, reason)``; the reason is shown to staff.
    """
    flags = set(categories)
    vulnerable = flags & {"elderly", "disabled", "child"}
    if "key_concern" in flags and "living_alone" in flags:
        return "urgent", "重点关注对象且独居"
    if vulnerable and "living_alone" in flags and need_type in URGENT_NEEDS:
        return "urgent", "独居且需求紧迫"
    if flags & PRIORITY_GROUPS:
        return "normal", "重点服务对象"
    if need_type in LOW_NEEDS:
        return "low", "一般咨询"
    return "normal", "一般求助"


# -- roster --------------------------------------------------------------------------

@dataclass(frozen=True)
class Worker:
    id: str
    name: str
    phone: str
    station: str
    role: str = "worker"          # worker | station_head
    duty_days: tuple = ()         # ISO weekdays (1 = Monday) this worker is on duty


def on_duty_workers(roster, station, weekday):
    """The station's workers on duty on an ISO weekday (the service runs 365 days)."""
    return [w for w in roster if w.station == station and weekday in w.duty_days]


def pick_assignee(on_duty, open_counts):
    """The on-duty worker with the fewest open cases (ties: lowest id)."""
    if not on_duty:
        return None
    return min(on_duty, key=lambda w: (open_counts.get(w.id, 0), w.id))


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
    resident: dict              # name, phone, categories: personal data, kept here only
    resident_ref: str
    assignee: dict              # id, name, phone; None while nobody is on duty
    correlation_id: str
    request_received_at: str
    opened_at: str
    assigned_at: str = None
    accepted_at: str = None
    resolved_at: str = None
    resolution_summary: str = None
    actions: tuple = field(default_factory=tuple)
    version: int = 1

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    def ref(self):
        return {"case_id": self.case_id, "request_id": self.request_id, "station": self.station,
                "status": self.status}


def open_case(case_id, request, roster, open_counts, now):
    """Open and assign a case for a received request (RequestReceived data)."""
    resident = request["resident"]
    priority, reason = triage(resident["categories"], request["need"]["type"])
    worker = pick_assignee(on_duty_workers(roster, request["station"], clock.weekday(now)),
                           open_counts)
    at = clock.iso(now)
    case = Case(
        case_id=case_id, request_id=request["request_id"], station=request["station"],
        status="received", priority=priority, priority_reason=reason,
        need_type=request["need"]["type"], need_description=request["need"]["description"],
        resident=dict(resident), resident_ref=request["resident_ref"], assignee=None,
        correlation_id=request["request_id"], request_received_at=request["received_at"],
        opened_at=at)
    events = [
        (CASE_OPENED, {**case.ref(), "priority": priority, "priority_reason": reason,
                       "need_type": case.need_type, "resident_ref": case.resident_ref,
                       "categories": list(resident["categories"]),
                       "request_received_at": case.request_received_at, "opened_at": at}),
    ]
    if worker is None:
        # No roster at this station yet: the case waits, visible as "received".
        return case, events
    case = replace(case, status="assigned", assigned_at=at,
                   assignee={"id": worker.id, "name": worker.name, "phone": worker.phone})
    events.append(
        (CASE_ASSIGNED, {**case.ref(), "priority": priority, "need_type": case.need_type,
                         "assignee": dict(case.assignee),
                         "resident": {"name": mask_name(resident["name"]),
                                      "phone": mask_phone(resident["phone"])},
                         "assigned_at": at}))
    return case, events


def _require(case, command, allowed):
    if case.status not in allowed:
        raise IllegalTransition(
            f"cannot {command} a case that is {case.status} (allowed from: {', '.join(allowed)})")


def _require_owner_or_head(case, actor):
    if case.assignee and actor.id == case.assignee["id"]:
        return
    if actor.role in ("station_head", "district_admin"):
        return
    raise NotAllowed("only the assigned worker or the station head may do this")


def accept(case, actor, now):
    """The assigned worker takes the case on."""
    _require(case, "accept", ("assigned",))
    if not case.assignee or actor.id != case.assignee["id"]:
        raise NotAllowed("only the assigned worker may accept the case")
    at = clock.iso(now)
    case = replace(case, status="accepted", accepted_at=at, version=case.version + 1)
    return case, [(CASE_ACCEPTED, {**case.ref(), "accepted_by": actor.id,
                                   "assignee_name": case.assignee["name"], "accepted_at": at})]


def record_action(case, actor, action_type, note, now):
    """Append work done (call, visit, purchase, delivery, note) to an accepted case."""
    _require(case, "record an action on", ("accepted", "in_progress"))
    _require_owner_or_head(case, actor)
    at = clock.iso(now)
    action = {"type": action_type, "note": note, "by": actor.id, "at": at}
    case = replace(case, status="in_progress", actions=case.actions + (action,),
                   version=case.version + 1)
    return case, [(CASE_ACTION_RECORDED, {**case.ref(), "action_type": action_type,
                                          "recorded_by": actor.id, "recorded_at": at})]


def resolve(case, actor, summary, now):
    """Close the work: the resident is told and the district counts it."""
    _require(case, "resolve", ("accepted", "in_progress"))
    _require_owner_or_head(case, actor)
    at = clock.iso(now)
    case = replace(case, status="resolved", resolved_at=at, resolution_summary=summary,
                   version=case.version + 1)
    return case, [(CASE_RESOLVED, {**case.ref(), "priority": case.priority,
                                   "resolved_by": actor.id,
                                   "assignee_name": case.assignee["name"],
                                   "resolved_at": at})]
