"""Generate the events catalogue from the code: ``python -m docs.generate`` (``make docs``).

Writes ``docs/events.md`` (the catalogue, each type's data fields, an example envelope,
the envelope itself and the retry/dead-letter topology) and ``docs/asyncapi.json`` (an
AsyncAPI 2.6.0 document). Everything comes from ``services.common.contracts.CATALOGUE``,
the envelope schema and the handlers found on the service classes; ``render()`` returns
the files as text so a test can check that the committed files are current.
``--check`` exits non-zero, writing nothing, when a file on disk differs.

The output is deterministic: no clock, no random ids, sorted JSON keys.
"""
import json
import re
import sys
import tomllib
import warnings
from datetime import datetime
from pathlib import Path

from marshmallow import RAISE, fields, missing, validate

with warnings.catch_warnings():
    # eventlet (imported by nameko) announces its deprecation on import
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from services.common import config, contracts, envelope, messaging
    from services.common.contracts import CATALOGUE
    from services.common.envelope import EnvelopeSchema
    from services.common.messaging import consumers_of
    from services.common.registry import SERVICE_CLASSES, service_class

ROOT = Path(__file__).resolve().parent.parent
EVENTS_MD = "docs/events.md"
ASYNCAPI_JSON = "docs/asyncapi.json"
ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"

# ---------------------------------------------------------------------------------------
# marshmallow -> JSON Schema
# ---------------------------------------------------------------------------------------

# Plain-function validators of this repository, described in words. Any other callable
# validator becomes "checked by <module>.<name>".
KNOWN_CHECKS = {
    "services.common.contracts._instant_validator":
        "an ISO 8601 time with a UTC offset, e.g. 2023-05-29T08:00:00+08:00",
    "services.common.envelope.EnvelopeSchema._time_has_offset":
        "an ISO 8601 time with a UTC offset, e.g. 2023-05-29T08:00:00+08:00",
}


def _check_text(function):
    name = f"{function.__module__}.{function.__qualname__}"
    return KNOWN_CHECKS.get(name, f"checked by {name}")


def _add_description(schema, text):
    schema["description"] = f"{schema['description']}; {text}" if "description" in schema else text


def _apply_validator(schema, validator, is_array):
    if isinstance(validator, validate.OneOf):
        schema["enum"] = list(validator.choices)
    elif isinstance(validator, validate.Equal):
        schema["const"] = validator.comparable
    elif isinstance(validator, validate.Regexp):
        schema["pattern"] = validator.regex.pattern
    elif isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
        if validator.equal is not None:
            schema[low] = schema[high] = validator.equal
        if validator.min is not None:
            schema[low] = validator.min
        if validator.max is not None:
            schema[high] = validator.max
    elif isinstance(validator, validate.Range):
        if validator.min is not None:
            schema["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            schema["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
    elif callable(validator) and hasattr(validator, "__qualname__"):
        _add_description(schema, _check_text(validator))
    else:
        _add_description(schema, f"checked by {type(validator).__name__}({validator!r})")


def _base_schema(field):
    if isinstance(field, fields.Nested):
        schema = object_schema(type(field.schema))
        return {"type": "array", "items": schema} if field.many else schema
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_schema(field.inner)}
    if isinstance(field, fields.Dict):
        schema = {"type": "object"}
        if field.value_field is not None:
            schema["additionalProperties"] = field_schema(field.value_field)
        return schema
    if isinstance(field, fields.Date):
        return {"type": "string", "format": "date"}
    if isinstance(field, fields.Boolean):
        return {"type": "boolean"}
    if isinstance(field, fields.Integer):
        return {"type": "integer"}
    if isinstance(field, fields.String):
        return {"type": "string"}
    raise TypeError(f"docs.generate cannot convert {type(field).__name__}; teach _base_schema")


