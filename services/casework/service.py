"""The casework Nameko service: entrypoints only."""
from nameko.timer import timer

from services.common import config
from services.common.contracts import REQUEST_RECEIVED
from services.common.dependencies import LogContext, Outbox, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.casework import handlers
from services.casework.store import CaseStore

RELAY_INTERVAL_S = config.settings().relay_interval_s


class CaseworkService:
    name = "casework"

    store = Storage(CaseStore)
    outbox = Outbox("cases")
    log_context = LogContext()

    @handles(REQUEST_RECEIVED)
    def open_case(self, body):
        """A received request becomes a case of the resident's station (once)."""
        envelope, request = load_event(body, REQUEST_RECEIVED)
        handlers.open_case_for_request(self.store, self.outbox, envelope, request)

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self):
        """Publish case events that a crashed or cut-off writer left in the outbox."""
        self.outbox.sweep()
