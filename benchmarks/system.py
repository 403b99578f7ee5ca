"""The whole system for the benchmark: tests/chaos/system.py's ChaosSystem (every
process separate, on its own free ports, store files and var dir), with production
timings and 1-3 instances of the casework, notifications, reporting and intake workers."""

import os
import sys

from pymongo import MongoClient

from deploy.dev import embedded_store
from tests.chaos.system import SERVICES, ChaosSystem
from tests.support import free_port, wait_until

SCALED = ("casework", "notifications", "reporting", "intake")
# Settings of the run itself; any other SHEGONG_* variable in the caller's environment
# is passed through, so worker counts and intervals can be compared by measurement.
OWN = ("SHEGONG_VAR_DIR", "SHEGONG_DB_PREFIX", "SHEGONG_TOKEN_SECRET")


class BenchSystem(ChaosSystem):
    """``mongo_uri``: a store to use instead of starting nx-27017 (a real MongoDB where
    one is available); its databases are named after ``db_prefix``."""

    def __init__(self, var_dir, amqp_uri, db_prefix, mongo_uri=None, stores="shared"):
        super().__init__(var_dir, amqp_uri, db_prefix)
        self.external_store = mongo_uri
        # "per-service": one nx-27017 process per service, each service's processes on
        # their own (each service owns its database already: this is how a deployment
        # may split them); "shared": one for all, as `make run` starts it
        self.own_stores = (
            {name: free_port() for name in SERVICES if name != "casework"}
            if stores == "per-service" and not mongo_uri
            else {}
        )
        self._clients: dict = {}  # service -> a client of its own store (database())
        if mongo_uri:
            self.env["MONGO_URI"] = mongo_uri
        for key in ("SHEGONG_RETRY_DELAYS_MS", "SHEGONG_RELAY_INTERVAL_S", "SHEGONG_RELAY_GRACE_S"):
            self.env.pop(key)  # the production defaults, not the chaos suite's short ones
        self.env.update(
            {
                "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
                # Every benchmark request goes to the same few on-duty workers: the staff
                # limit per phone and message kind (120 an hour) would hold most SMS; the
                # residents' limit is off as before.
                "SHEGONG_SMS_RATE_LIMIT_PER_HOUR": "0",
                "SHEGONG_SMS_STAFF_RATE_LIMIT_PER_HOUR": "0",
                # Worker SMS are not held at night anyway; residents' would be.
                "SHEGONG_QUIET_HOURS_START": "00:00",
                "SHEGONG_QUIET_HOURS_END": "00:00",
            }
        )
        self.env.update(
            {
                key: value
                for key, value in os.environ.items()
                if key.startswith("SHEGONG_") and key not in OWN
            }
        )
        # every service process counts its store commands here (benchmarks/counting.py)
        self.command_counts = self.var_dir / "commands"
        self.command_counts.mkdir(parents=True, exist_ok=True)
        self.env["SHEGONG_COMMAND_COUNTS_DIR"] = str(self.command_counts)
        self.instances = 1
        self.before_services = None  # called with the store up, before any service starts

    def env_of(self, name):
        """A service's processes use its own store when it has one."""
        service = name.split("-")[0]
        if service in self.own_stores and not name.startswith("store"):
            return {**self.env, "MONGO_URI": self.store_uri(service)}
        return super().env_of(name)

    def store_uri(self, service):
        """The store ``service``'s processes use."""
        port = self.own_stores.get(service)
        return f"mongodb://127.0.0.1:{port}/" if port else self.env["MONGO_URI"]

    def database(self, client, service):
        """``service``'s database, on its own store when it has one (``client`` is then
        one of a store's per-service clients, kept here)."""
        if service not in self.own_stores:
            return super().database(client, service)
        if service not in self._clients:
            self._clients[service] = MongoClient(self.store_uri(service))
        return super().database(self._clients[service], service)

    def down(self):
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        super().down()

    def up(self):
        """ChaosSystem.up with ``before_services`` between the store and the services
        (the history is written there: the services start on a store that has it)."""
        if self.before_services is None and not self.own_stores:
            return super().up()
        (self.var_dir / "mongo").mkdir(exist_ok=True)
        for name in self.commands():
            if name.startswith("store"):
                self.start(name)
        wait_until(self.store_reachable, 30, message="the store")
        for service in self.own_stores:
            uri = self.store_uri(service)
            wait_until(lambda uri=uri: embedded_store.answers(uri), 30, message=service)
        if self.before_services:
            self.before_services()
        self.run_once("-m", "services.ops.bootstrap")
        self.run_once("-m", "services.casework.seed")
        for name in self.commands():
            if not name.startswith("store") and name not in self.processes:
                self.start(name)
        for name in SERVICES:
            wait_until(lambda name=name: self.healthy(name), 60, message=f"{name} API")
        return None

    def commands(self):
        commands = super().commands()
        if self.external_store:
            commands.pop("store")
        for service, port in self.own_stores.items():
            data, log = self.var_dir / f"mongo-{service}", self.var_dir / "log" / service
            for directory in (data, log):  # (its own pid file: one per directory)
                directory.mkdir(parents=True, exist_ok=True)
            commands[f"store-{service}"] = embedded_store.command(port, log, data)
        for number in range(2, self.instances + 1):
            for name in SCALED:
                commands[f"{name}-worker-{number}"] = [
                    sys.executable,
                    "-m",
                    "services.common.runner",
                    name,
                ]
        return commands

    def drop_databases(self, client):
        """An external store keeps nothing of the run (nx-27017's files are temporary)."""
        for name in client.list_database_names():
            if name.startswith(f"{self.db_prefix}_"):
                client.drop_database(name)

    def scale(self, instances):
        """Start more worker instances (never fewer: the phases only scale out)."""
        self.instances = max(self.instances, instances)
        for name in self.commands():
            if name not in self.processes:
                self.start(name)

    def service_processes(self):
        """name -> pid of every process the system runs (the store included)."""
        return {
            name: process.pid for name, process in self.processes.items() if process.poll() is None
        }
