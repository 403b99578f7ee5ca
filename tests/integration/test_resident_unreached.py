"""A resident who was not told: an SMS to the resident that ends failed reaches casework
as message.failed; the case records it and case.resident_unreached goes out through the
case's outbox on the real broker; notifications puts it in the case owner's inbox
(issue 17)."""

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.common import auth, clock
from services.common.contracts import CASE_RESIDENT_UNREACHED, MESSAGE_FAILED
from services.common.envelope import load_event, new_event
from services.common.messaging import EventPublisher
from services.common.outbox import OutboxRelay
from services.notifications import api as notifications_api
from services.notifications import handlers as notification_handlers
from services.notifications.providers import DevFileProvider
from services.notifications.store import NotificationStore
from tests.fakes.relay import RecordingRelay
from tests.support import add_case, seeded_case_store, tap, wait_until


@pytest.fixture
def world(settings, database, topology):
    store = seeded_case_store(database)
    request = {
        "request_id": "r-1",
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"]},
        "resident_ref": "p_1",
        "need": {"type": "home_visit", "description": "探访"},
        "received_at": "2026-11-30T08:00:00+08:00",
    }
    roster = [
        domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
        for w in store.roster("daxing")
        if w.id in ("dx-01", "dx-02")
    ]
    case, events = domain_opening.open_case("case-1", request, roster, {}, clock.now())
    add_case(store, case, handlers.to_envelopes(case, events, None, "e-0"))
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": store.cases}, 0.2)
    return store, relay, case


def failed(recipient_role="resident", message_id="evt-9:resident:case_accepted_resident"):
    return new_event(
        MESSAGE_FAILED,
        {
            "message_id": message_id,
            "case_id": "case-1",
            "request_id": "r-1",
            "station": "daxing",
            "recipient_role": recipient_role,
            "channel": "sms",
            "template": "case_accepted_resident",
            "status": "failed",
            "provider": "aliyun",
            "reason": "isv.MOBILE_NUMBER_ILLEGAL",
            "failed_at": "2026-11-30T09:00:00+08:00",
        },
        subject=message_id,
        correlation_id="r-1",
        sequence=3,
    )


def test_the_case_records_it_and_its_owner_is_asked_to_phone(world, settings, database, tmp_path):
    store, relay, case = world
    events = tap(
        settings.amqp_uri, "casework", "test-unreached", routing_key=CASE_RESIDENT_UNREACHED.type
    )
    failure = failed()
    handlers.record_resident_unreached(store, relay, *load_event(failure, MESSAGE_FAILED))
    handlers.record_resident_unreached(store, relay, *load_event(failure, MESSAGE_FAILED))
    stored, _ = store.get("case-1")
    unreached = [a for a in stored.actions if a["type"] == "resident_unreached"]
    assert len(unreached) == 1 and "isv.MOBILE_NUMBER_ILLEGAL" in unreached[0]["note"]
    published = wait_until(events, 5, message="case.resident_unreached on the broker")
    assert len(published) == 1
    event = published[0]
    assert event["data"]["assignee"]["id"] == case.assignee["id"]
    assert event["causationid"] == failure["id"]
    # the case shows it to its staff
    token = auth.issue_token(settings.token_secret, "dx-01", "worker", "daxing", "王晨光")
    headers = {"Authorization": f"Bearer {token}"}
    shown = Client(casework_api.create_app(settings)).get("/v1/cases/case-1", headers=headers)
    assert shown.json["actions"][-1]["type"] == "resident_unreached"
    # notifications: the owner's inbox, in-app only (no SMS to anyone)
    messages = NotificationStore(database("notifications"))
    messages.ensure_indexes()
    envelope, data = load_event(event, CASE_RESIDENT_UNREACHED)
    notification_handlers.notify(
        messages,
        RecordingRelay(),
        DevFileProvider(tmp_path / "sms.jsonl"),
        settings,
        envelope,
        data,
    )
    inbox = (
        Client(notifications_api.create_app(settings))
        .get("/v1/messages?inbox=true&unread=true", headers=headers)
        .json["messages"]
    )
    assert [(m["case_id"], m["channel"]) for m in inbox] == [("case-1", "in_app")]
    assert "电话联系居民" in inbox[0]["body"]
    assert not (tmp_path / "sms.jsonl").exists()


def test_other_failures_change_no_case(world, settings):
    store, relay, _ = world
    before, _ = store.get("case-1")
    for event in (
        failed("worker", "evt-1:worker:case_assigned_worker"),
        new_event(
            MESSAGE_FAILED,
            {**failed()["data"], "case_id": None},
            subject="m",
            correlation_id="r-1",
            sequence=1,
        ),
        new_event(
            MESSAGE_FAILED,
            {**failed()["data"], "case_id": "case-nope"},
            subject="m",
            correlation_id="r-1",
            sequence=1,
        ),
    ):
        handlers.record_resident_unreached(store, relay, *load_event(event, MESSAGE_FAILED))
    after, _ = store.get("case-1")
    assert after.version == before.version and after.actions == before.actions


def test_a_batch_records_each_resident_once_and_passes_over_the_rest(world):
    store, relay, _ = world
    resident, twice = failed(), failed()
    batch = [
        load_event(event, MESSAGE_FAILED)
        for event in (
            resident,
            failed("worker", "evt-1:worker:case_assigned_worker"),
            twice,
            failed(message_id="evt-10:resident:case_resolved_resident"),
        )
    ]
    assert (
        handlers.record_residents_unreached(
            store, relay, [(n, *item) for n, item in enumerate(batch)]
        )
        == {}
    )
    stored, _ = store.get("case-1")
    assert sorted(a["message_id"] for a in stored.actions if a["type"] == "resident_unreached") == [
        "evt-10:resident:case_resolved_resident",
        "evt-9:resident:case_accepted_resident",
    ]
