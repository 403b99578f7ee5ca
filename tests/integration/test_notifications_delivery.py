"""Sending, retrying, limiting and receipts on the real store, with fake carriers over
HTTP and a controllable clock (``clock.now`` is the only time the service reads)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.common import clock
from services.common.contracts import (
    CASE_ACCEPTED, CASE_ASSIGNED, CASE_RESOLVED, MESSAGE_DELIVERED, MESSAGE_FAILED, MESSAGE_SENT,
    REQUEST_RECEIVED,
)
from services.common.envelope import new_event
from services.notifications import handlers, handlers_receipts
from services.notifications.providers import HttpGatewayProvider, ProviderChain
from services.notifications.providers_cloud import AliyunSmsProvider
from services.notifications.store import NotificationStore
from services.common import config
from tests.fakes.sms_providers import FakeAliyunSms, FakeSmsGateway

# 10:00 in the district (+08:00): outside quiet hours
DAY = datetime(2023, 5, 29, 2, 0, tzinfo=timezone.utc)
# 23:30 in the district: inside quiet hours (22:00-07:00)
NIGHT = datetime(2023, 5, 29, 15, 30, tzinfo=timezone.utc)


class Relay:
    def __init__(self):
        self.published = []

    def publish_now(self, name, document):
        """Records each event once (the real relay marks them published in the document)."""
        seen = {event["id"] for event in self.published}
        fresh = [event for event in document["outbox"] if event["id"] not in seen]
        self.published.extend(fresh)
        return len(fresh)

    def types(self, message_id=None):
        return [(e["type"], e["data"]["status"]) for e in self.published
                if message_id is None or e["data"]["message_id"] == message_id]


class Clock:
    def __init__(self, monkeypatch, start):
        self.now = start
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def fakes():
    started = [FakeAliyunSms().start(), FakeSmsGateway().start()]
    yield started
    for fake in started:
        fake.stop()


@pytest.fixture
def world(database, monkeypatch, fakes):
    aliyun, gateway = fakes
    monkeypatch.setenv("SHEGONG_SMS_RETRY_DELAYS_S", "10,60")
    monkeypatch.setenv("SHEGONG_SMS_LEASE_S", "30")
    monkeypatch.setenv("SHEGONG_SMS_RATE_LIMIT_PER_HOUR", "3")
    monkeypatch.setenv("SHEGONG_SMS_TIMEOUT_S", "2")
    settings = config.settings()
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    aliyun_provider = AliyunSmsProvider(config.notification_settings({
        "ALIYUN_SMS_ACCESS_KEY_ID": aliyun.access_key_id,
        "ALIYUN_SMS_ACCESS_KEY_SECRET": aliyun.secret, "ALIYUN_SMS_ENDPOINT": aliyun.endpoint,
        "ALIYUN_SMS_PROTOCOL": "http"}))
    chain = ProviderChain([aliyun_provider, HttpGatewayProvider(gateway.url, gateway.token, 2)])
    return World(store, Relay(), chain, settings, aliyun, gateway, Clock(monkeypatch, DAY))


class World:
    def __init__(self, store, relay, chain, settings, aliyun, gateway, clock_):
        self.store, self.relay, self.chain, self.settings = store, relay, chain, settings
        self.aliyun, self.gateway, self.clock = aliyun, gateway, clock_

    def handle(self, envelope):
        """What the service's entrypoint for the event does."""
        if envelope["type"] == REQUEST_RECEIVED.type:
            handlers.remember_contact(self.store, envelope["data"])
        handlers.notify(self.store, self.relay, self.chain, self.settings, envelope,
                        envelope["data"])

    def sweep(self):
        return handlers.deliver_due(self.store, self.relay, self.chain, self.settings)

    def phones(self):
        """Every SMS a phone received, from either carrier."""
        return ([s["to"] for s in self.aliyun.accepted] + [s["to"] for s in self.gateway.accepted])


def assigned(case_id="case-1", priority="urgent", event_id=None):
    return new_event(CASE_ASSIGNED, {
        "case_id": case_id, "request_id": "r-1", "station": "daxing", "status": "assigned",
        "priority": priority, "need_type": "medicine_purchase",
        "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
        "resident": {"name": "邹**", "phone": "138****5678"},
        "assigned_at": "2023-05-29T10:00:00+08:00"}, subject=case_id, correlation_id="r-1",
        sequence=2, event_id=event_id)


