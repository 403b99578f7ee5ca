"""A failing handler is retried with delays and then dead-lettered with its reason;
an invalid event is dead-lettered at once; nothing is acked and dropped.

Runs a small nameko service in a container on the real broker.
"""

import json

import pytest
from kombu import Connection, Exchange
from pymongo.errors import AutoReconnect

from services.common import messaging
from services.common.contracts import CASE_ACCEPTED
from services.common.envelope import load_event, new_event
from services.common.messaging import EventPublisher, handles
from tests.support import wait_until

CALLS = []


class Flaky:
    name = "flaky"

    @handles(CASE_ACCEPTED)
    def on_accepted(self, body):
        envelope, data = load_event(body, CASE_ACCEPTED)
        CALLS.append(data["case_id"])
        if data["case_id"] == "always-fails":
            raise RuntimeError("projection store is down (resident 13812345678)")
        if data["case_id"] == "fails-once" and CALLS.count("fails-once") == 1:
            raise RuntimeError("a blip")
        if data["case_id"] == "store-away" and CALLS.count("store-away") <= 5:
            raise AutoReconnect("127.0.0.1:27017: connection refused")
        if data["case_id"] == "away-then-broken":
            if CALLS.count("away-then-broken") == 1:
                raise AutoReconnect("127.0.0.1:27017: connection refused")
            raise RuntimeError("a bug")


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


def dead_letters(amqp_uri, service="flaky"):
    """Drain the service's dead-letter queue: [(headers, body)]."""
    found = []
    with Connection(amqp_uri) as connection:
        queue = messaging.dead_letter_queue(service)(connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            found.append((message.headers, message.body))
    return found


@pytest.fixture
def flaky(container_factory, settings):
    CALLS.clear()
    messaging.declare_topology(settings, [Flaky])
    container = container_factory(Flaky, settings.nameko_config())
    container.start()
    return container


def test_a_handler_that_fails_once_is_retried_and_succeeds(flaky, settings):
    EventPublisher(settings.amqp_uri).publish(accepted("fails-once"))
    wait_until(lambda: CALLS.count("fails-once") == 2, 10, message="the retry")
    assert dead_letters(settings.amqp_uri) == []


def test_a_store_outage_longer_than_the_retries_parks_nothing(flaky, settings):
    EventPublisher(settings.amqp_uri).publish(accepted("store-away"))
    wait_until(lambda: CALLS.count("store-away") == 6, 15, message="the store to come back")
    assert dead_letters(settings.amqp_uri) == []  # 5 outage retries > 2 attempts allowed


def test_a_dead_letter_names_where_the_event_came_from_even_after_an_outage(flaky, settings):
    EventPublisher(settings.amqp_uri).publish(accepted("away-then-broken"))
    found = wait_until(lambda: dead_letters(settings.amqp_uri), 10, message="the dead letter")
    headers, _ = found[0]
    assert CALLS.count("away-then-broken") == 2 + len(settings.retry_delays_ms)
    assert (headers[messaging.OUTAGES_HEADER], headers[messaging.ATTEMPTS_HEADER]) == (1, 3)
    assert (headers["x-original-exchange"], headers["x-original-routing-key"]) == (
        "casework.events",
        CASE_ACCEPTED.type,
    )


def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue_with_its_reason(
    flaky, settings
):
    event = accepted("always-fails")
    EventPublisher(settings.amqp_uri).publish(event)
    found = wait_until(lambda: dead_letters(settings.amqp_uri), 10, message="the dead letter")
    assert CALLS.count("always-fails") == 1 + len(settings.retry_delays_ms)
    headers, body = found[0]
    assert headers["x-death-reason"] == (
        "RuntimeError: projection store is down (resident 138****5678)"
    )
    assert "13812345678" not in headers["x-exception"]
    assert headers["x-original-queue"] == (
        "evt-casework-shegong.case.accepted.v1--flaky.on_accepted"
    )
    assert (headers["x-original-exchange"], headers["x-original-routing-key"]) == (
        "casework.events",
        CASE_ACCEPTED.type,
    )
    assert headers[messaging.ATTEMPTS_HEADER] == 3
    assert json.loads(body)["id"] == event["id"]  # the original event, untouched


def test_an_invalid_event_is_dead_lettered_at_once_and_consuming_goes_on(flaky, settings):
    broken = {**accepted("x"), "data": {"case_id": 42}}
    with Connection(settings.amqp_uri) as connection:
        connection.Producer().publish(
            json.dumps(broken),
            exchange=Exchange("casework.events", type="topic", durable=True),
            routing_key=CASE_ACCEPTED.type,
            content_type="application/cloudevents+json",
            content_encoding="utf-8",
        )
    found = wait_until(lambda: dead_letters(settings.amqp_uri), 10, message="the dead letter")
    headers, _ = found[0]
    assert headers[messaging.ATTEMPTS_HEADER] == 1
    assert headers["x-death-reason"] == "invalid data for shegong.case.accepted.v1"
    assert "case_id" in headers["x-death-fields"]
    EventPublisher(settings.amqp_uri).publish(accepted("fine"))
    wait_until(lambda: "fine" in CALLS, 10, message="the next event")


@pytest.mark.parametrize(
    "content_type", ["application/cloudevents+json", "application/json", "text/plain"]
)
def test_a_body_that_is_not_json_is_dead_lettered_and_consuming_goes_on(
    flaky, settings, content_type
):
    with Connection(settings.amqp_uri) as connection:
        connection.Producer().publish(
            b"\xff{ not json",
            exchange=Exchange("casework.events", type="topic", durable=True),
            routing_key=CASE_ACCEPTED.type,
            content_type=content_type,
            content_encoding="binary",
        )
    found = wait_until(lambda: dead_letters(settings.amqp_uri), 10, message="the dead letter")
    assert found[0][1] == b"\xff{ not json"
    reason = found[0][0]["x-death-reason"]
    if content_type == "text/plain":  # refused by its name: the reason says so, not "decoded"
        assert reason == (
            "content type 'text/plain' is not accepted: expected application/cloudevents+json"
        )
    else:
        assert reason.startswith(f"body could not be decoded as {content_type}: "), reason
    EventPublisher(settings.amqp_uri).publish(accepted("fine"))
    wait_until(lambda: "fine" in CALLS, 10, message="the next event")
