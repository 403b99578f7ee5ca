"""The casework Nameko service: entrypoints only."""

from nameko.timer import timer

from services.casework import handlers, rosters
from services.casework.handlers import batch as handlers_batch
from services.casework.handlers import residents as handlers_residents
from services.casework.store import OUTBOX_COLLECTIONS, CaseStore
from services.common import clock
from services.common.agencies import outbound_queues
from services.common.batching import handles_batch, load_events
from services.common.contracts import (
    MESSAGE_FAILED,
    REFERRAL_ANSWERED,
    REQUEST_RECEIVED,
    RESIDENT_REGISTRY_UPDATED,
)
from services.common.dependencies import Config, LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.common.timers import every

CALENDAR_CHECK_INTERVAL_S = 6 * 3600.0


class CaseworkService:
    name = "casework"
    extra_topology = staticmethod(outbound_queues)  # the AMQP agencies' queues

    store = Storage(CaseStore)
    relay = Outbox(*OUTBOX_COLLECTIONS)  # the OutboxRelay of these collections
    log_context = LogContext()
    settings = Config()

    @handles_batch(REQUEST_RECEIVED)
    def request_received(self, bodies):
        """Received requests become cases of their residents' stations (once each); a
        repeat joins the resident's open case. Returns the ones to retry alone."""
        items, failures = load_events(bodies, REQUEST_RECEIVED)
        failures.update(
            handlers_batch.open_cases_for_requests(self.store, self.relay, items, self.settings)
        )
        return failures

    @handles_batch(RESIDENT_REGISTRY_UPDATED)
    def resident_registry_updated(self, bodies):
        """The key-persons-of-concern list changed: the residents registry follows (once
        per event). Returns the events to retry alone."""
        items, failures = load_events(bodies, RESIDENT_REGISTRY_UPDATED)
        failures.update(handlers_residents.apply_registry_updates(self.store, items))
        return failures

    @handles(REFERRAL_ANSWERED)
    def referral_answered(self, body):
        """A partner agency answered a referral: the case follows (once per answer); an
        answer for a case or referral casework does not have is dead-lettered."""
        envelope, answer = load_event(body, REFERRAL_ANSWERED)
        handlers.apply_referral_answer(self.store, self.relay, envelope, answer)

    @handles_batch(MESSAGE_FAILED)
    def message_failed(self, bodies):
        """SMS to cases' residents that ended failed: each case records it and its owner
        is asked to phone the resident (once per message); other failures are not
        casework's. Returns the ones to retry alone."""
        items, failures = load_events(bodies, MESSAGE_FAILED)
        failures.update(handlers.record_residents_unreached(self.store, self.relay, items))
        return failures

    @every("sla_interval_s")
    def check_service_levels(self):
        """Cases past their acceptance or resolution deadline: reported and escalated once."""
        handlers.enforce_service_levels(self.store, self.relay, clock.now())

    @every("workload_recount_s", eager=True)
    def reconcile_workload(self):
        """Recount each station's open cases per worker (the counters assignment reads):
        corrects what a crash between a case write and its counter left behind."""
        handlers.reconcile_workload(self.store)

    @timer(interval=CALENDAR_CHECK_INTERVAL_S, eager=True)
    def check_holiday_calendar(self):
        """Warn in the log when the holiday calendar runs out within the warning days."""
        rosters.warn_if_calendar_ends(self.store, clock.now(), self.settings.holiday_warning_days)

    @every("relay_interval_s")
    def relay_outbox(self):
        """Publish case, program and roster events that a crashed or cut-off writer (or the
        roster loader) left behind."""
        self.relay.sweep()
