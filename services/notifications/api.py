"""The notifications HTTP API (gunicorn): ``gunicorn 'services.notifications.api:create_app()'``."""
from services.common import config, mongo
from services.common.http import Api, ApiError, json_response, route, scoped_station
from services.notifications.schemas import MessageList, MessageQuery
from services.notifications.store import NotificationStore

routes = []


@route(routes, "/v1/messages", query=MessageQuery, response=MessageList)
def list_messages(call):
    """Messages with their status and history (staff: their station's); numbers masked."""
    query = dict(call.query)
    limit = query.pop("limit")
    query["station"] = scoped_station(call.principal, None)
    if not query:
        raise ApiError(422, "invalid_fields", "filter by case_id, recipient_role or status",
                       {"case_id": ["give at least one filter"]})
    messages = call.context.find(query, limit)
    return json_response(MessageList().dump({"messages": messages}))


def create_app(settings=None):
    settings = settings or config.settings()
    store = NotificationStore(mongo.database(settings, "notifications"))
    return Api("notifications", settings, routes, store)
