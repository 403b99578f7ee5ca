"""A service's dead-letter queue as an operator reads it: each parked message named
(``DeadLetter``: the id it was given when parked, its CloudEvent id, its AMQP message
id), summarised and shown masked, and every one fetched unacknowledged (``read_queue``),
so that reading consumes nothing. The command is deadletters.py.
"""

from services.common import dead_letter_ids, messaging
from services.common.privacy import mask_name, mask_text

FREE_TEXT_KEYS = {"description", "note", "summary", "address", "body", "text"}


def mask_value(key, value):
    """A copy of a decoded body fit for an operator's screen."""
    if isinstance(value, dict):
        return {k: mask_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(key, item) for item in value]
    if not isinstance(value, str):
        return value
    if key in FREE_TEXT_KEYS:
        return f"<{len(value)} characters masked>"
    if "name" in str(key).lower() and key not in ("type", "source"):
        return mask_name(value)
    return mask_text(value)


MAX_SHOWN_DEPTH = 64  # no real event nests deeper; a poison message may


def nesting(value):
    """How deeply lists and dicts nest in a decoded body (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend(
                (inner, depth + 1) for inner in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


class DeadLetter:
    """One parked message as read from its queue (still unacknowledged). It is named by
    the id it was given when it was dead-lettered (dead_letter_ids.HEADER: its own id,
    else a new one), and found by its CloudEvent id (from the body, or from binary-mode
    headers: an event from another system has no AMQP message id) and by its AMQP
    message id too. One parked before that header existed and with no id at all is
    named by a digest of its body and headers (dead_letter_ids.digest_id)."""

    def __init__(self, service, message):
        self.service, self.message = service, message
        self.headers = dict(message.headers or {})
        self.message_id = message.properties.get("message_id") or ""
        self._event, self._read = None, False
        self.cloudevent_id = str(self.attribute("id") or "")
        self.dead_letter_id = dead_letter_ids.usable(self.headers.get(dead_letter_ids.HEADER))
        # ours: the message id and the CloudEvent id are the same
        self.event_id = (
            self.dead_letter_id
            or self.message_id
            or self.cloudevent_id
            or dead_letter_ids.digest_id(message.body, self.headers)
        )

    def names(self):
        """What ``show --id`` and ``replay --id`` find this dead letter by."""
        return {name for name in (self.event_id, self.cloudevent_id, self.message_id) if name}

    def label(self):
        """Both names when they differ (a system that set its own message id)."""
        if self.cloudevent_id and self.message_id and self.cloudevent_id != self.message_id:
            return f"{self.message_id} (event {self.cloudevent_id})"
        return self.event_id

    def attribute(self, name):
        """A CloudEvent attribute: from the (structured) body, else a binary-mode header."""
        return dead_letter_ids.cloudevent_attribute(self.event(), self.headers, name)

    def event(self):
        """The body as JSON, or None: whatever it holds (not JSON, nested too deeply for
        the parser), a parked message is still listed."""
        if not self._read:
            self._read = True
            self._event = dead_letter_ids.decoded(self.message.body)
        return self._event

    def summary(self):
        event_type = self.attribute("type")
        return {
            "service": self.service,
            "id": self.label(),
            "type": event_type or self.message.properties.get("type") or "?",
            "queue": self.headers.get("x-original-queue", "?"),
            "failed_at": self.headers.get("x-failed-at", "?"),
            "exception": self.headers.get("x-exception-type", "?"),
            "reason": mask_text(str(self.headers.get("x-death-reason", "?"))),
        }

    def details(self):
        event = self.event()
        headers = {k: mask_text(v) if isinstance(v, str) else v for k, v in self.headers.items()}
        size = len(self.message.body or b"")
        if event is None:
            body = f"<{size} undecodable bytes>"
        elif nesting(event) > MAX_SHOWN_DEPTH:  # masking and printing it would recurse
            body = f"<{size} bytes nested deeper than {MAX_SHOWN_DEPTH} levels: not shown>"
        else:
            body = mask_value(None, event)
        return {
            **self.summary(),
            "dead_letter_id": self.event_id,
            "event_id": self.cloudevent_id or None,
            "message_id": self.message_id or None,
            "headers": headers,
            "content_type": self.message.content_type,
            "body": body,
        }


def read_queue(channel, service, queue_type):
    """Every message now in a service's dead-letter queue, fetched unacknowledged (at
    most as many as it held when asked, so a replay that fails again is not re-read)."""
    queue = messaging.dead_letter_queue(service, queue_type)(channel)
    _, depth, _ = queue.queue_declare(passive=True)
    found = []
    for _ in range(depth):
        message = queue.get(no_ack=False)  # the body is read raw, never decoded by kombu
        if message is None:
            break
        found.append(DeadLetter(service, message))
    return found
