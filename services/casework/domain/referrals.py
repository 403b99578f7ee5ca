"""Referrals to registered partner agencies (pure, no I/O).

A referral to a partner agency (``services.common.agencies``) leaves the
building: ``refer_to_agency`` returns, with ``case.referred``, the ``referral.sent``
event the relay publishes from the case's outbox on ``shegong.outbound`` for that
agency, holding only what the agency's declared purpose names. The agency's answers
come back through intake (``referral.answered``) and ``answer_from_agency`` applies
them: accepted keeps the case referred (the agency works on it), rejected hands it back
to its worker with the reason, done resolves it. A referral to anyone else (free text)
is ``lifecycle.refer``.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from services.casework.domain import (
    CaseError,
    changed,
    log_action,
    require_owner_or_head,
    require_status,
    resolved,
)
from services.common import agencies, clock
from services.common.contracts import CASE_REFERRAL_ANSWERED, CASE_REFERRED, REFERRAL_SENT

ANSWER_WITH = f"{agencies.ANSWER_TYPE} on POST /v1/events (intake) or the exchange shegong.inbound"


class UnknownReferral(CaseError):
    """An answer names a referral this case does not have (never retried)."""

    code = "unknown_referral"


@dataclass(frozen=True)
class AgencyActor:
    """Who the case history says acted when an agency answered."""

    id: str


def refer_to_agency(
    case, actor, agency: agencies.Agency, resident: dict, note: str, now: datetime, referral_id: str
):
    """Refer the case to a registered agency: the case waits for its answer, and the
    referral (minimised per the agency's purpose) is sent to it through the outbox."""
    require_status(case, "refer", ("accepted", "in_progress"))
    require_owner_or_head(case, actor)
    at = clock.iso(now)
    case = changed(
        case,
        status="referred",
        actions=log_action(case, actor, "referral", note or f"转介至{agency.name}", at),
        referral={
            "referral_id": referral_id,
            "agency": agency.id,
            "agency_name": agency.name,
            "referred_by": actor.id,
            "referred_at": at,
            "answer": None,
            "answered_at": None,
            "reason": None,
            "answer_events": [],
        },
    )
    sent = {
        "referral_id": referral_id,
        "case_id": case.case_id,
        "agency": agency.id,
        "station": case.station,
        "need_type": case.need_type,
        "priority": case.priority,
        "purpose": agency.purpose,
        "referred_by": actor.id,
        "referred_at": at,
        "answer_with": ANSWER_WITH,
        **agencies.minimised(agency, resident, case.need_description, note),
    }
    return case, [
        (
            CASE_REFERRED,
            {
                **case.ref(),
                "agency": agency.id,
                "referred_by": actor.id,
                "referred_at": at,
                "referral_id": referral_id,
            },
        ),
        (REFERRAL_SENT, sent),
    ]


NOTES = {
    "accepted": "{agency}已接收转介",
    "rejected": "{agency}退回转介：{reason}",
    "done": "{agency}已办结转介",
}


def answer_from_agency(case, answer: dict, event_id: str, now: datetime):
    """Apply an agency's answer (``referral.answered`` data) once per event.

    UnknownReferral if the case's referral is not the one answered. An answer the case
    has moved past (an accepted after done, a repeat) changes nothing.
    """
    referral = case.referral or {}
    if (
        referral.get("referral_id") != answer["referral_id"]
        or referral.get("agency") != answer["agency"]
    ):
        raise UnknownReferral(
            f"case {case.case_id} has no referral {answer['referral_id']} to {answer['agency']}"
        )
    if event_id in referral.get("answer_events", ()) or case.status != "referred":
        return case, []
    at = clock.iso(now)
    kind, reason = answer["answer"], answer.get("reason") or ""
    actor = AgencyActor(f"agency:{answer['agency']}")
    note = NOTES[kind].format(agency=referral.get("agency_name") or answer["agency"], reason=reason)
    referral = {
        **referral,
        "answer": kind,
        "answered_at": answer["answered_at"],
        "reason": reason or None,
        "answer_events": [*referral.get("answer_events", []), event_id],
    }
    case = replace(case, referral=referral, actions=log_action(case, actor, "referral", note, at))
    answered = {
        "agency": answer["agency"],
        "accepted": kind != "rejected",
        "answered_at": answer["answered_at"],
        "referral_id": answer["referral_id"],
        "answer": kind,
        "reason": reason,
    }
    if kind == "done":
        case, events = resolved(case, actor, note, at)
        return case, [(CASE_REFERRAL_ANSWERED, {**case.ref(), **answered}), *events]
    case = changed(case, status="in_progress" if kind == "rejected" else "referred")
    return case, [(CASE_REFERRAL_ANSWERED, {**case.ref(), **answered})]
