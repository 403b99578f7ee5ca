"""The notifications Nameko service: entrypoints only."""

from services.common import agencies
from services.common.batching import handles_batch, load_events
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_RESIDENT_UNREACHED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
    REFERRAL_SENT,
    REQUEST_RECEIVED,
)
from services.common.dependencies import Config, LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.common.timers import every
from services.notifications import handlers
from services.notifications.dependencies import SmsProvider
from services.notifications.handlers import batch as handlers_batch
from services.notifications.handlers import webhooks as handlers_webhooks
from services.notifications.store import OUTBOX_COLLECTIONS, NotificationStore


class NotificationsService:
    name = "notifications"

    store = Storage(NotificationStore)
    relay = Outbox(*OUTBOX_COLLECTIONS)  # the OutboxRelay of these collections
    sms = SmsProvider()
    log_context = LogContext()
    settings = Config()

    @handles_batch(REQUEST_RECEIVED)
    def request_received(self, bodies):
        """Keep how to reach the residents of requests; a missed check-in alert tells the
        resident's emergency contact at once. Returns the events to retry alone."""
        items, failures = load_events(bodies, REQUEST_RECEIVED)
        handlers_batch.remember_contacts(self.store, items)
        failures.update(self._notify_many(items))
        return failures

    @handles_batch(CASE_ASSIGNED)
    def case_assigned(self, bodies):
        """Tell the assigned social workers (or the duty worker of a missed check-in) at
        once. Returns the events to retry alone."""
        items, failures = load_events(bodies, CASE_ASSIGNED)
        failures.update(self._notify_many(items))
        return failures

    def _notify_many(self, items):
        return handlers_batch.notify_many(self.store, self.relay, self.sms, self.settings, items)

    @handles(CASE_ACCEPTED)
    def case_accepted(self, body):
        """Tell the resident their request was taken on."""
        self._notify(body, CASE_ACCEPTED)

    @handles(CASE_RESOLVED)
    def case_resolved(self, body):
        """Tell the resident (and for an urgent case the emergency contact) it was resolved."""
        self._notify(body, CASE_RESOLVED)

    @handles(CASE_ESCALATED)
    def case_escalated(self, body):
        """Tell the station head, by SMS and in the station's inbox."""
        self._notify(body, CASE_ESCALATED)

    @handles(CASE_SLA_BREACHED)
    def case_sla_breached(self, body):
        """Put the breach in the station head's inbox; an urgent one goes to the duty officer."""
        self._notify(body, CASE_SLA_BREACHED)

    @handles(CASE_RESIDENT_UNREACHED)
    def case_resident_unreached(self, body):
        """Ask the case's owner, in their inbox, to phone the resident an SMS missed."""
        self._notify(body, CASE_RESIDENT_UNREACHED)

    @handles(REFERRAL_SENT)
    def referral_sent(self, body):
        """POST a referral, signed, to its agency's webhook (agencies on AMQP read their own
        queue); a refused POST is retried with growing delays, then dead-lettered."""
        load_event(body, REFERRAL_SENT)  # valid, then POSTed as it came
        handlers_webhooks.deliver_referral(
            self.store, agencies.partners(self.settings), self.settings, body
        )

    def _notify(self, body, contract):
        envelope, data = load_event(body, contract)
        handlers.notify(self.store, self.relay, self.sms, self.settings, envelope, data)

    @every("notifications.sweep_interval_s")
    def deliver_due(self):
        """Send the messages now due: deferred (quiet hours, rate limit), retried after a
        temporary failure, or left in flight by a process that died."""
        handlers_batch.deliver_due(self.store, self.relay, self.sms, self.settings)

    @every("relay_interval_s")
    def relay_outbox(self):
        """Publish message events that a crashed writer left in the outbox."""
        self.relay.sweep()
