"""``make run``'s launcher refuses clearly what it cannot start."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def launch(tmp_path, **overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHEGONG_") and key != "MONGO_URI"
    }
    env.update(
        {
            "SHEGONG_VAR_DIR": str(tmp_path),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            **{
                f"{name}_PORT": str(free_port())
                for name in ("INTAKE", "CASEWORK", "NOTIFICATIONS", "REPORTING")
            },
            **overrides,
        }
    )
    return subprocess.run(
        [sys.executable, "deploy/local.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_broker_is_named_and_nothing_is_left_running(tmp_path):
    store_port = free_port()
    ran = launch(
        tmp_path,
        AMQP_URI="amqp://guest:guest@127.0.0.1:1/",
        SHEGONG_EMBEDDED_MONGO_PORT=str(store_port),
    )
    assert ran.returncode == 1
    assert "store: embedded nx-27017" in ran.stdout  # it had started the store ...
    assert "RabbitMQ is not reachable at 127.0.0.1:1/shegong" in ran.stdout
    with socket.socket() as probe:  # ... and stopped it again
        assert probe.connect_ex(("127.0.0.1", store_port)) != 0


def test_a_taken_port_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = launch(tmp_path, CASEWORK_PORT=str(port))
    assert ran.returncode == 1
    assert f"port(s) already in use: casework {port}" in ran.stdout
