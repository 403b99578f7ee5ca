"""make run keeps its broker state to itself: a virtual host of its own, made when
missing; a new store next to a virtual host that still holds events of an earlier run
is reported (queues, counts, the command that clears them) and nothing is consumed;
make clean's step empties the virtual host."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests
from kombu import Connection

from services.common import config
from services.common.contracts import REQUEST_RECEIVED
from services.common.messaging import event_exchange
from services.ops import vhost
from services.ops.bootstrap import declare
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
BASE = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))


def test_a_missing_virtual_host_is_made_for_the_amqp_user(rabbit):
    name = f"shegong-made-{uuid.uuid4().hex[:8]}"
    settings = config.settings(
        {
            "AMQP_URI": urlunparse(BASE._replace(path="/")),
            "SHEGONG_AMQP_VHOST": name,
            "RABBIT_API_URI": rabbit.base.replace("://", "://guest:guest@"),
        }
    )
    try:
        assert settings.amqp_vhost == name
        assert vhost.ensure(settings) is True
        assert vhost.ensure(settings) is False  # there now
        with Connection(settings.amqp_uri) as connection:
            connection.ensure_connection(max_retries=1)  # the user may use it
        assert vhost.our_queues(settings) == []
    finally:
        rabbit.delete_vhost(name)


def test_a_new_store_next_to_old_events_is_reported_and_nothing_is_sent(rabbit, tmp_path):
    name = f"shegong-old-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(name)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHEGONG_") and key != "MONGO_URI"
    }
    env.update(
        {
            "AMQP_URI": urlunparse(BASE._replace(path="/" + quote(name, safe=""))),
            "SHEGONG_VAR_DIR": str(tmp_path / "var"),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            **{
                f"{s}_PORT": str(free_port())
                for s in ("INTAKE", "CASEWORK", "NOTIFICATIONS", "REPORTING")
            },
        }
    )
    settings = config.settings(env)
    try:
        declare(settings)  # an earlier run's topology, and three of its events still queued
        with Connection(settings.amqp_uri) as connection:
            producer = connection.Producer()
            for n in range(3):
                producer.publish(
                    json.dumps({"id": f"old-{n}", "type": REQUEST_RECEIVED.type}),
                    exchange=event_exchange("intake"),
                    routing_key=REQUEST_RECEIVED.type,
                    content_type="application/json",
                    delivery_mode=2,
                )
        before = vhost.queued(settings)
        open_case = f"evt-intake-{REQUEST_RECEIVED.type}--casework.request_received"
        assert before[open_case] == 3

        ran = subprocess.run(
            [sys.executable, "deploy/local.py"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 1, ran.stdout
        refused = next(line for line in ran.stdout.splitlines() if "ERROR" in line)
        assert f"the store is new (empty) but the virtual host '{name}' holds" in refused
        assert f"{open_case} (3)" in refused and "`make clean`" in refused
        assert "SHEGONG_ACCEPT_QUEUED=1" in refused
        assert vhost.queued(settings) == before  # nothing consumed
        assert not (tmp_path / "var" / "sms.jsonl").exists()
        assert not (tmp_path / "var" / "log" / "casework-worker.log").exists()  # not started

        cleared = subprocess.run(
            [sys.executable, "-m", "services.ops.vhost", "clear"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cleared.returncode == 0, cleared.stderr
        assert vhost.queued(settings) == {} and vhost.our_queues(settings) == []
        answer = requests.get(
            f"{rabbit.base}/api/vhosts/{quote(name, safe='')}", auth=rabbit.auth, timeout=5
        )
        assert answer.status_code == 200  # the virtual host itself stays
    finally:
        rabbit.delete_vhost(name)
