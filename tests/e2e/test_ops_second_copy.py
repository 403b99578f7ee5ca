"""A second copy of the system, started by ``make run`` on ports of its own, with a
store and a virtual host of its own: its checkout's ``make status``, ``make
deadletters*`` and ``make clean`` look at that copy without being told its ports, its
store or its virtual host (deploy/local.py records them in var/run.json)."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from kombu import Connection

from services.common import config, runfile
from tests.support import free_port, launched, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
SERVICES = ("intake", "casework", "notifications", "reporting")
BASE = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
# what would tell a command where a run is: none of it reaches the operator's commands
WHERE = ("AMQP_URI", "MONGO_URI", "RABBIT_API_URI")


def untold(env):
    return {
        key: value
        for key, value in env.items()
        if not key.startswith("SHEGONG_")
        and key not in WHERE
        and not key.endswith(("_PORT", "_URL"))
    }


def operator(checkout, *argv):
    """A command run as its Makefile target runs it, at the copy's checkout, with an
    environment that names none of the copy's ports, store or virtual host."""
    env = dict(untold(os.environ), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def park(amqp_uri, event_id):
    """A dead letter in intake's dead-letter queue, as the workers park one."""
    with Connection(amqp_uri) as connection:
        connection.Producer().publish(
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "/test",
                    "type": "shegong.request.received.v1",
                    "data": {},
                }
            ),
            exchange="shegong.dead-letter",
            routing_key="intake",
            message_id=event_id,
            content_type="application/json",
            delivery_mode=2,
            headers={
                "x-death-reason": "test: parked",
                "x-original-queue": "evt-x",
                "x-exception-type": "ValueError",
                "x-failed-at": "2023-05-29T08:00:00Z",
            },
        )


def test_the_operations_commands_follow_the_copy_make_run_started(rabbit, tmp_path):
    checkout = tmp_path / "checkout"  # the second copy's checkout: its var/ is its own
    checkout.mkdir()
    name = f"shegong-copy-{uuid.uuid4().hex[:8]}"
    env = dict(
        untold(os.environ),
        AMQP_URI=urlunparse(BASE._replace(path="/")),
        SHEGONG_AMQP_VHOST=name,
        SHEGONG_VAR_DIR=str(checkout / "var"),
        SHEGONG_DB_PREFIX=f"copy{uuid.uuid4().hex[:6]}",
        SHEGONG_EMBEDDED_MONGO_PORT=str(free_port()),
        **{f"{s.upper()}_PORT": str(free_port()) for s in SERVICES},
        **{f"{s.upper()}_METRICS_PORT": str(free_port()) for s in SERVICES},
    )
    if os.environ.get("RABBIT_API_URI"):
        env["RABBIT_API_URI"] = os.environ["RABBIT_API_URI"]
    settings = config.settings(env)
    try:
        with launched(env) as (process, output):
            status = operator(checkout, "services.ops.status", "--json")
            assert status.returncode == 0, status.stdout + status.stderr
            found = json.loads(status.stdout)
            assert found["run"]["state"] == "running" and found["run"]["pid"] == process.pid
            assert found["run"]["virtual_host"] == name
            assert all(
                s["api"] == "ready"
                and s["worker"] == "ready"
                and s["dead_letters"] == 0
                and s["outbox_backlog"] != "?"
                for s in found["services"]
            )
            queues = {q["queue"] for q in found["queues"]}  # the copy's virtual host's
            assert "shegong.dead-letter.intake" in queues
            assert "evt-intake-shegong.request.received.v1--casework.request_received" in queues

            park(settings.amqp_uri, "parked-1")
            listed = operator(checkout, "services.ops.deadletters", "list")
            assert listed.returncode == 0, listed.stderr
            assert "parked-1" in listed.stdout and "test: parked" in listed.stdout
            shown = operator(checkout, "services.ops.deadletters", "show", "--id", "parked-1")
            assert shown.returncode == 0 and json.loads(shown.stdout)[0]["id"] == "parked-1"

            def parked_counted():  # the management API's figures lag by seconds
                again = json.loads(operator(checkout, "services.ops.status", "--json").stdout)
                return {s["service"]: s["dead_letters"] for s in again["services"]}["intake"] == 1

            wait_until(parked_counted, 30, message="make status counting the dead letter")

            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0
        assert runfile.read(checkout / "var")["state"] == "stopped"
        stopped = json.loads(operator(checkout, "services.ops.status", "--json").stdout)
        assert stopped["run"]["state"] == "stopped"

        cleared = operator(checkout, "services.ops.vhost", "clear")  # make clean's step
        assert cleared.returncode == 0, cleared.stderr
        assert f"virtual host {name!r}" in cleared.stdout
        with Connection(settings.amqp_uri) as connection:
            with pytest.raises(Exception, match="NOT_FOUND"):
                connection.channel().queue_declare("shegong.dead-letter.intake", passive=True)
        wait_until(
            lambda: not rabbit.call("GET", f"queues/{name}"),
            10,
            message="the copy's queues to be gone",
        )
    finally:
        rabbit.delete_vhost(name)
