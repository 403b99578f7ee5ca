"""POSTing a referral to a partner agency's webhook: the HTTP adapter (the only I/O).

The body is the CloudEvent in structured mode (``application/cloudevents+json``),
signed: ``X-Shegong-Timestamp`` (Unix seconds) and ``X-Shegong-Signature``
(``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` under the agency's secret).
The receiver recomputes it and refuses a stale timestamp (replays).
"""

import json
import time
from dataclasses import dataclass
from typing import Optional

import requests

from services.common.agencies import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

TIMEOUT_S = 10.0
CONTENT_TYPE = "application/cloudevents+json"


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: Optional[int]  # the receiver's HTTP status; None: no answer
    error: Optional[str]


def signed_request(envelope: dict, secret: str, now_s: Optional[int] = None):
    """The exact bytes and headers of the POST (pure: the tests verify the signature)."""
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time() if now_s is None else now_s))
    return body, {
        "Content-Type": CONTENT_TYPE,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        "X-Shegong-Delivery": envelope["id"],
    }


def post(url: str, envelope: dict, secret: str) -> Outcome:
    """One attempt; any 2xx is delivered, anything else (or no answer) is not."""
    body, headers = signed_request(envelope, secret)
    try:
        answer = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False
        )
    except requests.RequestException as exc:
        return Outcome(False, None, type(exc).__name__)
    if 200 <= answer.status_code < 300:
        return Outcome(True, answer.status_code, None)
    return Outcome(False, answer.status_code, f"HTTP {answer.status_code}")
