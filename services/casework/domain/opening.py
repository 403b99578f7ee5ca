"""Opening a case (pure): triage, the case's id, assignment from the roster, the first
events (case.opened, case.assigned, case.escalated when nobody is on duty)."""

import uuid
from dataclasses import replace

from services.casework.domain import (
    DEFAULT_LEVELS,
    Case,
    assigned_event,
    escalated_event,
    resident_in_event,
    sla,
)
from services.casework.domain.roster import (
    NO_HOLIDAYS,
    on_duty_workers,
    pick_assignee,
    staff,
    station_head,
)
from services.common import clock
from services.common.contracts import CASE_OPENED

# -- triage --------------------------------------------------------------------------

URGENT_NEEDS = {"medicine_purchase", "daily_living_help", "psychological_support"}
PRIORITY_GROUPS = {
    "elderly",
    "child",
    "disabled",
    "hardship",
    "living_alone",
    "key_concern",
    "no_family_nearby",
}
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


# -- the case opened ---------------------------------------------------------------

# Case ids are derived from the request that opens the case: a redelivered or twin
# request names the same case, so "which requests of this batch have a case" is a read
# by ``_id`` (indexed on every store) instead of a query on another field.
CASE_ID_NAMESPACE = uuid.UUID("6f1d5c2e-0d4a-5d8e-9b61-3c7a2f0e8b14")


def case_id_for(request_id: str) -> str:
    """The id of the case a request opens (the same for every delivery of it)."""
    return f"case-{uuid.uuid5(CASE_ID_NAMESPACE, request_id)}"


def open_case(
    case_id,
    request,
    roster,
    open_counts,
    now,
    calendar=NO_HOLIDAYS,
    levels=DEFAULT_LEVELS,
    categories=None,
):
    """Open and assign a case for a received request (RequestReceived data).

    ``categories`` (default: the request's) may add what the residents registry knows.
    Nobody on duty: the station head gets the case and it is escalated; no head either:
    it waits as "received" for the district to assign it.
    """
    resident = request["resident"]
    categories = sorted(set(resident["categories"]) | set(categories or ()))
    priority, reason = triage(categories, request["need"]["type"])
    worker = pick_assignee(
        on_duty_workers(roster, request["station"], clock.local_day(now), calendar), open_counts
    )
    head = station_head(roster, request["station"]) if worker is None else None
    at = clock.iso(now)
    accept_due, resolve_due = sla.due_times(levels, priority, clock.to_ms(now))
    origin = (request.get("source") or {}).get("kind")
    case = Case(
        case_id=case_id,
        request_id=request["request_id"],
        station=request["station"],
        status="received",
        priority=priority,
        priority_reason=reason,
        need_type=request["need"]["type"],
        need_description=request["need"]["description"],
        resident={**resident_in_event(resident), "categories": categories},
        resident_ref=request["resident_ref"],
        assignee=None,
        correlation_id=request["request_id"],
        request_received_at=request["received_at"],
        opened_at=at,
        channel=request.get("channel"),
        origin=origin,
        accept_due_ms=accept_due,
        resolve_due_ms=resolve_due,
        sla_due_ms=accept_due,
    )
    events = [
        (
            CASE_OPENED,
            {
                **case.ref(),
                "priority": priority,
                "priority_reason": reason,
                "need_type": case.need_type,
                "resident_ref": case.resident_ref,
                "categories": categories,
                "channel": case.channel,
                "origin": origin,
                "request_received_at": case.request_received_at,
                "opened_at": at,
            },
        ),
    ]
    owner = worker or head
    if owner is None:
        return case, events
    case = replace(case, status="assigned", assigned_at=at, assignee=staff(owner))
    events.append(assigned_event(case, "initial", at))
    if worker is None:
        case = replace(
            case, escalations=({"reason": "nobody_on_duty", "at": at, "station_head": owner.id},)
        )
        events.append(escalated_event(case, "nobody_on_duty", owner, at))
    return case, events
