"""reporting's own Nameko dependency providers (the shared ones, Storage, Outbox, Config
and LogContext, are services/common/dependencies.py's)."""

import logging
from typing import Any

from nameko.extensions import DependencyProvider

from services.common import config, mongo
from services.reporting.handlers.projector import Projector
from services.reporting.store import ReportStore

log = logging.getLogger(__name__)


class ProjectorProvider(DependencyProvider):
    """Injects the container's Projector on the service's store (one per container, so
    that every worker of the process shares its group commit and its lease)."""

    def setup(self) -> None:
        settings = config.of_container(self.container)
        store = ReportStore(mongo.database(settings, self.container.service_name))
        self.projector = Projector(store, settings.reporting_pass_size)

    def start(self) -> None:
        self.projector.store.ensure_indexes()

    def stop(self) -> None:
        if self.projector._held is not None:  # let another instance carry on at once
            try:
                self.projector.release_lease()
            except Exception:  # noqa: BLE001 - it expires on its own
                log.warning("the projector lease was not released; it expires by itself")

    def get_dependency(self, worker_ctx: Any) -> Projector:
        return self.projector
