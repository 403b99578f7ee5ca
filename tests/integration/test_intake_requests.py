"""POST /v1/requests complete: every staff channel and need type, ID numbers kept
masked, emergency contacts, Idempotency-Keys that expire, repeat calls linked, and
MongoDB operators refused. In-process WSGI on the real store and broker."""

import threading
import time

import pytest
from werkzeug.test import Client

from services.common import auth, config
from services.common.contracts import REQUEST_RECEIVED
from services.common.vocabulary import NEED_TYPES
from services.intake import api as intake_api
from services.intake import domain, handlers
from services.intake.schemas import STAFF_CHANNELS
from services.intake.store import RequestStore
from tests.inbound_support import DAUGHTER, ID_NUMBER, Observer
from tests.support import story_request, wait_until


@pytest.fixture
def token(settings):
    return {
        "Authorization": "Bearer "
        + auth.issue_token(settings.token_secret, "dx-01", "worker", "daxing", "王晨光")
    }


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


@pytest.fixture
def requests_collection(database):
    return database("intake")["requests"]


def published(observer, count):
    return wait_until(
        lambda: len(found := observer.of_type(REQUEST_RECEIVED.type)) >= count and found,
        20,
        message=f"{count} request.received",
    )


@pytest.mark.parametrize("channel", STAFF_CHANNELS)
def test_every_staff_channel_is_recorded_and_published(intake, token, observer, channel):
    answer = intake.post("/v1/requests", json=story_request(channel=channel), headers=token)
    assert answer.status_code == 202
    [event] = published(observer, 1)
    assert event["data"]["channel"] == channel and event["data"]["repeat_of"] is None


@pytest.mark.parametrize("channel", ["alert", "petition", "fax"])
def test_channels_of_other_systems_are_not_for_staff(intake, token, requests_collection, channel):
    answer = intake.post("/v1/requests", json=story_request(channel=channel), headers=token)
    assert answer.status_code == 422 and "channel" in answer.json["error"]["fields"]
    assert requests_collection.count_documents({}) == 0


def test_every_need_type_is_accepted(intake, token, observer):
    for need_type in NEED_TYPES:
        resident = {"name": "邹书兰", "phone": "13812345678"}
        answer = intake.post(
            "/v1/requests",
            headers=token,
            json=story_request(resident=resident, need={"type": need_type, "description": "说明"}),
        )
        assert answer.status_code == 202, need_type
    assert {e["data"]["need"]["type"] for e in published(observer, len(NEED_TYPES))} == set(
        NEED_TYPES
    )


def test_the_id_number_is_kept_masked_and_casework_gets_it_in_full(
    intake, token, observer, requests_collection
):
    resident = {
        **story_request()["resident"],
        "id_number": ID_NUMBER,
        "emergency_contact": DAUGHTER,
    }
    answer = intake.post("/v1/requests", json=story_request(resident=resident), headers=token)
    assert answer.status_code == 202
    [event] = published(observer, 1)
    assert event["data"]["resident"]["id_number"] == ID_NUMBER
    assert event["data"]["resident"]["emergency_contact"] == DAUGHTER
    status = intake.get(answer.json["status_url"], headers=token).json
    assert status["resident"] == {
        "name": "邹**",
        "phone": "138****5678",
        "id_number": "110105********002X",
        "emergency_contact": {"name": "邹*", "relation": "女儿", "phone": "139****4321"},
    }
    stored = requests_collection.find_one({"_id": answer.json["request_id"]})
    assert ID_NUMBER not in str({k: v for k, v in stored.items() if k != "outbox"})


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("id_number", "110105194912310021", "check digit"),
        ("id_number", "12345", "18-character"),
    ],
)
def test_an_id_number_with_a_bad_check_digit_is_refused(
    intake, token, requests_collection, field, value, message
):
    resident = {**story_request()["resident"], field: value}
    answer = intake.post("/v1/requests", json=story_request(resident=resident), headers=token)
    assert answer.status_code == 422
    assert message in str(answer.json["error"]["fields"]["resident"][field])
    assert requests_collection.count_documents({}) == 0


