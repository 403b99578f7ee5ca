"""What an endpoint is declared with (``Route``, the ``route`` decorator) and what it
is called with (``Call``).

Apart from the ``Api`` application (http.py, which re-exports these names, the import
path the services use) so that each stays readable.
"""

from dataclasses import dataclass

from werkzeug.wrappers import Request

from services.common.http_payloads import ApiError, json_body


@dataclass(eq=False)
class Route:
    """An endpoint and its contract: the schemas here are the ones the request is loaded
    with and the ones the OpenAPI document is generated from."""

    path: str
    methods: tuple
    entrypoint: object  # the function that answers
    public: bool = False
    body: type | None = None  # marshmallow schema of the JSON body
    query: type | None = None  # marshmallow schema of the query string
    response: type | None = None  # marshmallow schema of the success answer
    status: int = 200
    errors: tuple = ()  # the 4xx answers this endpoint may give besides 401/422


def route(
    routes,
    path,
    methods=("GET",),
    public=False,
    body=None,
    query=None,
    response=None,
    status=200,
    errors=(),
):
    """Decorator that registers an entrypoint in a module's ``routes`` list."""

    def register(entrypoint):
        routes.append(
            Route(
                path,
                tuple(methods),
                entrypoint,
                public,
                body,
                query,
                response,
                status,
                tuple(errors),
            )
        )
        return entrypoint

    return register


@dataclass
class Call:
    """What an entrypoint gets: the request, the authenticated caller, the app's context, and
    the body and query string already loaded with the route's schemas."""

    request: Request
    principal: object
    context: object
    correlation_id: str
    body: dict | None = None
    query: dict | None = None

    def json(self):
        """The request body as a JSON object (413, 415 or 400 otherwise)."""
        mimetype = self.request.mimetype or ""
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")
        body = json_body(self.request)
        if not isinstance(body, dict):
            raise ApiError(400, "malformed_json", "the body must be a JSON object")
        return body
