"""The HTTP APIs in-process (WSGI) on the real store and broker: authentication, bad
input, idempotency, illegal transitions, station scope. gunicorn serves the same
apps in the end-to-end test."""
import os
import threading

import pytest
from kombu import Connection
from werkzeug.test import Client

from services.common import auth, config
from services.common.contracts import REQUEST_RECEIVED
from services.common.envelope import load_event, new_event
from services.common.messaging import handler_queue
from services.casework import api as casework_api
from services.casework import handlers, seed
from services.casework.store import CaseStore
from services.intake import api as intake_api
from services.reporting import api as reporting_api
from services.reporting import handlers as reporting_handlers
from services.reporting.store import ReportStore
from tests.support import story_request, wait_until

CONSUMER_QUEUE = handler_queue(REQUEST_RECEIVED, "casework", "open_case").name


@pytest.fixture
def tokens(settings):
    secret = settings.token_secret
    return {
        "admin": auth.issue_token(secret, "district-admin", "district_admin"),
        "daxing": auth.issue_token(secret, "dx-01", "worker", "daxing", "王晨光"),
        "daxing_other": auth.issue_token(secret, "dx-03", "worker", "daxing", "刘洋"),
        "xiaxiang": auth.issue_token(secret, "xx-02", "worker", "xiaxiang", "郑芳"),
    }


def bearer(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


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
    wait_until(lambda: database("intake")["requests"].find_one({"_id": request_id})[
        "outbox"] == [], 5, message="the published event to leave the document")
    stored = database("intake")["requests"].find_one({"_id": request_id})
    assert "13812345678" not in repr(stored) and "邹书兰" not in repr(stored)  # masked
    status = intake.get(answer.json["status_url"], headers=bearer(tokens["daxing"]))
    assert status.status_code == 200
    assert status.json["status"] == "received" and status.json["case_id"] is None
    assert status.json["resident"] == {"name": "邹**", "phone": "138****5678"}
    assert intake.get(answer.json["status_url"], headers=bearer(tokens["xiaxiang"])).status_code == 403


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"},
                                     {"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}])
def test_no_valid_token_no_entry(intake, headers, database):
    answer = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    assert stored_requests(database) == 0


def test_a_token_signed_with_another_secret_is_refused(intake):
    forged = auth.issue_token("not-the-secret", "x", "district_admin")
    assert intake.post("/v1/requests", json=story_request(),
                       headers=bearer(forged)).status_code == 401


BAD_BODIES = [
    ("resident.phone", story_request(resident={"name": "邹书兰", "phone": "12345"})),
    ("station", story_request(station="atlantis")),
    ("need.type", story_request(need={"type": "teleportation"})),
    ("channel", story_request(channel="carrier_pigeon")),
    ("resident", {k: v for k, v in story_request().items() if k != "resident"}),
    ("resident.name", story_request(resident={"name": {"$gt": ""}, "phone": "13812345678"})),
    ("resident.phone", story_request(resident={"name": "邹书兰", "phone": {"$ne": None}})),
    ("resident.categories", story_request(resident={"name": "x", "phone": "13812345678",
                                                    "categories": ["vip"]})),
    ("received_at", story_request(received_at="yesterday")),
    ("received_at", story_request(received_at="2023-05-29T08:00:00")),
    ("received_at", story_request(received_at="2099-05-29T08:00:00+08:00")),
    ("surprise", story_request(surprise=1)),
]


@pytest.mark.parametrize("field, body", BAD_BODIES, ids=[f for f, _ in BAD_BODIES])
def test_bad_input_gets_a_field_level_error_and_changes_nothing(intake, settings, tokens,
                                                                database, field, body):
    answer = intake.post("/v1/requests", json=body, headers=bearer(tokens["admin"]))
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    node = fields
    for part in field.split("."):
        assert part in node, fields
        node = node[part]
    assert stored_requests(database) == 0 and queued(settings) == 0


@pytest.mark.parametrize("data, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"channel": "phone"}', "text/plain", 415),
    (b"\xff\xfe", "application/json", 400),
    (b"{" + b" " * (1024 * 1024 + 10) + b"}", "application/json", 413),
])
def test_malformed_bodies_are_refused(intake, settings, tokens, database, data, content_type,
                                      status):
    answer = intake.post("/v1/requests", data=data, content_type=content_type,
                         headers=bearer(tokens["admin"]))
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
        answers.append(Client(app).post("/v1/requests", json=story_request(), headers=bearer(
            tokens["daxing"], **{"Idempotency-Key": "same"})))

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


@pytest.fixture
def casework(settings, database, topology):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster())
    return store, Client(casework_api.create_app(settings))


def open_story_case(store, assignee="dx-01"):
    """A case assigned to ``assignee`` (the roster's duty days are not this test's subject)."""
    from services.casework import domain
    from services.common import clock
    request = {"request_id": "r-1", "channel": "phone", "station": "daxing",
               "resident": {"name": "邹书兰", "phone": "13812345678",
                            "categories": ["elderly", "living_alone", "key_concern"]},
               "resident_ref": "p_1", "need": {"type": "medicine_purchase", "description": "药"},
               "received_at": "2023-05-29T08:00:00+08:00"}
    worker = [w for w in store.roster("daxing") if w.id == assignee]
    worker = [domain.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))}) for w in worker]
    case, events = domain.open_case("case-1", request, worker, {}, clock.now())
    handlers.register_resident(store, request, clock.now())  # full data: the registry only
    store.add(case, handlers.to_envelopes(case, events, None, "e-0"))
    return case


