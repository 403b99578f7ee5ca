"""intake's own Nameko dependency providers (the shared ones, Storage, Outbox, Config and
LogContext, are services/common/dependencies.py's)."""

from typing import Any

from nameko.extensions import DependencyProvider

from services.common import config
from services.intake.systems import external_systems


class Systems(DependencyProvider):
    """Injects the external systems (the file the container's Settings name,
    read at start-up)."""

    def setup(self) -> None:
        self.systems = external_systems(config.of_container(self.container))

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.systems
