"""The whole system as separate OS processes that the chaos suite can kill and restart.

Unlike ``make run`` (deploy/local.py), which restarts a process that dies by itself,
this keeps a handle per process so that a test can ``kill -9`` one and start it again,
stop the store and start it on the same files, and restart the broker.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deploy.dev import embedded_store
from services.common import auth
from services.common.config import SERVICES
from services.common.service_classes import WSGI_APPS
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class ChaosSystem:
    def __init__(self, var_dir, amqp_uri, db_prefix):
        self.var_dir = Path(var_dir)
        (self.var_dir / "log").mkdir(parents=True, exist_ok=True)
        self.store_port = free_port()
        self.ports = {name: free_port() for name in SERVICES}
        self.secret = "chaos-" + os.urandom(8).hex()
        self.db_prefix = db_prefix
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("SHEGONG_")
        }
        self.env.update(
            {
                "AMQP_URI": amqp_uri,
                "MONGO_URI": f"mongodb://127.0.0.1:{self.store_port}/",
                "SHEGONG_DB_PREFIX": db_prefix,
                "SHEGONG_VAR_DIR": str(self.var_dir),
                "SHEGONG_TOKEN_SECRET": self.secret,
                "SHEGONG_RETRY_DELAYS_MS": "300,1000,3000",
                "SHEGONG_RELAY_INTERVAL_S": "0.5",
                "SHEGONG_RELAY_GRACE_S": "2",
                # verbose, so that the search for personal data in the logs means something
                "LOG_LEVEL": os.environ.get("SHEGONG_CHAOS_LOG_LEVEL", "DEBUG"),
                "PYTHONUNBUFFERED": "1",
                **{f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            }
        )
        self.processes = {}

    # -- processes ---------------------------------------------------------------------
    def commands(self):
        commands = {
            "store": embedded_store.command(
                self.store_port, self.var_dir / "log", self.var_dir / "mongo"
            )
        }
        for name in SERVICES:
            commands[f"{name}-worker"] = [sys.executable, "-m", "services.common.runner", name]
            commands[f"{name}-api"] = [
                sys.executable,
                "-m",
                "gunicorn",
                WSGI_APPS[name],
                "--bind",
                f"127.0.0.1:{self.ports[name]}",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--workers",
                "1",
                "--graceful-timeout",
                "10",
                "--no-control-socket",
            ]
        return commands

    def env_of(self, name):
        """The environment process ``name`` starts with."""
        return self.env

    def start(self, name):
        log = (self.var_dir / "log" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            self.commands()[name],
            env=self.env_of(name),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name, sig=signal.SIGKILL):
        """Kill the process and everything it started (gunicorn's workers too)."""
        process = self.processes[name]
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(60)

    def restart(self, name, down_s=1.0, sig=signal.SIGKILL):
        self.kill(name, sig)
        time.sleep(down_s)
        self.start(name)

    def run_once(self, *argv):
        subprocess.run(
            [sys.executable, *argv],
            env=self.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def up(self):
        (self.var_dir / "mongo").mkdir(exist_ok=True)
        if "store" in self.commands():  # else a store of the caller's (MONGO_URI)
            self.start("store")
        wait_until(self.store_reachable, 30, message="the store")
        self.run_once("-m", "services.ops.bootstrap")
        self.run_once("-m", "services.casework.seed")
        for name in self.commands():
            if name != "store":
                self.start(name)
        for name in SERVICES:
            wait_until(lambda: self.healthy(name), 60, message=f"{name} API")

    def down(self):
        """The services first, then their store(s): nothing is left writing to a store."""
        stores = [name for name in self.processes if name.startswith("store")]
        for name in [*(n for n in self.processes if n not in stores), *stores]:
            if self.processes[name].poll() is None:
                self.kill(name, signal.SIGTERM)

    def exited(self):
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    # -- probes ------------------------------------------------------------------------
    def store_reachable(self):
        return embedded_store.answers(self.env["MONGO_URI"])

    def healthy(self, service):
        try:
            with urllib.request.urlopen(self.url(service, "/healthz"), timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def url(self, service, path):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def token(self, role="district_admin", station=None):
        return auth.issue_token(self.secret, f"chaos-{role}", role, station)

    def database(self, client, service):
        return client[f"{self.db_prefix}_{service}"]


def restart_broker(down_s=3.0):
    """Stop and start the RabbitMQ application (the node stays up; every connection drops)."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    time.sleep(down_s)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True, timeout=120)
