"""POST /v1/events: the inbound events over HTTP, one or a batch, per-event answers,
deduplicated on (source, id); the system's key (401) and allowed types (403)."""

import json

import pytest
from werkzeug.test import Client

from services.common.contracts import REQUEST_RECEIVED, RESIDENT_REGISTRY_UPDATED
from services.intake import api as intake_api
from tests.inbound_support import (
    KEYS,
    Observer,
    checkin_missed,
    key_person_update,
    petition,
    referral,
)
from tests.support import wait_until

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


def send(intake, body, system="civil-affairs", content_type=SINGLE, key=None):
    headers = {} if system is None else {"X-Api-Key": key or KEYS[system]}
    return intake.post(
        "/v1/events",
        data=json.dumps(body, ensure_ascii=False),
        content_type=content_type,
        headers=headers,
    )


def stored(database):
    db = database("intake")
    return db["requests"].count_documents({}) + db["registry_updates"].count_documents({})


def test_one_event_is_accepted_and_a_repeat_of_it_is_acknowledged_and_ignored(
    intake, observer, database
):
    event = referral()
    first = send(intake, event)
    assert first.status_code == 202
    [result] = first.json["results"]
    assert result["status"] == "accepted" and result["id"] == event["id"]
    again = send(intake, event)
    assert again.status_code == 200 and again.json["results"][0]["status"] == "duplicate"
    assert again.json["results"][0]["request_id"] == result["request_id"]
    [published] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    assert published["data"]["request_id"] == result["request_id"]
    assert published["data"]["source"]["kind"] == "referral"
    assert stored(database) == 1


def test_a_batch_is_answered_per_event(intake, observer, database):
    good, update = referral(), key_person_update()
    batch = [
        good,
        update,
        {**petition(), "source": "/suyu/civil-affairs"},
        {**referral(), "type": "gov.suyu.nothing.v1"},
        referral(resident={"name": {"$gt": ""}, "phone": "13812345678"}),
        "not an event",
        good,
    ]
    answer = send(intake, batch, content_type=BATCH)
    assert answer.status_code == 200
    results = answer.json["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("accepted", 202),
        ("accepted", 202),
        ("rejected", 403),
        ("rejected", 422),
        ("rejected", 422),
        ("rejected", 422),
        ("duplicate", 200),
    ]
    assert results[2]["error"]["code"] == "type_not_allowed"
    assert results[3]["error"]["code"] == "unknown_type"
    assert "name" in results[4]["error"]["fields"]["resident"]
    assert results[1]["request_id"] is None  # a registry update is no request
    assert stored(database) == 2
    wait_until(
        lambda: observer.of_type(RESIDENT_REGISTRY_UPDATED.type), 20, message="registry_updated"
    )


@pytest.mark.parametrize("key", [None, "", "dev-civil-affairs-key-x"])
def test_a_bad_or_missing_key_is_401(intake, database, key):
    headers = {} if key is None else {"X-Api-Key": key}
    answer = intake.post(
        "/v1/events", data=json.dumps(referral()), content_type=SINGLE, headers=headers
    )
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    assert stored(database) == 0


def test_a_type_the_system_may_not_send_is_403(intake, database):
    # the elderly-care platform may send check-in alerts only
    event = {**referral(), "source": "/suyu/elderly-care"}
    answer = send(intake, event, system="elderly-care")
    assert answer.status_code == 403 and answer.json["error"]["code"] == "type_not_allowed"
    # and a system may not send as another
    answer = send(intake, checkin_missed(), system="civil-affairs")
    assert answer.status_code == 403 and answer.json["error"]["code"] == "forbidden"
    assert stored(database) == 0


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ("{not json", SINGLE, 400),
        ("{}", BATCH, 400),
        ('{"a": 1}', "text/plain", 415),
        ("[1]", SINGLE, 400),
    ],
)
def test_malformed_calls_are_refused(intake, database, body, content_type, status):
    answer = intake.post(
        "/v1/events",
        data=body,
        content_type=content_type,
        headers={"X-Api-Key": KEYS["civil-affairs"]},
    )
    assert answer.status_code == status and "error" in answer.json
    assert stored(database) == 0