def field_schema(field, extra_checks=()):
    """The JSON Schema of one marshmallow field (without its own ``required``)."""
    schema = _base_schema(field)
    is_array = schema.get("type") == "array"
    for validator in field.validators:
        _apply_validator(schema, validator, is_array)
    for check in extra_checks:
        _add_description(schema, _check_text(check))
    if field.allow_none:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = schema["enum"] + [None]
    if field.load_default is not missing:
        default = field.load_default() if callable(field.load_default) else field.load_default
        schema["default"] = default
    if field.metadata.get("description"):
        _add_description(schema, field.metadata["description"])
    return schema


def _field_checks(schema_cls):
    """Field name -> the schema's ``@validates`` methods for it."""
    checks = {}
    for attr_name, _, kwargs in schema_cls._hooks.get("validates", ()):
        for field_name in kwargs.get("field_names", ()):
            checks.setdefault(field_name, []).append(getattr(schema_cls, attr_name))
    return checks


def object_schema(schema_cls):
    """The JSON Schema of a marshmallow Schema class, fields in declaration order."""
    checks = _field_checks(schema_cls)
    properties, required = {}, []
    for name, field in schema_cls._declared_fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = field_schema(field, checks.get(name, ()))
        if field.required:
            required.append(key)
    schema = {"type": "object", "title": schema_cls.__name__, "properties": properties,
              "additionalProperties": schema_cls().unknown != RAISE}
    if required:
        schema["required"] = required
    if schema_cls.__doc__:
        schema["description"] = " ".join(schema_cls.__doc__.split())
    return schema


# ---------------------------------------------------------------------------------------
# What the code says about each event
# ---------------------------------------------------------------------------------------

def contract_names():
    """Contract type -> its Python name in services.common.contracts (e.g. CASE_OPENED)."""
    return {value.type: name for name, value in vars(contracts).items()
            if isinstance(value, contracts.EventContract)}


def handlers_by_type():
    """Event type -> sorted [(service, method)] of every handler on the service classes."""
    found = {event_type: [] for event_type in CATALOGUE}
    for service in SERVICE_CLASSES:
        for method, contract in consumers_of(service_class(service)):
            found.setdefault(contract.type, []).append((service, method))
    return {event_type: sorted(pairs) for event_type, pairs in found.items()}


def exchange_name(contract):
    return messaging.event_exchange(contract.producer).name


def queue_name(contract, service, method):
    return messaging.handler_queue(contract, service, method).name


def envelope_schema(contract=None):
    """The envelope's JSON Schema; for a contract, ``data`` is that type's data schema."""
    schema = object_schema(EnvelopeSchema)
    schema["title"] = "CloudEvents envelope"
    if contract is not None:
        properties = dict(schema["properties"])
        properties["type"] = {**properties["type"], "const": contract.type}
        properties["data"] = object_schema(contract.schema)
        schema = {**schema, "title": f"{contract.type} envelope", "properties": properties}
    return schema


# ---------------------------------------------------------------------------------------
# Examples: the story of the brief (Daxing Town, 29 May 2023), fictitious numbers
# ---------------------------------------------------------------------------------------

REQUEST_ID = "7d2b1c9e-5f4a-4e57-9a0b-3c1d2e4f5a6b"
CASE_ID = "case-0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
EVENT_IDS = {
    "shegong.request.received.v1": "3a4c8e51-0d6f-4b2a-9c71-5e8f0a1b2c3d",
    "shegong.case.opened.v1": "b61d2f04-7a3e-4c59-8e12-0f9a8b7c6d5e",
    "shegong.case.assigned.v1": "c82e3a15-8b4f-4d6a-9f23-1a0b9c8d7e6f",
    "shegong.case.accepted.v1": "d93f4b26-9c5a-4e7b-a034-2b1c0d9e8f7a",
    "shegong.case.action_recorded.v1": "e04a5c37-ad6b-4f8c-b145-3c2d1e0f9a8b",
    "shegong.case.resolved.v1": "f15b6d48-be7c-409d-c256-4d3e2f1a0b9c",
    "shegong.message.sent.v1": "0a2c7e59-cf8d-41ae-d367-5e4f3a2b1c0d",
}
HTTP_CORRELATION = "http:5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
WORKER_MESSAGE_ID = f"{EVENT_IDS['shegong.case.assigned.v1']}:worker:case_assigned_worker"
CASE_REF = {"case_id": CASE_ID, "request_id": REQUEST_ID, "station": "daxing"}

