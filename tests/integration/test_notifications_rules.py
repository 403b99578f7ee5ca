"""Every fan-out rule on the real broker: the notifications service runs in a nameko
container, events are published to RabbitMQ, and SMS leave through the HTTP gateway
protocol to a fake carrier. Each rule: the right recipients and the rendered Chinese."""

import json

import pytest
from kombu import Connection, Queue

from services.common import config, messaging
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
    REQUEST_RECEIVED,
)
from services.common.envelope import new_event
from services.common.messaging import EventPublisher
from services.notifications.service import NotificationsService
from services.notifications.store import NotificationStore
from tests.fakes.sms_providers import FakeSmsGateway
from tests.support import find_messages, wait_until

HEAD = {"id": "dx-head", "name": "张站长", "phone": "13900000100"}
WORKER = {"id": "dx-01", "name": "王晨光", "phone": "13900000101"}
RESIDENT = {
    "name": "邹书兰",
    "phone": "13812345678",
    "categories": ["elderly", "living_alone"],
    "emergency_contact": {"name": "李梅", "relation": "女儿", "phone": "13700000002"},
}
CASE = {"case_id": "case-0000-abcdef12", "request_id": "r-1", "station": "daxing"}


@pytest.fixture
def gateway():
    fake = FakeSmsGateway().start()
    yield fake
    fake.stop()


@pytest.fixture
def service(container_factory, settings, monkeypatch, gateway, database, topology):
    for key, value in {
        "SHEGONG_SMS_PROVIDERS": "http",
        "SHEGONG_SMS_GATEWAY_URL": gateway.url,
        "SHEGONG_SMS_GATEWAY_TOKEN": gateway.token,
        "SHEGONG_DUTY_OFFICER_PHONE": "13900000999",
        # these tests run at any hour: quiet hours are tested with a clock
        "SHEGONG_QUIET_HOURS_START": "00:00",
        "SHEGONG_QUIET_HOURS_END": "00:00",
    }.items():
        monkeypatch.setenv(key, value)
    store = NotificationStore(database("notifications"))
    # the Settings of the environment above: what the worker is configured with
    container = container_factory(NotificationsService, config.settings().nameko_config())
    container.start()
    return store


def publish(settings, contract, data, sequence=1):
    event = new_event(
        contract,
        data,
        subject=data.get("case_id", data.get("request_id")),
        correlation_id="r-1",
        sequence=sequence,
    )
    EventPublisher(settings.amqp_uri).publish(event)
    return event


def sms_to(gateway, phone, count=1):
    return wait_until(
        lambda: (
            len([s for s in gateway.accepted if s["to"] == phone]) >= count
            and [s["text"] for s in gateway.accepted if s["to"] == phone]
        ),
        15,
        message=f"SMS to {phone}",
    )


