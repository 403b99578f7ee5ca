"""intake's HTTP API in-process (WSGI) on the real store and broker: authentication, bad
input, idempotency, the broker down, correlation ids, errors as JSON. casework's and
reporting's (illegal transitions, station scope): test_http_apis_cases_reports.py.
gunicorn serves the same apps in the end-to-end test."""

import os
import threading

import pytest
from kombu import Connection
from werkzeug.test import Client

from services.common import auth, config
from services.common.contracts import REQUEST_RECEIVED
from services.common.messaging import entrypoint_queue
from services.intake import api as intake_api
from tests.http_support import bearer
from tests.support import story_request, wait_until

CONSUMER_QUEUE = entrypoint_queue(REQUEST_RECEIVED, "casework", "request_received").name


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


def queued(settings, queue_name=CONSUMER_QUEUE):
    with Connection(settings.amqp_uri) as connection:
        return connection.default_channel.queue_declare(queue_name, passive=True).message_count


def stored_requests(database):
    return database("intake")["requests"].count_documents({})


def test_a_request_is_recorded_published_and_readable(intake, settings, tokens, database):
    answer = intake.post("/v1/requests", json=story_request(), headers=bearer(tokens["daxing"]))
    assert answer.status_code == 202
    request_id = answer.json["request_id"]
    assert answer.json["status_url"] == f"/v1/requests/{request_id}"
    assert queued(settings) == 1
    # the published event leaves the document (its progress mark follows in a moment)
    wait_until(
        lambda: database("intake")["requests"].find_one({"_id": request_id})["outbox"] == [],
        5,
        message="the published event to leave the document",
    )
    stored = database("intake")["requests"].find_one({"_id": request_id})
    assert "13812345678" not in repr(stored) and "邹书兰" not in repr(stored)  # masked
    status = intake.get(answer.json["status_url"], headers=bearer(tokens["daxing"]))
    assert status.status_code == 200
    assert status.json["status"] == "received" and status.json["case_id"] is None
    assert status.json["resident"] == {"name": "邹**", "phone": "138****5678"}
    other_station = bearer(tokens["xiaxiang"])
    assert intake.get(answer.json["status_url"], headers=other_station).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}],
)
def test_no_valid_token_no_entry(intake, headers, database):
    answer = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    assert stored_requests(database) == 0


def test_a_token_signed_with_another_secret_is_refused(intake):
    forged = auth.issue_token("not-the-secret", "x", "district_admin")
    assert (
        intake.post("/v1/requests", json=story_request(), headers=bearer(forged)).status_code == 401
    )


BAD_BODIES = [
    ("resident.phone", story_request(resident={"name": "邹书兰", "phone": "12345"})),
    ("station", story_request(station="atlantis")),
    ("need.type", story_request(need={"type": "teleportation"})),
    ("channel", story_request(channel="carrier_pigeon")),
    ("resident", {k: v for k, v in story_request().items() if k != "resident"}),
    ("resident.name", story_request(resident={"name": {"$gt": ""}, "phone": "13812345678"})),
    ("resident.phone", story_request(resident={"name": "邹书兰", "phone": {"$ne": None}})),
    (
        "resident.categories",
        story_request(resident={"name": "x", "phone": "13812345678", "categories": ["vip"]}),
    ),
    ("received_at", story_request(received_at="yesterday")),
    ("received_at", story_request(received_at="2023-05-29T08:00:00")),
    ("received_at", story_request(received_at="2099-05-29T08:00:00+08:00")),
    # before the stations existed: a typo (issue 26)
    ("received_at", story_request(received_at="2000-05-29T08:00:00+08:00")),
    ("surprise", story_request(surprise=1)),
]


@pytest.mark.parametrize("field, body", BAD_BODIES, ids=[f for f, _ in BAD_BODIES])
def test_bad_input_gets_a_field_level_error_and_changes_nothing(
    intake, settings, tokens, database, field, body
):
    answer = intake.post("/v1/requests", json=body, headers=bearer(tokens["admin"]))
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    node = fields
    for part in field.split("."):
        assert part in node, fields
        node = node[part]
    assert stored_requests(database) == 0 and queued(settings) == 0


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"channel": "phone"}', "text/plain", 415),
        (b"\xff\xfe", "application/json", 400),
        (b"{" + b" " * (1024 * 1024 + 10) + b"}", "application/json", 413),
    ],
)
def test_malformed_bodies_are_refused(
    intake, settings, tokens, database, data, content_type, status
):
    answer = intake.post(
        "/v1/requests", data=data, content_type=content_type, headers=bearer(tokens["admin"])
    )
    assert answer.status_code == status and answer.json["error"]["message"]
    assert stored_requests(database) == 0 and queued(settings) == 0