@pytest.mark.parametrize("field", ["name", "phone"])
def test_a_mongodb_operator_in_a_field_is_refused(intake, token, requests_collection, field):
    resident = {**story_request()["resident"], field: {"$gt": ""}}
    answer = intake.post("/v1/requests", json=story_request(resident=resident), headers=token)
    assert answer.status_code == 422 and field in answer.json["error"]["fields"]["resident"]
    assert requests_collection.count_documents({}) == 0


def test_an_idempotency_key_expires_after_the_configured_time(
    settings, topology, database, token, monkeypatch
):
    monkeypatch.setenv("SHEGONG_IDEMPOTENCY_TTL_S", "1")
    database("intake")
    intake = Client(intake_api.create_app(config.settings()))
    headers = {**token, "Idempotency-Key": "call-0800"}
    first = intake.post("/v1/requests", json=story_request(), headers=headers)
    again = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert again.json["request_id"] == first.json["request_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    time.sleep(1.5)
    later = intake.post("/v1/requests", json=story_request(channel="walk_in"), headers=headers)
    assert later.status_code == 202 and "Idempotent-Replayed" not in later.headers
    assert later.json["request_id"] != first.json["request_id"]
    # and the key now names the new request, with its body
    replay = intake.post("/v1/requests", json=story_request(channel="walk_in"), headers=headers)
    assert replay.json["request_id"] == later.json["request_id"]
    conflict = intake.post("/v1/requests", json=story_request(), headers=headers)
    assert conflict.status_code == 409


def test_concurrent_posts_with_one_key_and_a_used_key_make_one_request(
    settings, topology, database, token, observer, requests_collection
):
    database("intake")
    app = intake_api.create_app(settings)
    answers = []

    def post(body):
        answers.append(
            Client(app).post(
                "/v1/requests", json=body, headers={**token, "Idempotency-Key": "same"}
            )
        )

    threads = [threading.Thread(target=post, args=(story_request(),)) for _ in range(4)]
    threads += [
        threading.Thread(target=post, args=(story_request(channel="online"),)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a for a in answers if a.status_code == 202]
    assert len({a.json["request_id"] for a in accepted}) == 1
    assert {a.status_code for a in answers} <= {202, 409}
    assert requests_collection.count_documents({}) == 1
    time.sleep(0.5)
    assert len(published(observer, 1)) == 1


def test_a_repeat_call_is_linked_to_the_open_request(intake, token, settings, database, observer):
    first = intake.post("/v1/requests", json=story_request(), headers=token)
    assert first.json["repeat_of"] is None
    again = intake.post("/v1/requests", json=story_request(channel="walk_in"), headers=token)
    assert again.status_code == 202 and again.json["repeat_of"] == first.json["request_id"]
    third = intake.post("/v1/requests", json=story_request(), headers=token)
    assert third.json["repeat_of"] == first.json["request_id"]  # the chain's first request
    other_need = intake.post(
        "/v1/requests",
        headers=token,
        json=story_request(need={"type": "home_visit", "description": ""}),
    )
    assert other_need.json["repeat_of"] is None
    status = intake.get(again.json["status_url"], headers=token).json
    assert status["repeat_of"] == first.json["request_id"]
    events = {e["data"]["request_id"]: e["data"] for e in published(observer, 4)}
    assert events[again.json["request_id"]]["repeat_of"] == first.json["request_id"]
    # once her case is resolved, a new call is a new request
    store = RequestStore(database("intake"))

    def follow(status, sequence, request_id=None):  # one case event, as the worker applies it
        first_id = first.json["request_id"]  # the case's own request; the others repeats
        store.follow_cases(
            [("case-1", domain.request_status(status), sequence, request_id or first_id, first_id)]
        )

    follow("resolved", 5, first.json["request_id"])
    follow("in_progress", 3, again.json["request_id"])
    follow("in_progress", 4, third.json["request_id"])
    assert store.get(again.json["request_id"])["status"] == "case_opened"
    follow("resolved", 6)
    assert store.get(again.json["request_id"])["status"] == "resolved"
    new = intake.post("/v1/requests", json=story_request(), headers=token)
    assert new.json["repeat_of"] is None
    # the resolved request's need taken over by the new one (issue 24: a field of each)
    assert "open_need" not in store.get(first.json["request_id"])
    assert store.get(new.json["request_id"])["open_need"]


def test_received_time_defaults_to_now_and_may_be_given(intake, token, requests_collection):
    given = intake.post(
        "/v1/requests", headers=token, json=story_request(received_at="2023-05-29T08:00:00+08:00")
    )
    assert (
        requests_collection.find_one({"_id": given.json["request_id"]})["received_at"]
        == "2023-05-29T08:00:00+08:00"
    )
    default = intake.post("/v1/requests", headers=token, json=story_request())
    stored = requests_collection.find_one({"_id": default.json["request_id"]})
    assert abs(stored["received_ms"] - time.time() * 1000) < 120_000


def test_a_key_whose_expired_claim_was_purged_is_free(
    settings, topology, database, token, monkeypatch
):
    monkeypatch.setenv("SHEGONG_IDEMPOTENCY_TTL_S", "1")
    database("intake")
    intake = Client(intake_api.create_app(config.settings()))
    headers = {**token, "Idempotency-Key": "call-0900"}
    first = intake.post("/v1/requests", json=story_request(), headers=headers)
    time.sleep(1.5)
    assert handlers.purge_expired_keys(RequestStore(database("intake"))) == 1
    later = intake.post("/v1/requests", json=story_request(channel="walk_in"), headers=headers)
    assert later.status_code == 202 and later.json["request_id"] != first.json["request_id"]


def test_concurrent_calls_of_one_resident_for_one_need_agree_on_the_first(
    settings, topology, database, token, requests_collection
):
    database("intake")
    app = intake_api.create_app(settings)
    answers = []

    def post(channel):
        answers.append(
            Client(app).post("/v1/requests", headers=token, json=story_request(channel=channel))
        )

    threads = [
        threading.Thread(target=post, args=(channel,))
        for channel in ("phone", "hotline", "online", "walk_in", "phone")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {202}
    firsts = [a.json["request_id"] for a in answers if a.json["repeat_of"] is None]
    assert len(firsts) == 1
    assert {a.json["repeat_of"] for a in answers if a.json["repeat_of"]} == set(firsts)
    assert requests_collection.count_documents({}) == 5


def test_an_api_alone_on_a_new_store_makes_the_claims_unique_before_its_first_post(
    intake, token, requests_collection
):
    # no worker has started: the API's first insert makes the unique indexes the key and
    # the need claims rely on, so a twin POST is a replay and another key a repeat
    def unique_fields():
        return {
            spec["key"][0][0]
            for spec in requests_collection.index_information().values()
            if spec.get("unique")
        }

    assert not {"key_claim", "open_need"} & unique_fields()
    keyed = {**token, "Idempotency-Key": "first-day-1"}
    first = intake.post("/v1/requests", json=story_request(), headers=keyed)
    twin = intake.post("/v1/requests", json=story_request(), headers=keyed)
    other = intake.post(
        "/v1/requests", json=story_request(), headers={**token, "Idempotency-Key": "first-day-2"}
    )
    assert {"key_claim", "open_need"} <= unique_fields()
    assert first.status_code == twin.status_code == other.status_code == 202
    assert twin.json["request_id"] == first.json["request_id"]
    assert twin.headers.get("Idempotent-Replayed") == "true"
    assert other.json["request_id"] != first.json["request_id"]
    assert other.json.get("repeat_of") == first.json["request_id"]
    assert requests_collection.count_documents({}) == 2
