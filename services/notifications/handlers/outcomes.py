"""What sending a claimed message gave, as the change that records it: ``send`` tries
the providers, ``outcome`` turns their answer into Accepted (sent), Failed (failed,
technical_failure) or RetryLater, each applied on a version of the message
(handlers.apply_change decides it again on a newer one). The decisions are
domain/sending.py's."""

import logging
from dataclasses import dataclass
from typing import Any

from services.common import clock
from services.common.config import NotificationSettings
from services.notifications.domain import delivery as domain_delivery
from services.notifications.domain import sending as domain_sending
from services.notifications.handlers import Change, status_event
from services.notifications.providers import PermanentFailure, Sent, TemporaryFailure, as_chain

log = logging.getLogger(__name__)


def send(
    sender: Any, claimed: dict, in_doubt_since: str | None
) -> Sent | PermanentFailure | TemporaryFailure:
    """Try the providers for a claimed message: a Sent, or the PermanentFailure or
    TemporaryFailure they ended with (returned, not raised); anything else raises."""
    if claimed["channel"] == "in_app":  # the station's inbox is this store: nothing to call
        return Sent("inbox", claimed["_id"], [{"provider": "inbox", "outcome": "accepted"}])
    try:
        return as_chain(sender).send_first(claimed, in_doubt_since)
    except (PermanentFailure, TemporaryFailure) as exc:
        return exc


@dataclass(frozen=True)
class Accepted:
    """A claimed message the providers accepted; called on a version of the message:
    the change that records it (apply_change decides it again on a newer one)."""

    attempt: int
    tries: list
    at: str
    now_ms: int
    provider: str
    provider_message_id: str
    keep_number_h: float

    def __call__(self, current: dict) -> Change:
        fields, unset = domain_sending.sent(
            current,
            self.provider,
            self.provider_message_id,
            self.tries,
            self.attempt,
            self.at,
            self.now_ms,
            self.keep_number_h,
        )
        return Change(
            fields,
            [status_event({**current, **fields}, "sent", self.at, provider=self.provider)],
            unset,
        )


@dataclass(frozen=True)
class Failed:
    """A claimed message that ended ``status`` (failed, technical_failure)."""

    attempt: int
    tries: list
    at: str
    status: str
    reason: str

    def __call__(self, current: dict) -> Change:
        fields, tell, unset = domain_sending.failed(
            current, self.status, self.reason, self.tries, self.attempt, self.at
        )
        return Change(
            fields,
            [status_event(current, self.status, self.at, self.reason)] if tell else [],
            unset,
        )


@dataclass(frozen=True)
class RetryLater:
    """A claimed message the providers could not take now: due again at ``next_ms``."""

    attempt: int
    tries: list
    at: str
    reason: str
    next_ms: int

    def __call__(self, current: dict) -> Change | None:
        fields = domain_sending.retry(
            current,
            self.tries,
            self.attempt,
            self.reason,
            self.at,
            self.next_ms,
            clock.iso(clock.from_ms(self.next_ms)),
        )
        return None if fields is None else Change(fields)


Outcome = Accepted | Failed | RetryLater


def outcome(
    claimed: dict,
    result: Sent | PermanentFailure | TemporaryFailure,
    policy: NotificationSettings,
) -> Outcome:
    """What sending a claimed message gave, as the change that records it (apply_change)."""
    now = clock.now()
    attempt, at = claimed["attempts"], clock.iso(now)
    if isinstance(result, PermanentFailure):
        return _failed(claimed, "failed", result.reason, result.tries, attempt, at)
    if isinstance(result, TemporaryFailure):
        delay_s = domain_delivery.retry_delay_s(attempt, policy.retry_delays_s)
        if delay_s is None:
            return _failed(
                claimed,
                "technical_failure",
                f"gave up after {attempt} attempt(s): {result.reason}",
                result.tries,
                attempt,
                at,
            )
        log.warning(
            "message %s: temporary failure (attempt %d), retry in %.0f s",
            claimed["_id"],
            attempt,
            delay_s,
        )
        return RetryLater(
            attempt, result.tries, at, result.reason, clock.to_ms(now) + int(delay_s * 1000)
        )
    log.info(
        "%s %s to %s %s sent via %s",
        claimed["channel"],
        claimed["template"],
        claimed["recipient_role"],
        claimed.get("recipient"),
        result.provider,
    )
    return Accepted(
        attempt,
        result.tries,
        at,
        clock.to_ms(now),
        result.provider,
        result.provider_message_id,
        policy.keep_number_h,
    )


def _failed(message, status, reason, tries, attempt, at) -> Failed:
    log.warning("message %s %s: %s", message["_id"], status, reason)
    return Failed(attempt, tries, at, status, reason)
