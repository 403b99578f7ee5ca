"""The casework service layer: plain functions that load, decide (domain), store, publish.

Called by the Nameko entrypoints (service.py) and the HTTP API (api/) alike. Every
function that depends on the time takes ``now`` (default: the clock), so tests can
run it at any moment.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from services.casework import domain
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import referrals as domain_referrals
from services.casework.domain import sla as domain_sla
from services.casework.domain import unreached as domain_unreached
from services.casework.domain.roster import station_head
from services.casework.store import CaseStore
from services.common import clock
from services.common.config import Settings
from services.common.envelope import InvalidEvent, new_event
from services.common.outbox import FastPath, next_sequence
from services.common.vocabulary import stations

log = logging.getLogger(__name__)

STALE_RETRIES = 8


def to_envelopes(
    case: domain.Case,
    events: list[tuple],
    document: dict | None,
    causation_id: str | None,
) -> list[dict]:
    """Wrap domain events in envelopes numbered after the case's last event."""
    first = next_sequence(document or {})
    return [
        new_event(
            contract,
            data,
            subject=case.case_id,
            correlation_id=case.correlation_id,
            causation_id=causation_id,
            sequence=first + offset,
        )
        for offset, (contract, data) in enumerate(events)
    ]


def service_levels(settings: Settings) -> dict[str, tuple[int, int]]:
    return domain_sla.parse_service_levels(settings.service_levels)


def link_repeat(
    store: CaseStore,
    relay: FastPath,
    case_id: str,
    request: dict,
    causation_id: str,
    now: datetime,
) -> domain.Case:
    """A repeat request joins the open case ``case_id`` (case.request_linked); raises
    domain.IllegalTransition when the case closed meanwhile."""
    case = run_command(
        store,
        relay,
        case_id,
        lambda current: domain_lifecycle.link_request(current, request, now),
        causation_id=causation_id,
    )
    store.record_link(request["request_id"], case_id)
    log.info("request %s joined open case %s", request["request_id"], case_id)
    return case


def run_command(
    store: CaseStore,
    relay: FastPath,
    case_id: str,
    command: Callable[[domain.Case], tuple[domain.Case, list]],
    expected_version: int | None = None,
    causation_id: str | None = None,
) -> domain.Case:
    """Apply a domain command to a case with optimistic concurrency.

    ``command(case) -> (case, events)``. Raises LookupError for an unknown case,
    StaleCase when ``expected_version`` is no longer current, and domain.CaseError
    when the rules refuse. Without ``expected_version`` a write that lost the race is
    decided again on the fresh case (the rules are checked again), so no concurrent
    update is lost and none is applied on a state it was not decided on.
    """
    for attempt in range(STALE_RETRIES):
        case, document = store.get(case_id)
        if case is None or document is None:  # (both or neither)
            raise LookupError(case_id)
        if expected_version is not None and expected_version != case.version:
            raise domain.StaleCase(
                f"case {case_id} is at version {case.version}, not {expected_version}"
            )
        changed, events = command(case)
        if not events and changed is case:
            return case
        try:
            document = store.save(
                changed, document, to_envelopes(changed, events, document, causation_id)
            )
        except domain.StaleCase:
            if expected_version is not None or attempt == STALE_RETRIES - 1:
                raise
            continue
        relay.publish_now("cases", document)
        return changed
    raise AssertionError("unreachable: the last attempt returns or raises")


def reconcile_workload(store: CaseStore) -> None:
    """Every station's workload counters set to the open cases counted from the cases."""
    corrected = store.reconcile_workload(*sorted(stations()))
    if corrected:
        log.info("workload corrected for %s", ", ".join(corrected))


def enforce_service_levels(
    store: CaseStore, relay: FastPath, now: datetime | None = None, limit: int = 200
) -> int:
    """Report every service-level breach due at ``now`` once, and escalate the case.

    Returns the number of cases that breached. A case another writer changed meanwhile
    is decided again on its fresh state.
    """
    now = now or clock.now()
    breached = 0
    for due in store.due(clock.to_ms(now), limit):
        head = station_head(store.roster(due.station), due.station)
        reported: list[tuple[str, dict]] = []

        # head and reported are bound per iteration: run_command calls decide (maybe
        # again on a fresh state) before the loop moves on, but binding says so.
        def decide(current, head=head, reported=reported):
            case, events = domain_lifecycle.breach(current, head, now)
            reported[:] = events  # the last decision is the one written
            return case, events

        try:
            case = run_command(
                store, relay, due.case_id, decide, causation_id=f"sla:{clock.iso(now)}"
            )
        except domain.CaseError as exc:
            log.warning("service-level check of %s deferred: %s", due.case_id, exc.reason)
            continue
        if reported:
            breached += 1
            log.info("case %s breached its service level: %s", case.case_id, case.sla_breached)
    return breached


def apply_referral_answer(
    store: CaseStore, relay: FastPath, envelope: dict, answer: dict, now: datetime | None = None
) -> domain.Case:
    """An agency's answer moves its case (once per event). An unknown case or a referral
    the case does not have is an InvalidEvent: dead-lettered with the reason, not retried."""
    now = now or clock.now()
    try:
        return run_command(
            store,
            relay,
            answer["case_id"],
            lambda case: domain_referrals.answer_from_agency(case, answer, envelope["id"], now),
            causation_id=envelope["id"],
        )
    except LookupError:
        raise InvalidEvent(
            f"no case {answer['case_id']} for referral {answer['referral_id']}"
        ) from None
    except domain_referrals.UnknownReferral as exc:
        raise InvalidEvent(exc.reason) from None


def record_residents_unreached(
    store: CaseStore, relay: FastPath, items: list
) -> dict[int, Exception]:
    """A batch of message.failed [(position, envelope, data)]: ``{position: exception}``
    for those to retry alone (the rest are done)."""
    failures: dict[int, Exception] = {}
    for position, envelope, failure in items:
        try:
            record_resident_unreached(store, relay, envelope, failure)
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failures[position] = exc
    return failures


def record_resident_unreached(
    store: CaseStore, relay: FastPath, envelope: dict, failure: dict
) -> domain.Case | None:
    """An SMS to a case's resident ended failed: the case records it and
    case.resident_unreached asks its owner to phone (once per message). A failure of
    another kind of message, or of a case casework does not have, changes nothing."""
    if not domain_unreached.is_for_a_resident(failure):
        return None
    try:
        return run_command(
            store,
            relay,
            failure["case_id"],
            lambda case: domain_unreached.resident_unreached(case, failure),
            causation_id=envelope["id"],
        )
    except LookupError:
        log.warning(
            "message %s failed for case %s, which casework does not have",
            failure["message_id"],
            failure["case_id"],
        )
        return None
