"""make run's virtual host without RabbitMQ's management API (RABBIT_API_URI names a
closed port; the real plugin stays on): made with rabbitmqctl on a broker of this
machine, or refused with the reason and the one command that fixes it; its queued
messages counted and its queues deleted over AMQP, from the names the topology declares."""

import json
import os
import socket
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
from kombu import Connection

from services.common import config
from services.common.contracts import REQUEST_RECEIVED
from services.common.messaging import broker_reachable, event_exchange
from services.ops import vhost
from services.ops.bootstrap import declare
from tests.support import free_port

BASE = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))


def closed_api():
    port = free_port()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return f"http://guest:guest@127.0.0.1:{port}"


@pytest.fixture
def no_api(rabbit):
    """Settings for a new random virtual host, the management API unreachable."""
    name = f"shegong-noapi-{uuid.uuid4().hex[:8]}"
    yield config.settings(
        {
            "AMQP_URI": urlunparse(BASE._replace(path="/")),
            "SHEGONG_AMQP_VHOST": name,
            "RABBIT_API_URI": closed_api(),
        }
    )
    rabbit.delete_vhost(name)


def test_rabbitmqctl_makes_the_virtual_host_for_the_amqp_user(no_api):
    assert not broker_reachable(no_api.amqp_uri)
    assert vhost.make(no_api) == "made with rabbitmqctl"
    assert broker_reachable(no_api.amqp_uri)
    assert vhost.make(no_api) == "usable"  # there now; nothing more to do


def test_without_rabbitmqctl_the_one_command_is_named(no_api, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # rabbitmqctl is not installed
    with pytest.raises(vhost.Unfixable) as refused:
        vhost.make(no_api)
    said = str(refused.value)
    assert "rabbitmqctl is not installed here" in said
    assert "management API (RABBIT_API_URI) is not reachable" in said
    assert (
        f"`sudo rabbitmqctl add_vhost {no_api.amqp_vhost} && sudo rabbitmqctl "
        f"set_permissions -p {no_api.amqp_vhost} guest '.*' '.*' '.*'`"
    ) in said
    assert not broker_reachable(no_api.amqp_uri)


def test_a_rabbitmqctl_that_refuses_is_quoted_with_the_command(no_api, tmp_path):
    refusing = tmp_path / "rabbitmqctl"  # as for a user who is neither root nor rabbitmq
    refusing.write_text(
        "#!/bin/sh\necho 'Only root or rabbitmq should run rabbitmqctl' >&2\nexit 1\n"
    )
    refusing.chmod(0o755)
    with pytest.raises(vhost.Unfixable) as refused:
        vhost.make(no_api, rabbitmqctl=str(refusing))
    said = str(refused.value)
    assert "`rabbitmqctl add_vhost` refused (exit 1: Only root or rabbitmq should run" in said
    assert f"`sudo rabbitmqctl add_vhost {no_api.amqp_vhost} && " in said


def test_a_broker_on_another_machine_is_not_touched_and_the_command_is_named():
    settings = config.settings(
        {
            "AMQP_URI": "amqp://guest:guest@rabbit.invalid:5672/",
            "SHEGONG_AMQP_VHOST": "shegong",
            "RABBIT_API_URI": closed_api(),
        }
    )
    with pytest.raises(vhost.Unfixable) as refused:
        vhost.make(settings, rabbitmqctl="/nonexistent/rabbitmqctl")
    assert (
        "the broker is on another machine: there, run `sudo rabbitmqctl add_vhost "
        "shegong" in str(refused.value)
    )


def test_queued_messages_are_counted_and_cleared_over_amqp(no_api):
    vhost.make(no_api)
    declare(no_api)  # an earlier run's topology, and two of its events still queued
    with Connection(no_api.amqp_uri) as connection:
        producer = connection.Producer()
        for n in range(2):
            producer.publish(
                json.dumps({"id": f"old-{n}", "type": REQUEST_RECEIVED.type}),
                exchange=event_exchange("intake"),
                routing_key=REQUEST_RECEIVED.type,
                content_type="application/json",
                delivery_mode=2,
            )
        connection.default_channel.queue_declare("not-ours", durable=True)
        producer.publish("{}", exchange="", routing_key="not-ours", delivery_mode=2)
    open_case = f"evt-intake-{REQUEST_RECEIVED.type}--casework.request_received"
    found = vhost.queued(no_api)
    assert found[open_case] == 2
    assert "not-ours" not in found and all(name.startswith("evt-") for name in found)

    deleted = vhost.clear(no_api)
    assert open_case in deleted and "shegong.dead-letter.intake" in deleted
    assert vhost.queued(no_api) == {}
    with Connection(no_api.amqp_uri) as connection:
        channel = connection.channel()
        assert channel.queue_declare("not-ours", passive=True)[1] == 1  # not ours: kept
        channel.close()
        with pytest.raises(Exception, match="NOT_FOUND"):
            connection.channel().queue_declare(open_case, passive=True)
