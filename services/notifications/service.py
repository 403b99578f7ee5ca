"""The notifications Nameko service: entrypoints only."""
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.common import config
from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, CASE_RESOLVED, REQUEST_RECEIVED
from services.common.dependencies import LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.notifications import domain, handlers
from services.notifications.providers import provider_from
from services.notifications.store import NotificationStore

RELAY_INTERVAL_S = config.settings().relay_interval_s


class SmsProvider(DependencyProvider):
    """Injects the configured SMS provider; checks every template before starting."""

    def setup(self):
        domain.check_templates()
        self.provider = provider_from(config.settings())

    def get_dependency(self, worker_ctx):
        return self.provider


class NotificationsService:
    name = "notifications"

    store = Storage(NotificationStore)
    outbox = Outbox("messages")
    sms = SmsProvider()
    log_context = LogContext()

    @handles(REQUEST_RECEIVED)
    def remember_contact(self, body):
        """Keep how to reach the resident of a request, to tell them about their case."""
        _, request = load_event(body, REQUEST_RECEIVED)
        handlers.remember_contact(self.store, request)

    @handles(CASE_ASSIGNED)
    def case_assigned(self, body):
        """Tell the assigned social worker at once."""
        self._notify(body, CASE_ASSIGNED)

    @handles(CASE_ACCEPTED)
    def case_accepted(self, body):
        """Tell the resident their request was taken on."""
        self._notify(body, CASE_ACCEPTED)

    @handles(CASE_RESOLVED)
    def case_resolved(self, body):
        """Tell the resident their request was resolved."""
        self._notify(body, CASE_RESOLVED)

    def _notify(self, body, contract):
        envelope, data = load_event(body, contract)
        handlers.notify(self.store, self.outbox, self.sms, envelope, data)

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self):
        """Publish message events that a crashed writer left in the outbox."""
        self.outbox.sweep()
