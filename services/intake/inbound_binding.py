"""The CloudEvents protocol bindings of intake's inbound events: HTTP (POST /v1/events)
and AMQP (the ``shegong.inbound`` exchange), each in structured and binary content mode.

Whatever the transport and mode, the result is the event as a structured JSON event
(a dict, ``data`` decoded), so every event reaches the same validation, the same keys
and the same deduplication (services/intake/domain/inbound.py and
handlers/inbound.py).
A message that cannot be read is refused with an InboundRejected naming its real cause.

- Structured mode: the content type is ``application/cloudevents+json`` (parameters
  such as ``charset`` allowed); the body is the whole event. On HTTP a batch is
  ``application/cloudevents-batch+json``: a JSON array of 0 to MAX_BATCH events.
  A plain ``application/json`` body with no CloudEvents attributes outside it is taken
  as a structured event too (as it always was).
- Binary mode: the attributes travel outside the body, ``ce-<name>`` HTTP headers
  (percent-encoded) or ``cloudEvents_<name>`` / ``cloudEvents:<name>`` AMQP application
  properties (``ce-<name>`` headers of the RabbitMQ binding are read as well); the body
  is the event's data and the content type is its ``datacontenttype``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from services.common import clock, jsontext, mediatypes
from services.intake.domain.inbound import InboundRejected

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MAX_BATCH = 100
HTTP_PREFIX = "ce-"
AMQP_PREFIXES = ("cloudEvents_", "cloudEvents:", "ce-")
NO_CONTENT_TYPE = f"no content type: expected {STRUCTURED} or binary-mode cloudEvents_ properties"


@dataclass(frozen=True)
class AmqpDelivery:
    """What the inbound consumer hands over of one AMQP message, undecoded."""

    body: bytes
    content_type: str | None = None
    content_encoding: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)


def _refuse(code: str, reason: str) -> InboundRejected:
    return InboundRejected(code, reason)


def _media_type(text: str | None, what: str) -> mediatypes.MediaType | None:
    try:
        return mediatypes.parse(text)
    except mediatypes.MediaTypeError as exc:
        raise _refuse("unsupported_media_type", f"{what}: {exc}") from None


def _json(raw: bytes, media: mediatypes.MediaType | None, what: str) -> Any:
    """The JSON value of a body in its media type's charset (400 malformed_json)."""
    if isinstance(raw, str):  # a client library that hands over text
        raw = raw.encode("utf-8")
    try:  # the depth is checked before parsing (jsontext): no deep recursion per message
        return jsontext.loads(mediatypes.decode_text(raw, media), parse_constant=_not_json)
    except jsontext.TooDeep as exc:
        raise _refuse("malformed_json", f"{what} could not be decoded as JSON: {exc}") from None
    except ValueError as exc:
        raise _refuse(
            "malformed_json",
            f"{what} could not be decoded as {media.essence if media else 'JSON'}: {exc}",
        ) from None


def _not_json(name: str) -> None:
    """NaN and Infinity: Python's json reads them, JSON (RFC 8259) has no such values."""
    raise ValueError(f"{name} is not a JSON value")


def _data_type(media: mediatypes.MediaType | None, what: str) -> None:
    """Binary mode: the data must be JSON (every inbound type's data is a JSON object)."""
    if media is not None and not media.is_json():
        raise _refuse(
            "unsupported_media_type",
            f"{what} {media}: binary-mode data must "
            f"be JSON (application/json); or send the whole event as {STRUCTURED}",
        )


