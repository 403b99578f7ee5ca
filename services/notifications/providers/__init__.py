"""SMS providers behind one interface, and the chain that falls back from one to the next.

A provider has a ``name`` and ``send(message) -> provider_message_id``; it raises
``TemporaryFailure`` (throttled, timed out, unreachable, server error: worth trying
again, or another provider) or ``PermanentFailure`` (the number is invalid: no
provider and no retry will help). Each passes the message id as the provider's own
reference where it has one (Aliyun ``OutId``, Tencent ``SessionContext``, the gateway's
``Idempotency-Key``), so receipts can be matched and a repeat can be recognised.

Which providers serve, and in which order, is configuration
(``SHEGONG_SMS_PROVIDERS``, see ``provider_chain``).
"""

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import requests

from services.common import ids
from services.common.privacy import mask_phone, mask_text

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """Try again later, or with another provider."""

    def __init__(self, reason, tries=()):
        super().__init__(reason)
        self.reason, self.tries = reason, list(tries)


class PermanentFailure(Exception):
    """The message cannot be delivered (invalid number): not retried."""

    def __init__(self, reason, tries=()):
        super().__init__(reason)
        self.reason, self.tries = reason, list(tries)


@dataclass
class Sent:
    provider: str
    provider_message_id: str
    tries: list = field(default_factory=list)


class ProviderChain:
    """Tries the configured providers in order; the first that accepts the message wins.

    A temporary failure moves on to the next provider; a permanent one stops (an
    invalid number is invalid everywhere). Every try is reported, for the history.
    """

    def __init__(self, providers):
        self.providers = list(providers)
        self.name = ",".join(provider.name for provider in self.providers)

    def send_first(self, message, in_doubt_since=None):
        """``in_doubt_since`` (a YYYY-MM-DD day): an earlier claim of this message died
        without recording its outcome; providers that can tell whether they took it
        (``find_sent``) are asked before anything is sent again."""
        tries = []
        for provider in self.providers:
            found = (
                in_doubt_since
                and hasattr(provider, "find_sent")
                and provider.find_sent(message, in_doubt_since)
            )
            if found:
                tries.append(
                    {
                        "provider": provider.name,
                        "outcome": "found_sent",
                        "provider_message_id": found,
                    }
                )
                return Sent(provider.name, found, tries)
        for provider in self.providers:
            try:
                provider_id = provider.send(message)
            except PermanentFailure as exc:
                tries.append(
                    {
                        "provider": provider.name,
                        "outcome": "permanent_failure",
                        "reason": mask_text(exc.reason)[:300],
                    }
                )
                raise PermanentFailure(exc.reason, tries) from exc
            except Exception as exc:  # noqa: BLE001 - any other failure: the next provider
                reason = (
                    exc.reason
                    if isinstance(exc, TemporaryFailure)
                    else (f"{type(exc).__name__}: {exc}")
                )
                tries.append(
                    {
                        "provider": provider.name,
                        "outcome": "temporary_failure",
                        "reason": mask_text(reason)[:300],
                    }
                )
                log.warning(
                    "SMS provider %s failed for %s: %s",
                    provider.name,
                    message["_id"],
                    mask_text(reason)[:200],
                )
                continue
            tries.append(
                {
                    "provider": provider.name,
                    "outcome": "accepted",
                    "provider_message_id": provider_id,
                }
            )
            return Sent(provider.name, provider_id, tries)
        raise TemporaryFailure(
            "every provider failed: " + "; ".join(f"{t['provider']}: {t['reason']}" for t in tries),
            tries,
        )


def as_chain(sender):
    """A single provider (as tests inject) works as a chain of one."""
    return sender if hasattr(sender, "send_first") else ProviderChain([sender])


