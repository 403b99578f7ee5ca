"""Logging: JSON lines on stderr, personal numbers masked, correlation id attached."""

import json
import logging
import sys
import threading

from services.common.privacy import MaskingFilter, mask_text

_context = threading.local()


def set_correlation_id(value):
    _context.correlation_id = value


def correlation_id():
    return getattr(_context, "correlation_id", None)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None) or correlation_id()
        if cid:  # from a caller or an event: masked like the message
            line["correlation_id"] = mask_text(str(cid))
        if record.exc_text:
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level="INFO", service=None):
    """Configure the root logger once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # At DEBUG these libraries echo whole message bodies; they never go below INFO.
    for noisy in ("kombu", "amqp", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.INFO)
    if service:
        logging.getLogger(service).info("logging configured")
