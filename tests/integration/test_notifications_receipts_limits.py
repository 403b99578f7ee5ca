"""Receipts, limits and quiet hours on the real store, with fake carriers over HTTP and
a controllable clock: receipts out of order, repeated or ahead of the send, the hourly
limit per phone, quiet hours, how long the full number is kept."""

from services.common.contracts import CASE_RESOLVED, MESSAGE_DELIVERED, MESSAGE_SENT
from services.common.envelope import new_event
from services.notifications.handlers import receipts as handlers_receipts
from tests.notifications_support import NIGHT, accepted, assigned, only, received
from tests.support import find_messages


def test_receipts_out_of_order_and_repeated_leave_the_right_final_status(world):
    world.handle(assigned())
    message = only(world)
    biz_id = message["provider_message_id"]
    delivered = {
        "provider": "aliyun",
        "provider_message_id": biz_id,
        "message_id": message["_id"],
        "status": "delivered",
        "reason": None,
        "at": "2023-05-29 10:00:05",
    }
    late_failure = {
        **delivered,
        "status": "failed",
        "reason": "MK:0001",
        "at": "2023-05-29 10:00:01",
    }
    assert handlers_receipts.apply_receipt(world.store, world.relay, delivered)
    assert handlers_receipts.apply_receipt(world.store, world.relay, delivered)  # repeated
    assert handlers_receipts.apply_receipt(world.store, world.relay, late_failure)  # late, older
    message = only(world)
    assert message["status"] == "delivered" and message["phone"] is None
    receipts = [h for h in message["history"] if h["kind"] == "receipt"]
    assert [r["status"] for r in receipts] == ["delivered", "failed"]  # the repeat is not kept
    assert world.relay.types() == [
        (MESSAGE_SENT.type, "sent"),
        (MESSAGE_DELIVERED.type, "delivered"),
    ]
    unknown = {**delivered, "message_id": None, "provider_message_id": "nope"}
    assert not handlers_receipts.apply_receipt(world.store, world.relay, unknown)


def test_a_receipt_before_the_send_is_recorded_still_ends_delivered(world, monkeypatch):
    event = assigned()
    real_send = world.chain.send_first

    def receipt_overtakes(message, *args):
        sent = real_send(message, *args)
        handlers_receipts.apply_receipt(
            world.store,
            world.relay,
            {
                "provider": sent.provider,
                "provider_message_id": sent.provider_message_id,
                "message_id": message["_id"],
                "status": "delivered",
                "reason": None,
                "at": None,
            },
        )
        return sent

    monkeypatch.setattr(world.chain, "send_first", receipt_overtakes)
    world.handle(event)
    message = only(world)
    assert message["status"] == "delivered" and message["provider"] == "aliyun"
    assert sorted(world.relay.types()) == [
        (MESSAGE_DELIVERED.type, "delivered"),
        (MESSAGE_SENT.type, "sent"),
    ]


def test_no_more_than_the_hourly_limit_per_resident_phone(world):
    world.handle(received())
    for number in range(5):
        world.handle(accepted(case_id=f"case-{number}"))
        world.clock.advance(minutes=1)
    assert world.phones() == ["13812345678"] * 3
    held = find_messages(world.store, {"status": "created"})
    assert len(held) == 2
    assert {h["reason"] for m in held for h in m["history"] if h["kind"] == "held"} == {
        "rate_limited"
    }
    world.clock.advance(minutes=55)  # 60 min after the first SMS: one more may go
    world.sweep()
    assert len(world.phones()) == 4
    world.clock.advance(minutes=2)
    world.sweep()
    assert len(world.phones()) == 5 and find_messages(world.store, {"status": "created"}) == []


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
    world.handle(
        new_event(
            CASE_RESOLVED,
            {
                "case_id": "case-u",
                "request_id": "r-1",
                "station": "daxing",
                "status": "resolved",
                "priority": "urgent",
                "resolved_by": "dx-01",
                "assignee_name": "王晨光",
                "resolved_at": "2023-05-29T23:30:00+08:00",
            },
            subject="case-u",
            correlation_id="r-1",
            sequence=9,
        )
    )
    assert sorted(world.phones()[1:]) == ["13700000002", "13812345678"]
    to_family = find_messages(
        world.store, {"case_id": "case-u", "recipient_role": "emergency_contact"}
    )
    assert "邹**" in to_family[0]["body"]
    assert "紧急求助已由大兴镇社会工作服务站" in to_family[0]["body"]


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
