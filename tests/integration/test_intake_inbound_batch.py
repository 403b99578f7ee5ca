"""Intake consumes the inbound exchange in batches (the ``@handles_batch`` machinery):
on the real broker and store, a batch with one refused event dead-letters only that one
with its reason and records every other once; a crash after the batch's write and
before its ack changes nothing when the batch is redelivered."""

from dataclasses import replace

import eventlet
import pytest
from kombu import Connection

from services.common.contracts import RESIDENT_REGISTRY_UPDATED
from services.intake.amqp_inbound import INBOUND_QUEUE
from services.intake.domain.inbound import inbound_id
from services.intake.handlers import inbound as handlers_inbound
from services.intake.service import IntakeService
from services.intake.store import RequestStore
from tests.inbound_support import (
    Observer,
    dead_letters,
    key_person_update,
    publish_inbound,
)
from tests.support import wait_until

BATCHED = {"batch_wait_ms": 300, "batch_size": 100}


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


def worker(container_factory, settings):
    container = container_factory(IntakeService, replace(settings, **BATCHED).nameko_config())
    container.start()
    return container


def updates(count):
    """Key-person updates of distinct people (distinct valid id numbers)."""
    sent = []
    for n in range(count):
        body = key_person_update("changed", name=f"居民{n}")
        body["data"]["person"]["phone"] = f"138{n:08d}"
        sent.append(body)
    return sent


def ready_in_queue(amqp_uri):
    with Connection(amqp_uri) as connection:
        return connection.channel().queue_declare(INBOUND_QUEUE, passive=True).message_count


def published_updates(observer):
    return observer.of_type(RESIDENT_REGISTRY_UPDATED.type)


def test_a_refused_event_in_a_batch_is_dead_lettered_alone_the_others_recorded_once(
    container_factory, settings, observer, database, monkeypatch
):
    calls = []
    many = handlers_inbound.receive_inbound_amqp_many
    monkeypatch.setattr(
        handlers_inbound,
        "receive_inbound_amqp_many",
        lambda store, relay, systems, items, key: (
            calls.append(len(items)) or many(store, relay, systems, items, key)
        ),
    )
    good = updates(12)
    bad = key_person_update(id_number="110105194912310021")  # an invalid id number
    for body in good[:6] + [bad] + good[6:]:  # all queued before the worker starts
        publish_inbound(settings.amqp_uri, body, system="civil-affairs")
    worker(container_factory, settings)
    [(headers, _)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the refused event's dead letter"
    )
    assert headers["x-death-reason"].startswith("invalid_data")
    assert headers["x-original-queue"] == INBOUND_QUEUE
    assert "shegong-api-key" not in headers
    seen = wait_until(
        lambda: (found := published_updates(observer)) and len(found) >= 12 and found,
        20,
        message="the registry updates",
    )
    eventlet.sleep(0.5)  # nothing more comes
    seen = published_updates(observer)
    assert sorted(e["correlationid"] for e in seen) == sorted(
        inbound_id(b["source"], b["id"]) for b in good
    )
    records = database("intake")["registry_updates"]
    assert records.count_documents({}) == 12
    assert records.count_documents({"_id": inbound_id(bad["source"], bad["id"])}) == 0
    assert calls[0] == 13  # the whole batch in one worker call, the refused one included
    wait_until(lambda: ready_in_queue(settings.amqp_uri) == 0, 10, message="all acked")


def test_a_crash_after_the_batch_is_written_and_before_its_ack_changes_nothing(
    container_factory, settings, observer, database, monkeypatch
):
    first = {}
    written = RequestStore.add_registry_updates

    def write_then_crash(store, changes):
        documents = written(store, changes)
        if "worker" in first:
            crash = first.pop("worker").kill
            eventlet.spawn(crash)  # the worker dies after the write and before the ack
            eventlet.sleep(30)
        return documents

    monkeypatch.setattr(RequestStore, "add_registry_updates", write_then_crash)
    sent = updates(10)
    for body in sent:
        publish_inbound(settings.amqp_uri, body, system="civil-affairs")
    first["worker"] = worker(container_factory, settings)
    wait_until(lambda: "worker" not in first, 20, message="the crash")
    wait_until(
        lambda: ready_in_queue(settings.amqp_uri) == 10,
        10,
        message="the batch back in its queue, unacked when the worker died",
    )
    records = database("intake")["registry_updates"]
    assert records.count_documents({}) == 10  # written before the crash
    worker(container_factory, settings)  # the relay publishes what the crash left behind
    wait_until(lambda: ready_in_queue(settings.amqp_uri) == 0, 20, message="redelivered, acked")
    expected = sorted(inbound_id(b["source"], b["id"]) for b in sent)
    wait_until(
        lambda: sorted({e["correlationid"] for e in published_updates(observer)}) == expected,
        30,
        message="every update published",
    )
    assert records.count_documents({}) == 10
    assert sorted(d["_id"] for d in records.find()) == expected
    events = {e["id"]: e["correlationid"] for e in observer.seen}
    assert sorted(events.values()) == expected  # one event per update, none made twice
    assert dead_letters(settings.amqp_uri) == []
