"""The reporting Nameko service: entrypoints only. Every event it hears is projected."""
from services.common.contracts import (
    CASE_ACCEPTED, CASE_ACTION_RECORDED, CASE_ASSIGNED, CASE_OPENED, CASE_RESOLVED,
    MESSAGE_SENT, REQUEST_RECEIVED,
)
from services.common.dependencies import LogContext, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.reporting import handlers
from services.reporting.store import ReportStore


class ReportingService:
    name = "reporting"

    store = Storage(ReportStore)
    log_context = LogContext()

    def _project(self, body, contract):
        envelope, data = load_event(body, contract)
        handlers.project(self.store, envelope, data)

    @handles(REQUEST_RECEIVED)
    def request_received(self, body):
        """Count the request by station, day, channel and need."""
        self._project(body, REQUEST_RECEIVED)

    @handles(CASE_OPENED)
    def case_opened(self, body):
        """Count the case by station, day and priority."""
        self._project(body, CASE_OPENED)

    @handles(CASE_ASSIGNED)
    def case_assigned(self, body):
        """Record when the case was assigned."""
        self._project(body, CASE_ASSIGNED)

    @handles(CASE_ACCEPTED)
    def case_accepted(self, body):
        """Record when the case was accepted (time to acceptance)."""
        self._project(body, CASE_ACCEPTED)

    @handles(CASE_ACTION_RECORDED)
    def case_action_recorded(self, body):
        """Validated and stored nowhere yet (see domain.facts)."""
        self._project(body, CASE_ACTION_RECORDED)

    @handles(CASE_RESOLVED)
    def case_resolved(self, body):
        """Record when the case was resolved (time to resolution)."""
        self._project(body, CASE_RESOLVED)

    @handles(MESSAGE_SENT)
    def message_sent(self, body):
        """Count messages sent."""
        self._project(body, MESSAGE_SENT)
