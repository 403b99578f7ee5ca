"""The notifications service layer: turn an event into its messages, send each once.

A message is recorded first (its intent, under the unique id event:recipient:template),
then claimed (``sending``, with a lease), then sent through the provider chain, then
marked ``sent`` with its ``message.sent`` event in the same write. A message that must
wait (quiet hours, rate limit, a retry after a temporary failure, a claim whose
process died) keeps a ``due_ms``; the sweep (``batch.deliver_due``, a timer) sends it then.
What sending gave, and the change that records it, is outcomes.py's; the paths for a
batch of events and of messages (the only paths) are batch.py's.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from services.common import clock, metrics, outbox
from services.common.config import Settings
from services.common.contracts import MESSAGE_DELIVERED, MESSAGE_FAILED, MESSAGE_SENT
from services.common.envelope import new_event
from services.common.fields import scrub_text
from services.common.privacy import mask_name, mask_phone, pseudonym
from services.notifications import domain
from services.notifications.domain import delivery as domain_delivery
from services.notifications.store import NotificationStore

log = logging.getLogger(__name__)

EVENT_OF = {
    "sent": MESSAGE_SENT,
    "delivered": MESSAGE_DELIVERED,
    "failed": MESSAGE_FAILED,
    "technical_failure": MESSAGE_FAILED,
}
AT_FIELD = {
    "sent": "sent_at",
    "delivered": "delivered_at",
    "failed": "failed_at",
    "technical_failure": "failed_at",
}


class RecipientUnknown(Exception):
    """The recipient's contact has not arrived yet; the event is retried later."""


class Contacts(Protocol):
    """What deciding an event's messages reads of the store: a NotificationStore, or a
    batch's view of it with the batch's contacts read at once (batch.py)."""

    def contact(self, request_id: str) -> dict | None: ...

    def case_priority(self, case_id: str) -> str | None: ...


@dataclass
class Recipient:
    phone: str | None = None
    id: str | None = None
    variables: dict = field(default_factory=dict)


def _resident_contact(store, data):
    contact = store.contact(data["request_id"])
    if contact is None:
        raise RecipientUnknown(f"no contact yet for request {data['request_id']}")
    return contact


_WARNED: set = set()  # (kind, setting) already logged by this process


def _unaddressed(kind: str, setting: str) -> None:
    """A message with no one to go to: counted each time, logged once per process and
    kind (a store with years of open cases breaches hundreds at once: one line each
    would bury the log)."""
    metrics.MESSAGES_UNADDRESSED.labels(kind, setting).inc()
    if (kind, setting) not in _WARNED:
        _WARNED.add((kind, setting))
        log.warning(
            "%s is empty: %s messages have no one to go to and are not sent, this one and "
            "the later ones (said once; counted in shegong_messages_unaddressed_total)",
            setting,
            kind,
        )


def _recipient(store, policy, rule, data):
    """Who a rule's message goes to, or None when the event has no such person."""
    role = rule.recipient_role
    if role in ("worker", "station_head"):
        staff = data.get("assignee" if role == "worker" else "station_head")
        if staff:
            return Recipient(staff["phone"], staff["id"])
        return Recipient(None, f"{data['station']}:{role}") if rule.channel == "in_app" else None
    if role == "duty_officer":
        if not policy.duty_officer_phone:
            _unaddressed(rule.template, "SHEGONG_DUTY_OFFICER_PHONE")
            return None
        return Recipient(policy.duty_officer_phone, "duty_officer")
    if role == "emergency_contact" and "resident" in data:  # request.received carries it
        found, name = data["resident"].get("emergency_contact"), data["resident"]["name"]
    else:
        contact = _resident_contact(store, data)
        if role == "resident":
            return Recipient(contact["phone"], None, {"resident_name": mask_name(contact["name"])})
        found, name = contact.get("emergency_contact"), contact["name"]
    if not found:
        return None
    return Recipient(found["phone"], None, {"resident_name": mask_name(name)})


def notify(
    store: NotificationStore,
    relay: outbox.FastPath,
    sender: Any,
    settings: Settings,
    envelope: dict,
    data: dict,
) -> None:
    """Record every message the rules ask for this event, each once, and send those due:
    ``batch.notify_many`` of one (the one path); raises what kept the event from being
    done (RecipientUnknown while a resident's contact has not arrived)."""
    from services.notifications.handlers import batch  # the batch path imports this module

    failures = batch.notify_many(store, relay, sender, settings, [(0, envelope, data)])
    if failures:
        raise failures[0]


