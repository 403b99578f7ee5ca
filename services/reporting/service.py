"""The reporting Nameko service: entrypoints only.

Reporting keeps the permanent event store, so it consumes every event type of the
catalogue (``contracts.EVENT_STORE``). Its entrypoints are made from the catalogue: one
batch handler per type it consumes, named after the event (``case_opened``; a later
version ``case_opened_v2``), each with its own queue,
``evt-<producer>-<type>--reporting.<handler>``. A new event type, or a new version of
one, needs no edit here. Each takes a batch of events (``@handles_batch``), validates
them, and keeps and projects them together (one pass of the projector with whatever the
other handlers brought meanwhile); an invalid event or one the projection rules fail on
takes the per-message retry and dead-letter path alone.
"""

from nameko.timer import timer

from services.common import contracts
from services.common.batching import handles_batch
from services.common.dependencies import LogContext
from services.reporting import handlers
from services.reporting.dependencies import ProjectorProvider

DRAIN_INTERVAL_S = 2.0


class ReportingService:
    name = "reporting"

    projector = ProjectorProvider()
    log_context = LogContext()

    def _keep(self, bodies, contract):
        return handlers.keep_bodies(self.projector, bodies, contract)

    @timer(interval=DRAIN_INTERVAL_S)
    def project_pending(self):
        """Project events kept while another instance held the projector lease, or
        left by one that died, once still pending at the next tick (one cheap read
        when there are none, or when those pending are being projected)."""
        self.projector.drain_left()


def keeping_entrypoint(contract):
    """The batch entrypoint of ``contract``'s events: kept in the event store, projected."""

    def keep(self, bodies):
        return self._keep(bodies, contract)

    keep.__name__ = contract.entrypoint_name
    keep.__qualname__ = f"ReportingService.{contract.entrypoint_name}"
    keep.__doc__ = (
        f"Keep {contract.short_type} (v{contract.version}) in the event store and project "
        f"it: {contract.description}"
    )
    return handles_batch(contract)(keep)


# Nameko finds entrypoints among the class's attributes when a container is made, so
# the ones set here count as if written in the class body.
for _contract in contracts.consumed_by(ReportingService.name):
    setattr(ReportingService, _contract.entrypoint_name, keeping_entrypoint(_contract))
del _contract
