"""The WSGI plumbing every service's API shares (served by gunicorn).

A route's entrypoint is a plain function ``entrypoint(call, **path_values)`` returning a
Response; ``Api`` adds what every endpoint needs: bearer authentication, JSON errors
with field-level messages, body limits and content types, 503 while the store or the
broker is down, ``/healthz`` and ``/readyz``, and a log line per request.
"""

import hmac
import logging
import re
import time

from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from services.common import config, ids, logs, metrics
from services.common.auth import InvalidToken, verify_token
from services.common.http_payloads import (  # noqa: F401 - also this module's public names
    MAX_BODY_BYTES,
    WRITES,
    ApiError,
    _has_body,
    error_response,
    json_body,
    json_response,
    read_body,
)
from services.common.http_routes import Call, Route, route  # noqa: F401 - also public here
from services.common.messaging import BrokerUnavailable, broker_reachable
from services.common.mongo import STORE_DOWN_ERRORS, store_reachable
from services.common.openapi import document
from services.common.revocations import Revocations
from services.common.token_keys import keyring

log = logging.getLogger(__name__)

# A caller's X-Correlation-Id is echoed, logged and kept in events' causationid: only
# ids of this shape are taken (8 to 64 of A-Z a-z 0-9 . _ : -), and none with a run of 7 or
# more digits, which could be a phone or ID number (a UUID in its canonical form is
# always taken); anything else is replaced by a fresh UUID.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_PERSONAL_DIGITS = re.compile(r"\d{7,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RETRY_AFTER_S = "5"


def correlation_id_for(given: str | None) -> str:
    """The caller's correlation id when it has the documented shape, else a new UUID."""
    given = given or ""
    if _UUID.fullmatch(given) or (
        CORRELATION_ID.fullmatch(given) and not _PERSONAL_DIGITS.search(given)
    ):
        return given
    return ids.new_id()


