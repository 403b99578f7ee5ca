"""Helpers for notifications' delivery tests: the fake carriers over HTTP, a recording
relay, a controllable clock (``clock.now`` is the only time the service reads) and the
events that make messages."""

from datetime import datetime, timedelta, timezone

import pytest

from services.common import clock, config
from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, REQUEST_RECEIVED
from services.common.envelope import new_event
from services.notifications import handlers
from services.notifications.handlers import batch as handlers_batch
from services.notifications.providers import HttpGatewayProvider, ProviderChain
from services.notifications.providers.cloud import AliyunSmsProvider
from services.notifications.store import NotificationStore
from tests.fakes.relay import RecordingRelay
from tests.fakes.sms_providers import FakeAliyunSms, FakeSmsGateway
from tests.support import find_messages

# 10:00 in the district (+08:00): outside quiet hours
DAY = datetime(2023, 5, 29, 2, 0, tzinfo=timezone.utc)
# 23:30 in the district: inside quiet hours (22:00-07:00)
NIGHT = datetime(2023, 5, 29, 15, 30, tzinfo=timezone.utc)


class Relay(RecordingRelay):
    """The shared relay double, with the statuses its message events announced."""

    def types(self, message_id=None):
        return [
            (e["type"], e["data"]["status"])
            for e in self.events
            if message_id is None or e["data"]["message_id"] == message_id
        ]


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
    aliyun_provider = AliyunSmsProvider(
        config.notification_settings(
            {
                "ALIYUN_SMS_ACCESS_KEY_ID": aliyun.access_key_id,
                "ALIYUN_SMS_ACCESS_KEY_SECRET": aliyun.secret,
                "ALIYUN_SMS_ENDPOINT": aliyun.endpoint,
                "ALIYUN_SMS_PROTOCOL": "http",
            }
        )
    )
    chain = ProviderChain([aliyun_provider, HttpGatewayProvider(gateway.url, gateway.token, 2)])
    return World(store, Relay(), chain, settings, aliyun, gateway, Clock(monkeypatch, DAY))


class World:
    def __init__(self, store, relay, chain, settings, aliyun, gateway, clock_):
        self.store, self.relay, self.chain, self.settings = store, relay, chain, settings
        self.aliyun, self.gateway, self.clock = aliyun, gateway, clock_

    def handle(self, envelope):
        """What the service's entrypoint for the event does."""
        if envelope["type"] == REQUEST_RECEIVED.type:
            handlers_batch.remember_contacts(self.store, [(0, envelope, envelope["data"])])
        handlers.notify(
            self.store, self.relay, self.chain, self.settings, envelope, envelope["data"]
        )

    def sweep(self):
        return handlers_batch.deliver_due(self.store, self.relay, self.chain, self.settings)

    def phones(self):
        """Every SMS a phone received, from either carrier."""
        return [s["to"] for s in self.aliyun.accepted] + [s["to"] for s in self.gateway.accepted]


def assigned(case_id="case-1", priority="urgent", event_id=None):
    return new_event(
        CASE_ASSIGNED,
        {
            "case_id": case_id,
            "request_id": "r-1",
            "station": "daxing",
            "status": "assigned",
            "priority": priority,
            "need_type": "medicine_purchase",
            "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
            "resident": {"name": "邹**", "phone": "138****5678"},
            "assigned_at": "2023-05-29T10:00:00+08:00",
        },
        subject=case_id,
        correlation_id="r-1",
        sequence=2,
        event_id=event_id,
    )


def received():
    return new_event(
        REQUEST_RECEIVED,
        {
            "request_id": "r-1",
            "channel": "phone",
            "station": "daxing",
            "resident": {
                "name": "邹书兰",
                "phone": "13812345678",
                "categories": ["elderly"],
                "emergency_contact": {"name": "李梅", "relation": "女儿", "phone": "13700000002"},
            },
            "resident_ref": "p_1",
            "need": {"type": "medicine_purchase"},
            "received_at": "2023-05-29T08:00:00+08:00",
        },
        subject="r-1",
        correlation_id="r-1",
        sequence=1,
    )


def accepted(case_id="case-n"):
    return new_event(
        CASE_ACCEPTED,
        {
            "case_id": case_id,
            "request_id": "r-1",
            "station": "daxing",
            "status": "accepted",
            "accepted_by": "dx-01",
            "assignee_name": "王晨光",
            "accepted_at": "2023-05-29T23:30:00+08:00",
        },
        subject=case_id,
        correlation_id="r-1",
        sequence=3,
    )


def only(world, case_id="case-1"):
    [message] = find_messages(world.store, {"case_id": case_id})
    return message
