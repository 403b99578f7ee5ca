"""Referrals made to partner agencies, as intake knows them: which agency may answer
which referral (learnt from casework's ``case.referred``), and the agencies' answers.

An answer is taken only from the agency the referral was made to (refused as
not_your_referral otherwise: 403 on HTTP, a dead letter on AMQP); an answer for a
referral intake has not heard of is refused as unknown_referral (422 on HTTP; on AMQP
retried with the service's delays first, since an agency may answer before intake has
learnt of the referral, then dead-lettered).
Each accepted answer is recorded on the referral's document with its
``referral.answered`` event in the same write (the outbox), once per (source, id).
"""

import logging
from datetime import datetime
from typing import Any

from services.common import clock
from services.common.contracts import REFERRAL_ANSWERED
from services.common.envelope import new_event
from services.intake.domain import inbound
from services.intake.domain.inbound import InboundRejected
from services.intake.store import RequestStore
from services.intake.systems import ExternalSystem

log = logging.getLogger(__name__)
WRITE_RETRIES = 5


def learn(store: RequestStore, envelope: dict, referred: dict) -> None:
    """Remember a referral to a registered agency (once); others have no referral id."""
    if not referred.get("referral_id"):
        return
    store.add_referral(
        {
            "_id": referred["referral_id"],
            "case_id": referred["case_id"],
            "station": referred["station"],
            "agency": referred["agency"],
            "correlation_id": envelope.get("correlationid"),
            "referred_at": referred["referred_at"],
            "answers": [],
        }
    )


def check(referral: dict | None, system: ExternalSystem, data: dict) -> None:
    """Only the agency it was made to answers a referral, and for its own case."""
    if referral is None:  # or not yet: case.referred may still be on its way
        raise InboundRejected(
            "unknown_referral", f"no referral {data['referral_id']}", known_later=True
        )
    if referral["agency"] != system.id:
        raise InboundRejected(
            "not_your_referral", f"referral {data['referral_id']} was not made to {system.id}"
        )
    if referral["case_id"] != data["case_id"]:
        raise InboundRejected(
            "unknown_referral", f"referral {data['referral_id']} is not of case {data['case_id']}"
        )


def answer_event(referral: dict, data: dict, source: dict, answered_at: str, now: datetime) -> dict:
    """The ``referral.answered`` envelope, in the case's correlation (its trace)."""
    event_data = {
        "referral_id": referral["_id"],
        "case_id": referral["case_id"],
        "station": referral["station"],
        "agency": referral["agency"],
        "answer": data["answer"],
        "reason": data.get("reason", ""),
        "answered_at": answered_at,
        "source": source,
    }
    return new_event(
        REFERRAL_ANSWERED,
        event_data,
        subject=referral["case_id"],
        correlation_id=referral.get("correlation_id") or referral["case_id"],
        causation_id=source["event_id"],
        sequence=referral.get("last_seq", 0) + 1,
        time=now,
    )


def receive_answer(
    store: Any, relay: Any, system: Any, envelope: dict, data: dict, record_id: str, source: dict
) -> tuple[dict, bool]:
    """Record an agency's answer and publish it; ``(document, replayed)``."""
    for _ in range(WRITE_RETRIES):
        referral = store.referral(data["referral_id"])
        check(referral, system, data)
        if any(answer["id"] == record_id for answer in referral["answers"]):
            return referral, True
        now = clock.now()
        answered_at = inbound.event_time(envelope, now)
        event = answer_event(referral, data, source, answered_at, now)
        answer = {
            "id": record_id,
            "answer": data["answer"],
            "reason": data.get("reason", ""),
            "answered_at": answered_at,
            "event_id": source["event_id"],
        }
        document = store.add_answer(referral, answer, event)
        if document is not None:
            log.info("referral %s answered %s by %s", referral["_id"], data["answer"], system.id)
            relay.publish_now("referrals", document)
            return document, False
    raise InboundRejected("conflict", "the referral is being answered concurrently; retry")