# type -> (data, subject, causation id, sequence, time)
EXAMPLES = {
    "shegong.request.received.v1": (
        {"request_id": REQUEST_ID, "channel": "phone", "station": "daxing",
         "resident": {"name": "邹书兰", "phone": "13700000001",
                      "categories": ["elderly", "living_alone", "key_concern"]},
         "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
         "need": {"type": "medicine_purchase", "description": "药吃完了，下雨两天出不了门"},
         "received_at": "2023-05-29T08:00:00+08:00"},
        REQUEST_ID, None, 1, "2023-05-29T08:02:10+08:00"),
    "shegong.case.opened.v1": (
        {**CASE_REF, "priority": "urgent", "priority_reason": "重点关注对象且独居",
         "need_type": "medicine_purchase", "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
         "categories": ["elderly", "living_alone", "key_concern"],
         "request_received_at": "2023-05-29T08:00:00+08:00",
         "opened_at": "2023-05-29T08:02:11+08:00"},
        CASE_ID, EVENT_IDS["shegong.request.received.v1"], 1, "2023-05-29T08:02:11+08:00"),
    "shegong.case.assigned.v1": (
        {**CASE_REF, "priority": "urgent", "need_type": "medicine_purchase",
         "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
         "resident": {"name": "邹**", "phone": "137****0001"},
         "assigned_at": "2023-05-29T08:02:11+08:00"},
        CASE_ID, EVENT_IDS["shegong.request.received.v1"], 2, "2023-05-29T08:02:11+08:00"),
    "shegong.case.accepted.v1": (
        {**CASE_REF, "accepted_by": "dx-01", "assignee_name": "王晨光",
         "accepted_at": "2023-05-29T08:05:30+08:00"},
        CASE_ID, HTTP_CORRELATION, 3, "2023-05-29T08:05:30+08:00"),
    "shegong.case.action_recorded.v1": (
        {**CASE_REF, "action_type": "purchase", "recorded_by": "dx-01",
         "recorded_at": "2023-05-29T09:05:00+08:00"},
        CASE_ID, HTTP_CORRELATION, 5, "2023-05-29T09:05:00+08:00"),
    "shegong.case.resolved.v1": (
        {**CASE_REF, "priority": "urgent", "resolved_by": "dx-01", "assignee_name": "王晨光",
         "resolved_at": "2023-05-29T09:40:00+08:00"},
        CASE_ID, HTTP_CORRELATION, 7, "2023-05-29T09:40:00+08:00"),
    "shegong.message.sent.v1": (
        {"message_id": WORKER_MESSAGE_ID, "case_id": CASE_ID, "station": "daxing",
         "recipient_role": "worker", "channel": "sms", "template": "case_assigned_worker",
         "status": "sent", "sent_at": "2023-05-29T08:02:12+08:00"},
        WORKER_MESSAGE_ID, EVENT_IDS["shegong.case.assigned.v1"], 1,
        "2023-05-29T08:02:12+08:00"),
}

# What the subject of each type is, as the producers set it.
SUBJECTS = {
    "shegong.request.received.v1": "the request id (`request_id`)",
    "shegong.message.sent.v1": "the message id (`message_id`)",
}
CASE_SUBJECT = "the case id (`case_id`)"


def example_envelope(contract):
    """A valid envelope of ``contract`` (built and validated by envelope.new_event)."""
    if contract.type not in EXAMPLES or contract.type not in EVENT_IDS:
        raise KeyError(f"docs/generate.py has no example of {contract.type}: add one to "
                       "EXAMPLES and EVENT_IDS")
    data, subject, causation, sequence, time = EXAMPLES[contract.type]
    return envelope.new_event(contract, data, subject=subject, correlation_id=REQUEST_ID,
                              causation_id=causation, sequence=sequence,
                              time=datetime.fromisoformat(time),
                              event_id=EVENT_IDS[contract.type])


# ---------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------

