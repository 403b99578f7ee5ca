"""notifications' own Nameko dependency providers (the shared ones, Storage, Outbox,
Config and LogContext, are services/common/dependencies.py's)."""

from typing import Any

from nameko.extensions import DependencyProvider

from services.common import config
from services.notifications import domain
from services.notifications.providers import ProviderChain, provider_chain


class SmsProvider(DependencyProvider):
    """Injects the configured SMS provider chain; checks every template before starting
    (a template naming a variable its event lacks fails the start, not the send)."""

    def setup(self) -> None:
        domain.check_templates()
        self.provider = provider_chain(config.of_container(self.container))

    def get_dependency(self, worker_ctx: Any) -> ProviderChain:
        return self.provider
