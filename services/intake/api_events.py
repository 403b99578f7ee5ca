"""POST /v1/events: other government systems send CloudEvents over HTTP.

The same events as on the inbound exchange (services/intake/amqp_inbound.py), one
(``application/cloudevents+json``) or a batch (``application/cloudevents-batch+json``),
authenticated with the system's API key in ``X-Api-Key``.
"""
import json

from services.common.http import MAX_BODY_BYTES, ApiError, json_response, route
from services.common.messaging import BrokerUnavailable
from services.intake import handlers
from services.intake.inbound import InboundRejected
from services.intake.inbound_schemas import InboundEnvelope, InboundResult, InboundResults

routes = []

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MAX_BATCH = 100
KEY_HEADER = "X-Api-Key"


def _events(request):
    """The events of the body and whether it was a batch (415, 413 or 400 otherwise)."""
    mimetype = request.mimetype or ""
    if mimetype not in (SINGLE, BATCH, "application/json"):
        raise ApiError(415, "unsupported_media_type", f"send {SINGLE} or {BATCH}")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid UTF-8 JSON: {exc}") from None
    if mimetype == BATCH:
        if not isinstance(body, list):
            raise ApiError(400, "malformed_json", "a batch is a JSON array of events")
        if not 1 <= len(body) <= MAX_BATCH:
            raise ApiError(400, "malformed_json", f"a batch holds 1 to {MAX_BATCH} events")
        return body, True
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "an event is a JSON object; send a batch as "
                       f"{BATCH}")
    return [body], False


def _result(context, system, event):
    ids = {"id": event.get("id") if isinstance(event, dict) else None,
           "source": event.get("source") if isinstance(event, dict) else None}
    try:
        recorded = handlers.receive_inbound(context.store, context.relay, system, event,
                                            context.pseudonym_key)
    except InboundRejected as exc:
        error = {"code": exc.code, "message": exc.reason}
        if exc.fields:
            error["fields"] = exc.fields
        return {**ids, "status": "rejected", "code": exc.status, "error": error}
    document = recorded.document
    is_request = "need_type" in document
    return {**ids, "status": "duplicate" if recorded.replayed else "accepted",
            "code": 200 if recorded.replayed else 202,
            "request_id": document["_id"] if is_request else None,
            "repeat_of": document.get("repeat_of") if is_request else None}


@route(routes, "/v1/events", methods=["POST"], public=True, response=InboundResults)
def post_events(call):
    """Events from another government system (CloudEvents 1.0, structured JSON).

    Authenticated by the system's API key in ``X-Api-Key`` (401); each event's
    ``source`` must be the system's and its type one the system may send (403). One
    event (``application/cloudevents+json``) is answered with its own status: 202
    accepted, 200 duplicate (same source and id as before: ignored), 403 or 422 with
    the reason. A batch (``application/cloudevents-batch+json``, up to 100) is answered
    200 with one result per event, in order. 503 (broker down): nothing was recorded;
    a retry of the same events is safe, as recorded ones answer duplicate.
    """
    context = call.context
    system = context.systems.for_key(call.request.headers.get(KEY_HEADER, ""))
    if system is None:
        raise ApiError(401, "unauthenticated", f"send the system's API key in {KEY_HEADER}",
                       headers={"WWW-Authenticate": f'ApiKey header="{KEY_HEADER}"'})
    events, batch = _events(call.request)
    if not context.broker.reachable():
        raise BrokerUnavailable("broker unreachable; nothing recorded")
    results = [InboundResult().dump(_result(context, system, event)) for event in events]
    if batch:
        return json_response({"results": results})
    only = results[0]
    if only["status"] == "rejected":
        raise ApiError(only["code"], only["error"]["code"], only["error"]["message"],
                       only["error"].get("fields"))
    return json_response({"results": results}, only["code"])


def _error(text):
    return {"description": text, "content": {"application/json": {"schema": "Error"}}}


post_events.openapi = {
    "parameters": [{"in": "header", "name": KEY_HEADER, "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "the sending system's API key"}],
    "requestBody": {"required": True, "content": {
        SINGLE: {"schema": InboundEnvelope},
        BATCH: {"schema": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                           "items": InboundEnvelope}}}},
    "responses": {
        "202": {"description": "One event, accepted",
                "content": {"application/json": {"schema": InboundResults}}},
        "400": _error("Malformed JSON, or a batch that is not an array of 1 to 100"),
        "401": _error("No valid API key"),
        "403": _error("One event whose type or source the system may not use"),
        "413": _error("Body larger than 1 MiB"),
        "415": _error("Not application/cloudevents+json or application/cloudevents-batch+json"),
        "422": _error("One event: invalid envelope or data, or an unknown type"),
        "503": _error("Broker unavailable; nothing recorded; retry after Retry-After seconds"),
    },
}
