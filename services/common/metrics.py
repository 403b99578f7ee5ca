"""Prometheus metrics of every service process, and the worker's own small HTTP port.

What is measured, and where it is measured:

- events an entrypoint consumed, failed, retried and dead-lettered, by service,
  entrypoint (the label ``handler``, kept for the dashboards) and event type, and the
  entrypoint's latency: ``RetryingEventHandler`` (messaging.py);
- events the relay published from the outboxes, and the outbox backlog and the age of
  its oldest pending document: ``OutboxRelay`` (outbox.py);
- HTTP requests by route, method and status, and their latency: ``Api`` (http.py).

The APIs answer ``GET /metrics``; a Nameko worker serves ``/metrics``, ``/healthz`` and
``/readyz`` on its metrics port (``<SERVICE>_METRICS_PORT`` or ``SHEGONG_METRICS_PORT``;
0, the default, turns it off). Labels never carry personal data: only service, entrypoint,
event type, route template (``unmatched`` when no route matched), method (a closed set:
``method_label``), status and exception type.

One process, one Prometheus collector registry: with ``SHEGONG_HTTP_WORKERS`` > 1 each
gunicorn worker counts its own requests, so deployments scale APIs by processes (pods,
containers) of one gunicorn worker each (docs/operations.md).
"""

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# "handler" names the entrypoint: the label (and the duration metric's name) predate the
# word and are kept, so that dashboards and alerts go on working
_EVENT = ("service", "handler", "event_type")

EVENTS_CONSUMED = Counter(
    "shegong_events_consumed", "Events an entrypoint processed and acked", _EVENT
)
EVENTS_FAILED = Counter(
    "shegong_events_failed", "Entrypoint runs that raised (each attempt)", _EVENT + ("exception",)
)
EVENTS_RETRIED = Counter(
    "shegong_events_retried",
    "Events sent to a retry queue; cause: fault (an attempt used) or outage (store or broker down)",
    _EVENT + ("cause",),
)
EVENTS_DEAD_LETTERED = Counter(
    "shegong_events_dead_lettered", "Events parked in the service's dead-letter queue", _EVENT
)
HANDLER_SECONDS = Histogram(
    "shegong_handler_duration_seconds",
    "Time from delivery to the entrypoint's result",
    _EVENT,
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "shegong_events_published",
    "Events the relay published from the outboxes (confirmed by the broker)",
    ("service", "event_type"),
)
OUTBOX_BACKLOG = Gauge(
    "shegong_outbox_backlog",
    "Documents whose events are not all published yet (counted up to 1000)",
    ("service", "collection"),
)
OUTBOX_OLDEST_AGE = Gauge(
    "shegong_outbox_oldest_age_seconds",
    "Age of the oldest document with unpublished events (0 when none)",
    ("service", "collection"),
)
SMS_HELD = Counter(
    "shegong_sms_held",
    "SMS held back when due: by recipient kind (staff or "
    "resident), message kind (template) and reason (quiet_hours, rate_limited, "
    "staff_rate_limited)",
    ("recipient", "kind", "reason"),
)
MESSAGES_UNADDRESSED = Counter(
    "shegong_messages_unaddressed",
    "Messages a rule asked for that had no one to go to, because a setting names "
    "nobody: by message kind (template) and the setting (e.g. SHEGONG_DUTY_OFFICER_PHONE)",
    ("kind", "setting"),
)
WEBHOOK_DELIVERIES = Counter(
    "shegong_webhook_deliveries",
    "Webhook POSTs to partner agencies; outcome: delivered, retrying, failed (dead-lettered)",
    ("agency", "outcome"),
)
HTTP_REQUESTS = Counter(
    "shegong_http_requests", "HTTP requests answered", ("service", "method", "route", "status")
)
HTTP_SECONDS = Histogram(
    "shegong_http_request_duration_seconds",
    "HTTP request latency",
    ("service", "method", "route"),
    buckets=LATENCY_BUCKETS,
)


HTTP_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))


def method_label(method: str) -> str:
    """The ``method`` label: one of HTTP_METHODS, else "other" (a client may send any
    token as a method; each would otherwise add series without bound)."""
    return method if method in HTTP_METHODS else "other"


def exposition():
    """(body, content type) of every metric of this process, in the text format."""
    return generate_latest(), CONTENT_TYPE_LATEST


def observe_outbox(service, collection, pending_updated_ms, now_ms):
    """Record the backlog seen by a relay sweep: the ``updated_ms`` of pending documents."""
    OUTBOX_BACKLOG.labels(service, collection).set(len(pending_updated_ms))
    oldest = min(pending_updated_ms, default=now_ms)
    OUTBOX_OLDEST_AGE.labels(service, collection).set(max(0.0, (now_ms - oldest) / 1000))


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes every few seconds: not worth a log line each
        pass


def worker_app(service, ready_checks):
    """The WSGI app of a worker's metrics port: /metrics, /healthz, /readyz."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body, content_type = exposition()
            start_response("200 OK", [("Content-Type", content_type)])
            return [body]
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [f'{{"status": "ok", "service": "{service}"}}'.encode()]
        if path == "/readyz":
            checks = {name: bool(check()) for name, check in ready_checks.items()}
            ready = all(checks.values())
            body = '{"status": "%s", "service": "%s", "checks": {%s}}' % (
                "ready" if ready else "not_ready",
                service,
                ", ".join(f'"{name}": {str(ok).lower()}' for name, ok in checks.items()),
            )
            start_response(
                "200 OK" if ready else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [body.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


def serve_worker_port(service, host, port, ready_checks):
    """Serve the worker's metrics and probes in a background thread; None when off.

    A port that cannot be bound is logged and skipped: metrics never stop a worker.
    """
    if not port:
        return None
    try:
        server = make_server(
            host,
            port,
            worker_app(service, ready_checks),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        log.error(
            "%s worker: metrics port %s:%s unavailable (%s); metrics off", service, host, port, exc
        )
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("%s worker: metrics, /healthz and /readyz on %s:%d", service, host, port)
    return server
