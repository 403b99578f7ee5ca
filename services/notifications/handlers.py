"""The notifications service layer: turn an event into its messages, send each once."""
import logging

from services.common import clock
from services.common.contracts import MESSAGE_SENT
from services.common.envelope import new_event
from services.common.privacy import mask_phone
from services.notifications import domain

log = logging.getLogger(__name__)


class RecipientUnknown(Exception):
    """The recipient's contact has not arrived yet; the event is retried later."""


def remember_contact(store, request):
    resident = request["resident"]
    store.remember_contact(request["request_id"], request["station"], resident["name"],
                           resident["phone"])


def _recipient_phone(store, rule, data):
    if rule.recipient_role == "worker":
        return data["assignee"]["phone"]
    contact = store.contact(data["request_id"])
    if contact is None:
        raise RecipientUnknown(f"no contact yet for request {data['request_id']}")
    return contact["phone"]


def notify(store, relay, provider, envelope, data):
    """Send every message the rules ask for this event, each exactly once."""
    for rule in domain.rules_for(envelope["type"]):
        template = domain.TEMPLATES[rule.template]
        now = clock.now()
        intent = {
            "_id": domain.message_id(envelope["id"], rule), "event_id": envelope["id"],
            "event_type": envelope["type"], "case_id": data.get("case_id"),
            "request_id": data.get("request_id"), "station": data.get("station"),
            "correlation_id": envelope["correlationid"],
            "recipient_role": rule.recipient_role, "phone": _recipient_phone(store, rule, data),
            "channel": rule.channel, "template": rule.template,
            "provider_code": template.provider_code, "signature": template.signature,
            "body": domain.render(template, domain.variables_for(envelope["type"], data)),
            "status": "created", "created_at": clock.iso(now), "created_ms": clock.to_ms(now),
            "history": [{"status": "created", "at": clock.iso(now)}],
        }
        message = store.record_intent(intent)
        if message["status"] != "created":
            continue  # sent already: a redelivered event sends nothing twice
        provider_id = provider.send(message)
        sent = new_event(MESSAGE_SENT, {
            "message_id": message["_id"], "case_id": message["case_id"],
            "station": message["station"], "recipient_role": rule.recipient_role,
            "channel": rule.channel, "template": rule.template, "status": "sent",
            "sent_at": clock.iso(clock.now())},
            subject=message["_id"], correlation_id=envelope["correlationid"],
            causation_id=envelope["id"], sequence=1)
        document = store.mark_sent(message, provider.name, provider_id, [sent])
        log.info("sms %s to %s %s sent via %s", rule.template, rule.recipient_role,
                 mask_phone(message["phone"]), provider.name)
        relay.publish_now("messages", document)
