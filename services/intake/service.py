"""The intake Nameko service: entrypoints only."""

from nameko.timer import timer

from services.common.batching import handles_batch, load_events
from services.common.contracts import (
    CASE_CANCELLED,
    CASE_CLOSED,
    CASE_OPENED,
    CASE_REFERRED,
    CASE_REOPENED,
    CASE_REQUEST_LINKED,
    CASE_RESOLVED,
)
from services.common.dependencies import Config, LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.common.timers import every
from services.intake import handlers
from services.intake.amqp_inbound import inbound_batch, inbound_topology
from services.intake.dependencies import Systems
from services.intake.handlers import inbound as handlers_inbound
from services.intake.store import OUTBOX_COLLECTIONS, RequestStore

KEY_PURGE_INTERVAL_S = 600


class IntakeService:
    name = "intake"
    extra_topology = staticmethod(inbound_topology)

    store = Storage(RequestStore)
    relay = Outbox(*OUTBOX_COLLECTIONS, grouped=True)
    systems = Systems()
    log_context = LogContext()
    settings = Config()

    @inbound_batch
    def receive_inbound_events(self, items):
        """Events from other government systems (structured or binary mode), in batches:
        requests and registry updates, recorded as a POST /v1/events batch is. A refused
        one (unreadable, unknown type, invalid, not allowed) is returned with its reason,
        to be dead-lettered alone and logged as a warning, not an error with a traceback."""
        return handlers_inbound.receive_inbound_amqp_many(
            self.store, self.relay, self.systems, items, self.settings.pseudonym_key
        )

    @handles_batch(CASE_OPENED)
    def case_opened(self, bodies):
        """The request's status page shows its case once casework opened it."""
        return self._follow(bodies, CASE_OPENED)

    @handles_batch(CASE_REQUEST_LINKED)
    def case_request_linked(self, bodies):
        """A repeat request joined its open case: it follows that case from now on."""
        return self._follow(bodies, CASE_REQUEST_LINKED, request_field="linked_request_id")

    @handles(CASE_REFERRED)
    def case_referred(self, body):
        """A case was referred to a registered agency: intake learns that this agency (and
        no other) may answer that referral."""
        envelope, referred = load_event(body, CASE_REFERRED)
        handlers.learn_referral(self.store, envelope, referred)

    @handles_batch(CASE_RESOLVED)
    def case_resolved(self, bodies):
        """The requests of the case show that it was resolved."""
        return self._follow(bodies, CASE_RESOLVED)

    @handles_batch(CASE_CLOSED)
    def case_closed(self, bodies):
        """The requests of the case show that it was closed."""
        return self._follow(bodies, CASE_CLOSED)

    @handles_batch(CASE_REOPENED)
    def case_reopened(self, bodies):
        """The requests of a reopened case are open again."""
        return self._follow(bodies, CASE_REOPENED)

    @handles_batch(CASE_CANCELLED)
    def case_cancelled(self, bodies):
        """The requests of the case show that it was cancelled."""
        return self._follow(bodies, CASE_CANCELLED)

    def _follow(self, bodies, contract, request_field="request_id"):
        """A batch of one kind of case event, written together; returns the invalid ones
        (dead-lettered alone)."""
        items, failures = load_events(bodies, contract)
        handlers.follow_cases(self.store, items, request_field)
        return failures

    @every("relay_interval_s")
    def relay_outbox(self):
        """Publish request and registry events that a crashed or cut-off writer left behind."""
        self.relay.sweep()

    @timer(interval=KEY_PURGE_INTERVAL_S)
    def purge_expired_keys(self):
        """Forget Idempotency-Keys past their expiry (real MongoDB could use a TTL index)."""
        handlers.purge_expired_keys(self.store)