def intents(store: Contacts, settings: Settings, envelope: dict, data: dict) -> list[dict]:
    """The messages the rules ask for this event (not yet recorded); raises
    RecipientUnknown while a resident's contact has not arrived."""
    policy = settings.notifications
    found = []
    for rule in domain.rules_for(envelope["type"], data):
        recipient = _recipient(store, policy, rule, data)
        if recipient is not None:
            found.append(_intent(store, settings, envelope, data, rule, recipient))
    return found


def _intent(store, settings, envelope, data, rule, recipient):
    template = domain.TEMPLATES[rule.template]
    variables = {**domain.variables_for(envelope["type"], data), **recipient.variables}
    priority = data.get("priority") or (
        data.get("case_id") and store.case_priority(data["case_id"])
    )
    now = clock.now()
    phone = recipient.phone if rule.channel == "sms" else None
    return {
        "_id": domain.message_id(envelope["id"], rule),
        "event_id": envelope["id"],
        "event_type": envelope["type"],
        "case_id": data.get("case_id"),
        "request_id": data.get("request_id"),
        "station": data.get("station"),
        "correlation_id": envelope["correlationid"],
        "recipient_role": rule.recipient_role,
        "recipient_id": recipient.id,
        "recipient": mask_phone(phone) if phone else recipient.id,
        "phone": phone,
        "phone_ref": pseudonym(settings.pseudonym_key, phone) if phone else None,
        "channel": rule.channel,
        "template": rule.template,
        "provider_code": template.provider_code,
        "tencent_template_id": template.tencent_id,
        "signature": template.signature,
        "params": domain.template_params(template, variables),
        "body": domain.render(template, variables),
        "priority": priority or None,
        "urgent": bool(rule.urgent or priority == "urgent"),
        "status": "created",
        "attempts": 0,
        "created_at": clock.iso(now),
        "created_ms": clock.to_ms(now),
        "due_ms": clock.to_ms(now),
        "history": [{"kind": "status", "status": "created", "at": clock.iso(now)}],
    }


def status_event(
    message: dict, status: str, at: str, reason: str | None = None, provider: str | None = None
) -> dict:
    data = {
        "message_id": message["_id"],
        "case_id": message.get("case_id"),
        "request_id": message.get("request_id"),
        "station": message.get("station"),
        "recipient_role": message["recipient_role"],
        "channel": message["channel"],
        "template": message["template"],
        "status": status,
        "provider": provider or message.get("provider"),
        # a provider's words, kept (not refused) without control characters
        "reason": scrub_text(reason, multiline=True) if reason else reason,
        AT_FIELD[status]: at,
    }
    return new_event(
        EVENT_OF[status],
        data,
        subject=message["_id"],
        correlation_id=message.get("correlation_id") or message["_id"],
        causation_id=message.get("event_id"),
        sequence=outbox.next_sequence(message),
    )


@dataclass(frozen=True)
class Change:
    """What a write of a message changes: its fields, the events it stages, the fields
    it removes."""

    fields: dict
    events: list = field(default_factory=list)
    unset: tuple = ()


def apply_change(
    store: NotificationStore,
    relay: outbox.FastPath,
    message: dict,
    change: Callable[[dict], "Change | None"],
) -> dict:
    """Apply ``change(message) -> Change | None`` on the newest version, reading again
    after a conflict; publishes the events it staged."""
    document, staged = write_change(store, message, change)
    if staged:
        relay.publish_now("messages", document)
    return document


def write_change(
    store: NotificationStore, message: dict, change: Callable[[dict], "Change | None"]
) -> tuple[dict, bool]:
    """apply_change without the publication: ``(document, staged)``, ``staged`` true when
    the write staged events in the document's outbox (for the caller to publish)."""
    for _ in range(10):
        decided = change(message)
        if decided is None:
            return message, False
        document = store.update(message, decided.fields, decided.events, decided.unset)
        if document is not None:
            return document, bool(decided.events)
        # a newer version won (messages are never removed): read it
        message = cast(dict, store.get(message["_id"]))
    raise RuntimeError(f"message {message['_id']} kept changing under the writer")


def is_due(message: dict, now_ms: int) -> bool:
    """True when the message waits to be sent and its time has come."""
    return (
        message["status"] in domain_delivery.PENDING
        and message.get("due_ms") is not None
        and message["due_ms"] <= now_ms
    )


def report_held(message: dict, reason: str, until_ms: int) -> None:
    metrics.SMS_HELD.labels(
        domain_delivery.recipient_kind(message["recipient_role"]), message["template"], reason
    ).inc()
    log.log(
        logging.WARNING if reason == "staff_rate_limited" else logging.INFO,
        "message %s (%s to %s) held (%s) until %s",
        message["_id"],
        message["template"],
        message["recipient_role"],
        reason,
        clock.iso(clock.from_ms(until_ms)),
    )
