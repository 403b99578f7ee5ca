"""The dead-letter tool on the real broker, with quorum queues (as the containers run
them): an event that keeps failing is retried, then parked; the tool lists and shows it
masked without consuming it; after the fix it is replayed and the handler processes it;
the queue is empty only then. The handler's metrics count each step."""

import argparse
import io
import json

import pytest
from kombu import Connection
from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from services.common import messaging
from services.common.contracts import CASE_ACCEPTED
from services.common.envelope import load_event, new_event
from services.common.messaging import EventPublisher, handles
from services.ops import deadletters
from tests.support import wait_until

HANDLED = []
BROKEN = {"on": True}
OUTAGE = {"left": 0}


class Projection:
    name = "opsdl"

    @handles(CASE_ACCEPTED)
    def on_accepted(self, body):
        _, data = load_event(body, CASE_ACCEPTED)
        if OUTAGE["left"] > 0:
            OUTAGE["left"] -= 1
            raise AutoReconnect("127.0.0.1:27017: connection refused")
        if BROKEN["on"]:
            raise RuntimeError("projection bug for resident 13812345678")
        HANDLED.append(data["case_id"])


def accepted(case_id):
    return new_event(
        CASE_ACCEPTED,
        {
            "case_id": case_id,
            "request_id": "r-1",
            "station": "daxing",
            "status": "accepted",
            "accepted_by": "dx-01",
            "assignee_name": "王晨光",
            "accepted_at": "2023-05-29T08:05:00+08:00",
        },
        subject=case_id,
        correlation_id="r-1",
        sequence=2,
    )


@pytest.fixture
def quorum_settings(monkeypatch, env):
    monkeypatch.setenv("SHEGONG_QUEUE_TYPE", "quorum")
    from services.common import config

    return config.settings()


@pytest.fixture
def projection(container_factory, quorum_settings):
    HANDLED.clear()
    BROKEN["on"] = True
    OUTAGE["left"] = 0
    messaging.declare_topology(quorum_settings, [Projection])
    container = container_factory(Projection, quorum_settings.nameko_config())
    container.start()
    return container


def tool(settings, command, **options):
    args = argparse.Namespace(
        command=command,
        service="opsdl",
        id=options.get("id"),
        all=options.get("all", False),
        to_exchange=options.get("to_exchange", False),
    )
    out = io.StringIO()
    code = deadletters.run(args, settings, out)
    return code, out.getvalue()


def metric(name, event_type=CASE_ACCEPTED.type, **labels):
    return (
        REGISTRY.get_sample_value(
            name, {"service": "opsdl", "handler": "on_accepted", "event_type": event_type, **labels}
        )
        or 0
    )


def test_queues_are_quorum_when_configured(projection, quorum_settings, rabbit):
    vhost = quorum_settings.amqp_uri.rsplit("/", 1)[-1]
    queues = {q["name"]: q["type"] for q in rabbit.call("GET", f"queues/{vhost}")}
    assert queues["shegong.dead-letter.opsdl"] == "quorum"
    assert queues[f"evt-casework-{CASE_ACCEPTED.type}--opsdl.on_accepted"] == "quorum"
    assert all(
        kind == "quorum" for name, kind in queues.items() if name.startswith("shegong.retry")
    )
    # a delay's messages go back to their queue at least once, even as a leader changes
    # (quorum dead-lettering is at-most-once unless told otherwise)
    arguments = {q["name"]: q["arguments"] for q in rabbit.call("GET", f"queues/{vhost}")}
    retries = [name for name in arguments if name.startswith("shegong.retry")]
    assert retries
    for name in retries:
        assert arguments[name]["x-dead-letter-strategy"] == "at-least-once", name
        assert arguments[name]["x-overflow"] == "reject-publish", name


