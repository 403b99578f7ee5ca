"""The service layer for providers' delivery reports."""

import logging

from services.common import clock
from services.common.outbox import FastPath
from services.notifications.domain import delivery as domain_delivery
from services.notifications.domain.sending import FINAL_UNSET, final_fields
from services.notifications.handlers import AT_FIELD, Change, apply_change, status_event
from services.notifications.store import NotificationStore

log = logging.getLogger(__name__)


def apply_receipt(store: NotificationStore, relay: FastPath, receipt: dict) -> bool:
    """A provider's delivery report: the status only moves forward; a repeated or late
    report is kept in the history and changes nothing else. False if no message matches."""
    message = None
    if receipt.get("message_id"):
        message = store.get(receipt["message_id"])
    if message is None and receipt.get("provider_message_id"):
        message = store.by_provider_id(receipt["provider"], receipt["provider_message_id"])
    if message is None:
        log.warning("receipt from %s for an unknown message", receipt["provider"])
        return False
    entry = {
        "kind": "receipt",
        "provider": receipt["provider"],
        "status": receipt["status"],
        "reported_at": receipt.get("at"),
        "reason": receipt.get("reason"),
    }

    def change(current: dict) -> Change | None:
        seen = [{k: h.get(k) for k in entry} for h in current["history"] if h["kind"] == "receipt"]
        if entry in seen:
            return None  # the very same report again
        at = clock.iso(clock.now())
        history = current["history"] + [{**entry, "at": at}]
        status = receipt["status"]
        if not domain_delivery.moves_forward(current["status"], status):
            return Change({"history": history})
        fields = {
            **final_fields(status, receipt.get("reason")),
            AT_FIELD[status]: at,
            "history": history
            + [{"kind": "status", "status": status, "at": at, "provider": receipt["provider"]}],
        }
        return Change(
            fields,
            [status_event(current, status, at, receipt.get("reason"), receipt["provider"])],
            FINAL_UNSET,
        )

    apply_change(store, relay, message, change)
    return True
