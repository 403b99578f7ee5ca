"""Referrals delivered to the partner agencies that take them by webhook.

Each ``referral.sent`` reaches notifications' webhook queue (bound with ``#`` on
``shegong.outbound``); one for a webhook agency is POSTed, signed, to its URL. A failed
POST raises WebhookFailed: the entrypoint's retries (``SHEGONG_RETRY_DELAYS_MS``, growing)
try again, and after the last one the event is dead-lettered; every attempt is recorded
in ``webhook_deliveries`` (``GET /v1/webhook-deliveries``) and counted
(``shegong_webhook_deliveries``). Agencies on AMQP read their own queue: nothing to do.
"""

import logging
from collections.abc import Callable

from services.common import clock, metrics
from services.common.config import Settings
from services.notifications import webhooks
from services.notifications.store import NotificationStore
from services.notifications.store.webhooks import round_attempts

log = logging.getLogger(__name__)


class WebhookFailed(Exception):
    """The agency's webhook did not take the referral; retried, then dead-lettered."""


def deliver_referral(
    store: NotificationStore,
    partners: dict,
    settings: Settings,
    envelope: dict,
    post: Callable[[str, dict, str], webhooks.Outcome] = webhooks.post,
) -> str:
    """Deliver one referral event to its agency's webhook; returns the delivery's state."""
    agency = partners.get(envelope["data"]["agency"])
    if agency is None or agency.delivery != "webhook":
        return "not_webhook"
    at = clock.iso(clock.now())
    delivery = store.webhooks.start(envelope, agency.webhook_url, at)
    if delivery["state"] == "delivered":  # a redelivered event: POSTed once already
        return "delivered"
    if delivery["state"] == "failed":  # its dead letter replayed: the retries start again
        delivery = store.webhooks.replayed(delivery, at)
    attempt = delivery["attempts"] + 1
    secret = settings.webhook_secrets.get(agency.id)  # never sent unsigned
    outcome = (
        post(agency.webhook_url, envelope, secret)
        if secret
        else webhooks.Outcome(False, None, f"no secret for {agency.id} in SHEGONG_WEBHOOK_SECRETS")
    )
    if outcome.delivered:
        store.webhooks.record(delivery, "delivered", outcome.status, None, at)
        metrics.WEBHOOK_DELIVERIES.labels(agency.id, "delivered").inc()
        log.info(
            "referral %s delivered to %s (attempt %d)",
            envelope["data"]["referral_id"],
            agency.id,
            attempt,
        )
        return "delivered"
    # the entrypoint's retries: one per delay, then the dead-letter queue
    state = "failed" if round_attempts(delivery) + 1 > len(settings.retry_delays_ms) else "retrying"
    store.webhooks.record(delivery, state, outcome.status, outcome.error, at)
    metrics.WEBHOOK_DELIVERIES.labels(agency.id, state).inc()
    raise WebhookFailed(
        f"webhook of {agency.id} refused referral "
        f"{envelope['data']['referral_id']} (attempt {attempt}): {outcome.error}"
    )
