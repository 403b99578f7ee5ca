"""The intake Nameko service: entrypoints only."""
from nameko.timer import timer

from services.common import config
from services.common.contracts import CASE_OPENED, CASE_RESOLVED
from services.common.dependencies import LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.intake import handlers
from services.intake.store import RequestStore

RELAY_INTERVAL_S = config.settings().relay_interval_s


class IntakeService:
    name = "intake"

    store = Storage(RequestStore)
    outbox = Outbox("requests")
    log_context = LogContext()

    @handles(CASE_OPENED)
    def case_opened(self, body):
        """The request's status page shows its case once casework opened it."""
        _, case = load_event(body, CASE_OPENED)
        handlers.follow_case(self.store, case["case_id"], case["request_id"], "case_opened")

    @handles(CASE_RESOLVED)
    def case_resolved(self, body):
        """The request's status page shows that its case was resolved."""
        _, case = load_event(body, CASE_RESOLVED)
        handlers.follow_case(self.store, case["case_id"], case["request_id"], "resolved")

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self):
        """Publish request events that a crashed or cut-off API worker left in the outbox."""
        self.outbox.sweep()
