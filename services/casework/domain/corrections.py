"""Corrections of station program records (pure, no I/O).

Program records stay append-only: a correction or a void is a new record that names
the original (``corrects``), its revision (1, 2, ...), the reason and who made it. The
original is never changed; its current value is the latest revision's, or nothing once
voided. A voided record takes no further correction.

Who may correct (issue 26): the records are the station's money and work in the
district's figures, so corrections and voids are for the station head (of the record's
station) and district administrators. Other staff (a worker, an operator) may correct —
never void — a record they made themselves, within CORRECTION_WINDOW_MS of making it,
and only while nobody else has corrected it; anything else is refused (403).
"""

from typing import Optional

from services.common.contracts import PROGRAM_RECORD_CORRECTED

CORRECTORS = ("station_head", "district_admin")
CORRECTION_WINDOW_MS = 24 * 3_600_000  # a worker's own record: a slip put right that day


class CorrectionRefused(Exception):
    """The record cannot be corrected (``status``: 404 unknown, 403 not by this caller,
    409 voided or itself a correction)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def check_correctable(original: Optional[dict], station: str, corrections: list) -> int:
    """The revision the next correction of ``original`` gets; CorrectionRefused if none."""
    if original is None or original.get("station") != station:
        raise CorrectionRefused(404, "no such program record at this station")
    if original["kind"] == "correction":
        raise CorrectionRefused(409, "correct the original record, not a correction")
    if any(correction["details"].get("void") for correction in corrections):
        raise CorrectionRefused(409, "the record was voided; it takes no correction")
    return len(corrections) + 1


def check_may_correct(
    role: str, who: str, original: dict, corrections: list, void: bool, now_ms: int
) -> None:
    """CorrectionRefused(403) unless ``who`` (``role``) may make this correction or void
    of ``original`` (already known to be of the caller's station)."""
    if role in CORRECTORS:
        return
    if void:
        raise CorrectionRefused(
            403, "only the station head or a district administrator voids a program record"
        )
    if original.get("recorded_by") != who:
        raise CorrectionRefused(
            403,
            "only the station head or a district administrator corrects a record someone else made",
        )
    if now_ms - original.get("recorded_ms", 0) > CORRECTION_WINDOW_MS:
        raise CorrectionRefused(
            403,
            "your own record may be corrected by you within 24 hours "
            "of making it; after that, ask the station head",
        )
    if any(c.get("recorded_by") != who for c in corrections):
        raise CorrectionRefused(
            403, "the record was corrected by someone else; ask the station head"
        )


def current(original: dict, corrections: list) -> dict:
    """What the record says now: ``{"void", "revision", "details"}``."""
    latest = max(corrections, key=lambda c: c["details"]["revision"], default=None)
    if latest is None:
        return {"void": False, "revision": 0, "details": original["details"]}
    details = latest["details"]
    return {
        "void": details["void"],
        "revision": details["revision"],
        "details": None if details["void"] else details["corrected"],
    }


def correction_event_data(
    original_data: dict,
    corrected_data: Optional[dict],
    record_id: str,
    original_id: str,
    kind: str,
    revision: int,
    reason: str,
    by: str,
    on: str,
) -> tuple:
    """``(contract, data)`` of program.record_corrected."""
    return PROGRAM_RECORD_CORRECTED, {
        "station": original_data["station"],
        "recorded_by": by,
        "on": on,
        "record_id": record_id,
        "corrects": original_id,
        "kind": kind,
        "revision": revision,
        "void": corrected_data is None,
        "reason": reason,
        "original": original_data,
        "corrected": corrected_data,
    }