def from_http(headers: Mapping[str, str], body: bytes) -> tuple[list[Any], bool]:
    """The events of one POST /v1/events, and whether it was a batch (an empty batch is
    no events). Raises InboundRejected (unsupported_media_type, malformed_json) when the
    request cannot be read."""
    fields = {name.lower(): value for name, value in headers.items()}  # case-insensitive
    content_type = fields.get("content-type")
    media = _media_type(content_type, "Content-Type")
    attributes = {
        name[len(HTTP_PREFIX) :]: unquote(value)
        for name, value in fields.items()
        if name.startswith(HTTP_PREFIX) and len(name) > len(HTTP_PREFIX)
    }
    if media is not None and media.essence == BATCH:
        events = _json(body, media, "the body")
        if not isinstance(events, list):
            raise _refuse("malformed_json", "a batch is a JSON array of events")
        if len(events) > MAX_BATCH:
            raise _refuse("malformed_json", f"a batch holds at most {MAX_BATCH} events")
        return events, True
    essence = media.essence if media is not None else None
    if essence == STRUCTURED or (essence == "application/json" and not attributes):
        event = _json(body, media, "the body")
        if not isinstance(event, dict):
            raise _refuse("malformed_json", f"an event is a JSON object; send a batch as {BATCH}")
        return [event], False
    if not attributes:
        raise _refuse(
            "unsupported_media_type",
            f"Content-Type {content_type or 'missing'}: send {STRUCTURED}, {BATCH}, "
            f"or binary mode: the data with ce-specversion, ce-id, ce-source and "
            f"ce-type headers",
        )
    _data_type(media, "Content-Type")
    return [_binary_event(attributes, body, media)], False


def from_amqp(delivery: AmqpDelivery) -> Any:
    """The event of one message on the inbound exchange. Raises InboundRejected naming the
    cause when it cannot be read (the consumer dead-letters it with that reason)."""
    media = _media_type(delivery.content_type, "content type")
    attributes = _amqp_attributes(delivery.headers or {})
    body = delivery.body if isinstance(delivery.body, bytes) else str(delivery.body).encode("utf-8")
    _content_encoding(delivery.content_encoding)
    if media is not None and media.essence == BATCH:
        raise _refuse(
            "unsupported_media_type", f"{BATCH} is for HTTP; publish one event per message"
        )
    essence = media.essence if media is not None else None
    if essence == STRUCTURED or (essence == "application/json" and not attributes):
        return _json(body, media, "the body")
    if not attributes:
        if media is None:
            raise _refuse("unsupported_media_type", NO_CONTENT_TYPE)
        raise _refuse(
            "unsupported_media_type",
            f"content type {media}: expected {STRUCTURED}, or binary mode "
            f"(cloudEvents_ properties with the data as application/json)",
        )
    _data_type(media, "content type")
    return _binary_event(attributes, body, media)


def _content_encoding(encoding: str | None) -> None:
    """kombu and other clients name the charset here ("utf-8") or "binary"; a compression
    (gzip) is nothing we can read."""
    if not encoding or encoding.lower() in ("binary", "identity", "utf-8", "utf8"):
        return
    raise _refuse(
        "unsupported_media_type",
        f"content encoding {encoding[:50]!r} is not supported: send the body as it is (UTF-8 JSON)",
    )


def _amqp_attributes(headers: Mapping[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, value in headers.items():
        prefix = next((p for p in AMQP_PREFIXES if name.startswith(p)), None)
        if prefix and len(name) > len(prefix):
            attributes.setdefault(name[len(prefix) :].lower(), _amqp_value(name, value))
    return attributes


def _amqp_value(name: str, value: Any) -> Any:
    """AMQP values as CloudEvents attribute strings: a timestamp (a datetime, or an
    integer of milliseconds for ``time``, as the AMQP binding allows) as RFC 3339."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return stamp.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("time"):
        try:
            return clock.from_ms(value).isoformat()
        except (OverflowError, OSError, ValueError):
            return str(value)  # the envelope refuses it as a time
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _binary_event(
    attributes: dict[str, Any], body: bytes, media: mediatypes.MediaType | None
) -> dict[str, Any]:
    """The structured event a binary-mode message stands for; a missing or invalid
    attribute is left for the envelope's validation to name (422)."""
    event = {
        name: value
        for name, value in attributes.items()
        if name not in ("data", "data_base64", "datacontenttype")
    }
    if media is not None:
        event["datacontenttype"] = str(media)
    if body:
        event["data"] = _json(body, media, "the data")
    return event