def received():
    return new_event(REQUEST_RECEIVED, {
        "request_id": "r-1", "channel": "phone", "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"],
                     "emergency_contact": {"name": "李梅", "relation": "女儿",
                                           "phone": "13700000002"}},
        "resident_ref": "p_1", "need": {"type": "medicine_purchase"},
        "received_at": "2023-05-29T08:00:00+08:00"}, subject="r-1", correlation_id="r-1",
        sequence=1)


def accepted():
    return new_event(CASE_ACCEPTED, {
        "case_id": "case-n", "request_id": "r-1", "station": "daxing", "status": "accepted",
        "accepted_by": "dx-01", "assignee_name": "王晨光",
        "accepted_at": "2023-05-29T23:30:00+08:00"}, subject="case-n", correlation_id="r-1",
        sequence=3)


def only(world, case_id="case-1"):
    [message] = world.store.find({"case_id": case_id})
    return message


def test_the_secondary_provider_serves_while_the_primary_is_down(world):
    world.aliyun.mode = "down"
    world.handle(assigned())
    message = only(world)
    assert (message["status"], message["provider"]) == ("sent", "http")
    assert [s["to"] for s in world.gateway.accepted] == ["13900000101"]
    attempts = [(h["provider"], h["outcome"]) for h in message["history"]
                if h["kind"] == "attempt"]
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
        world, monkeypatch):
    world.aliyun.mode = "down"  # the gateway, whose protocol is idempotent, serves
    event = assigned()
    real_update = world.store.update

    def crash_when_marking_sent(message, changes, *args, **kwargs):
        if changes.get("status") == "sent":
            raise SystemExit("the process dies after the provider answered")
        return real_update(message, changes, *args, **kwargs)

    monkeypatch.setattr(world.store, "update", crash_when_marking_sent)
    with pytest.raises(SystemExit):
        world.handle(event)
    monkeypatch.setattr(world.store, "update", real_update)
    assert len(world.gateway.accepted) == 1 and only(world)["status"] == "sending"
    world.handle(event)  # redelivered: the message is in flight (leased), nothing is sent
    assert len(world.gateway.accepted) == 1
    world.clock.advance(seconds=31)  # the lease of the dead process ran out
    world.sweep()
    message = only(world)
    assert message["status"] == "sent" and message["attempts"] == 2
    assert len(world.gateway.accepted) == 1  # the gateway recognised the idempotency key
    world.handle(event)
    assert len(world.gateway.accepted) == 1 and len(world.store.find({})) == 1


def test_a_crash_after_aliyun_answered_is_found_out_before_sending_again(world, monkeypatch):
    world.aliyun.today = "20230529"  # the carrier files SMS under the (controlled) day
    event = assigned()
    real_update = world.store.update

    def crash_when_marking_sent(message, changes, *args, **kwargs):
        if changes.get("status") == "sent":
            raise SystemExit("the process dies after the provider answered")
        return real_update(message, changes, *args, **kwargs)

    monkeypatch.setattr(world.store, "update", crash_when_marking_sent)
    with pytest.raises(SystemExit):
        world.handle(event)
    monkeypatch.setattr(world.store, "update", real_update)
    world.clock.advance(seconds=31)
    world.sweep()
    message = only(world)
    assert message["status"] == "sent" and len(world.aliyun.accepted) == 1
    assert [h["outcome"] for h in message["history"] if h["kind"] == "attempt"] == ["found_sent"]
    assert world.gateway.accepted == []


def test_receipts_out_of_order_and_repeated_leave_the_right_final_status(world):
    world.handle(assigned())
    message = only(world)
    biz_id = message["provider_message_id"]
    delivered = {"provider": "aliyun", "provider_message_id": biz_id,
                 "message_id": message["_id"], "status": "delivered", "reason": None,
                 "at": "2023-05-29 10:00:05"}
    late_failure = {**delivered, "status": "failed", "reason": "MK:0001", "at": "2023-05-29 10:00:01"}
    assert handlers_receipts.apply_receipt(world.store, world.relay, delivered)
    assert handlers_receipts.apply_receipt(world.store, world.relay, delivered)      # repeated
    assert handlers_receipts.apply_receipt(world.store, world.relay, late_failure)   # late, older
    message = only(world)
    assert message["status"] == "delivered" and message["phone"] is None
    receipts = [h for h in message["history"] if h["kind"] == "receipt"]
    assert [r["status"] for r in receipts] == ["delivered", "failed"]  # the repeat is not kept
    assert world.relay.types() == [(MESSAGE_SENT.type, "sent"), (MESSAGE_DELIVERED.type, "delivered")]
    unknown = {**delivered, "message_id": None, "provider_message_id": "nope"}
    assert not handlers_receipts.apply_receipt(world.store, world.relay, unknown)


