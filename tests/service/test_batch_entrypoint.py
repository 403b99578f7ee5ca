"""@handles_batch on the real broker and the real store: a batch is handled by one
worker call and acked together; a poison message is isolated (only it is retried and
dead-lettered); a crash between the bulk write and the ack changes nothing when the
batch comes again; a store outage parks nothing; a broker's nack republishes only
what it refused.
"""

import collections
from dataclasses import replace

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect

from services.common import messaging
from services.common.batching import handles_batch
from services.common.confirms import ConfirmedPublisher, Outgoing, PublishFailed
from services.common.contracts import CASE_ACCEPTED
from services.common.envelope import InvalidEvent, load_event, new_event
from services.common.messaging import EventPublisher
from tests.service.test_retry_dead_letter import dead_letters
from tests.support import wait_until

CALLS = []  # the list of case ids of each worker call
APPLIED = collections.Counter()  # case id -> effects applied (counted in the store too)
STATE = {"outage_calls": 0, "crash": None, "database": None}


def applied_in_store():
    return {doc["_id"]: doc["n"] for doc in STATE["database"]["effects"].find()}


class Batched:
    name = "batched"

    @handles_batch(CASE_ACCEPTED)
    def on_accepted(self, bodies):
        """Validate each, decide in memory, one bulk write, return the invalid ones."""
        invalid, items = {}, []
        for position, body in enumerate(bodies):
            try:
                envelope, data = load_event(body, CASE_ACCEPTED)
            except InvalidEvent as exc:
                invalid[position] = exc
                continue
            items.append((envelope, data))
        ids = [data["case_id"] for _, data in items]
        CALLS.append(ids)
        if "poison" in ids:
            raise RuntimeError("a bug meets this one event")
        if any(case_id.startswith("outage") for case_id in ids) and STATE["outage_calls"] < 4:
            STATE["outage_calls"] += 1
            raise AutoReconnect("127.0.0.1:27017: connection refused")
        # idempotent by event id: one bulk read, the decision in memory, one bulk write
        effects = STATE["database"]["effects"]
        seen = {doc["_id"]: set(doc["events"]) for doc in effects.find({"_id": {"$in": ids}})}
        fresh = [
            (envelope, data)
            for envelope, data in items
            if envelope["id"] not in seen.get(data["case_id"], ())
        ]
        if fresh:
            effects.bulk_write(
                [
                    UpdateOne(
                        {"_id": data["case_id"]},
                        {"$push": {"events": envelope["id"]}, "$inc": {"n": 1}},
                    )
                    for envelope, data in fresh
                ],
                ordered=False,
            )
        if STATE["crash"] is not None and "crash" in ids:
            crash, STATE["crash"] = STATE["crash"], None
            eventlet.spawn(crash)  # the worker dies after the write and before the ack
            eventlet.sleep(30)
        return invalid


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
def batched(container_factory, settings, database):
    CALLS.clear()
    STATE.update(outage_calls=0, crash=None, database=database("batched"))
    messaging.declare_topology(settings, [Batched])
    container = container_factory(Batched, replace(settings, batch_wait_ms=200).nameko_config())
    container.start()
    return container


def seed(case_ids):
    """Create the effect documents first (the write above only increments)."""
    STATE["database"]["effects"].insert_many(
        [{"_id": case_id, "n": 0, "events": []} for case_id in case_ids]
    )


def test_a_batch_is_handled_by_one_call_and_acked_together(batched, settings):
    ids = [f"case-{n}" for n in range(20)]
    seed(ids)
    EventPublisher(settings.amqp_uri).publish_batch([accepted(case_id) for case_id in ids])
    wait_until(lambda: sum(applied_in_store().values()) == 20, 10, message="the batch")
    assert len(CALLS) < 20  # batched: fewer calls than events
    assert set(applied_in_store().values()) == {1}
    assert all_acked(batched, settings.amqp_uri)


def test_a_poison_message_is_isolated_retried_and_dead_lettered_the_others_once(batched, settings):
    ids = [f"case-{n}" for n in range(10)]
    seed(ids)
    events = (
        [accepted(case_id) for case_id in ids[:5]]
        + [accepted("poison")]
        + [accepted(case_id) for case_id in ids[5:]]
    )
    EventPublisher(settings.amqp_uri).publish_batch(events)
    found = wait_until(
        lambda: dead_letters(settings.amqp_uri, "batched"), 15, message="the poison's dead letter"
    )
    assert len(found) == 1 and found[0][0]["x-death-reason"].startswith("RuntimeError")
    assert applied_in_store() == {case_id: 1 for case_id in ids}  # each once
    poisoned = [call for call in CALLS if "poison" in call]
    # the batch, alone once, then once alone per retry delay
    assert [call for call in poisoned if len(call) == 1] == [["poison"]] * (
        1 + len(settings.retry_delays_ms)
    )
    assert all_acked(batched, settings.amqp_uri)


