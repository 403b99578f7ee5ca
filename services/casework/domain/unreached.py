"""A resident who was not told (pure, no I/O): an SMS to the case's resident ended
failed, so the case records it and its owner is asked to phone the resident.

Recorded once per failed message (a redelivered message.failed changes nothing), as
an entry of the case's action log, with the event that puts it in the owner's inbox.
"""

from services.casework.domain import changed
from services.common.contracts import CASE_RESIDENT_UNREACHED

ACTION = "resident_unreached"


def is_for_a_resident(failure: dict) -> bool:
    """A message.failed about an SMS to a case's resident (others are not casework's)."""
    return (
        failure.get("recipient_role") == "resident"
        and failure.get("channel") == "sms"
        and bool(failure.get("case_id"))
    )


def resident_unreached(case, failure: dict):
    """``(case, events)``: the failure in the case's actions and case.resident_unreached;
    ``(case, [])`` when this message's failure is recorded already."""
    if any(action.get("message_id") == failure["message_id"] for action in case.actions):
        return case, []
    reason = failure.get("reason") or failure.get("status")
    action = {
        "type": ACTION,
        "note": f"短信未送达居民（{reason}），请电话联系居民",
        "by": "notifications",
        "at": failure["failed_at"],
        "message_id": failure["message_id"],
    }
    case = changed(case, actions=case.actions + (action,))
    assignee = case.assignee and {key: case.assignee[key] for key in ("id", "name", "phone")}
    return case, [
        (
            CASE_RESIDENT_UNREACHED,
            {
                **case.ref(),
                "message_id": failure["message_id"],
                "template": failure["template"],
                "reason": reason,
                "failed_at": failure["failed_at"],
                "priority": case.priority,
                "assignee": assignee,
            },
        )
    ]
