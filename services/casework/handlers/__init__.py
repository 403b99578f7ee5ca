"""The casework service layer: plain functions that load, decide (domain), store, publish.

Called by the Nameko entrypoints (service.py) and the HTTP API (api/) alike. Every
function that depends on the time takes ``now`` (default: the clock), so tests can
run it at any moment.
"""
import logging

from services.casework import domain
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import referrals as domain_referrals
from services.casework.domain import residents as domain_residents
from services.casework.domain import sla as domain_sla
from services.casework.domain import unreached as domain_unreached
from services.casework.domain.roster import station_head
from services.common import clock
from services.common.envelope import InvalidEvent, new_event
from services.common.outbox import next_sequence
from services.common.vocabulary import stations

log = logging.getLogger(__name__)

STALE_RETRIES = 8


def to_envelopes(case, events, document, causation_id):
    """Wrap domain events in envelopes numbered after the case's last event."""
    first = next_sequence(document or {})
    return [new_event(contract, data, subject=case.case_id, correlation_id=case.correlation_id,
                      causation_id=causation_id, sequence=first + offset)
            for offset, (contract, data) in enumerate(events)]


def service_levels(settings):
    return domain_sla.parse_service_levels(settings.service_levels)


def register_resident(store, request, now):
    """Keep the registry's record of the request's resident up to date; returns it."""
    resident = request["resident"]
    current = store.residents.find_for(request["resident_ref"], resident.get("id_number"),
                                       resident.get("phone"))
    record = store.residents.save(domain_residents.from_request(current, request, clock.iso(now)))
    store.residents.add_alias(request["resident_ref"], record["_id"])
    return record


def _repeat_target(store, request):
    """The open case a request joins: the one named by ``repeat_of`` (a request or a
    case id), else the resident's open case for the same need; None: open its own.

    Raises RepeatNotYetOpened when ``repeat_of`` names nothing casework knows yet and
    the resident has no open case for the need either: the first request's
    request.received has not been handled yet (handled concurrently, or delivered after
    the repeat). Opening a case now would give the resident two cases for one need;
    the retry joins the first request's case once it is there.
    """
    first = request.get("repeat_of")
    named = None
    if first:
        named, _ = store.for_request(first)
        if named is None:
            named, _ = store.get(first)
        if named is not None and named.is_open:
            return named
    case, _ = store.open_case_of(request["resident_ref"], request["need"]["type"])
    if case is None and first and named is None:
        raise domain_lifecycle.RepeatNotYetOpened(request["request_id"], first)
    # A closed first case: the repeat is a new need of its own (or joins a newer open one)
    return case


def open_case_for_request(store, relay, envelope, request, now=None, settings=None,
                          levels=None):
    """Open (and assign) the case of a received request, once per request; a repeat
    joins the resident's open case (case.request_linked) instead, and raises
    RepeatNotYetOpened (retried) while its first request has no case yet.

    A redelivered request finds its case already there and changes nothing.
    """
    existing, _ = store.for_request(request["request_id"])
    if existing:
        log.info("request %s already has case %s", request["request_id"], existing.case_id)
        return existing
    now = now or clock.now()
    target = _repeat_target(store, request)  # first: a repeat that must wait writes nothing
    record = register_resident(store, request, now)
    if target is not None:
        try:
            return link_repeat(store, relay, target.case_id, request, envelope["id"], now)
        except domain.IllegalTransition:
            log.info("case %s closed meanwhile; request %s opens its own", target.case_id,
                     request["request_id"])
    roster = store.roster(request["station"])
    counts = store.open_counts(request["station"])
    levels = levels or (service_levels(settings) if settings else domain.DEFAULT_LEVELS)
    case, events = domain.open_case(domain.case_id_for(request["request_id"]), request, roster,
                                    counts, now,
                                    store.calendar(), levels,
                                    domain_residents.flags(record))
    document = store.add(case, to_envelopes(case, events, None, envelope["id"]))
    if document is None:  # a concurrent delivery of the same request won the insert
        return store.for_request(request["request_id"])[0]
    store.residents.note_open_case(record["_id"], case.need_type, case.case_id)
    log.info("case %s opened at %s, %s, assignee %s", case.case_id, case.station, case.priority,
             case.assignee["id"] if case.assignee else None)
    relay.publish_now("cases", document)
    return case


