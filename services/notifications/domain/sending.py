"""The SMS delivery state machine, as pure decisions: what a claim, a send's outcome
(sent, failed, a temporary failure to retry), a hold writes to a message. No I/O:
handlers/__init__.py reads the message, calls these, and writes the fields they return (with
the status event they call for) in one conditional write.

created ──claim──▶ sending ──sent──▶ sent ──receipt──▶ delivered / failed
   ▲                  │ └──temporary failure, retries left──▶ (due again later)
   └──held (quiet hours, rate limit)   └──permanent failure / retries used up──▶ failed /
                                                                      technical_failure
"""

from __future__ import annotations

from services.notifications.domain import delivery

# A final status drops what only sending needed.
FINAL_UNSET = ("due_ms", "erase_after_ms")


def attempts_history(tries: list, attempt: int, at: str) -> list:
    """History entries for each provider tried in one attempt."""
    return [{"kind": "attempt", "attempt": attempt, "at": at, **entry} for entry in tries]


def final_fields(status: str, reason: str | None = None) -> dict:
    """A final status: the full number is no longer needed (receipts match by ids)."""
    return {"status": status, "phone": None, "reason": reason}


def held(message: dict, reason: str, at: str, until_iso: str, until_ms: int) -> dict:
    """A message that must wait (quiet hours, a rate limit): due again at ``until_ms``."""
    return {
        "due_ms": until_ms,
        "history": message["history"]
        + [{"kind": "held", "reason": reason, "at": at, "until": until_iso}],
    }


def claim(message: dict, now_ms: int, at: str, lease_s: float) -> dict:
    """Claim a due message for one attempt: ``sending`` with a lease (due again when
    the lease runs out: the process that claimed it died)."""
    attempt = message.get("attempts", 0) + 1
    return {
        "status": "sending",
        "attempts": attempt,
        "due_ms": now_ms + int(lease_s * 1000),
        "history": message["history"]
        + [{"kind": "status", "status": "sending", "at": at, "attempt": attempt}],
    }


def claim_in_doubt(message: dict) -> str | None:
    """The local day of the last claim if its outcome was never written (the process died
    while sending: the provider may have taken the SMS), else None."""
    if message["status"] != "sending":
        return None
    for entry in reversed(message["history"]):
        if entry["kind"] in ("attempt", "retry"):
            return None
        if entry["kind"] == "status" and entry["status"] == "sending":
            return entry["at"][:10]
    return None


def sent(
    current: dict,
    provider: str,
    provider_message_id: str,
    tries: list,
    attempt: int,
    at: str,
    now_ms: int,
    keep_number_h: float,
) -> tuple[dict, tuple]:
    """A provider took the message: ``(fields, unset)``. A receipt that overtook the
    answer keeps its later status; the attempt is recorded either way."""
    history = current["history"] + attempts_history(tries, attempt, at)
    fields = {
        "provider": provider,
        "provider_message_id": provider_message_id,
        "sent_at": at,
        "sent_ms": now_ms,
    }
    if current["status"] == "sending":
        fields.update(
            status="sent",
            erase_after_ms=now_ms + int(keep_number_h * delivery.HOUR_MS),
            history=history
            + [{"kind": "status", "status": "sent", "at": at, "provider": provider}],
        )
    else:
        fields["history"] = history
    return fields, ("due_ms",)


def failed(
    current: dict, status: str, reason: str, tries: list, attempt: int, at: str
) -> tuple[dict, bool, tuple]:
    """The message ended ``failed`` or ``technical_failure``: ``(fields, tell, unset)``;
    ``tell``: its status event goes out (False when a later status is there already)."""
    history = current["history"] + attempts_history(tries, attempt, at)
    if not delivery.moves_forward(current["status"], status):
        return {"history": history}, False, ("due_ms",)
    return (
        {
            **final_fields(status, reason),
            "failed_at": at,
            "history": history + [{"kind": "status", "status": status, "at": at, "reason": reason}],
        },
        True,
        FINAL_UNSET,
    )


def retry(
    current: dict, tries: list, attempt: int, reason: str, at: str, next_ms: int, next_iso: str
) -> dict | None:
    """A temporary failure with retries left: due again at ``next_ms``; None when the
    message is no longer ``sending`` (a receipt or another worker moved it on)."""
    if current["status"] != "sending":
        return None
    return {
        "due_ms": next_ms,
        "history": current["history"]
        + attempts_history(tries, attempt, at)
        + [{"kind": "retry", "at": at, "until": next_iso, "reason": reason}],
    }
