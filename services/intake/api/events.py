"""POST /v1/events: other government systems send CloudEvents over HTTP.

The same events as on the inbound exchange (services/intake/amqp_inbound.py), one
(``application/cloudevents+json``, or binary mode: ``ce-*`` headers and the data as
``application/json``) or a batch (``application/cloudevents-batch+json``), authenticated
with the system's API key in ``X-Api-Key``. Reading the body is
services/intake/inbound_binding.py's, shared with the AMQP consumer.
"""

from services.common.http import ApiError, Route, json_response, read_body, route
from services.common.messaging import BrokerUnavailable
from services.intake import inbound_binding
from services.intake.domain.inbound import InboundRejected
from services.intake.handlers import inbound as handlers_inbound
from services.intake.schemas.inbound import InboundEnvelope, InboundResult, InboundResults

routes: list[Route] = []

SINGLE = inbound_binding.STRUCTURED
BATCH = inbound_binding.BATCH
MAX_BATCH = inbound_binding.MAX_BATCH
KEY_HEADER = "X-Api-Key"

# What HTTP answers for an event refused alone: the domain's refusal codes mapped here,
# at the API, not carried by the refusal (AMQP dead-letters the same refusal); every
# code of inbound.REFUSALS has one (tests/unit/test_intake_inbound.py checks).
HTTP_STATUS = {
    "unsupported_media_type": 415,
    "malformed_json": 400,
    "unknown_system": 401,
    "unauthenticated": 401,
    "forbidden": 403,
    "type_not_allowed": 403,
    "not_your_referral": 403,
    "invalid_event": 422,
    "unknown_type": 422,
    "invalid_data": 422,
    "unknown_referral": 422,
    "conflict": 409,
}


def http_status(refusal: InboundRejected) -> int:
    """The HTTP status of a refused inbound event."""
    return HTTP_STATUS[refusal.code]


def _events(request):
    """The events of the body, structured or binary, and whether it was a batch (415,
    413 or 400 naming the cause otherwise). The body is read by the shared reader: 413
    past 1 MiB whether chunked or not."""
    raw = read_body(request)
    try:
        return inbound_binding.from_http(request.headers, raw)
    except InboundRejected as exc:
        raise ApiError(http_status(exc), exc.code, exc.reason) from None


def _result(event, recorded):
    ids = {
        "id": event.get("id") if isinstance(event, dict) else None,
        "source": event.get("source") if isinstance(event, dict) else None,
    }
    if isinstance(recorded, InboundRejected):
        exc = recorded
        error: dict[str, str | dict] = {"code": exc.code, "message": exc.reason}
        if exc.fields:
            error["fields"] = exc.fields
        return {**ids, "status": "rejected", "code": http_status(exc), "error": error}
    document = recorded.document
    is_request = "need_type" in document
    return {
        **ids,
        "status": "duplicate" if recorded.replayed else "accepted",
        "code": 200 if recorded.replayed else 202,
        "request_id": document["_id"] if is_request else None,
        "repeat_of": document.get("repeat_of") if is_request else None,
    }


@route(routes, "/v1/events", methods=["POST"], public=True, response=InboundResults)
def post_events(call):
    """Events from another government system (CloudEvents 1.0, structured or binary).

    Authenticated by the system's API key in ``X-Api-Key`` (401); each event's
    ``source`` must be the system's and its type one the system may send (403). One
    event (``application/cloudevents+json``, or binary mode: ``ce-specversion``,
    ``ce-id``, ``ce-source``, ``ce-type`` headers and the data as ``application/json``)
    is answered with its own status: 202 accepted, 200 duplicate (same source and id as
    before, in either mode: ignored), 403 or 422 with the reason. A batch
    (``application/cloudevents-batch+json``, 0 to 100) is answered 200 with one result
    per event, in order (an empty batch: no results, nothing done). Media types are
    compared by type: parameters such as ``charset=utf-8`` are understood. 503 (broker
    down): nothing was recorded; a retry of the same events is safe, as recorded ones
    answer duplicate.
    """
    context = call.context
    system = context.systems.for_key(call.request.headers.get(KEY_HEADER, ""))
    if system is None:
        raise ApiError(
            401,
            "unauthenticated",
            f"send the system's API key in {KEY_HEADER}",
            headers={"WWW-Authenticate": f'ApiKey header="{KEY_HEADER}"'},
        )
    events, batch = _events(call.request)
    if events and not context.broker.reachable():
        raise BrokerUnavailable("broker unreachable; nothing recorded")
    outcomes = handlers_inbound.receive_inbound_many(
        context.store, context.relay, system, events, context.pseudonym_key
    )
    results = [
        InboundResult().dump(_result(event, outcome))
        for event, outcome in zip(events, outcomes, strict=True)
    ]
    if batch:
        return json_response({"results": results})
    only = results[0]
    if only["status"] == "rejected":
        raise ApiError(
            only["code"],
            only["error"]["code"],
            only["error"]["message"],
            only["error"].get("fields"),
        )
    return json_response({"results": results}, only["code"])


def _error(text):
    return {"description": text, "content": {"application/json": {"schema": "Error"}}}


def _ce_header(attribute, text):
    return {
        "in": "header",
        "name": f"ce-{attribute}",
        "required": False,
        "schema": {"type": "string", "minLength": 1},
        "description": f"binary mode: the event's {attribute} ({text}; percent-encoded)",
    }


post_events.openapi = {
    "parameters": [
        {
            "in": "header",
            "name": KEY_HEADER,
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": "the sending system's API key",
        },
        _ce_header("specversion", "1.0"),
        _ce_header("id", "unique per source"),
        _ce_header("source", "the system's source"),
        _ce_header("type", "an inbound type"),
        _ce_header("time", "RFC 3339, optional"),
        _ce_header("subject", "optional"),
    ],
    "requestBody": {
        "required": True,
        "content": {
            SINGLE: {"schema": InboundEnvelope},
            BATCH: {
                "schema": {
                    "type": "array",
                    "minItems": 0,
                    "maxItems": MAX_BATCH,
                    "items": InboundEnvelope,
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Binary mode: the event's data, its attributes "
                    "in the ce-* headers. Without any ce-* header: one structured event.",
                }
            },
        },
    },
    "responses": {
        "202": {
            "description": "One event, accepted",
            "content": {"application/json": {"schema": InboundResults}},
        },
        "400": _error("Malformed JSON, or a batch that is not an array of 0 to 100"),
        "401": _error("No valid API key"),
        "403": _error("One event whose type or source the system may not use"),
        "413": _error("Body larger than 1 MiB"),
        "415": _error(
            "Not application/cloudevents+json, application/cloudevents-batch+json "
            "or binary mode with JSON data (the message says which)"
        ),
        "422": _error("One event: invalid envelope or data, or an unknown type"),
        "503": _error("Broker unavailable; nothing recorded; retry after Retry-After seconds"),
    },
}
