"""docs/events.md: the events catalogue as Markdown."""

import json
import re

from docs.asyncapi import ASYNCAPI_VERSION
from docs.catalogue import (
    CASE_SUBJECT,
    SUBJECTS,
    contract_names,
    entrypoints_by_type,
    example_envelope,
    exchange_name,
    queue_name,
    routing_key,
)
from docs.jsonschema import envelope_schema, object_schema
from services.common import config, envelope, messaging, topology
from services.common.contracts import CATALOGUE
from services.common.service_classes import SERVICE_CLASSES


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
    for low, high, unit in (
        ("minLength", "maxLength", "characters"),
        ("minItems", "maxItems", "items"),
    ):
        if low in schema and high in schema:
            rules.append(f"{schema[low]}–{schema[high]} {unit}")
        elif low in schema:
            rules.append(f"at least {schema[low]} {unit}")
        elif high in schema:
            rules.append(f"at most {schema[high]} {unit}")
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
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
    lines = [
        "| field | type | required | allowed values / validation |",
        "| --- | --- | --- | --- |",
    ]
    for path, kind, required, rules in _field_rows(schema):
        lines.append(
            f"| {_code(path)} | {_cell(kind)} | {required} | {_cell('; '.join(rules)) or '—'} |"
        )
    return lines


ENVELOPE_MEANINGS = {
    "id": "Unique event id (a UUID). Also the AMQP `message_id`; consumers that dedupe "
    "by event id use it.",
    "source": "`/suyu/shegong/<producer>`, e.g. `/suyu/shegong/casework`.",
    "specversion": "CloudEvents version.",
    "type": "The event type, with its version; also the routing key and the AMQP `type` property.",
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
    entrypoints = entrypoints_by_type()
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
        "Each consuming entrypoint has its own durable queue, shared by the instances of its "
        "service (each event is handled once per entrypoint). The machine-readable form of "
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
        pairs = entrypoints[contract.type]
        consumers = "<br>".join(_code(f"{s}.{m}") for s, m in pairs) or "—"
        queues = "<br>".join(_code(queue_name(contract, s, m)) for s, m in pairs) or "—"
        out.append(
            f"| [{_code(contract.type)}](#{_anchor(contract.type)}) | {contract.producer}"
            f" | {consumers} | {_cell(contract.description)} | "
            f"{_code(exchange_name(contract))} | {_code(routing_key(contract))} "
            f"| {queues} |"
        )
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
        out.append(
            f"| {_code(name)} | {_cell(_type_text(prop))} | "
            f"{'yes' if name in required else 'no'} | {_cell(rules)} | "
            f"{_cell(ENVELOPE_MEANINGS.get(name, ''))} |"
        )
    out += [
        "",
        "A consumer validates the envelope and then the data against the contract "
        "(`envelope.load_event`); an event that fails either check can never be handled and "
        "goes straight to the dead-letter queue with field-level reasons.",
        "",
        "## Retries and dead letters",
        "",
    ]
    out += _indent_doc(topology.__doc__)
    out += [
        "",
        _indent_doc(messaging.RetryingEventHandler.__doc__)[0]
        + " "
        + " ".join(
            line.strip()
            for line in _indent_doc(messaging.RetryingEventHandler.__doc__)[1:]
            if line.strip()
        ),
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
        pairs = entrypoints[contract.type]
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
            f"durable); routing key `{routing_key(contract)}`",
            "- Consumers: " + (", ".join(_code(f"{s}.{m}") for s, m in pairs) or "none"),
            f"- Subject: {SUBJECTS.get(contract.type, CASE_SUBJECT)}",
        ]
        if data_schema.get("description"):
            out.append(f"- {data_schema['description']}")
        out += ["", "Data fields:", ""]
        out += _fields_table(data_schema)
        out += [
            "",
            "Example envelope:",
            "",
            "```json",
            json.dumps(example_envelope(contract), ensure_ascii=False, indent=2),
            "```",
        ]
    return "\n".join(out) + "\n"


def _anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
