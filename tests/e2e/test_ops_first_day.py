"""``make run`` on a new machine: RabbitMQ without its management plugin and without
shegong's virtual host. deploy/local.py makes the virtual host with rabbitmqctl (the
broker is on this machine), looks for an earlier run's messages over AMQP, reaches
``ready``, serves, and stops cleanly on SIGTERM.

The shared broker is left as it is: its management API is made unreachable for this
run only (RABBIT_API_URI names a closed port), the virtual host is a new random one
(removed afterwards), and every port is a free one."""

import json
import os
import signal
import socket
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from services.common import clock, config, runfile
from services.ops import vhost
from tests.support import free_port, launched, story_request, wait_until

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "casework", "notifications", "reporting")
BASE = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))


def closed_port():
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


def new_machine_env(var_dir, name):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHEGONG_") and key not in ("MONGO_URI", "AMQP_URI")
    }
    env.update(
        {
            "AMQP_URI": urlunparse(BASE._replace(path="/")),
            "SHEGONG_AMQP_VHOST": name,
            "RABBIT_API_URI": f"http://guest:guest@127.0.0.1:{closed_port()}",
            "SHEGONG_VAR_DIR": str(var_dir),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            **{f"{s.upper()}_PORT": str(free_port()) for s in SERVICES},
            **{f"{s.upper()}_METRICS_PORT": str(free_port()) for s in SERVICES},
        }
    )
    return env


def test_make_run_starts_without_the_management_api_and_a_virtual_host(rabbit, tmp_path):
    name = f"shegong-firstday-{uuid.uuid4().hex[:8]}"
    env = new_machine_env(tmp_path / "var", name)
    settings = config.settings(env)
    try:
        with launched(env) as (process, output):
            said = "".join(output)
            assert f"virtual host '{name}' made with rabbitmqctl" in said
            assert "management API is not reachable" in said
            admin = {
                "Authorization": "Bearer "
                + json.loads((tmp_path / "var" / "dev-credentials.json").read_text())[
                    "district_admin"
                ]
            }
            intake = f"http://127.0.0.1:{env['INTAKE_PORT']}"
            answer = requests.post(
                f"{intake}/v1/requests",
                headers=admin,
                timeout=10,
                json=story_request(received_at=clock.iso(clock.now())),
            )
            assert answer.status_code == 202, answer.text
            request_id = answer.json()["request_id"]
            seen = requests.get(f"{intake}/v1/requests/{request_id}", headers=admin, timeout=5)
            assert seen.status_code == 200 and seen.json()["request_id"] == request_id
            casework = f"http://127.0.0.1:{env['CASEWORK_PORT']}"
            wait_until(
                lambda: requests.get(
                    f"{casework}/v1/cases?request_id={request_id}", headers=admin, timeout=5
                ).json()["cases"],
                20,
                message="the request's case (the workers consume)",
            )
            assert vhost.queued(settings) == {}  # asked over AMQP: every queue drained

            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, "".join(output)
        wait_until(
            lambda: any("[shegong] stopped" in line for line in output), 5, message="'stopped'"
        )
        assert runfile.read(tmp_path / "var")["state"] == "stopped"
        for service in SERVICES:  # nothing left listening
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", int(env[f"{service.upper()}_PORT"]))) != 0
    finally:
        rabbit.delete_vhost(name)
