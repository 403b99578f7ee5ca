"""The CloudEvents 1.0 envelope every event travels in (structured JSON mode).

Besides the CloudEvents core attributes, each event carries three extension
attributes: ``correlationid`` (the request that started the chain), ``causationid``
(the event that caused this one) and ``sequence`` (the event's position in its
aggregate's history, starting at 1, contiguous).
"""

import functools
import json

import kombu.serialization
from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate, validates

from services.common import clock, ids, jsontext, mediatypes
from services.common.fields import MAX_SEQUENCE, STATION_DATES, BoundedInteger, Line, Text

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
# no event of the catalogue comes near this: a bigger one is junk (the HTTP APIs' limit too)
MAX_EVENT_BYTES = 1024 * 1024
SOURCE_PREFIX = "/suyu/shegong/"


class InvalidEvent(Exception):
    """An event that can never be handled (bad envelope, bad data, unknown type).

    It is not retried: it goes to the dead-letter queue with this reason.
    """

    def __init__(self, reason, fields=None):
        super().__init__(reason)
        self.reason = reason
        self.fields = fields or {}


class NotKnownYet(InvalidEvent):
    """An event naming something its consumer has not learnt of yet but may shortly (an
    agency's answer to a referral made a moment ago, whose ``case.referred`` is still on
    its way): retried with the service's delays like a fault, and only when they are
    used up dead-lettered, as invalid, with this reason."""


def json_media_type(value: str) -> None:
    """A ``datacontenttype`` validator: a JSON media type, compared by type
    (``application/json; charset=utf-8`` is JSON)."""
    if value == "application/json":  # what every event of ours says: no parsing needed
        return
    try:
        media = mediatypes.parse(value)
    except mediatypes.MediaTypeError as exc:
        raise ValidationError(str(exc)) from None
    if media is None or not media.is_json():
        raise ValidationError(
            "data must be JSON: application/json (parameters such as charset=utf-8 allowed)"
        )


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other CloudEvents extensions are allowed and ignored

    id = Line(required=True, validate=validate.Length(min=1, max=200))
    source = Line(required=True, validate=validate.Length(min=1, max=500))
    specversion = fields.String(required=True, validate=validate.Equal(SPECVERSION))
    type = Line(required=True, validate=validate.Length(min=1, max=200))
    time = Line(required=True, validate=STATION_DATES)
    subject = Line(load_default=None, allow_none=True)
    datacontenttype = fields.String(load_default="application/json", validate=json_media_type)
    data = fields.Dict(required=True)
    correlationid = Line(required=True, validate=validate.Length(min=1, max=200))
    causationid = Line(load_default=None, allow_none=True)
    sequence = BoundedInteger(1, MAX_SEQUENCE, load_default=None, allow_none=True)

    @validates("time")
    def _time_has_offset(self, value, **_):
        try:
            clock.parse_iso(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


ENVELOPE = EnvelopeSchema()


@functools.lru_cache(maxsize=None)
def data_schema(schema_cls):
    """One instance per data schema, built once (building one per event cost more than
    validating with it); schemas hold no per-call state, so instances are shared."""
    return schema_cls()


# Field types whose dumped value is the value they loaded (a string, an int, a bool, a
# plain dict; lists and nested schemas of these): dumping what such a schema has just
# loaded gives the same document again, so ``dumped`` skips that second pass.
_PLAIN_FIELDS = (fields.String, fields.Integer, fields.Boolean)
_REWRITING_HOOKS = ("pre_dump", "post_dump", "pre_load", "post_load")


def _dumps_as_loaded(field):
    kind = type(field)
    if field.attribute is not None or field.data_key is not None:
        return False  # loaded under one key, dumped under another
    if field.load_only or field.dump_only:
        return False
    if kind in _PLAIN_FIELDS:
        return not getattr(field, "as_string", False)
    if isinstance(field, Text):  # str in, str out (normalised on the way in)
        return kind._serialize is fields.String._serialize
    if kind is fields.Dict:
        return field.key_field is None and field.value_field is None
    if kind is fields.List:
        return _dumps_as_loaded(field.inner)
    if kind is fields.Nested:
        return field.unknown != INCLUDE and schema_dumps_as_loaded(field.schema)
    return False  # dates, UUIDs and the like are objects once loaded


@functools.lru_cache(maxsize=None)
def schema_dumps_as_loaded(schema):
    """True when ``schema.dump(schema.load(x)) == schema.load(x)`` for every ``x`` the
    schema instance loads: no hook that rewrites, every field a type that dumps what it
    loaded. Answered once per instance (they are shared: ``data_schema``)."""
    if any(schema._hooks.get(tag) for tag in _REWRITING_HOOKS):
        return False
    if schema.unknown == INCLUDE:  # loaded, not dumped: the unknown keys it kept
        return False
    return all(_dumps_as_loaded(field) for field in schema.fields.values())


def dumped(schema, loaded):
    """What ``schema.dump(loaded)`` gives for ``loaded``, the output of ``schema.load``:
    ``loaded`` itself when the schema dumps what it loads (its load already made a new
    document of plain JSON values), the schema's dump otherwise."""
    if schema_dumps_as_loaded(schema):
        return loaded
    return schema.dump(loaded)


def new_event(
    contract,
    data,
    *,
    subject,
    correlation_id,
    causation_id=None,
    sequence=None,
    time=None,
    event_id=None,
):
    """Build a validated envelope for ``contract`` (raises ValidationError on bad data).

    The data and the envelope are each loaded (validated) once; neither is dumped again
    when its schema dumps what it loads (``dumped``)."""
    schema = data_schema(contract.schema)
    payload = dumped(schema, schema.load(data))
    envelope = {
        "id": event_id or ids.new_id(),
        "source": SOURCE_PREFIX + contract.producer,
        "specversion": SPECVERSION,
        "type": contract.type,
        "time": clock.iso(time or clock.now()),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": payload,
        "correlationid": correlation_id,
        "causationid": causation_id,
        "sequence": sequence,
    }
    return dumped(ENVELOPE, ENVELOPE.load(envelope))


def load_event(body, contract):
    """Validate an incoming envelope and its data against ``contract``.

    Returns ``(envelope, data)``; raises InvalidEvent with field-level reasons.
    """
    if not isinstance(body, dict):
        raise InvalidEvent("event body is not a JSON object")
    if len(encode_json(body)) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        envelope = ENVELOPE.load(body)
    except ValidationError as exc:
        raise InvalidEvent("invalid CloudEvents envelope", exc.messages) from None
    if envelope["type"] != contract.type:
        raise InvalidEvent(f"expected type {contract.type}, got {envelope['type']}")
    try:
        data = data_schema(contract.schema).load(envelope["data"])
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {contract.type}", exc.messages) from None
    return envelope, data


def encode_json(value):
    """kombu encoder for application/cloudevents+json: UTF-8 JSON, Chinese unescaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_json(payload):
    """kombu decoder: JSON nested deeper than jsontext.MAX_DEPTH is a ValueError (the
    consumer dead-letters it with the reason) before json.loads recurses into it."""
    return jsontext.loads(payload)


# Every process that imports the envelope can publish and consume structured CloudEvents.
kombu.serialization.register(
    "cloudevents", encode_json, decode_json, content_type=CONTENT_TYPE, content_encoding="binary"
)