class Api:
    """A service's HTTP API as a WSGI application."""

    def __init__(self, service, settings, routes, context=None):
        logs.configure(settings.log_level)
        config.accept_dates(settings)  # the dates its schemas accept (the process's)
        self._openapi_document = None
        self.service = service
        self.settings = settings
        self.context = context
        self.keyring = keyring(settings)
        self.revocations = Revocations(settings.token_revocations_file)
        self.ready_checks = {
            "store": lambda: store_reachable(settings),
            "broker": lambda: broker_reachable(settings.amqp_uri),
            # without a token secret every call would be refused
            "auth": lambda: bool(self.keyring),
        }
        # name -> callable returning what an operator must act on soon (a str) or None;
        # shown by /healthz and /readyz without making the service unready
        self.warning_checks = {}
        if not settings.token_secret:
            log.error(
                "%s API: neither SHEGONG_TOKEN_SECRETS nor SHEGONG_TOKEN_SECRET is set; "
                "every call will get 401",
                service,
            )
        self.routes = [
            Route("/healthz", ("GET",), self._healthz, True),
            Route("/readyz", ("GET",), self._readyz, True),
            Route("/v1/openapi.json", ("GET",), self._openapi, True),
            Route("/metrics", ("GET",), self._metrics, True),
        ] + list(routes)
        self.url_map = Map(
            [Rule(r.path, endpoint=r, methods=list(r.methods)) for r in self.routes],
            strict_slashes=False,
        )

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_BODY_BYTES
        started = time.monotonic()
        correlation_id = correlation_id_for(request.headers.get("X-Correlation-Id"))
        logs.set_correlation_id(correlation_id)
        response = self._dispatch(request, correlation_id)
        response.headers["X-Correlation-Id"] = correlation_id
        elapsed = time.monotonic() - started
        # the route's template, never the path itself (ids would make endless series)
        route_path = request.environ.get("shegong.route", "unmatched")
        method = metrics.method_label(request.method)  # a closed set: clients choose methods
        metrics.HTTP_REQUESTS.labels(
            self.service, method, route_path, str(response.status_code)
        ).inc()
        metrics.HTTP_SECONDS.labels(self.service, method, route_path).observe(elapsed)
        log.info("%s %s %s %.1fms", method, request.path, response.status_code, elapsed * 1000)
        logs.set_correlation_id(None)
        return response(environ, start_response)

    def _dispatch(self, request, correlation_id):
        try:
            endpoint, values = self.url_map.bind_to_environ(request.environ).match()
            request.environ["shegong.route"] = endpoint.path
            principal = None if endpoint.public else self._authenticate(request)
            call = Call(request, principal, self.context, correlation_id)
            if endpoint.query:
                call.query = endpoint.query().load(request.args.to_dict())
            if endpoint.body:
                call.body = endpoint.body().load(call.json())
            elif not endpoint.public and request.method in WRITES and _has_body(request):
                call.json()  # a write that takes no body still refuses any but a JSON one
            return endpoint.entrypoint(call, **values)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)
        except ValidationError as exc:
            return error_response(422, "invalid_fields", "some fields are invalid", exc.messages)
        except STORE_DOWN_ERRORS:
            log.warning("store unavailable while serving %s", request.path)
            return error_response(
                503,
                "store_unavailable",
                "the database is unavailable; retry",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        except BrokerUnavailable:
            log.warning("broker unavailable while serving %s", request.path)
            return error_response(
                503,
                "broker_unavailable",
                "the message broker is unavailable; nothing was recorded; retry",
                headers={"Retry-After": RETRY_AFTER_S},
            )
        except HTTPException as exc:
            return error_response(
                exc.code,
                exc.name.lower().replace(" ", "_"),
                exc.description,
                headers=dict(exc.get_headers()) if exc.code == 405 else None,
            )
        except Exception:  # the caller gets a 500, the log gets the trace
            log.exception("unhandled error serving %s %s", request.method, request.path)
            return error_response(500, "internal_error", "internal error")

    def _authenticate(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "unauthenticated",
                "send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": 'Bearer realm="shegong"'},
            )
        try:
            return verify_token(
                self.keyring,
                token.strip(),
                revocations=self.revocations,
                max_ttl_s=self.settings.token_ttl_s,
            )
        except InvalidToken as exc:
            raise ApiError(
                401,
                "unauthenticated",
                f"invalid token: {exc}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None

    def _healthz(self, call):
        """Alive: the process answers; ``warnings``, if any, say what needs an operator."""
        return json_response({"status": "ok", "service": self.service, **self._warnings()})

    def _warnings(self):
        found = {}
        for name, check in self.warning_checks.items():
            try:
                warning = check()
            except Exception as exc:  # noqa: BLE001 - a warning never fails a probe
                log.debug("warning check %s not run: %s", name, type(exc).__name__)
                continue
            if warning:
                found[name] = warning
        return {"warnings": found} if found else {}

    def _metrics(self, call):
        """Prometheus metrics of this process (text format). Public, like /healthz (no
        personal data in any label), unless SHEGONG_METRICS_TOKEN is set: then a scraper
        sends it as a bearer token."""
        expected = self.settings.metrics_token
        if expected:
            scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
                raise ApiError(401, "unauthenticated", "send the metrics token as a bearer token")
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    def _openapi(self, call):
        """This API's OpenAPI 3 document, generated from the routes' schemas."""
        if self._openapi_document is None:
            self._openapi_document = document(self.service, self.routes)
        return json_response(self._openapi_document)

    def _readyz(self, call):
        """Ready: the store and the broker are reachable, and tokens can be verified."""
        checks = {name: bool(check()) for name, check in self.ready_checks.items()}
        ready = all(checks.values())
        return json_response(
            {
                "status": "ready" if ready else "not_ready",
                "service": self.service,
                "checks": checks,
                **self._warnings(),
            },
            200 if ready else 503,
            None if ready else {"Retry-After": RETRY_AFTER_S},
        )


def require_station(principal, station):
    if not principal.may_see_station(station):
        raise ApiError(403, "forbidden", "this belongs to another station")


def scoped_station(principal, requested):
    """The station a query covers: district staff choose (None: all), station staff get
    their own whether or not they name it, and naming another is 403."""
    if principal.district_wide:
        return requested
    if requested and requested != principal.station:
        raise ApiError(403, "forbidden", "station staff see their own station only")
    return principal.station
