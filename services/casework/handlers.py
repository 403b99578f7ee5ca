"""The casework service layer: plain functions that load, decide (domain), store, publish.

Called by the Nameko entrypoints (service.py) and the HTTP API (api.py) alike.
"""
import logging
import uuid

from services.common import clock
from services.common.envelope import new_event
from services.common.outbox import next_sequence
from services.casework import domain

log = logging.getLogger(__name__)


def to_envelopes(case, events, document, causation_id):
    """Wrap domain events in envelopes numbered after the case's last event."""
    first = next_sequence(document or {})
    return [new_event(contract, data, subject=case.case_id, correlation_id=case.correlation_id,
                      causation_id=causation_id, sequence=first + offset)
            for offset, (contract, data) in enumerate(events)]


def open_case_for_request(store, relay, envelope, request, now=None):
    """Open (and assign) the case of a received request, once per request.

    A redelivered request finds its case already there and changes nothing.
    """
    existing, _ = store.for_request(request["request_id"])
    if existing:
        log.info("request %s already has case %s", request["request_id"], existing.case_id)
        return existing
    now = now or clock.now()
    roster = store.roster(request["station"])
    counts = store.open_counts(request["station"])
    case, events = domain.open_case(f"case-{uuid.uuid4()}", request, roster, counts, now)
    document = store.add(case, to_envelopes(case, events, None, envelope["id"]))
    if document is None:  # a concurrent delivery of the same request won the insert
        return store.for_request(request["request_id"])[0]
    log.info("case %s opened at %s, %s, assignee %s", case.case_id, case.station, case.priority,
             case.assignee["id"] if case.assignee else None)
    relay.publish_now("cases", document)
    return case


def run_command(store, relay, case_id, command, expected_version=None, causation_id=None):
    """Apply a domain command to a case with optimistic concurrency.

    ``command(case) -> (case, events)``. Raises LookupError for an unknown case,
    StaleCase when ``expected_version`` (or the version read) is no longer current,
    and domain.CaseError when the rules refuse.
    """
    case, document = store.get(case_id)
    if case is None:
        raise LookupError(case_id)
    if expected_version is not None and expected_version != case.version:
        raise domain.StaleCase(f"case {case_id} is at version {case.version}, not {expected_version}")
    changed, events = command(case)
    document = store.save(changed, document, to_envelopes(changed, events, document, causation_id))
    relay.publish_now("cases", document)
    return changed