def link_repeat(store, relay, case_id, request, causation_id, now):
    case = run_command(store, relay, case_id,
                       lambda current: domain_lifecycle.link_request(current, request, now),
                       causation_id=causation_id)
    store.record_link(request["request_id"], case_id)
    log.info("request %s joined open case %s", request["request_id"], case_id)
    return case


def run_command(store, relay, case_id, command, expected_version=None, causation_id=None):
    """Apply a domain command to a case with optimistic concurrency.

    ``command(case) -> (case, events)``. Raises LookupError for an unknown case,
    StaleCase when ``expected_version`` is no longer current, and domain.CaseError
    when the rules refuse. Without ``expected_version`` a write that lost the race is
    decided again on the fresh case (the rules are checked again), so no concurrent
    update is lost and none is applied on a state it was not decided on.
    """
    for attempt in range(STALE_RETRIES):
        case, document = store.get(case_id)
        if case is None:
            raise LookupError(case_id)
        if expected_version is not None and expected_version != case.version:
            raise domain.StaleCase(
                f"case {case_id} is at version {case.version}, not {expected_version}")
        changed, events = command(case)
        if not events and changed is case:
            return case
        try:
            document = store.save(changed, document,
                                  to_envelopes(changed, events, document, causation_id))
        except domain.StaleCase:
            if expected_version is not None or attempt == STALE_RETRIES - 1:
                raise
            continue
        relay.publish_now("cases", document)
        return changed


def reconcile_workload(store):
    """Every station's workload counters set to the open cases counted from the cases."""
    corrected = store.reconcile_workload(*sorted(stations()))
    if corrected:
        log.info("workload corrected for %s", ", ".join(corrected))


def enforce_service_levels(store, relay, now=None, limit=200):
    """Report every service-level breach due at ``now`` once, and escalate the case.

    Returns the number of cases that breached. A case another writer changed meanwhile
    is decided again on its fresh state.
    """
    now = now or clock.now()
    breached = 0
    for due in store.due(clock.to_ms(now), limit):
        head = station_head(store.roster(due.station), due.station)
        reported = []

        # head and reported are bound per iteration: run_command calls decide (maybe
        # again on a fresh state) before the loop moves on, but binding says so.
        def decide(current, head=head, reported=reported):
            case, events = domain_lifecycle.breach(current, head, now)
            reported[:] = events  # the last decision is the one written
            return case, events

        try:
            case = run_command(store, relay, due.case_id, decide,
                               causation_id=f"sla:{clock.iso(now)}")
        except domain.CaseError as exc:
            log.warning("service-level check of %s deferred: %s", due.case_id, exc.reason)
            continue
        if reported:
            breached += 1
            log.info("case %s breached its service level: %s", case.case_id, case.sla_breached)
    return breached


def apply_referral_answer(store, relay, envelope, answer, now=None):
    """An agency's answer moves its case (once per event). An unknown case or a referral
    the case does not have is an InvalidEvent: dead-lettered with the reason, not retried."""
    now = now or clock.now()
    try:
        return run_command(store, relay, answer["case_id"],
                           lambda case: domain_referrals.answer_from_agency(
                               case, answer, envelope["id"], now),
                           causation_id=envelope["id"])
    except LookupError:
        raise InvalidEvent(f"no case {answer['case_id']} for referral {answer['referral_id']}"
                           ) from None
    except domain_referrals.UnknownReferral as exc:
        raise InvalidEvent(exc.reason) from None


def record_residents_unreached(store, relay, items):
    """A batch of message.failed [(position, envelope, data)]: ``{position: exception}``
    for those to retry alone (the rest are done)."""
    failures = {}
    for position, envelope, failure in items:
        try:
            record_resident_unreached(store, relay, envelope, failure)
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failures[position] = exc
    return failures


def record_resident_unreached(store, relay, envelope, failure):
    """An SMS to a case's resident ended failed: the case records it and
    case.resident_unreached asks its owner to phone (once per message). A failure of
    another kind of message, or of a case casework does not have, changes nothing."""
    if not domain_unreached.is_for_a_resident(failure):
        return None
    try:
        return run_command(store, relay, failure["case_id"],
                           lambda case: domain_unreached.resident_unreached(case, failure),
                           causation_id=envelope["id"])
    except LookupError:
        log.warning("message %s failed for case %s, which casework does not have",
                    failure["message_id"], failure["case_id"])
        return None
