"""The notifications API over real HTTP: a message's whole history, the filtered list,
and the providers' delivery receipts in their own callback shapes."""

import threading

import pytest
import requests
from werkzeug.serving import make_server

from services.common import auth, config
from services.common.contracts import CASE_ASSIGNED
from services.common.envelope import new_event
from services.notifications import api, handlers
from services.notifications.providers import HttpGatewayProvider
from services.notifications.providers.cloud import AliyunSmsProvider, TencentSmsProvider
from services.notifications.store import NotificationStore
from tests.fakes.relay import RecordingRelay
from tests.fakes.sms_providers import FakeAliyunSms, FakeSmsGateway, FakeTencentSms
from tests.support import find_messages, free_port

RECEIPT_TOKEN = "receipt-token-for-tests"


@pytest.fixture
def carriers():
    fakes = {
        "aliyun": FakeAliyunSms().start(),
        "tencent": FakeTencentSms().start(),
        "http": FakeSmsGateway().start(),
    }
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture
def system(env, monkeypatch, database, carriers, topology):
    monkeypatch.setenv("SHEGONG_SMS_RECEIPT_TOKEN", RECEIPT_TOKEN)
    settings = config.settings()
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    aliyun, tencent, gateway = carriers["aliyun"], carriers["tencent"], carriers["http"]
    policy = config.notification_settings(
        {
            "ALIYUN_SMS_ACCESS_KEY_ID": aliyun.access_key_id,
            "ALIYUN_SMS_ACCESS_KEY_SECRET": aliyun.secret,
            "ALIYUN_SMS_ENDPOINT": aliyun.endpoint,
            "ALIYUN_SMS_PROTOCOL": "http",
            "TENCENT_SMS_SECRET_ID": tencent.secret_id,
            "TENCENT_SMS_SECRET_KEY": tencent.secret_key,
            "TENCENT_SMS_ENDPOINT": tencent.endpoint,
            "TENCENT_SMS_SCHEME": "http",
            "TENCENT_SMS_APP_ID": "1400000001",
        }
    )
    providers = {
        "aliyun": AliyunSmsProvider(policy),
        "tencent": TencentSmsProvider(policy),
        "http": HttpGatewayProvider(gateway.url, gateway.token, 2),
    }
    port = free_port()
    server = make_server("127.0.0.1", port, api.create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield System(settings, store, providers, f"http://127.0.0.1:{port}")
    server.shutdown()


class System:
    def __init__(self, settings, store, providers, base):
        self.settings, self.store, self.providers, self.base = settings, store, providers, base
        secret = settings.token_secret
        self.tokens = {
            "admin": auth.issue_token(secret, "district-admin", "district_admin"),
            "daxing": auth.issue_token(secret, "dx-01", "worker", "daxing", "王晨光"),
            "xiaxiang": auth.issue_token(secret, "xx-02", "worker", "xiaxiang", "郑芳"),
        }

    def send(self, provider, case_id):
        """A case.assigned handled with ``provider`` as the only carrier; the message."""
        event = new_event(
            CASE_ASSIGNED,
            {
                "case_id": case_id,
                "request_id": "r-1",
                "station": "daxing",
                "status": "assigned",
                "priority": "urgent",
                "need_type": "medicine_purchase",
                "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
                "resident": {"name": "邹**", "phone": "138****5678"},
                "assigned_at": "2023-05-29T08:00:01+08:00",
            },
            subject=case_id,
            correlation_id="r-1",
            sequence=2,
        )
        handlers.notify(
            self.store,
            RecordingRelay(),
            self.providers[provider],
            self.settings,
            event,
            event["data"],
        )
        [message] = find_messages(self.store, {"case_id": case_id})
        return message

    def get(self, path, who="daxing", **params):
        return requests.get(
            self.base + path,
            params=params,
            timeout=10,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )

    def receipts(self, provider, payload, token=RECEIPT_TOKEN):
        return requests.post(
            f"{self.base}/v1/receipts/{provider}", params={"token": token}, json=payload, timeout=10
        )


def history(system, message_id):
    answer = system.get(f"/v1/messages/{message_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_aliyun_receipts_in_their_shape_repeated_and_late(system):
    message = system.send("aliyun", "case-a")
    report = {
        "phone_number": "13900000101",
        "send_time": "2023-05-29 08:00:02",
        "report_time": "2023-05-29 08:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": message["provider_message_id"],
        "out_id": message["_id"],
    }
    late_failure = {
        **report,
        "success": False,
        "err_code": "MK:0001",
        "report_time": "2023-05-29 08:00:03",
    }
    answer = system.receipts("aliyun", [report, report, late_failure])
    assert answer.status_code == 200 and answer.json()["code"] == 0
    shown = history(system, message["_id"])
    assert shown["status"] == "delivered" and shown["recipient"] == "139****0101"
    assert "13900000101" not in answer.text + str(shown)
    steps = [(h["kind"], h.get("status") or h.get("outcome")) for h in shown["history"]]
    assert steps == [
        ("status", "created"),
        ("status", "sending"),
        ("attempt", "accepted"),
        ("status", "sent"),
        ("receipt", "delivered"),
        ("status", "delivered"),
        ("receipt", "failed"),
    ]
    attempt = shown["history"][2]
    assert (attempt["provider"], attempt["attempt"]) == ("aliyun", 1)


def test_tencent_receipts_out_of_order(system):
    message = system.send("tencent", "case-t")
    serial = message["provider_message_id"]
    failed = {
        "user_receive_time": "2023-05-29 08:00:09",
        "nationcode": "86",
        "mobile": "13900000101",
        "report_status": "FAIL",
        "errmsg": "MN:0017",
        "description": "关机",
        "sid": serial,
    }
    delivered = {
        **failed,
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
    }
    answer = system.receipts("tencent", [failed])
    assert answer.json()["result"] == 0
    assert system.receipts("tencent", [delivered]).json()["accepted"] == 1
    shown = history(system, message["_id"])
    assert shown["status"] == "failed" and shown["reason"] == "MN:0017"


def test_gateway_receipts_and_bad_or_unauthenticated_callbacks(system):
    message = system.send("http", "case-h")
    assert (
        system.receipts("http", {"id": "x", "status": "delivered"}, token="wrong").status_code
        == 401
    )
    bad = system.receipts("http", {"id": message["provider_message_id"], "status": "lost"})
    assert bad.status_code == 422 and "status" in str(bad.json()["error"]["fields"])
    assert system.receipts("carrier-pigeon", {}).status_code == 404
    assert history(system, message["_id"])["status"] == "sent"  # nothing changed
    ok = system.receipts(
        "http",
        {"id": message["provider_message_id"], "status": "delivered", "client_ref": message["_id"]},
    )
    assert ok.json()["accepted"] == 1
    assert history(system, message["_id"])["status"] == "delivered"
    assert (
        system.receipts("http", {"id": "unknown", "status": "delivered"}).json()["unmatched"] == 1
    )


def test_messages_are_listed_with_filters_and_only_for_their_station(system):
    system.send("http", "case-1")
    system.send("http", "case-2")
    listed = system.get("/v1/messages", case_id="case-1").json()["messages"]
    assert [m["case_id"] for m in listed] == ["case-1"]
    assert len(system.get("/v1/messages", recipient_role="worker").json()["messages"]) == 2
    assert system.get("/v1/messages", status="delivered").json()["messages"] == []
    assert (
        len(
            system.get("/v1/messages", who="admin", since="2000-01-01T00:00:00+08:00").json()[
                "messages"
            ]
        )
        == 2
    )
    assert (
        system.get("/v1/messages", who="admin", until="2000-01-01T00:00:00+08:00").json()[
            "messages"
        ]
        == []
    )
    assert system.get("/v1/messages", since="yesterday").status_code == 422
    assert system.get("/v1/messages", who="xiaxiang").json()["messages"] == []
    assert system.get("/v1/messages", who="xiaxiang", station="daxing").status_code == 403
    message_id = listed[0]["message_id"]
    assert system.get(f"/v1/messages/{message_id}", who="xiaxiang").status_code == 403
    assert system.get("/v1/messages/nope").status_code == 404
