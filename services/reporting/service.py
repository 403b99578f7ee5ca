"""The reporting Nameko service: entrypoints only.

Reporting keeps the permanent event store, so it consumes every event type of the
catalogue: one handler per type, made by the loop below (each its own queue,
``evt-<producer>-<type>--reporting.<method>``). Each validates the event, keeps it and
projects it.
"""
from nameko.timer import timer

from services.common.contracts import CATALOGUE
from services.common.dependencies import LogContext, Storage
from services.common.envelope import load_event
from services.common.messaging import handles
from services.reporting import handlers
from services.reporting.store import ReportStore

DRAIN_INTERVAL_S = 2.0


def method_name(contract):
    """shegong.case.opened.v1 -> case_opened (the names the first handlers had)."""
    return "_".join(contract.type.split(".")[1:-1])


def _keeper(contract):
    def keep_event(self, body):
        envelope, data = load_event(body, contract)
        handlers.keep(self.store, envelope, data)
    keep_event.__name__ = method_name(contract)
    keep_event.__doc__ = f"Keep {contract.type} in the event store and project it."
    return handles(contract)(keep_event)


class ReportingService:
    name = "reporting"

    store = Storage(ReportStore)
    log_context = LogContext()

    @timer(interval=DRAIN_INTERVAL_S)
    def project_pending(self):
        """Project events kept while another instance held the projector lease."""
        handlers.drain(self.store)


for _contract in CATALOGUE.values():
    if "reporting" in _contract.consumers:
        setattr(ReportingService, method_name(_contract), _keeper(_contract))
