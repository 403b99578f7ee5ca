"""The intake HTTP API (gunicorn): ``gunicorn 'services.intake.api:create_app()'``."""

from dataclasses import dataclass

from services.common import config, group_commit, mongo
from services.common.http import Api, ApiError, Route, json_response, require_station, route
from services.common.messaging import BrokerProbe
from services.common.outbox import FastPath, relay_for
from services.intake import domain, handlers
from services.intake.api import events as api_events
from services.intake.schemas import AcceptedOut, RequestIn, RequestOut
from services.intake.store import OUTBOX_COLLECTIONS, RequestStore
from services.intake.systems import ExternalSystems, external_systems

routes: list[Route] = []


@dataclass
class Context:
    store: RequestStore
    relay: FastPath  # a GroupPublish in front of the OutboxRelay
    broker: BrokerProbe
    pseudonym_key: str
    idempotency_ttl_s: int
    systems: ExternalSystems


@route(
    routes,
    "/v1/requests",
    methods=["POST"],
    body=RequestIn,
    response=AcceptedOut,
    status=202,
    errors=(403, 409),
)
def post_request(call):
    """Record a resident's request; 202 with its id, status URL, and what it repeats.

    ``Idempotency-Key``: a retry with the same key and body answers the same (with
    ``Idempotent-Replayed: true``) and records nothing new; another body is 409. A key
    names its request for ``SHEGONG_IDEMPOTENCY_TTL_S`` seconds (24 h), then is free.
    ``repeat_of``: an open request of the same resident for the same need, if any.
    """
    body = call.body
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")
    if not call.principal.may_see_station(body["station"]):
        raise ApiError(403, "forbidden", "staff record requests for their own station only")
    context = call.context
    try:
        document, replayed = handlers.receive_request(
            context.store,
            context.relay,
            context.broker,
            body,
            call.principal.id,
            key,
            context.pseudonym_key,
            context.idempotency_ttl_s,
        )
    except domain.IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    answer = AcceptedOut().dump(
        {
            "request_id": document["_id"],
            "status": document["status"],
            "status_url": f"/v1/requests/{document['_id']}",
            "repeat_of": document.get("repeat_of"),
        }
    )
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
    """The intake WSGI app on ``settings``. gunicorn calls it with none: this is the API
    process's entry point, where the environment is read (once); a test passes its own."""
    if settings is None:
        settings = config.settings()
    store = RequestStore(mongo.database(settings, "intake"), settings.intake_commit_wait_ms / 1000)
    # the API's threads share the fast path: their requests' events are published
    # together, the confirms awaited together
    relay = group_commit.GroupPublish(relay_for(settings, "intake", OUTBOX_COLLECTIONS))
    return Api(
        "intake",
        settings,
        routes + api_events.routes,
        Context(
            store,
            relay,
            BrokerProbe(settings.amqp_uri),
            settings.pseudonym_key,
            settings.idempotency_ttl_s,
            external_systems(settings),
        ),
    )
