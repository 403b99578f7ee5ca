"""A renamed handler's former queue is retired on the real broker: what it held moves to
the queue that replaced it, nothing is lost, and it is deleted once no consumer of an
earlier version uses it."""

import logging
from dataclasses import replace

import pytest
from amqp.exceptions import NotFound
from kombu import Connection, Producer

from services.casework.service import CaseworkService
from services.common import config, messaging
from services.common.contracts import REQUEST_RECEIVED
from services.common.topology import entrypoint_queue

RETIRED = entrypoint_queue(REQUEST_RECEIVED, "casework", "open_case")
SUCCESSOR = entrypoint_queue(REQUEST_RECEIVED, "casework", "request_received")


def publish(connection, *event_ids):
    producer = Producer(connection.channel())
    for event_id in event_ids:
        producer.publish(
            {"id": event_id},
            exchange=RETIRED.exchange,
            routing_key=REQUEST_RECEIVED.type,
            message_id=event_id,
            headers={"x-shegong-attempts": 2},
            delivery_mode=2,
        )


def drain(connection, queue):
    bound = queue(connection.channel())
    found = []
    while (message := bound.get(no_ack=True)) is not None:
        found.append((message.properties["message_id"], message.headers))
    return found


def exists(connection, queue):
    try:
        connection.channel().queue_declare(queue.name, passive=True)
    except NotFound:
        return False
    return True


def declare(amqp_uri):
    settings = replace(config.settings({"AMQP_URI": amqp_uri}), retry_delays_ms=(100,))
    messaging.declare_topology(settings, [CaseworkService])


def test_what_the_retired_queue_held_moves_to_its_successor(amqp_uri):
    with Connection(amqp_uri) as connection:
        RETIRED(connection.channel()).declare()  # what the earlier version declared
        publish(connection, "e-1", "e-2", "e-3")
        declare(amqp_uri)
        assert not exists(connection, RETIRED)
        publish(connection, "e-4")  # only the successor is bound now
        moved = drain(connection, SUCCESSOR)
    assert [event_id for event_id, _ in moved] == ["e-1", "e-2", "e-3", "e-4"]
    assert all(headers["x-shegong-attempts"] == 2 for _, headers in moved)


def test_nothing_to_retire_is_nothing_to_do(amqp_uri):
    declare(amqp_uri)
    declare(amqp_uri)  # idempotent
    with Connection(amqp_uri) as connection:
        assert not exists(connection, RETIRED)
        assert exists(connection, SUCCESSOR)


def test_a_queue_an_earlier_version_still_consumes_is_unbound_then_deleted_later(amqp_uri, caplog):
    with Connection(amqp_uri) as connection, Connection(amqp_uri) as earlier:
        RETIRED(connection.channel()).declare()
        publish(connection, "e-1", "e-2")
        channel = earlier.channel()
        channel.basic_qos(0, 1, False)
        held = []
        channel.basic_consume(RETIRED.name, callback=held.append)
        earlier.drain_events(timeout=5)  # the earlier version holds e-1, unacked
        assert len(held) == 1
        with caplog.at_level(logging.WARNING, logger="services.common.queue_moves"):
            declare(amqp_uri)
        assert "still consumed" in caplog.text
        assert exists(connection, RETIRED)
        publish(connection, "e-3")  # unbound: not copied to it any more
        assert [event_id for event_id, _ in drain(connection, SUCCESSOR)] == ["e-2", "e-3"]
    # the earlier version stopped: what it held came back to its queue
    declare(amqp_uri)
    with Connection(amqp_uri) as connection:
        assert not exists(connection, RETIRED)
        assert [event_id for event_id, _ in drain(connection, SUCCESSOR)] == ["e-1"]


@pytest.fixture(autouse=True)
def _exchange(amqp_uri):
    with Connection(amqp_uri) as connection:
        RETIRED.exchange(connection.channel()).declare()