def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value):
    return f"`{value}`"


def _json_value(value):
    return json.dumps(value, ensure_ascii=False)


def _type_text(schema):
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    words = []
    for kind in types:
        if kind == "array":
            words.append(f"array of {_type_text(schema['items'])}")
        elif kind == "string" and schema.get("format") == "date":
            words.append("date (YYYY-MM-DD)")
        else:
            words.append(kind)
    return " or ".join(words)


def _rules_text(schema):
    """The validation of one JSON Schema node in words (not descending into items)."""
    rules = []
    if "const" in schema:
        rules.append(f"must be {_code(_json_value(schema['const']))}")
    if "enum" in schema:
        rules.append("one of " + ", ".join(_code(_json_value(v)) for v in schema["enum"]))
    if "pattern" in schema:
        rules.append(f"matches {_code(schema['pattern'])}")
    for low, high, unit in (("minLength", "maxLength", "characters"),
                            ("minItems", "maxItems", "items")):
        if low in schema and high in schema:
            rules.append(f"{schema[low]}–{schema[high]} {unit}")
        elif low in schema:
            rules.append(f"at least {schema[low]} {unit}")
        elif high in schema:
            rules.append(f"at most {schema[high]} {unit}")
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<")):
        if key in schema:
            rules.append(f"{sign} {schema[key]}")
    if "description" in schema:
        rules.append(schema["description"])
    if "default" in schema:
        rules.append(f"default {_code(_json_value(schema['default']))}")
    return rules


def _field_rows(schema, prefix=""):
    """Table rows (name, type, required, rules) for an object schema, nested expanded."""
    rows = []
    required = set(schema.get("required", ()))
    for name, prop in schema["properties"].items():
        path = f"{prefix}{name}"
        rules = _rules_text(prop)
        items = prop.get("items")
        if items is not None and items.get("type") != "object":
            item_rules = _rules_text(items)
            if item_rules:
                rules.append("each item: " + "; ".join(item_rules))
        rows.append((path, _type_text(prop), "yes" if name in required else "no", rules))
        if "properties" in prop:
            rows += _field_rows(prop, f"{path}.")
        elif items is not None and "properties" in items:
            rows += _field_rows(items, f"{path}[].")
    return rows


def _fields_table(schema):
    lines = ["| field | type | required | allowed values / validation |",
             "| --- | --- | --- | --- |"]
    for path, kind, required, rules in _field_rows(schema):
        lines.append(f"| {_code(path)} | {_cell(kind)} | {required} | "
                     f"{_cell('; '.join(rules)) or '—'} |")
    return lines


ENVELOPE_MEANINGS = {
    "id": "Unique event id (a UUID). Also the AMQP `message_id`; consumers that dedupe "
          "by event id use it.",
    "source": "`/suyu/shegong/<producer>`, e.g. `/suyu/shegong/casework`.",
    "specversion": "CloudEvents version.",
    "type": "The event type, with its version; also the routing key and the AMQP `type` "
            "property.",
    "time": "When it happened, ISO 8601 with the district's offset (+08:00), to the second.",
    "subject": "The aggregate the event is about (the request, case or message id).",
    "datacontenttype": "The media type of `data`.",
    "data": "The event's data, validated against its type's schema (below).",
    "correlationid": "Extension: the request that started the chain (the `request_id`); "
                     "also the AMQP `correlation_id` property.",
    "causationid": "Extension: what caused this event — the id of the event that caused it, "
                   "`http:<X-Correlation-Id>` for a staff command over HTTP, or null.",
    "sequence": "Extension: the event's position in its aggregate's history, from 1, "
                "contiguous (request, case and message are each an aggregate).",
}


def _indent_doc(text):
    """A docstring as Markdown: its paragraphs and bullet lists, dedented."""
    lines = text.strip("\n").splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    cut = min(indents) if indents else 0
    return [lines[0].strip()] + [line[cut:] if line.strip() else "" for line in lines[1:]]


