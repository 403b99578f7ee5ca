"""Sending and retrying on the real store, with fake carriers over HTTP and a
controllable clock: failover between carriers, retries with growing delays, crashes
after a carrier answered, workers racing for one message. Receipts, limits and quiet
hours: test_notifications_receipts_limits.py."""

import pytest

from services.common import clock
from services.common.contracts import MESSAGE_FAILED, MESSAGE_SENT
from services.notifications.handlers import batch as handlers_batch
from tests.notifications_support import DAY, assigned, only
from tests.support import find_messages


def test_the_secondary_provider_serves_while_the_primary_is_down(world):
    world.aliyun.mode = "down"
    world.handle(assigned())
    message = only(world)
    assert (message["status"], message["provider"]) == ("sent", "http")
    assert [s["to"] for s in world.gateway.accepted] == ["13900000101"]
    attempts = [(h["provider"], h["outcome"]) for h in message["history"] if h["kind"] == "attempt"]
    assert attempts == [("aliyun", "temporary_failure"), ("http", "accepted")]
    assert world.relay.types() == [(MESSAGE_SENT.type, "sent")]


def test_both_down_retries_with_growing_delays_then_technical_failure(world):
    world.aliyun.mode = world.gateway.mode = "down"
    world.handle(assigned())
    message = only(world)
    assert (message["status"], message["attempts"]) == ("sending", 1)
    assert message["due_ms"] == clock.to_ms(DAY) + 10_000
    world.clock.advance(seconds=5)
    world.sweep()
    assert only(world)["attempts"] == 1  # not due yet
    world.clock.advance(seconds=5)
    world.sweep()
    message = only(world)
    assert message["attempts"] == 2 and message["due_ms"] == clock.to_ms(world.clock.now) + 60_000
    world.clock.advance(seconds=60)
    world.sweep()
    message = only(world)
    assert message["status"] == "technical_failure" and message["attempts"] == 3
    assert "due_ms" not in message and message["phone"] is None  # the number is erased
    assert message["recipient"] == "139****0101"
    assert [h["kind"] for h in message["history"]].count("retry") == 2
    assert world.relay.types() == [(MESSAGE_FAILED.type, "technical_failure")]
    world.clock.advance(hours=1)
    assert world.sweep() == 0 and world.phones() == []


def test_a_primary_back_in_service_sends_the_retried_message(world):
    world.aliyun.mode = world.gateway.mode = "down"
    world.handle(assigned())
    world.aliyun.mode = "ok"
    world.clock.advance(seconds=10)
    world.sweep()
    assert only(world)["status"] == "sent" and world.phones() == ["13900000101"]


def test_an_invalid_number_fails_at_once_without_retry(world):
    world.aliyun.mode = "invalid_number"
    world.handle(assigned())
    message = only(world)
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert "MOBILE_NUMBER_ILLEGAL" in message["reason"]
    assert world.gateway.calls == 0
    assert world.relay.types() == [(MESSAGE_FAILED.type, "failed")]
    world.clock.advance(hours=2)
    assert world.sweep() == 0


def test_the_same_event_twice_and_a_crash_after_the_provider_answered_send_one_sms(
    world, monkeypatch
):
    world.aliyun.mode = "down"  # the gateway, whose protocol is idempotent, serves
    event = assigned()
    real_update_all = world.store.update_all

    def crash_when_marking_sent(changes):  # the delivery path writes its outcomes together
        if any(fields.get("status") == "sent" for _, fields, _, _ in changes):
            raise SystemExit("the process dies after the provider answered")
        return real_update_all(changes)

    monkeypatch.setattr(world.store, "update_all", crash_when_marking_sent)
    with pytest.raises(SystemExit):
        world.handle(event)
    monkeypatch.setattr(world.store, "update_all", real_update_all)
    assert len(world.gateway.accepted) == 1 and only(world)["status"] == "sending"
    world.handle(event)  # redelivered: the message is in flight (leased), nothing is sent
    assert len(world.gateway.accepted) == 1
    world.clock.advance(seconds=31)  # the lease of the dead process ran out
    world.sweep()
    message = only(world)
    assert message["status"] == "sent" and message["attempts"] == 2
    assert len(world.gateway.accepted) == 1  # the gateway recognised the idempotency key
    world.handle(event)
    assert len(world.gateway.accepted) == 1 and len(find_messages(world.store, {})) == 1


def test_a_crash_after_aliyun_answered_is_found_out_before_sending_again(world, monkeypatch):
    world.aliyun.today = "20230529"  # the carrier files SMS under the (controlled) day
    event = assigned()
    real_update_all = world.store.update_all

    def crash_when_marking_sent(changes):  # the delivery path writes its outcomes together
        if any(fields.get("status") == "sent" for _, fields, _, _ in changes):
            raise SystemExit("the process dies after the provider answered")
        return real_update_all(changes)

    monkeypatch.setattr(world.store, "update_all", crash_when_marking_sent)
    with pytest.raises(SystemExit):
        world.handle(event)
    monkeypatch.setattr(world.store, "update_all", real_update_all)
    world.clock.advance(seconds=31)
    world.sweep()
    message = only(world)
    assert message["status"] == "sent" and len(world.aliyun.accepted) == 1
    assert [h["outcome"] for h in message["history"] if h["kind"] == "attempt"] == ["found_sent"]
    assert world.gateway.accepted == []


def test_two_workers_racing_for_one_message_send_it_once(world):
    import threading

    world.aliyun.mode = world.gateway.mode = "down"
    world.handle(assigned())  # recorded, first attempt failed: due again in 10 s
    world.aliyun.mode = "ok"
    world.clock.advance(seconds=10)
    message = only(world)
    workers = [
        threading.Thread(
            target=handlers_batch.deliver_many,
            args=(world.store, world.relay, world.chain, world.settings, [message]),
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert world.phones() == ["13900000101"] and only(world)["status"] == "sent"