def test_an_invalid_event_in_a_batch_is_dead_lettered_at_once_alone(batched, settings):
    seed(["ok-1", "ok-2"])
    broken = {**accepted("x"), "data": {"case_id": 42}}
    publisher = EventPublisher(settings.amqp_uri)
    publisher.publish_batch([accepted("ok-1"), broken, accepted("ok-2")])
    found = wait_until(
        lambda: dead_letters(settings.amqp_uri, "batched"), 10, message="the dead letter"
    )
    assert found[0][0]["x-death-reason"] == "invalid data for shegong.case.accepted.v1"
    assert found[0][0][messaging.ATTEMPTS_HEADER] == 1
    wait_until(lambda: applied_in_store() == {"ok-1": 1, "ok-2": 1}, 10, message="the others")


def test_a_store_outage_mid_batch_parks_nothing_and_every_event_is_applied_once(batched, settings):
    ids = [f"outage-{n}" for n in range(6)]
    seed(ids)
    EventPublisher(settings.amqp_uri).publish_batch([accepted(case_id) for case_id in ids])
    wait_until(
        lambda: applied_in_store() == {case_id: 1 for case_id in ids},
        20,
        message="every event after the outage",
    )
    assert dead_letters(settings.amqp_uri, "batched") == []


def test_a_crash_after_the_bulk_write_and_before_the_ack_changes_nothing_on_redelivery(
    batched, container_factory, settings
):
    ids = [f"case-{n}" for n in range(8)] + ["crash"]
    seed(ids)
    STATE["crash"] = batched.kill
    EventPublisher(settings.amqp_uri).publish_batch([accepted(case_id) for case_id in ids])
    wait_until(lambda: STATE["crash"] is None, 10, message="the crash")
    wait_until(
        lambda: ready_in_queue(settings.amqp_uri) == len(ids),
        10,
        message="the batch back in its queue, unacked when the worker died",
    )
    calls_before = len(CALLS)
    again = container_factory(Batched, replace(settings, batch_wait_ms=200).nameko_config())
    again.start()
    wait_until(lambda: len(CALLS) > calls_before, 10, message="the redelivered batch")
    assert applied_in_store() == {case_id: 1 for case_id in ids}  # nothing twice
    assert all_acked(again, settings.amqp_uri)


def ready_in_queue(amqp_uri):
    """Messages ready in the handler's queue (an unacked one is back there once its
    consumer has gone)."""
    queue = messaging.entrypoint_queue(CASE_ACCEPTED, "batched", "on_accepted")
    with Connection(amqp_uri) as connection:
        return connection.channel().queue_declare(queue.name, passive=True).message_count


def all_acked(container, amqp_uri):
    container.stop()
    return ready_in_queue(amqp_uri) == 0


def test_a_nack_from_the_broker_republishes_only_what_it_refused(settings):
    exchange = Exchange("nacks", type="direct", durable=True)
    full = Queue(
        "nacks.full",
        exchange=exchange,
        routing_key="k",
        durable=True,
        queue_arguments={"x-max-length": 5, "x-overflow": "reject-publish"},
    )
    with Connection(settings.amqp_uri) as connection:
        full.bind(connection.default_channel).declare()
    publisher = ConfirmedPublisher(settings.amqp_uri, timeout_s=5, attempts=2)
    batch = [
        Outgoing(f"m{n}".encode(), "nacks", "k", {"message_id": f"m{n}", "delivery_mode": 2})
        for n in range(8)
    ]
    with pytest.raises(PublishFailed) as refused:
        publisher.publish_batch(batch)
    assert refused.value.failed == [5, 6, 7] and refused.value.unroutable == []
    with Connection(settings.amqp_uri) as connection:
        queue = full.bind(connection.default_channel)
        bodies = [queue.get(no_ack=True).body for _ in range(5)]
        assert bodies == [b"m0", b"m1", b"m2", b"m3", b"m4"]
        publisher.publish_batch([batch[n] for n in refused.value.failed])
        again = [queue.get(no_ack=True).body for _ in range(3)]
        assert again == [b"m5", b"m6", b"m7"] and queue.get(no_ack=True) is None
    with pytest.raises(PublishFailed) as unroutable:
        publisher.publish_batch([Outgoing(b"x", "nacks", "nobody", {"message_id": "x"})])
    assert unroutable.value.unroutable == [0]
    publisher.close()