def test_a_dead_letter_is_listed_shown_masked_and_replayed_after_the_fix(
    projection, quorum_settings
):
    before = {
        name: metric(name)
        for name in ("shegong_events_dead_lettered_total", "shegong_events_consumed_total")
    }
    retried_before = metric("shegong_events_retried_total", cause="fault")
    event = accepted("case-dl-1")
    EventPublisher(quorum_settings.amqp_uri).publish(event)

    def listed():
        code, out = tool(quorum_settings, "list")
        return event["id"] in out and out

    out = wait_until(listed, 20, interval=0.3, message="the event in the dead-letter queue")
    assert "RuntimeError" in out and "138****5678" in out and "13812345678" not in out
    # reading did not consume it
    assert event["id"] in tool(quorum_settings, "list")[1]
    assert metric("shegong_events_retried_total", cause="fault") - retried_before == 2
    assert (
        metric("shegong_events_dead_lettered_total") - before["shegong_events_dead_lettered_total"]
        == 1
    )

    code, shown = tool(quorum_settings, "show", id=event["id"])
    details = json.loads(shown)[0]
    assert code == 0 and details["headers"]["x-original-queue"].endswith("opsdl.on_accepted")
    assert details["headers"]["x-original-exchange"] == "casework.events"
    assert details["body"]["data"]["assignee_name"] == "王**" and "王晨光" not in shown
    assert tool(quorum_settings, "show", id="no-such-event")[0] == 1

    BROKEN["on"] = False  # the fix is deployed
    code, out = tool(quorum_settings, "replay", id=event["id"])
    assert code == 0 and "replayed" in out
    wait_until(lambda: HANDLED == ["case-dl-1"], 10, message="the replayed event handled")
    assert tool(quorum_settings, "list")[1].strip() == "no dead letters"
    assert metric("shegong_events_consumed_total") - before["shegong_events_consumed_total"] == 1


def test_replay_all_to_the_original_exchange(projection, quorum_settings):
    events = [accepted(f"case-dl-{n}") for n in range(3)]
    for event in events:
        EventPublisher(quorum_settings.amqp_uri).publish(event)
    wait_until(
        lambda: tool(quorum_settings, "list")[1].count("opsdl.on_accepted") == 3,
        20,
        interval=0.3,
        message="three dead letters",
    )
    BROKEN["on"] = False
    code, out = tool(quorum_settings, "replay", all=True, to_exchange=True)
    assert code == 0 and out.count("exchange casework.events") == 3
    wait_until(
        lambda: sorted(HANDLED) == sorted(e["data"]["case_id"] for e in events),
        10,
        message="every replayed event handled",
    )
    assert tool(quorum_settings, "list")[1].strip() == "no dead letters"


def test_an_outage_on_quorum_queues_waits_without_using_attempts(projection, quorum_settings):
    BROKEN["on"] = False
    OUTAGE["left"] = 4  # more outage retries than the 2 attempts allowed
    outages_before = metric("shegong_events_retried_total", cause="outage")
    EventPublisher(quorum_settings.amqp_uri).publish(accepted("case-outage"))
    wait_until(lambda: HANDLED == ["case-outage"], 20, message="the store to come back")
    assert metric("shegong_events_retried_total", cause="outage") - outages_before == 4
    assert tool(quorum_settings, "list")[1].strip() == "no dead letters"


def test_a_replay_no_queue_takes_leaves_the_dead_letter_in_place(projection, quorum_settings):
    # a dead letter whose handler queue no longer exists (a handler removed since)
    with Connection(quorum_settings.amqp_uri) as connection:
        connection.Producer().publish(
            json.dumps(accepted("case-orphan")),
            exchange=messaging.dead_letter_exchange(),
            routing_key="opsdl",
            content_type="application/json",
            message_id="orphan-1",
            delivery_mode=2,
            headers={
                "x-original-queue": "evt-casework-gone--opsdl.removed",
                "x-death-reason": "a bug",
                "x-exception-type": "RuntimeError",
            },
        )
    wait_until(
        lambda: "orphan-1" in tool(quorum_settings, "list")[1], 10, message="the orphan dead letter"
    )
    code, out = tool(quorum_settings, "replay", all=True)
    assert code == 1 and "could not replay orphan-1" in out
    assert "orphan-1" in tool(quorum_settings, "list")[1]  # still there, nothing lost
