"""The staff's in-app inbox: messages to a worker or a station head get a read state."""

from services.common import clock
from services.common.http import ApiError, Route, json_response, require_station, route
from services.notifications.domain import inbox as domain_inbox
from services.notifications.schemas import MarkReadCommand, MessageOut

routes: list[Route] = []
ATTEMPTS = 5


@route(
    routes,
    "/v1/messages/<message_id>/read",
    methods=["POST"],
    body=MarkReadCommand,
    response=MessageOut,
    errors=(403, 404, 409),
)
def mark_read(call, message_id):
    """Mark an in-app message of the caller's inbox read (again: no change)."""
    store = call.context.store
    for _ in range(ATTEMPTS):  # a concurrent writer (a delivery step) may win; read again
        message = store.get(message_id)
        if message is None:
            raise ApiError(404, "not_found", f"no message {message_id}")
        require_station(call.principal, message.get("station"))
        if message.get("channel") != "in_app":
            raise ApiError(409, "not_in_app", "only in-app messages have a read state")
        if not domain_inbox.is_addressed_to(message, call.principal):
            raise ApiError(403, "forbidden", "this message is in another staff member's inbox")
        changes = domain_inbox.mark_read(message, call.principal, clock.iso(clock.now()))
        if not changes:
            return json_response(MessageOut().dump(message))
        updated = store.update(message, changes)
        if updated is not None:
            return json_response(MessageOut().dump(updated))
    raise ApiError(409, "conflict", "the message keeps changing; retry")