def test_case_commands_follow_the_state_machine(casework, tokens):
    store, client = casework
    open_story_case(store)
    worker = bearer(tokens["daxing"])
    refused = client.post("/v1/cases/case-1/resolve", json={"summary": "x"}, headers=worker)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "illegal_transition"
    assert client.post("/v1/cases/case-1/accept", json={}, headers=bearer(
        tokens["daxing_other"])).status_code == 403
    accepted = client.post("/v1/cases/case-1/accept", json={"version": 1}, headers=worker)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    stale = client.post("/v1/cases/case-1/actions", json={"type": "visit", "version": 1},
                        headers=worker)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "version_conflict"
    bad = client.post("/v1/cases/case-1/actions", json={"type": "teleport"}, headers=worker)
    assert bad.status_code == 422 and "type" in bad.json["error"]["fields"]
    done = client.post("/v1/cases/case-1/actions", json={"type": "purchase", "version": 2},
                       headers=worker)
    assert done.status_code == 200 and done.json["version"] == 3
    # published at once (its progress mark follows within a moment): nothing for the relay
    wait_until(lambda: store.cases.find_one({"_id": "case-1"}).get("published_seq") == 4, 5,
               message="the progress mark")
    stored = store.cases.find_one({"_id": "case-1"})
    assert [e["sequence"] for e in stored["outbox"] if e["sequence"] > 4] == []
    # every answer that carried the resident in full was recorded, refusals were not
    assert [(a["actor"], a["purpose"]) for a in store.access.find({"case_id": "case-1"})] == [
        ("dx-01", "accept"), ("dx-01", "record_action")]


def test_cases_are_scoped_to_their_station_and_reads_are_recorded(casework, tokens):
    store, client = casework
    open_story_case(store)
    assert client.get("/v1/cases/case-1", headers=bearer(tokens["xiaxiang"])).status_code == 403
    listed = client.get("/v1/cases?station=daxing", headers=bearer(tokens["xiaxiang"]))
    assert listed.status_code == 403
    mine = client.get("/v1/cases", headers=bearer(tokens["xiaxiang"]))
    assert mine.status_code == 200 and mine.json["cases"] == []
    listing = client.get("/v1/cases?station=daxing", headers=bearer(tokens["admin"])).json
    assert listing["cases"][0]["resident"]["phone"] == "138****5678"
    full = client.get("/v1/cases/case-1", headers=bearer(tokens["daxing"]))
    assert full.status_code == 200 and full.json["resident"]["phone"] == "13812345678"
    access = list(store.access.find({"case_id": "case-1"}))
    assert [(a["actor"], a["purpose"]) for a in access] == [("dx-01", "view")]
    assert client.get("/v1/cases/nope", headers=bearer(tokens["admin"])).status_code == 404
    assert client.get("/v1/cases?status=lost", headers=bearer(tokens["admin"])).status_code == 422


def test_figures_are_scoped_to_the_callers_station(settings, database, tokens):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    event = new_event(REQUEST_RECEIVED, {
        "request_id": "r-1", "channel": "phone", "station": "daxing", "resident_ref": "p_1",
        "resident": {"name": "邹书兰", "phone": "13812345678"},
        "need": {"type": "medicine_purchase"}, "received_at": "2023-05-29T08:00:00+08:00"},
        subject="r-1", correlation_id="r-1")
    reporting_handlers.keep(store, *load_event(event, REQUEST_RECEIVED))
    client = Client(reporting_api.create_app(settings))
    mine = client.get("/v1/reports/summary", headers=bearer(tokens["daxing"]))
    assert mine.status_code == 200
    assert (mine.json["station"], mine.json["requests_received"]) == ("daxing", 1)
    assert client.get("/v1/reports/summary?station=daxing",
                      headers=bearer(tokens["xiaxiang"])).status_code == 403
    assert client.get("/v1/reports/summary", headers=bearer(
        tokens["xiaxiang"])).json["requests_received"] == 0
    district = client.get("/v1/reports/summary?from=2023-05-29&to=2023-05-29",
                          headers=bearer(tokens["admin"]))
    assert (district.json["station"], district.json["requests_received"]) == (None, 1)
    assert client.get("/v1/reports/summary?from=2023-05-30", headers=bearer(
        tokens["admin"])).json["requests_received"] == 0
    reversed_period = client.get("/v1/reports/summary?from=2023-06-01&to=2023-05-01",
                                 headers=bearer(tokens["admin"]))
    assert reversed_period.status_code == 422 and "from" in reversed_period.json["error"]["fields"]
    assert client.get("/v1/reports/summary?from=soon", headers=bearer(
        tokens["admin"])).status_code == 422


def test_correlation_ids_are_echoed_when_sane_and_replaced_when_not(intake):
    assert intake.get("/healthz", headers={"X-Correlation-Id": "call-0800.1"}).headers[
        "X-Correlation-Id"] == "call-0800.1"
    replaced = intake.get("/healthz", headers={"X-Correlation-Id": "x forged {\"level\": \"ERROR\"}"})
    assert replaced.headers["X-Correlation-Id"] != "x forged {\"level\": \"ERROR\"}"
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
