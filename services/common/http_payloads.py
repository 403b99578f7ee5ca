"""The JSON in and out of every endpoint: ``ApiError`` (an answer with a status and a
code), the JSON answers, and request bodies read within their limit.

Apart from the ``Api`` application (http.py, which re-exports these names, the import
path the services use) so that each stays readable; nothing here knows about routes.
"""

import json

from werkzeug.wrappers import Request, Response

from services.common import jsontext

MAX_BODY_BYTES = 1024 * 1024


class ApiError(Exception):
    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers or {}


def json_response(body, status=200, headers=None):
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


def error_response(status, code, message, fields=None, headers=None):
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return json_response({"error": error}, status, headers)


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _has_body(request: Request) -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, at most ``limit`` bytes: 413 beyond, whether its length was
    announced (Content-Length) or not (Transfer-Encoding: chunked, which werkzeug would
    silently cut at the limit). Read once; later calls get the same bytes."""
    cached = request.environ.get("shegong.body")
    if cached is not None:
        return cached
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, "body_too_large", f"the body exceeds {limit} bytes")
    if length is None and "chunked" in request.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        # the server de-chunks wsgi.input and ends it; one byte past the limit is enough
        # to know the body is too large, and nothing more is read
        stream, chunks, size = request.environ["wsgi.input"], [], 0
        while size <= limit:
            chunk = stream.read(min(64 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"the body exceeds {limit} bytes")
        raw = b"".join(chunks)
    else:
        raw = request.get_data(cache=True)
    request.environ["shegong.body"] = raw
    return raw


def json_body(request: Request, limit: int = MAX_BODY_BYTES) -> object:
    """The request body as JSON (any JSON value): 413 past ``limit`` bytes, 400 when it is
    not UTF-8 JSON or nests deeper than jsontext.MAX_DEPTH levels. Every endpoint that
    takes JSON reads its body here."""
    raw = read_body(request, limit)
    try:
        return jsontext.loads(raw)
    except jsontext.TooDeep as exc:
        raise ApiError(400, "malformed_json", f"the body nests too deeply: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid UTF-8 JSON: {exc}") from None
