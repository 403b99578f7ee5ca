"""Correcting or voiding a station program record: a new record with its event
(program.record_corrected) in one write; the original is left as it was.

The correction's id is the original's and its revision (``<id>~r<n>``): two concurrent
corrections cannot both take one revision (the second insert fails and is decided
again on the next). An Idempotency-Key finds an earlier correction made with it.
"""

from typing import Optional, cast

from services.casework.domain import corrections as domain_corrections
from services.casework.handlers import programs
from services.casework.schemas.programs import KIND_COMMANDS
from services.casework.store import CaseStore
from services.common import clock
from services.common.auth import Principal
from services.common.envelope import data_schema, new_event
from services.common.outbox import FastPath

ATTEMPTS = 5


def _event_data(kind: str, details: dict) -> dict:
    """The original event's data out of a stored record's details (the personal data
    the record keeps beside it, e.g. a donor's name, stays out)."""
    contract, _ = programs.KINDS[kind]
    allowed = data_schema(contract.schema).fields
    return {key: value for key, value in details.items() if key in allowed}


def correct_program(
    store: CaseStore,
    relay: FastPath,
    principal: Principal,
    station: str,
    original_id: str,
    body: dict,
    key: Optional[str] = None,
    pseudonym_key: str = "",
) -> tuple[dict, bool]:
    """Record a correction (``body["values"]``) or a void (``body["void"]``) of a program
    record; returns ``(correction document, replayed)``."""
    fingerprint = programs.fingerprint(body)
    for _ in range(ATTEMPTS):
        original = store.programs.get(original_id)
        corrections = store.programs.corrections_of(original_id)
        if key:
            earlier = next((c for c in corrections if c.get("idempotency_key") == key), None)
            if earlier:
                if earlier["fingerprint"] != fingerprint:
                    raise programs.ProgramConflict(
                        "Idempotency-Key already used for another correction"
                    )
                return earlier, True
        if original is not None and original.get("station") == station:
            domain_corrections.check_may_correct(
                principal.role,
                principal.id,
                original,
                corrections,
                body["void"],
                clock.to_ms(clock.now()),
            )
        revision = domain_corrections.check_correctable(original, station, corrections)
        original = cast(dict, original)  # check_correctable refused a missing one
        kind = original["kind"]
        original_data = _event_data(kind, original["details"])
        corrected, kept, on = None, {}, original["on"]
        if not body["void"]:
            values = KIND_COMMANDS[kind]().load(body["values"])
            details, kept = programs._event_details(
                store, kind, station, values, pseudonym_key, original_data.get("team_id")
            )
            on = values["on"].isoformat() if values.get("on") else original["on"]
            corrected = {**original_data, **details, "on": on}
        now = clock.now()
        record_id = f"{original_id}~r{revision}"
        contract, data = domain_corrections.correction_event_data(
            original_data,
            corrected,
            record_id,
            original_id,
            kind,
            revision,
            body["reason"],
            principal.id,
            on,
        )
        event = new_event(
            contract, data, subject=record_id, correlation_id=original_id, sequence=1, time=now
        )
        document = {
            "_id": record_id,
            "kind": "correction",
            "corrects": original_id,
            "station": station,
            "on": on,
            "recorded_by": principal.id,
            "recorded_at": clock.iso(now),
            "recorded_ms": clock.to_ms(now),
            "details": {**event["data"], **({"kept": kept} if kept else {})},
            "fingerprint": fingerprint,
            "idempotency_key": key,
        }
        stored = store.programs.add(document, [event])
        if stored is not None:
            relay.publish_now("programs", stored)
            return stored, False
    raise programs.ProgramConflict("the record is being corrected concurrently; retry")