def render_events_md():
    names = contract_names()
    handlers = handlers_by_type()
    defaults = config.settings({})
    out = [
        "# Events catalogue",
        "",
        "<!-- Generated by `make docs` (python -m docs.generate) from "
        "services/common/contracts.py, services/common/envelope.py, "
        "services/common/messaging.py and the service classes. Do not edit by hand. -->",
        "",
        "Every event is a CloudEvents 1.0 envelope (see [The envelope](#the-envelope)) "
        "published to its producer's topic exchange with the event type as routing key. "
        "Each consuming handler has its own durable queue, shared by the instances of its "
        "service (each event is handled once per handler). The machine-readable form of "
        "this page is [asyncapi.json](asyncapi.json) (AsyncAPI "
        f"{ASYNCAPI_VERSION}).",
        "",
        "A type carries its version (`.v1`); a breaking change is a new type, published "
        "alongside the old one until every consumer has moved.",
        "",
        "## Catalogue",
        "",
        "| type | producer | consumers | description | exchange | routing key | queues |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for contract in CATALOGUE.values():
        pairs = handlers[contract.type]
        consumers = "<br>".join(_code(f"{s}.{m}") for s, m in pairs) or "—"
        queues = "<br>".join(_code(queue_name(contract, s, m)) for s, m in pairs) or "—"
        out.append(f"| [{_code(contract.type)}](#{_anchor(contract.type)}) | {contract.producer}"
                   f" | {consumers} | {_cell(contract.description)} | "
                   f"{_code(exchange_name(contract))} | {_code(contract.type)} | {queues} |")
    out += [
        "",
        "## The envelope",
        "",
        "Events travel in CloudEvents 1.0 **structured mode**: the whole envelope below is "
        "the AMQP message body, UTF-8 JSON (Chinese text unescaped), with content type "
        f"`{envelope.CONTENT_TYPE}`. Messages are persistent and published with publisher "
        "confirms and `mandatory` (an event no queue is bound for is refused). AMQP "
        "properties repeat three attributes: `message_id` = `id`, `correlation_id` = "
        "`correlationid`, `type` = `type`.",
        "",
        "Besides the CloudEvents core attributes, every event carries three extension "
        "attributes: `correlationid`, `causationid` and `sequence`. Unknown attributes "
        "(other CloudEvents extensions) are accepted and ignored by consumers; unknown "
        "fields inside `data` are refused.",
        "",
        "| attribute | type | required | allowed values / validation | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    schema = envelope_schema()
    required = set(schema["required"])
    for name, prop in schema["properties"].items():
        rules = "; ".join(_rules_text(prop)) or "—"
        out.append(f"| {_code(name)} | {_cell(_type_text(prop))} | "
                   f"{'yes' if name in required else 'no'} | {_cell(rules)} | "
                   f"{_cell(ENVELOPE_MEANINGS.get(name, ''))} |")
    out += [
        "",
        "A consumer validates the envelope and then the data against the contract "
        "(`envelope.load_event`); an event that fails either check can never be handled and "
        "goes straight to the dead-letter queue with field-level reasons.",
        "",
        "## Retries and dead letters",
        "",
    ]
    out += _indent_doc(messaging.__doc__)
    out += [
        "",
        _indent_doc(messaging.RetryingEventHandler.__doc__)[0] + " "
        + " ".join(line.strip() for line in _indent_doc(messaging.RetryingEventHandler.__doc__)[1:]
                   if line.strip()),
        "",
        f"- Attempts are counted in the `{messaging.ATTEMPTS_HEADER}` header; the delay "
        f"queue is chosen by the `{messaging.DELAY_HEADER}` header.",
        "- Default delays (`SHEGONG_RETRY_DELAYS_MS`): "
        + ", ".join(f"{ms} ms" for ms in defaults.retry_delays_ms)
        + ", so the retry queues are "
        + ", ".join(_code(messaging.retry_queue(ms).name) for ms in defaults.retry_delays_ms)
        + ".",
        "- Dead-letter queues: "
        + ", ".join(_code(messaging.dead_letter_queue(service).name) for service in SERVICE_CLASSES)
        + "; a dead letter carries `x-death-reason`, `x-exception-type`, `x-original-queue`, "
        "`x-original-exchange`, `x-original-routing-key` and `x-failed-at` headers "
        "(plus `x-death-fields` for an invalid event, `x-exception` with the traceback "
        "otherwise).",
        "",
        "## Event types",
    ]
    for contract in CATALOGUE.values():
        pairs = handlers[contract.type]
        data_schema = object_schema(contract.schema)
        out += [
            "",
            f"### {contract.type}",
            "",
            contract.description,
            "",
            f"- Python name: `services.common.contracts.{names[contract.type]}`; data schema "
            f"`{contract.schema.__name__}`",
            f"- Producer: {contract.producer}; exchange `{exchange_name(contract)}` (topic, "
            f"durable); routing key `{contract.type}`",
            "- Consumers: " + (", ".join(_code(f"{s}.{m}") for s, m in pairs) or "none"),
            f"- Subject: {SUBJECTS.get(contract.type, CASE_SUBJECT)}",
        ]
        if data_schema.get("description"):
            out.append(f"- {data_schema['description']}")
        out += ["", "Data fields:", ""]
        out += _fields_table(data_schema)
        out += ["", "Example envelope:", "", "```json",
                json.dumps(example_envelope(contract), ensure_ascii=False, indent=2),
                "```"]
    return "\n".join(out) + "\n"


def _anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


# ---------------------------------------------------------------------------------------
# AsyncAPI
# ---------------------------------------------------------------------------------------

def _project_version():
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def render_asyncapi():
    names = contract_names()
    handlers = handlers_by_type()
    channels, messages = {}, {}
    for contract in CATALOGUE.values():
        operation = names[contract.type].lower()
        messages[contract.type] = {
            "name": contract.type,
            "title": names[contract.type],
            "summary": contract.description,
            "contentType": envelope.CONTENT_TYPE,
            "correlationId": {"description": "The request that started the chain.",
                              "location": "$message.payload#/correlationid"},
            "payload": envelope_schema(contract),
            "examples": [{"name": "daxing-story", "payload": example_envelope(contract)}],
            "bindings": {"amqp": {"messageType": contract.type,
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        }
        channels[contract.type] = {
            "description": f"Routing key {contract.type} on exchange "
                           f"{exchange_name(contract)}. {contract.description}",
            "subscribe": {
                "operationId": operation,
                "summary": contract.description,
                "message": {"$ref": f"#/components/messages/{contract.type}"},
                "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True,
                                      "bindingVersion": AMQP_BINDING_VERSION}},
            },
            "bindings": {"amqp": {
                "is": "routingKey",
                "exchange": {"name": exchange_name(contract), "type": "topic",
                             "durable": True, "autoDelete": False},
                "bindingVersion": AMQP_BINDING_VERSION,
            }},
            "x-producer": contract.producer,
            "x-consumers": [{"service": service, "method": method,
                             "queue": queue_name(contract, service, method)}
                            for service, method in handlers[contract.type]],
        }
    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:suyu:shegong:events",
        "info": {
            "title": "shegong events",
            "version": _project_version(),
            "description": "The events the services of Suyu District's township social work "
                           "stations publish to one another. Generated from "
                           "services/common/contracts.py by `make docs`; see "
                           "docs/events.md.",
        },
        "defaultContentType": envelope.CONTENT_TYPE,
        "servers": {"development": {
            "url": "127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
            "description": "The local RabbitMQ of `make run` (AMQP_URI sets the real one).",
        }},
        "channels": channels,
        "components": {"messages": messages},
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------------

def render():
    """{path relative to the repository root: text} of every generated file."""
    return {EVENTS_MD: render_events_md(), ASYNCAPI_JSON: render_asyncapi()}


def stale(files=None):
    """The generated paths whose file on disk differs from ``render()``."""
    files = render() if files is None else files
    return [path for path, text in files.items()
            if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    files = render()
    if "--check" in argv:
        out_of_date = stale(files)
        for path in out_of_date:
            print(f"{path} is out of date; run make docs", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, text in files.items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