def test_station_staff_record_requests_for_their_own_station_only(intake, tokens, database):
    answer = intake.post("/v1/requests", json=story_request(), headers=bearer(tokens["xiaxiang"]))
    assert answer.status_code == 403 and stored_requests(database) == 0


def test_the_same_idempotency_key_replays_the_same_answer(intake, settings, tokens, database):
    headers = bearer(tokens["daxing"], **{"Idempotency-Key": "call-0800"})
    first = intake.post("/v1/requests", json=story_request(), headers=headers)
    again = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json == again.json and again.headers["Idempotent-Replayed"] == "true"
    assert stored_requests(database) == 1 and queued(settings) == 1
    other = intake.post("/v1/requests", json=story_request(channel="walk_in"), headers=headers)
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_conflict"
    assert stored_requests(database) == 1


def test_concurrent_posts_with_one_key_make_one_request(settings, topology, database, tokens):
    database("intake")
    app = intake_api.create_app(settings)
    answers = []

    def post():
        answers.append(
            Client(app).post(
                "/v1/requests",
                json=story_request(),
                headers=bearer(tokens["daxing"], **{"Idempotency-Key": "same"}),
            )
        )

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {202}
    assert len({a.json["request_id"] for a in answers}) == 1
    assert stored_requests(database) == 1 and queued(settings) == 1


def test_broker_down_answers_503_and_records_nothing(settings, database, tokens):
    down = config.settings({**os.environ, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"})
    client = Client(intake_api.create_app(down))
    answer = client.post("/v1/requests", json=story_request(), headers=bearer(tokens["admin"]))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "nothing was recorded" in answer.json["error"]["message"]
    assert stored_requests(database) == 0
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"] == {"store": True, "broker": False, "auth": True}
    assert client.get("/healthz").status_code == 200


def test_with_the_broker_down_a_live_key_still_answers_and_nothing_new_is_recorded(
    intake, settings, database, tokens
):
    headers = bearer(tokens["daxing"], **{"Idempotency-Key": "call-0930"})
    first = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert first.status_code == 202
    down = config.settings({**os.environ, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"})
    client = Client(intake_api.create_app(down))
    # the key is held by its request (issue 24): read once while the broker is down
    again = client.post("/v1/requests", json=story_request(), headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    other = client.post("/v1/requests", json=story_request(channel="walk_in"), headers=headers)
    assert other.status_code == 409
    fresh = bearer(tokens["daxing"], **{"Idempotency-Key": "call-0931"})
    assert client.post("/v1/requests", json=story_request(), headers=fresh).status_code == 503
    assert stored_requests(database) == 1


def test_correlation_ids_are_echoed_when_sane_and_replaced_when_not(intake):
    assert (
        intake.get("/healthz", headers={"X-Correlation-Id": "call-0800.1"}).headers[
            "X-Correlation-Id"
        ]
        == "call-0800.1"
    )
    replaced = intake.get("/healthz", headers={"X-Correlation-Id": 'x forged {"level": "ERROR"}'})
    assert replaced.headers["X-Correlation-Id"] != 'x forged {"level": "ERROR"}'
    assert len(replaced.headers["X-Correlation-Id"]) == 36


def test_unknown_paths_and_methods_answer_json(intake, tokens):
    missing = intake.get("/v2/nothing", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = intake.delete("/v1/requests", headers=bearer(tokens["admin"]))
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.json["error"]["code"] == "method_not_allowed"


def test_an_api_without_a_token_secret_is_not_ready_and_lets_no_one_in(settings, tokens):
    unconfigured = config.settings({**os.environ, "SHEGONG_TOKEN_SECRET": ""})
    client = Client(intake_api.create_app(unconfigured))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["auth"] is False
    assert client.get("/v1/requests/x", headers=bearer(tokens["admin"])).status_code == 401
