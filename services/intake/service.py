"""The intake Nameko service: entrypoints only."""
from nameko.timer import timer

from services.common import config
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
from services.intake import handlers
from services.intake.amqp_inbound import Systems, inbound_batch, inbound_topology
from services.intake.store import OUTBOX_COLLECTIONS, RequestStore

SETTINGS = config.settings()
RELAY_INTERVAL_S = SETTINGS.relay_interval_s
KEY_PURGE_INTERVAL_S = 600


class IntakeService:
    name = "intake"
    extra_topology = staticmethod(inbound_topology)

    store = Storage(RequestStore)
    outbox = Outbox(*OUTBOX_COLLECTIONS, grouped=True)
    systems = Systems()
    log_context = LogContext()
    settings = Config()

    @inbound_batch
    def receive_inbound_events(self, items):
        """Events from other government systems (structured or binary mode), in batches:
        requests and registry updates, recorded as a POST /v1/events batch is. A refused
        one (unreadable, unknown type, invalid, not allowed) is returned with its reason,
        to be dead-lettered alone and logged as a warning, not an error with a traceback."""
        return handlers.receive_inbound_amqp_many(self.store, self.outbox, self.systems, items,
                                                  self.settings.pseudonym_key)

    @handles(CASE_OPENED)
    def case_opened(self, body):
        """The request's status page shows its case once casework opened it."""
        envelope, case = load_event(body, CASE_OPENED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["request_id"])

    @handles(CASE_REQUEST_LINKED)
    def case_request_linked(self, body):
        """A repeat request joined its open case: it follows that case from now on."""
        envelope, case = load_event(body, CASE_REQUEST_LINKED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["linked_request_id"])

    @handles(CASE_REFERRED)
    def case_referred(self, body):
        """A case was referred to a registered agency: intake learns that this agency (and
        no other) may answer that referral."""
        envelope, referred = load_event(body, CASE_REFERRED)
        handlers.learn_referral(self.store, envelope, referred)

    @handles(CASE_RESOLVED)
    def case_resolved(self, body):
        """The requests of the case show that it was resolved."""
        envelope, case = load_event(body, CASE_RESOLVED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["request_id"])

    @handles(CASE_CLOSED)
    def case_closed(self, body):
        """The requests of the case show that it was closed."""
        envelope, case = load_event(body, CASE_CLOSED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["request_id"])

    @handles(CASE_REOPENED)
    def case_reopened(self, body):
        """The requests of a reopened case are open again."""
        envelope, case = load_event(body, CASE_REOPENED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["request_id"])

    @handles(CASE_CANCELLED)
    def case_cancelled(self, body):
        """The requests of the case show that it was cancelled."""
        envelope, case = load_event(body, CASE_CANCELLED)
        handlers.follow_case(self.store, case, envelope["sequence"], case["request_id"])

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self):
        """Publish request and registry events that a crashed or cut-off writer left behind."""
        self.outbox.sweep()

    @timer(interval=KEY_PURGE_INTERVAL_S)
    def purge_expired_keys(self):
        """Forget Idempotency-Keys past their expiry (real MongoDB could use a TTL index)."""
        handlers.purge_expired_keys(self.store)