def received(kind=None):
    data = {
        "request_id": "r-1",
        "channel": "alert" if kind else "phone",
        "station": "daxing",
        "resident": RESIDENT,
        "resident_ref": "p_1",
        "need": {"type": "home_visit"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }
    if kind:
        data["source"] = {"system": "grid", "kind": kind, "event_id": "grid-1"}
    return data


def assigned(origin=None, priority="urgent"):
    return {
        **CASE,
        "status": "assigned",
        "priority": priority,
        "need_type": "home_visit",
        "assignee": WORKER,
        "resident": {"name": "邹**", "phone": "138****5678"},
        "origin": origin,
        "assigned_at": "2023-05-29T08:00:01+08:00",
    }


def test_a_missed_check_in_reaches_the_emergency_contact_and_the_duty_worker(
    service, settings, gateway
):
    publish(settings, REQUEST_RECEIVED, received("checkin_missed"))
    [family] = sms_to(gateway, "13700000002")
    assert family == (
        "【宿豫社工】您好，您的家人邹**今日未按时报平安，大兴镇社会工作服务站已安排"
        "社工确认，如方便请尽快与其联系。"
    )
    publish(settings, CASE_ASSIGNED, assigned(origin="checkin_missed"), 2)
    [worker] = sms_to(gateway, "13900000101")
    assert worker == (
        "【宿豫社工】预警：独居老人邹**（138****5678）未按时报平安，已派给您，"
        "请立即电话或上门确认。个案号ABCDEF12。"
    )


def test_an_ordinary_request_tells_no_family_member(service, settings, gateway):
    publish(settings, REQUEST_RECEIVED, received())
    wait_until(lambda: service.contact("r-1"), 15, message="the contact")
    publish(settings, CASE_ASSIGNED, assigned(priority="normal"), 2)
    [worker] = sms_to(gateway, "13900000101")
    assert worker.startswith("【宿豫社工】一般个案：邹**（138****5678）需要上门探访")
    assert [s["to"] for s in gateway.accepted] == ["13900000101"]


def test_accepted_and_resolved_reach_the_resident_and_urgent_ones_the_family(
    service, settings, gateway
):
    publish(settings, REQUEST_RECEIVED, received())
    publish(
        settings,
        CASE_ACCEPTED,
        {
            **CASE,
            "status": "accepted",
            "accepted_by": "dx-01",
            "assignee_name": "王晨光",
            "accepted_at": "2023-05-29T08:05:00+08:00",
        },
        3,
    )
    [accepted] = sms_to(gateway, "13812345678")
    assert accepted == (
        "【宿豫社工】您好，您的求助已由大兴镇社会工作服务站社工王晨光受理，我们会尽快与您联系。"
    )
    publish(
        settings,
        CASE_RESOLVED,
        {
            **CASE,
            "status": "resolved",
            "priority": "urgent",
            "resolved_by": "dx-01",
            "assignee_name": "王晨光",
            "resolved_at": "2023-05-29T10:00:00+08:00",
        },
        7,
    )
    told = sms_to(gateway, "13812345678", 2)
    assert told[1] == (
        "【宿豫社工】您好，您的求助已办结。如还有需要，请随时联系大兴镇社会工作服务站。"
    )
    [family] = sms_to(gateway, "13700000002")
    assert family == (
        "【宿豫社工】您好，您的家人邹**的紧急求助已由大兴镇社会工作服务站社工王晨光办结，特此告知。"
    )


def test_escalation_and_sla_breach_reach_the_station_head_and_the_duty_officer(
    service, settings, gateway
):
    publish(
        settings,
        CASE_ESCALATED,
        {
            **CASE,
            "status": "assigned",
            "reason": "sla_breach",
            "priority": "urgent",
            "station_head": HEAD,
            "escalated_at": "2023-05-29T08:31:00+08:00",
        },
        4,
    )
    [head] = sms_to(gateway, "13900000100")
    assert head == "【宿豫社工】紧急个案ABCDEF12已升级至您（超时未处理），请及时督办。"
    publish(
        settings,
        CASE_SLA_BREACHED,
        {
            **CASE,
            "status": "assigned",
            "kind": "acceptance",
            "priority": "urgent",
            "due_at": "2023-05-29T08:30:00+08:00",
            "breached_at": "2023-05-29T08:30:05+08:00",
        },
        5,
    )
    [officer] = sms_to(gateway, "13900000999")
    assert officer == (
        "【宿豫社工】大兴镇社会工作服务站紧急个案ABCDEF12接单超时（应于08:30前），请关注。"
    )
    inbox = wait_until(
        lambda: (
            len(find_messages(service, {"channel": "in_app"})) == 2
            and find_messages(service, {"channel": "in_app"})
        ),
        15,
        message="in-app messages",
    )
    assert {(m["recipient_role"], m["recipient_id"], m["status"]) for m in inbox} == {
        ("station_head", "dx-head", "sent"),
        ("station_head", "daxing:station_head", "sent"),
    }
    assert any(
        m["body"] == "【宿豫社工】紧急个案ABCDEF12接单超时（应于08:30前），请督办。" for m in inbox
    )
    assert len(gateway.accepted) == 2  # in-app messages are not SMS


def test_message_status_events_are_published(service, settings, gateway):
    queue = Queue(
        "test-message-events",
        exchange=messaging.event_exchange("notifications"),
        routing_key="shegong.message.#",
        durable=False,
        auto_delete=True,
    )
    with Connection(settings.amqp_uri) as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        publish(settings, CASE_ASSIGNED, assigned(), 2)
        event = wait_until(lambda: bound.get(no_ack=True), 15, message="message.sent")
    body = json.loads(event.body)
    assert body["type"] == "shegong.message.sent.v1"
    assert (body["data"]["recipient_role"], body["data"]["status"], body["data"]["provider"]) == (
        "worker",
        "sent",
        "http",
    )
