"""Pure parts of the operations tools: masking a dead letter for the screen, the queue
type arguments, the status verdict, the worker's probe app."""

import json

import pytest

from services.common import messaging, metrics
from services.ops import dead_letter_queue, status


def test_a_dead_letter_body_is_masked_for_the_operator():
    event = {
        "type": "shegong.request.received.v1",
        "data": {
            "resident": {
                "name": "邹书兰",
                "phone": "13812345678",
                "id_number": "320101195001011234",
            },
            "need": {"type": "medicine_purchase", "description": "药吃完了，下雨出不了门"},
            "assignee_name": "王晨光",
            "station": "daxing",
            "count": 3,
        },
    }
    shown = json.dumps(dead_letter_queue.mask_value(None, event), ensure_ascii=False)
    for secret in ("邹书兰", "13812345678", "320101195001011234", "药吃完了", "王晨光"):
        assert secret not in shown
    masked = dead_letter_queue.mask_value(None, event)["data"]
    assert masked["station"] == "daxing" and masked["count"] == 3
    assert masked["need"]["type"] == "medicine_purchase"
    assert masked["resident"]["phone"] == "138****5678"


def test_queue_type_arguments():
    assert messaging.queue_type_arguments("classic") == {}
    assert messaging.queue_type_arguments("quorum") == {"x-queue-type": "quorum"}
    with pytest.raises(ValueError):
        messaging.queue_type_arguments("stream")
    queue = messaging.retry_queue(1000, "quorum")
    # a quorum delay dead-letters back at least once (quorum's default is at most once)
    assert queue.queue_arguments == {
        "x-message-ttl": 1000,
        "x-dead-letter-exchange": "",
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert messaging.retry_queue(1000).queue_arguments == {
        "x-message-ttl": 1000,
        "x-dead-letter-exchange": "",
    }


def row(**overrides):
    return {
        "service": "intake",
        "api": "ready",
        "worker": "ready",
        "outbox_backlog": 0,
        "oldest_pending_s": 0.0,
        "dead_letters": 0,
        **overrides,
    }


@pytest.mark.parametrize(
    "rows, queues, ok",
    [
        ([row()], [], True),
        ([row(worker="-")], [], True),  # no metrics port configured
        ([row(api="down")], [], False),
        ([row(worker="not ready (store)")], [], False),
        ([row(dead_letters=2)], [], False),
        ([row()], None, False),  # the management API did not answer
    ],
)
def test_status_verdict(rows, queues, ok):
    assert status.healthy({"services": rows, "queues": queues}) is ok
    assert "SERVICE" in status.render({"services": rows, "queues": queues})


def call(app, path):
    answer = {}
    body = b"".join(app({"PATH_INFO": path}, lambda s, h: answer.update(status=s, headers=h)))
    return answer["status"], body


def test_the_worker_probe_app():
    checks = {"store": lambda: True, "broker": lambda: False}
    app = metrics.worker_app("casework", checks)
    assert call(app, "/healthz")[0] == "200 OK"
    code, body = call(app, "/readyz")
    assert code.startswith("503") and json.loads(body) == {
        "status": "not_ready",
        "service": "casework",
        "checks": {"store": True, "broker": False},
    }
    checks["broker"] = lambda: True
    assert call(app, "/readyz")[0] == "200 OK"
    code, body = call(app, "/metrics")
    assert code == "200 OK" and b"shegong_events_consumed_total" in body
    assert call(app, "/other")[0].startswith("404")
