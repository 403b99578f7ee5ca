"""The intake HTTP API (gunicorn): ``gunicorn 'services.intake.api:create_app()'``."""
from dataclasses import dataclass

from services.common import config, mongo
from services.common.http import Api, ApiError, json_response, require_station, route
from services.common.messaging import BrokerProbe, EventPublisher
from services.common.outbox import OutboxRelay
from services.intake import domain, handlers
from services.intake.schemas import AcceptedOut, RequestIn, RequestOut
from services.intake.store import RequestStore

routes = []


@dataclass
class Context:
    store: RequestStore
    relay: OutboxRelay
    broker: BrokerProbe
    pseudonym_key: str


@route(routes, "/v1/requests", methods=["POST"], body=RequestIn, response=AcceptedOut,
       status=202, errors=(403, 409))
def post_request(call):
    """Record a resident's request; 202 with its id and status URL.

    ``Idempotency-Key``: a retry with the same key and body answers the same (with
    ``Idempotent-Replayed: true``) and records nothing new; another body is 409.
    """
    body = call.body
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")
    if not call.principal.may_see_station(body["station"]):
        raise ApiError(403, "forbidden", "staff record requests for their own station only")
    try:
        document, replayed = handlers.submit_request(
            call.context.store, call.context.relay, call.context.broker, body,
            call.principal.id, key, call.context.pseudonym_key)
    except domain.IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    answer = AcceptedOut().dump({"request_id": document["_id"], "status": document["status"],
                                 "status_url": f"/v1/requests/{document['_id']}"})
    headers = {"Location": answer["status_url"]}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(answer, 202, headers)


@route(routes, "/v1/requests/<request_id>", response=RequestOut, errors=(403, 404))
def get_request(call, request_id):
    """A request's status and, once opened, its case (the resident masked)."""
    document = call.context.store.get(request_id)
    if document is None:
        raise ApiError(404, "not_found", f"no request {request_id}")
    require_station(call.principal, document["station"])
    return json_response(RequestOut().dump(document))


def create_app(settings=None):
    settings = settings or config.settings()
    store = RequestStore(mongo.database(settings, "intake"))
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"requests": store.requests},
                        settings.relay_grace_s)
    return Api("intake", settings, routes,
               Context(store, relay, BrokerProbe(settings.amqp_uri), settings.pseudonym_key))
