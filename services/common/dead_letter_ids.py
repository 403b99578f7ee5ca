"""The id every dead letter is named by, given when it is dead-lettered.

An operator lists, shows and replays dead letters by id (services/ops/deadletters.py).
A message may come with none: another system's event without an AMQP message id, whose
body is not JSON or has no ``id``, binary, with no headers at all. So when an entrypoint
parks a message (``messaging.RetryingEventHandler._park``, the one path every consumer, the
inbound exchange's included, dead-letters by) it writes the header
``x-shegong-dead-letter-id``: the message's own id when it has one (its AMQP message
id, else its CloudEvent id from the body or from binary-mode ``cloudEvents_id`` /
``ce-id`` headers), else a new UUID. The header is kept by a replay, so a message
parked again is named as before. A dead letter parked before the header existed and
without an id of its own is named ``dl-`` and a digest of its body and headers: the
same on every listing.
"""

import hashlib
import json
import re

from services.common import ids

HEADER = "x-shegong-dead-letter-id"
# where a CloudEvent's attributes are when they are not in the body (binary content mode)
BINARY_PREFIXES = ("cloudEvents_", "cloudEvents:", "ce-")
# an id an operator can type: one line, printable, not too long; anything else is no id
_USABLE = re.compile(r"[^\x00-\x20\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]{1,200}")


def usable(value) -> str | None:
    """VALUE as an id an operator can read and type, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    return text if _USABLE.fullmatch(text) else None


def decoded(body):
    """The body as JSON, or None (not JSON, not UTF-8, nested too deeply to parse)."""
    try:
        return json.loads(body)
    except (TypeError, ValueError, RecursionError):
        return None


def cloudevent_attribute(event, headers, name):
    """A CloudEvent attribute: from the (structured) body, else a binary-mode header."""
    if isinstance(event, dict) and isinstance(event.get(name), (str, int)):
        return event[name]
    for prefix in BINARY_PREFIXES:
        if headers.get(prefix + name) is not None:
            return headers[prefix + name]
    return None


def own_id(properties, headers, body):
    """The id a message came with (AMQP message id, else CloudEvent id), or None."""
    found = usable(properties.get("message_id"))
    if found:
        return found
    return usable(cloudevent_attribute(decoded(body), headers, "id"))


def assign(message, headers):
    """Name a message being dead-lettered: HEADER in ``headers`` (kept if it has one)."""
    if not usable(headers.get(HEADER)):
        headers[HEADER] = own_id(message.properties, headers, message.body) or ids.new_id()
    return headers[HEADER]


def digest_id(body, headers):
    """The stable name of a dead letter parked with no id at all (before HEADER was)."""
    digest = hashlib.sha256(body if isinstance(body, bytes) else str(body).encode())
    digest.update(json.dumps(headers, sort_keys=True, default=str).encode())
    return "dl-" + digest.hexdigest()[:16]
