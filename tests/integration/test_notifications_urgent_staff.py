"""Urgent work is never held back (issue 14), on the real broker and store with the
default limits: staff SMS are limited only per number and message kind, far higher than
residents' SMS, which keep their 10 an hour; every hold is in the history and counted."""

from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from services.common import config
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    REQUEST_RECEIVED,
)
from services.notifications.service import NotificationsService
from services.notifications.store import NotificationStore
from tests import notifications_support
from tests.fakes.sms_providers import FakeSmsGateway
from tests.integration.test_notifications_rules import (
    CASE,
    HEAD,
    WORKER,
    assigned,
    publish,
    received,
    sms_to,
)
from tests.notifications_support import NIGHT, only
from tests.notifications_support import assigned as assigned_event
from tests.support import find_messages, wait_until

# the delivery fixtures with a controllable clock and fake carriers
fakes, world = notifications_support.fakes, notifications_support.world


def held_count(recipient, kind, reason):
    return (
        REGISTRY.get_sample_value(
            "shegong_sms_held_total", {"recipient": recipient, "kind": kind, "reason": reason}
        )
        or 0.0
    )


@pytest.fixture
def gateway():
    fake = FakeSmsGateway().start()
    yield fake
    fake.stop()


@pytest.fixture
def service(container_factory, settings, monkeypatch, gateway, database, topology):
    """The notifications service with the default limits (no rate limit setting)."""
    for key, value in {
        "SHEGONG_SMS_PROVIDERS": "http",
        "SHEGONG_SMS_GATEWAY_URL": gateway.url,
        "SHEGONG_SMS_GATEWAY_TOKEN": gateway.token,
        # runs at any hour: quiet hours for staff are tested with a clock below
        "SHEGONG_QUIET_HOURS_START": "00:00",
        "SHEGONG_QUIET_HOURS_END": "00:00",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("SHEGONG_SMS_RATE_LIMIT_PER_HOUR", "SHEGONG_SMS_STAFF_RATE_LIMIT_PER_HOUR"):
        monkeypatch.delenv(key, raising=False)
    store = NotificationStore(database("notifications"))
    # the Settings of the environment above: what the worker is configured with
    container = container_factory(NotificationsService, config.settings().nameko_config())
    container.start()
    return store


def test_fifteen_urgent_cases_reach_the_worker_at_once_while_a_residents_11th_sms_waits(
    service, settings, gateway
):
    resident_held = held_count("resident", "case_accepted_resident", "rate_limited")
    for number in range(15):
        publish(
            settings, CASE_ASSIGNED, {**assigned(), "case_id": f"case-{number:04d}-urgent01"}, 2
        )
    assert len(sms_to(gateway, WORKER["phone"], 15)) == 15
    for number in range(12):
        publish(
            settings,
            CASE_ESCALATED,
            {
                **CASE,
                "case_id": f"case-{number:04d}-escalate",
                "status": "assigned",
                "priority": "urgent",
                "reason": "sla_breach",
                "station_head": HEAD,
                "escalated_at": "2023-05-29T08:30:00+08:00",
            },
            4,
        )
    assert len(sms_to(gateway, HEAD["phone"], 12)) == 12

    def staff_messages():
        return find_messages(service, {"recipient_role": "worker"}) + find_messages(
            service, {"recipient_role": "station_head", "channel": "sms"}
        )

    # the gateway has an SMS a moment before the worker records it sent
    staff = wait_until(
        lambda: (found := staff_messages()) and {m["status"] for m in found} == {"sent"} and found,
        10,
        message="every staff SMS recorded sent",
    )
    assert len(staff) == 27 and {m["status"] for m in staff} == {"sent"}
    assert not [h for m in staff for h in m["history"] if h["kind"] == "held"]

    publish(settings, REQUEST_RECEIVED, received())
    wait_until(lambda: service.contact("r-1"), 15, message="the contact")
    # one after the other: the limit's count is not atomic across concurrent handlers
    for number in range(11):
        case_id = f"case-{number:04d}-accepted"
        publish(
            settings,
            CASE_ACCEPTED,
            {
                **CASE,
                "case_id": case_id,
                "status": "accepted",
                "accepted_by": "dx-01",
                "assignee_name": "王晨光",
                "accepted_at": "2023-05-29T08:05:00+08:00",
            },
            3,
        )
        wait_until(
            lambda: [
                m
                for m in find_messages(service, {"case_id": case_id})
                if m["status"] == "sent" or m.get("due_ms", 0) > m["created_ms"]
            ],
            15,
            message=f"the resident's SMS of {case_id} sent or held",
        )
    assert len(sms_to(gateway, "13812345678", 10)) == 10
    [waiting] = wait_until(
        lambda: find_messages(service, {"recipient_role": "resident", "status": "created"}),
        15,
        message="the resident's 11th SMS held",
    )
    [hold] = [h for h in waiting["history"] if h["kind"] == "held"]
    assert hold["reason"] == "rate_limited"
    assert len([s for s in gateway.accepted if s["to"] == "13812345678"]) == 10
    assert held_count("resident", "case_accepted_resident", "rate_limited") > resident_held


def test_staff_sms_go_at_night_past_the_residents_limit_and_a_staff_flood_is_held_per_kind(world):
    """With a clock: the fixture's residents' limit is 3 an hour; staff get 5 per kind."""
    world.settings = replace(
        world.settings,
        notifications=replace(world.settings.notifications, staff_rate_limit_per_hour=5),
    )
    world.clock.now = NIGHT
    before = held_count("staff", "case_assigned_worker", "staff_rate_limited")
    for number in range(6):
        world.handle(assigned_event(case_id=f"case-{number}"))
    assert world.phones() == ["13900000101"] * 5  # at night, past the residents' 3
    [flooded] = find_messages(world.store, {"status": "created"})
    [hold] = [h for h in flooded["history"] if h["kind"] == "held"]
    assert hold["reason"] == "staff_rate_limited" and flooded["template"] == "case_assigned_worker"
    assert held_count("staff", "case_assigned_worker", "staff_rate_limited") == before + 1
    # another kind of alert to the same worker is not held by that flood
    alert = assigned_event(case_id="case-alert")
    alert["data"]["origin"] = "checkin_missed"
    world.handle(alert)
    assert world.phones() == ["13900000101"] * 6
    assert only(world, "case-alert")["template"] == "checkin_missed_worker"
    world.clock.advance(hours=1)  # the flood's hour is over: the held one goes
    world.sweep()
    assert (
        world.phones() == ["13900000101"] * 7
        and find_messages(world.store, {"status": "created"}) == []
    )
