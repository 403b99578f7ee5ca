"""The station head's in-app inbox on the real store: messages get a read state, the
head lists what is unread and marks a message read; nobody else can (issue 17)."""

import pytest
from werkzeug.test import Client

from services.common import auth
from services.common.contracts import CASE_ESCALATED, CASE_SLA_BREACHED
from services.common.envelope import new_event
from services.notifications import api, handlers
from services.notifications.providers import DevFileProvider
from services.notifications.store import NotificationStore
from tests.fakes.relay import RecordingRelay
from tests.support import find_messages

HEAD = {"id": "dx-02", "name": "陈静", "phone": "13900000102"}


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "other_head": issue("xx-01", "station_head", "xiaxiang", "吴军"),
        "admin": issue("district-admin", "district_admin"),
    }


@pytest.fixture
def inbox(settings, database, topology, tmp_path):
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    case = {"request_id": "r-1", "station": "daxing", "priority": "urgent"}
    escalated = new_event(
        CASE_ESCALATED,
        {
            **case,
            "case_id": "case-1",
            "status": "assigned",
            "reason": "manual",
            "station_head": HEAD,
            "escalated_at": "2026-11-30T08:00:00+08:00",
        },
        subject="case-1",
        correlation_id="r-1",
        sequence=3,
    )
    breached = new_event(
        CASE_SLA_BREACHED,
        {
            **case,
            "case_id": "case-2",
            "status": "assigned",
            "kind": "acceptance",
            "due_at": "2026-11-30T08:30:00+08:00",
            "breached_at": "2026-11-30T08:30:05+08:00",
        },
        subject="case-2",
        correlation_id="r-2",
        sequence=4,
    )
    for event in (escalated, breached):
        handlers.notify(
            store,
            RecordingRelay(),
            DevFileProvider(tmp_path / "sms.jsonl"),
            settings,
            event,
            event["data"],
        )
    return store, Client(api.create_app(settings))


def listed(client, query, headers):
    answer = client.get(f"/v1/messages?{query}", headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json["messages"]


def test_the_head_lists_unread_messages_and_marks_them_read(inbox, tokens):
    store, client = inbox
    unread = listed(client, "inbox=true&unread=true", tokens["head"])
    # to the head by name (escalated) and to the station's head role (breach): no SMS here
    assert sorted(m["case_id"] for m in unread) == ["case-1", "case-2"]
    assert all(m["channel"] == "in_app" and m["read_at"] is None for m in unread)
    first = unread[0]["message_id"]
    done = client.post(f"/v1/messages/{first}/read", json={}, headers=tokens["head"])
    assert done.status_code == 200 and done.json["read_by"] == "dx-02" and done.json["read_at"]
    assert done.json["history"][-1]["kind"] == "read"
    again = client.post(f"/v1/messages/{first}/read", json={}, headers=tokens["head"])
    assert again.status_code == 200 and again.json["read_at"] == done.json["read_at"]
    assert len(again.json["history"]) == len(done.json["history"])  # no second mark
    assert [m["message_id"] for m in listed(client, "inbox=true&unread=true", tokens["head"])] == [
        unread[1]["message_id"]
    ]
    assert [m["message_id"] for m in listed(client, "inbox=true&unread=false", tokens["head"])] == [
        first
    ]
    # a worker's inbox is empty; the head's SMS is not part of it
    assert listed(client, "inbox=true", tokens["worker"]) == []
    assert len(listed(client, "inbox=true", tokens["head"])) == 2


def test_only_the_recipient_marks_a_message_read(inbox, tokens):
    store, client = inbox
    [message] = [m for m in find_messages(store, {"case_id": "case-1", "channel": "in_app"})]
    for who, status in (("worker", 403), ("other_head", 403), ("admin", 403)):
        refused = client.post(f"/v1/messages/{message['_id']}/read", json={}, headers=tokens[who])
        assert refused.status_code == status, who
    [sms] = find_messages(store, {"case_id": "case-1", "channel": "sms"})
    assert (
        client.post(f"/v1/messages/{sms['_id']}/read", json={}, headers=tokens["head"]).status_code
        == 409
    )
    assert client.post("/v1/messages/nope/read", json={}, headers=tokens["head"]).status_code == 404
    assert (
        client.post(
            f"/v1/messages/{message['_id']}/read", data="x", headers=tokens["head"]
        ).status_code
        == 415
    )
    assert store.get(message["_id"]).get("read_at") is None
    assert client.get("/v1/messages?unread=maybe", headers=tokens["head"]).status_code == 422