class DevFileProvider:
    """The development sink: plays the carrier by appending each SMS to a JSON-lines file
    (``var/sms.jsonl``), with the number masked. A message id already in the file is
    not written again: the sink is idempotent, as the gateway protocol asks."""

    name = "dev_file"

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        # The ids in the file as far as read: each send reads only what was appended
        # since (by this or another process), not the whole file again.
        self._sent, self._offset = {}, 0

    def _already(self, message_id):
        try:
            if self.path.stat().st_size < self._offset:  # the file was replaced
                self._sent, self._offset = {}, 0
            with self.path.open("rb") as sink:
                sink.seek(self._offset)
                appended = sink.read()
        except FileNotFoundError:
            self._sent, self._offset = {}, 0
            return None
        complete = appended[: appended.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message_id"):
                self._sent.setdefault(entry["message_id"], entry.get("provider_id"))
        return self._sent.get(message_id)

    def send(self, message):
        with self._lock:
            existing = self._already(message["_id"])
            if existing:
                return existing
            provider_id = f"dev-{ids.uuid4().hex[:16]}"
            line = {
                "provider_id": provider_id,
                "message_id": message["_id"],
                "to": mask_phone(message["phone"]),
                "template_code": message["provider_code"],
                "sign_name": message["signature"],
                "text": message["body"],
                "recipient_role": message["recipient_role"],
                "case_id": message.get("case_id"),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
            return provider_id


class HttpGatewayProvider:
    """A generic SMS gateway over HTTP (JSON), e.g. an operator's or a government platform's.

    ``POST <url>`` with ``Authorization: Bearer <token>`` and ``Idempotency-Key: <message
    id>``; body ``{"to", "text", "sign_name", "template_code", "params", "client_ref"}``.
    Answers: 2xx ``{"id": ...}`` accepted (a repeated key answers the first id and sends
    nothing); 400/422 with ``{"code": "invalid_number"}`` permanent; 429, 5xx and
    timeouts temporary.
    """

    name = "http"

    def __init__(self, url, token, timeout_s=5.0):
        self.url, self.token, self.timeout_s = url, token, timeout_s
        self._session = requests.Session()

    def send(self, message):
        body = {
            "to": message["phone"],
            "text": message["body"],
            "sign_name": message["signature"],
            "template_code": message["provider_code"],
            "params": message.get("params", {}),
            "client_ref": message["_id"],
        }
        try:
            answer = self._session.post(
                self.url,
                json=body,
                timeout=self.timeout_s,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Idempotency-Key": message["_id"],
                },
            )
        except requests.RequestException as exc:
            raise TemporaryFailure(f"gateway unreachable: {type(exc).__name__}") from exc
        if answer.status_code in (400, 422):
            code = _json(answer).get("code", "rejected")
            if code == "invalid_number":
                raise PermanentFailure(f"gateway: {code}")
            raise TemporaryFailure(f"gateway refused: {answer.status_code} {code}")
        if answer.status_code >= 300:
            raise TemporaryFailure(f"gateway answered {answer.status_code}")
        provider_id = _json(answer).get("id")
        if not provider_id:
            raise TemporaryFailure("gateway answered without an id")
        return str(provider_id)


def _json(answer):
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def provider_named(name, settings):
    policy = settings.notifications
    if name in ("file", "dev_file"):
        return DevFileProvider(settings.sms_file)
    if name == "http":
        return HttpGatewayProvider(
            policy.http_gateway_url, policy.http_gateway_token, policy.timeout_s
        )
    if name == "aliyun":
        from services.notifications.providers.cloud import AliyunSmsProvider

        return AliyunSmsProvider(policy)
    if name == "tencent":
        from services.notifications.providers.cloud import TencentSmsProvider

        return TencentSmsProvider(policy)
    raise ValueError(f"unknown SMS provider {name!r} (use aliyun, tencent, http, file)")


def provider_chain(settings):
    """The providers named by ``SHEGONG_SMS_PROVIDERS``, in that order."""
    names = settings.notifications.providers
    if not names:
        raise ValueError("SHEGONG_SMS_PROVIDERS names no provider")
    return ProviderChain([provider_named(name, settings) for name in names])
