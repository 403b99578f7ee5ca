"""intake's own Nameko dependency providers (the shared ones, Storage, Outbox, Config and
LogContext, are services/common/dependencies.py's)."""

from nameko.extensions import DependencyProvider

from services.common import config
from services.intake.systems import registry


class Systems(DependencyProvider):
    """Injects the registry of external systems (configuration read at start-up)."""

    def setup(self):
        self.registry = registry(config.settings())

    def get_dependency(self, worker_ctx):
        return self.registry
