"""intake's own Nameko dependency providers (the shared ones, Storage, Outbox, Config and
LogContext, are services/common/dependencies.py's)."""

from nameko.extensions import DependencyProvider

from services.common import config
from services.intake.systems import registry


class Systems(DependencyProvider):
    """Injects the registry of external systems (the file the container's Settings name,
    read at start-up)."""

    def setup(self):
        self.registry = registry(config.of_container(self.container))

    def get_dependency(self, worker_ctx):
        return self.registry