def test_an_invalid_event_alone_is_422_with_field_messages(intake, database):
    answer = send(intake, checkin_missed(due_at="yesterday"), system="elderly-care")
    assert answer.status_code == 422 and "due_at" in answer.json["error"]["fields"]
    assert stored(database) == 0


def test_plain_json_is_taken_as_one_event(intake):
    answer = send(intake, petition(), system="petition-office", content_type="application/json")
    assert answer.status_code == 202


def test_an_empty_batch_is_answered_with_no_results_and_does_nothing(intake, observer, database):
    answer = intake.post(
        "/v1/events",
        data="[]",
        content_type=BATCH + "; charset=utf-8",
        headers={"X-Api-Key": KEYS["civil-affairs"]},
    )
    assert answer.status_code == 200 and answer.json == {"results": []}
    assert stored(database) == 0 and observer.drain() == []


@pytest.mark.parametrize(
    "content_type, datacontenttype",
    [
        (SINGLE + "; charset=utf-8", "application/json"),
        (SINGLE + ";charset=UTF-8", "application/json; charset=utf-8"),
        ("Application/CloudEvents+JSON", "application/json;charset=utf-8"),
        ("application/json; charset=utf-8", "application/json; charset=utf-8"),
    ],
)
def test_media_types_with_parameters_are_understood(
    intake, database, content_type, datacontenttype
):
    event = {**referral(), "datacontenttype": datacontenttype}
    answer = send(intake, event, content_type=content_type)
    assert answer.status_code == 202, answer.json
    batch = send(intake, [event], content_type=BATCH + "; charset=utf-8")
    assert batch.status_code == 200 and batch.json["results"][0]["status"] == "duplicate"
    assert stored(database) == 1


def test_binary_mode_is_the_same_event_as_structured_mode(intake, database):
    event = referral()
    headers = {
        "X-Api-Key": KEYS["civil-affairs"],
        "ce-specversion": "1.0",
        "ce-id": event["id"],
        "ce-source": event["source"],
        "ce-type": event["type"],
        "ce-time": event["time"],
    }
    answer = intake.post(
        "/v1/events",
        data=json.dumps(event["data"]),
        content_type="application/json; charset=utf-8",
        headers=headers,
    )
    assert answer.status_code == 202, answer.json
    [result] = answer.json["results"]
    again = send(intake, event)  # the same source and id, structured this time
    assert again.status_code == 200 and again.json["results"][0]["status"] == "duplicate"
    assert again.json["results"][0]["request_id"] == result["request_id"]
    assert stored(database) == 1


@pytest.mark.parametrize(
    "headers, content_type, body, status, says",
    [
        ({}, "text/plain", "{}", 415, "text/plain"),
        ({"ce-specversion": "1.0"}, "text/plain", "hello", 415, "must be JSON"),
        ({}, "application/cloudevents+json; charset=ebcdic-klingon", "{}", 400, "unknown charset"),
        (
            {
                "ce-specversion": "1.0",
                "ce-source": "/suyu/civil-affairs",
                "ce-type": "gov.suyu.civil_affairs.referral.v1",
            },
            "application/json",
            "{}",
            422,
            "invalid CloudEvents",
        ),
        ({}, "application/cloudevents+json; charset", "{}", 415, "malformed parameters"),
    ],
)
def test_each_refusal_names_its_cause(intake, database, headers, content_type, body, status, says):
    answer = intake.post(
        "/v1/events",
        data=body,
        content_type=content_type,
        headers={"X-Api-Key": KEYS["civil-affairs"], **headers},
    )
    assert answer.status_code == status, answer.json
    assert says in answer.json["error"]["message"]
    assert stored(database) == 0