def test_a_receipt_before_the_send_is_recorded_still_ends_delivered(world, monkeypatch):
    event = assigned()
    real_send = world.chain.send_first

    def receipt_overtakes(message, *args):
        sent = real_send(message, *args)
        handlers_receipts.apply_receipt(world.store, world.relay, {
            "provider": sent.provider, "provider_message_id": sent.provider_message_id,
            "message_id": message["_id"], "status": "delivered", "reason": None, "at": None})
        return sent

    monkeypatch.setattr(world.chain, "send_first", receipt_overtakes)
    world.handle(event)
    message = only(world)
    assert message["status"] == "delivered" and message["provider"] == "aliyun"
    assert sorted(world.relay.types()) == [(MESSAGE_DELIVERED.type, "delivered"),
                                           (MESSAGE_SENT.type, "sent")]


def test_no_more_than_the_hourly_limit_per_phone(world):
    for number in range(5):
        world.handle(assigned(case_id=f"case-{number}"))
        world.clock.advance(minutes=1)
    assert world.phones() == ["13900000101"] * 3
    held = world.store.find({"status": "created"})
    assert len(held) == 2
    assert {h["reason"] for m in held for h in m["history"] if h["kind"] == "held"} == {
        "rate_limited"}
    world.clock.advance(minutes=55)  # 60 min after the first SMS: one more may go
    world.sweep()
    assert len(world.phones()) == 4
    world.clock.advance(minutes=2)
    world.sweep()
    assert len(world.phones()) == 5 and world.store.find({"status": "created"}) == []


def test_residents_wait_out_quiet_hours_unless_urgent(world):
    world.clock.now = NIGHT
    world.handle(received())
    world.handle(accepted())  # case-n: priority unknown here, so not urgent
    message = only(world, "case-n")
    assert message["status"] == "created" and world.phones() == []
    [held] = [h for h in message["history"] if h["kind"] == "held"]
    assert held["reason"] == "quiet_hours" and held["until"] == "2023-05-30T07:00:00+08:00"
    world.clock.advance(hours=7)  # 06:30
    world.sweep()
    assert world.phones() == []
    world.clock.advance(minutes=31)  # 07:01
    world.sweep()
    assert world.phones() == ["13812345678"] and only(world, "case-n")["status"] == "sent"
    # an urgent case's messages go at once, at night too
    world.clock.now = NIGHT
    world.handle(new_event(CASE_RESOLVED, {
        "case_id": "case-u", "request_id": "r-1", "station": "daxing", "status": "resolved",
        "priority": "urgent", "resolved_by": "dx-01", "assignee_name": "王晨光",
        "resolved_at": "2023-05-29T23:30:00+08:00"}, subject="case-u", correlation_id="r-1",
        sequence=9))
    assert sorted(world.phones()[1:]) == ["13700000002", "13812345678"]
    to_family = world.store.find({"case_id": "case-u", "recipient_role": "emergency_contact"})
    assert "邹**" in to_family[0]["body"] and "紧急求助已由大兴镇社会工作服务站" in to_family[0]["body"]


def test_the_full_number_is_kept_only_while_a_receipt_may_come(world):
    world.handle(assigned())
    assert only(world)["phone"] == "13900000101"
    world.clock.advance(hours=71)
    world.sweep()
    assert only(world)["phone"] == "13900000101"
    world.clock.advance(hours=2)
    world.sweep()
    message = only(world)
    assert message["phone"] is None and message["status"] == "sent"
    assert message["recipient"] == "139****0101" and message["phone_ref"].startswith("p_")


def test_two_workers_racing_for_one_message_send_it_once(world):
    import threading
    world.aliyun.mode = world.gateway.mode = "down"
    world.handle(assigned())  # recorded, first attempt failed: due again in 10 s
    world.aliyun.mode = "ok"
    world.clock.advance(seconds=10)
    message = only(world)
    workers = [threading.Thread(target=handlers.deliver, args=(
        world.store, world.relay, world.chain, world.settings, message)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert world.phones() == ["13900000101"] and only(world)["status"] == "sent"
