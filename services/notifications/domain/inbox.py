"""Staff's in-app inbox (pure, no I/O): which messages are a staff member's, and
marking one read.

An in-app message goes to one staff member (``recipient_id`` = their id) or, when the
event named nobody, to a role of a station (``daxing:station_head``): every holder of
that role at that station has it in their inbox, and the first to read it marks it
read for all of them.
"""

from typing import Any


def inbox_ids(principal: Any) -> list:
    """The recipient ids whose in-app messages are this staff member's."""
    ids = [principal.id]
    if principal.station:
        ids.append(f"{principal.station}:{principal.role}")
    return ids


def is_addressed_to(message: dict, principal: Any) -> bool:
    return message.get("channel") == "in_app" and message.get("recipient_id") in inbox_ids(
        principal
    )


def mark_read(message: dict, principal: Any, at: str) -> dict:
    """The changes that mark the message read (none if it was read already)."""
    if message.get("read_at"):
        return {}
    return {
        "read_at": at,
        "read_by": principal.id,
        "history": list(message.get("history", ()))
        + [{"kind": "read", "at": at, "by": principal.id}],
    }
