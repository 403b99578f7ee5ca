"""notifications' batch entrypoints (handlers/batch.py) on the real store: a batch of
case.assigned tells each worker once, a repeated event in the batch included, and
publishes the batch's status events together; an invalid event and an event whose
resident is not known yet are returned to be retried alone, the rest done."""

import pytest
from nameko.testing.services import worker_factory

from services.common import config
from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, MESSAGE_SENT
from services.common.envelope import InvalidEvent, new_event
from services.notifications.handlers import RecipientUnknown
from services.notifications.service import NotificationsService
from services.notifications.store import NotificationStore
from tests.fakes.relay import RecordingRelay
from tests.service.test_service_entrypoints import RecordingProvider, received
from tests.support import find_messages


@pytest.fixture
def world(database, monkeypatch):
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_END", "00:00")
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    provider, relay = RecordingProvider(), RecordingRelay(batches_only=True)
    service = worker_factory(
        NotificationsService, store=store, relay=relay, sms=provider, settings=config.settings()
    )
    return store, provider, relay, service


def assigned(case_id, worker):
    return new_event(
        CASE_ASSIGNED,
        {
            "case_id": case_id,
            "request_id": f"r-{case_id}",
            "station": "daxing",
            "status": "assigned",
            "priority": "normal",
            "need_type": "home_visit",
            "assignee": {"id": worker, "name": "王晨光", "phone": f"139000001{worker[-2:]}"},
            "resident": {"name": "邹**", "phone": "138****5678"},
            "assigned_at": "2023-05-29T08:00:01+08:00",
        },
        subject=case_id,
        correlation_id=f"r-{case_id}",
        sequence=2,
    )


def test_a_batch_tells_each_worker_once_and_publishes_together(world):
    store, provider, relay, service = world
    events = [assigned(f"case-{n}", f"dx-0{n % 3 + 1}") for n in range(6)]
    assert service.case_assigned(events + [events[2]]) == {}
    assert sorted(m["phone"] for m in provider.sent) == sorted(
        f"139000001{e['data']['assignee']['id'][-2:]}" for e in events
    )
    assert len(relay.batches) == 1 and len(relay.batches[0]) == 6
    assert all(
        [e["type"] for e in doc["outbox"]] == [MESSAGE_SENT.type] for doc in relay.batches[0]
    )
    assert service.case_assigned(events) == {}  # redelivered: nothing sent again
    assert len(provider.sent) == 6


def test_what_cannot_be_handled_now_is_returned_alone_and_the_rest_is_done(world):
    store, provider, relay, service = world
    bad = {**assigned("case-x", "dx-01"), "data": {"case_id": 42}}
    failures = service.case_assigned([assigned("case-1", "dx-01"), bad])
    assert list(failures) == [1] and isinstance(failures[1], InvalidEvent)
    assert len(provider.sent) == 1

    assert service.request_received([received("r-1")]) == {}
    accepted = new_event(
        CASE_ACCEPTED,
        {
            "case_id": "case-2",
            "request_id": "r-unknown",
            "station": "daxing",
            "status": "accepted",
            "accepted_by": "dx-01",
            "assignee_name": "王晨光",
            "accepted_at": "2023-05-29T08:05:00+08:00",
        },
        subject="case-2",
        correlation_id="r-unknown",
        sequence=3,
    )
    with pytest.raises(RecipientUnknown):
        service.case_accepted(accepted)  # still one at a time: retried by its handler


def test_a_batch_counts_its_own_sms_against_a_numbers_hourly_limit(database, monkeypatch):
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_END", "00:00")
    monkeypatch.setenv("SHEGONG_SMS_STAFF_RATE_LIMIT_PER_HOUR", "3")
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    provider = RecordingProvider()
    service = worker_factory(
        NotificationsService,
        store=store,
        relay=RecordingRelay(),
        sms=provider,
        settings=config.settings(),
    )
    assert service.case_assigned([assigned(f"case-{n}", "dx-01") for n in range(5)]) == {}
    assert len(provider.sent) == 3  # one worker, one kind: three an hour
    held = [m for m in find_messages(store, {}) if m["status"] == "created"]
    assert len(held) == 2 and all(m["history"][-1]["reason"] == "staff_rate_limited" for m in held)


class ReceiptOvertakes(RecordingProvider):
    """The carrier's delivery receipt is written before the send's answer is."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    def send(self, message):
        provider_id = super().send(message)
        current = self.store.get(message["_id"])
        self.store.update(
            current,
            {
                "status": "delivered",
                "history": current["history"]
                + [{"kind": "status", "status": "delivered", "at": "2023-05-29T08:00:02+08:00"}],
            },
        )
        return provider_id


def test_an_outcome_that_lost_to_a_receipt_is_written_again_on_the_newest_version(world):
    store, _, relay, _ = world
    provider = ReceiptOvertakes(store)
    service = worker_factory(
        NotificationsService, store=store, relay=relay, sms=provider, settings=config.settings()
    )
    assert service.case_assigned([assigned("case-1", "dx-01"), assigned("case-2", "dx-02")]) == {}
    for message in find_messages(store, {}):
        assert message["status"] == "delivered"  # the receipt's later status kept
        assert [h["kind"] for h in message["history"]].count("attempt") == 1
        assert message["provider_message_id"].startswith("p-")
    assert len(provider.sent) == 2
