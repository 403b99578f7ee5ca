"""Nameko dependency providers: all of a worker's I/O is injected through these.

Each reads the process's one Settings from its container (``config.of_container``: the
runner, or a test, built the container with ``Settings.nameko_config()``), never the
environment."""

from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo.database import Database

from services.common import config, group_commit, logs, mongo
from services.common.config import Settings
from services.common.outbox import OutboxRelay, relay_for


class Storage(DependencyProvider):
    """Injects the service's store adapter, built once per container on its own database."""

    def __init__(self, store_cls: Callable[[Database], Any]) -> None:
        self.store_cls = store_cls

    def setup(self) -> None:
        settings = config.of_container(self.container)
        self.store = self.store_cls(mongo.database(settings, self.container.service_name))

    def start(self) -> None:
        self.store.ensure_indexes()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.store  # the service's own store class


class Config(DependencyProvider):
    """Injects the process's Settings (config.py): the ones its container was built with,
    which every other extension of the worker reads too."""

    def setup(self) -> None:
        self.settings = config.of_container(self.container)

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return self.settings


class Outbox(DependencyProvider):
    """Injects the OutboxRelay for the named collections of the service's database.

    ``grouped``: the workers' fast path is shared (group_commit.GroupPublish): the
    documents that concurrent workers publish meanwhile go out together, their
    confirms awaited together (for per-message entrypoints that write one document
    each, such as intake's inbound consumer)."""

    def __init__(self, *collection_names: str, grouped: bool = False) -> None:
        self.collection_names = collection_names
        self.grouped = grouped

    def setup(self) -> None:
        self.relay = relay_for(
            config.of_container(self.container),
            self.container.service_name,
            self.collection_names,
        )
        self.shared = group_commit.GroupPublish(self.relay) if self.grouped else self.relay

    def get_dependency(self, worker_ctx: Any) -> OutboxRelay | group_commit.GroupPublish:
        return self.shared


class LogContext(DependencyProvider):
    """Tags every log line a worker writes with the correlation id of its event."""

    def worker_setup(self, worker_ctx: Any) -> None:
        body = worker_ctx.args[0] if worker_ctx.args else None
        logs.set_correlation_id(body.get("correlationid") if isinstance(body, dict) else None)

    def worker_teardown(self, worker_ctx: Any) -> None:
        logs.set_correlation_id(None)
