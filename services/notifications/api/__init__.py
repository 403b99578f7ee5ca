"""The notifications HTTP API (gunicorn): ``gunicorn 'services.notifications.api:create_app()'``."""

import hmac
from dataclasses import dataclass

from marshmallow import ValidationError

from services.common import config, mongo
from services.common.http import (
    Api,
    ApiError,
    Route,
    json_body,
    json_response,
    require_station,
    route,
    scoped_station,
)
from services.common.outbox import OutboxRelay, relay_for
from services.notifications.api.inbox import routes as inbox_routes
from services.notifications.domain import inbox as domain_inbox
from services.notifications.domain.receipts import ACKNOWLEDGEMENTS, SCHEMAS, read_receipts
from services.notifications.handlers import receipts as handlers_receipts
from services.notifications.schemas import (
    MessageList,
    MessageOut,
    MessageQuery,
    ReceiptQuery,
    ReceiptsOut,
    WebhookDeliveryList,
    WebhookQuery,
)
from services.notifications.store import OUTBOX_COLLECTIONS, NotificationStore

routes: list[Route] = []
MAX_RECEIPTS = 1000


@dataclass
class Context:
    store: NotificationStore
    relay: OutboxRelay
    receipt_token: str


@route(routes, "/v1/messages", query=MessageQuery, response=MessageList, errors=(403,))
def list_messages(call):
    """Messages with their status and history (staff: their station's); numbers masked.

    Filters: ``case_id``, ``recipient_role``, ``status``, ``channel``, ``station`` (district
    staff), ``since`` / ``until`` (creation time, ISO 8601 with offset); ``inbox=true`` the
    caller's in-app messages, ``unread=true`` those not yet read. Newest first, paged
    with ``cursor``.
    """
    query = dict(call.query)
    limit, cursor = query.pop("limit"), query.pop("cursor", None)
    inbox, unread = query.pop("inbox", None), query.pop("unread", None)
    query["station"] = scoped_station(call.principal, query.get("station"))
    messages, next_cursor = call.context.store.page(
        query, limit, cursor, domain_inbox.inbox_ids(call.principal) if inbox else None, unread
    )
    return json_response(MessageList().dump({"messages": messages, "next_cursor": next_cursor}))


@route(
    routes,
    "/v1/webhook-deliveries",
    query=WebhookQuery,
    response=WebhookDeliveryList,
    errors=(403,),
)
def list_webhook_deliveries(call):
    """Referrals POSTed to agencies' webhooks (staff: their station's), newest first, with
    every attempt; ``state=failed``: retries used up and the event dead-lettered."""
    query = call.query
    station = scoped_station(call.principal, query.get("station"))
    found = call.context.store.webhooks.find(
        station, query.get("state"), query.get("agency"), query["limit"]
    )
    return json_response(WebhookDeliveryList().dump({"deliveries": found}))


@route(routes, "/v1/messages/<message_id>", response=MessageOut, errors=(403, 404))
def get_message(call, message_id):
    """One message's whole history: created, each attempt (provider, outcome), holds,
    retries, receipts; the number masked."""
    message = call.context.store.get(message_id)
    if message is None:
        raise ApiError(404, "not_found", f"no message {message_id}")
    require_station(call.principal, message.get("station"))
    return json_response(MessageOut().dump(message))


@route(
    routes,
    "/v1/receipts/<provider>",
    methods=["POST"],
    public=True,
    query=ReceiptQuery,
    response=ReceiptsOut,
    errors=(400, 401, 404, 413, 415),
)
def post_receipts(call, provider):
    """A provider's delivery reports (Aliyun SmsReport array, Tencent status callback array,
    or the gateway's JSON). Authenticated by the receipt token in the callback URL (no
    bearer token: providers cannot send one). A message's status only moves forward."""
    token = call.context.receipt_token
    given = call.query["token"] or call.request.headers.get("X-Receipt-Token", "")
    if not token or not hmac.compare_digest(token.encode(), given.encode()):
        raise ApiError(401, "unauthenticated", "a valid receipt token is required")
    if provider not in SCHEMAS:
        raise ApiError(
            404,
            "not_found",
            f"no receipts are taken from {provider!r}",
            {"provider": [f"one of {sorted(SCHEMAS)}"]},
        )
    payload = _payload(call)
    try:
        receipts = read_receipts(provider, payload)
    except ValidationError as exc:
        raise ApiError(422, "invalid_fields", "some receipts are invalid", exc.messages) from None
    matched = sum(
        handlers_receipts.apply_receipt(call.context.store, call.context.relay, receipt)
        for receipt in receipts
    )
    return json_response(
        {**ACKNOWLEDGEMENTS[provider], "accepted": matched, "unmatched": len(receipts) - matched}
    )


def _payload(call):
    mimetype = call.request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    payload = json_body(call.request)
    if not isinstance(payload, (list, dict)) or (
        isinstance(payload, list) and len(payload) > MAX_RECEIPTS
    ):
        raise ApiError(
            400, "malformed_json", f"send an object or an array of at most {MAX_RECEIPTS} receipts"
        )
    return payload


def create_app(settings=None):
    """The notifications WSGI app on ``settings``. gunicorn calls it with none: this is the API
    process's entry point, where the environment is read (once); a test passes its own."""
    if settings is None:
        settings = config.settings()
    database = mongo.database(settings, "notifications")
    relay = relay_for(settings, "notifications", OUTBOX_COLLECTIONS)
    context = Context(NotificationStore(database), relay, settings.notifications.receipt_token)
    return Api("notifications", settings, routes + inbox_routes, context)
