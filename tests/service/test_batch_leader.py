"""Two instances of a batch entrypoint on the real broker (issue 24): one leads, the
other stands by. The leader (the higher consumer priority) gets every message and its
batches stay whole; the standby gets nothing while the leader has room, takes the
overflow once the leader's prefetch is full, and takes over what the leader held
unacked, and everything after, when the leader dies. Classic and quorum queues alike.
"""

from dataclasses import replace

import eventlet
import pytest
from eventlet.event import Event
from kombu import Connection

from services.common import messaging
from services.common.batching import handles_batch, leader_priority
from services.common.contracts import CASE_ACCEPTED
from services.common.envelope import load_event
from services.common.messaging import EventPublisher
from tests.service.test_batch_entrypoint import accepted
from tests.support import wait_until

CALLS: list = []  # (instance, [case ids]) of each worker call
HOLD = {"event": None}  # set: a batch with a "hold-..." case waits for it


def handled(instance):
    return [case_id for who, ids in CALLS if who == instance for case_id in ids]


def _record(instance, bodies):
    ids = [load_event(body, CASE_ACCEPTED)[1]["case_id"] for body in bodies]
    CALLS.append((instance, ids))
    if HOLD["event"] is not None and any(case_id.startswith("hold") for case_id in ids):
        HOLD["event"].wait()
    return {}


class First:
    name = "leader"

    @handles_batch(CASE_ACCEPTED)
    def on_accepted(self, bodies):
        """Record the batch as the first instance's."""
        return _record("first", bodies)


class Second:
    name = "leader"

    @handles_batch(CASE_ACCEPTED)
    def on_accepted(self, bodies):
        """Record the batch as the second instance's."""
        return _record("second", bodies)


@pytest.fixture
def instances(container_factory, settings):
    """Start the two instances of the "leader" service, the first with the higher
    priority (drawn at random in production), on SETTINGS changed by the keywords."""
    CALLS.clear()
    HOLD["event"] = None

    def start(**changes):
        changed = replace(settings, batch_wait_ms=50, **changes)
        messaging.declare_topology(changed, [First])
        started = []
        for cls, priority in ((First, 20), (Second, 10)):
            container = container_factory(cls, changed.nameko_config())
            container.shegong_batch_priority = priority
            container.start()
            started.append(container)
        return started

    yield start
    if HOLD["event"] is not None and not HOLD["event"].ready():
        HOLD["event"].send(None)


def all_acked(container, amqp_uri):
    """Stop CONTAINER (the batch in hand finishes) and say whether its queue is empty."""
    container.stop()
    queue = messaging.entrypoint_queue(CASE_ACCEPTED, "leader", "on_accepted")
    with Connection(amqp_uri) as connection:
        return connection.channel().queue_declare(queue.name, passive=True).message_count == 0


def publish(settings, ids):
    EventPublisher(settings.amqp_uri).publish_batch([accepted(case_id) for case_id in ids])


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_leader_gets_every_message_and_its_batches_stay_whole(instances, settings, queue_type):
    first, _ = instances(queue_type=queue_type)
    ids = [f"case-{n}" for n in range(60)]
    for start in range(0, 60, 10):  # in six bursts: round-robin would split each
        publish(settings, ids[start : start + 10])
        eventlet.sleep(0.1)
    wait_until(lambda: len(handled("first")) == 60, 15, message="every event")
    eventlet.sleep(0.3)
    assert sorted(handled("first")) == sorted(ids)
    assert handled("second") == []  # the standby had nothing, and cost nothing
    assert len(CALLS) <= 12  # batches, not one call an event
    assert all_acked(first, settings.amqp_uri)


def test_the_standby_takes_over_what_the_dying_leader_held_and_what_comes_after(
    instances, settings
):
    first, second = instances()
    HOLD["event"] = Event()
    publish(settings, ["hold-1", "case-1", "case-2"])
    wait_until(lambda: handled("first"), 10, message="the leader's batch")
    first.kill()  # dies mid-batch: nothing of it was acked
    wait_until(
        lambda: {"hold-1", "case-1", "case-2"} <= set(handled("second")),
        15,
        message="the unacked batch redelivered to the standby",
    )
    HOLD["event"].send(None)
    publish(settings, ["case-3", "case-4"])
    wait_until(lambda: {"case-3", "case-4"} <= set(handled("second")), 10, message="the next")
    assert all_acked(second, settings.amqp_uri)


def test_the_standby_takes_the_overflow_once_the_leader_prefetch_is_full(instances, settings):
    _, second = instances(batch_prefetch=5, batch_size=5)
    HOLD["event"] = Event()
    publish(settings, ["hold-1"] + [f"case-{n}" for n in range(4)])
    wait_until(lambda: len(handled("first")) == 5, 10, message="the leader's full prefetch")
    publish(settings, [f"more-{n}" for n in range(5)])
    wait_until(
        lambda: sorted(handled("second")) == [f"more-{n}" for n in range(5)],
        10,
        message="the overflow handled by the standby while the leader is busy",
    )
    HOLD["event"].send(None)
    assert all_acked(second, settings.amqp_uri)


def test_each_container_draws_its_own_priority_once():
    class Container:
        pass

    one, other = Container(), Container()
    assert leader_priority(one) == leader_priority(one)
    assert 1 <= leader_priority(one) < 2**31
    assert leader_priority(one) != leader_priority(other)  # a tie: 1 in 2**31
