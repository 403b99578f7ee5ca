"""OpenAPI 3 documents of the HTTP APIs, generated with apispec from the marshmallow
schemas each route is served with (``Route.body``, ``.query``, ``.response``)."""

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1.0.0"

ERROR_TEXT = {
    400: "Malformed JSON body",
    401: "No valid bearer token",
    403: "Outside the caller's role or station",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body larger than 1 MiB",
    415: "Body is not JSON",
    422: "Invalid fields (field-level messages)",
    503: "Store or broker unavailable; retry after Retry-After seconds",
}


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "invalid_fields"})
    message = fields.String(required=True)
    field_messages = fields.Dict(
        data_key="fields", metadata={"description": "field name -> messages (nested for objects)"}
    )


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


def _path(path):
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)


def _operation(route, method):
    doc = (route.entrypoint.__doc__ or "").strip()
    operation = {
        "summary": doc.splitlines()[0] if doc else route.path,
        "operationId": route.entrypoint.__name__.lstrip("_"),
        "responses": {
            str(route.status): {"description": "OK" if route.status == 200 else "Accepted"}
        },
    }
    if route.response:
        operation["responses"][str(route.status)]["content"] = {
            "application/json": {"schema": route.response}
        }
    parameters = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:\w+:)?(\w+)>", route.path)
    ]
    if route.query:
        parameters.append({"in": "query", "schema": route.query})
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    # what a route's schemas cannot say (e.g. a body it parses itself): entrypoint.openapi
    extra = dict(getattr(route.entrypoint, "openapi", None) or {})
    operation["responses"].update(extra.pop("responses", {}))
    operation.update(extra)
    if route.public:
        operation["security"] = []
        return operation
    codes = {401, 503, *route.errors}
    if route.body or route.query:
        codes.add(422)
    if route.body:
        codes.update({400, 413, 415})
    for code in sorted(codes):
        operation["responses"][str(code)] = {
            "description": ERROR_TEXT[code],
            "content": {"application/json": {"schema": "Error"}},
        }
    return operation


def document(service, routes):
    """The OpenAPI document of one service's API, as a dict."""
    spec = APISpec(
        title=f"shegong {service} API",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": f"The {service} service of shegong, the backend of "
            "Suyu District's township social work stations."
        },
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=Error)
    for route in sorted(routes, key=lambda r: r.path):
        spec.path(
            path=_path(route.path),
            operations={
                method.lower(): _operation(route, method.lower()) for method in route.methods
            },
        )
    result = spec.to_dict()
    result["security"] = [{"bearer": []}]
    return result
