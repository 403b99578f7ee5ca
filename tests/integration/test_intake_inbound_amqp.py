"""Other government systems publish CloudEvents to the inbound exchange; the running
intake worker turns each into a request or a registry update on the real broker and
store, and dead-letters, with the reason, whatever it may not accept."""

import json

import pytest

from services.common import config
from services.common.contracts import REQUEST_RECEIVED, RESIDENT_REGISTRY_UPDATED
from services.intake.service import IntakeService
from tests.inbound_support import (
    ID_NUMBER,
    Observer,
    checkin_missed,
    dead_letters,
    key_person_update,
    petition,
    publish_inbound,
    referral,
)
from tests.support import wait_until


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


@pytest.fixture
def requests_collection(database):
    return database("intake")["requests"]


def received(observer, count=1):
    return wait_until(
        lambda: (
            (found := observer.of_type(REQUEST_RECEIVED.type)) and len(found) >= count and found
        ),
        20,
        message="request.received",
    )


@pytest.mark.parametrize(
    "event, system, channel, need_type, kind",
    [
        (referral, "civil-affairs", "referral", "economic_status_verification", "referral"),
        (checkin_missed, "elderly-care", "alert", "home_visit", "checkin_missed"),
        (petition, "petition-office", "petition", "petition_mediation", "petition"),
    ],
)
def test_each_inbound_type_becomes_the_right_request(
    intake_worker, observer, settings, requests_collection, event, system, channel, need_type, kind
):
    sent = event()
    publish_inbound(settings.amqp_uri, sent, system=system)
    [published] = received(observer)
    data = published["data"]
    assert (data["channel"], data["need"]["type"]) == (channel, need_type)
    assert data["source"] == {"system": system, "kind": kind, "event_id": sent["id"]}
    assert data["station"] == sent["data"]["station"]
    assert data["resident"]["phone"] == sent["data"]["resident"]["phone"]  # casework: in full
    assert data["received_at"] == "2023-05-29T07:55:00+08:00"
    stored = requests_collection.find_one({"_id": data["request_id"]})
    assert stored["channel"] == channel and stored["source"]["kind"] == kind
    assert (
        stored["resident"]["phone"]
        == sent["data"]["resident"]["phone"][:3] + "****" + sent["data"]["resident"]["phone"][-4:]
    )
    assert dead_letters(settings.amqp_uri) == []


def test_a_checkin_alert_carries_the_emergency_contact_and_says_what_was_missed(
    intake_worker, observer, settings, requests_collection
):
    publish_inbound(settings.amqp_uri, checkin_missed(note="电话无人接听"), system="elderly-care")
    [published] = received(observer)
    assert published["data"]["resident"]["emergency_contact"]["phone"] == "13987654321"
    assert "未按时报平安" in published["data"]["need"]["description"]
    assert "电话无人接听" in published["data"]["need"]["description"]
    stored = requests_collection.find_one({"_id": published["data"]["request_id"]})
    assert stored["resident"]["emergency_contact"] == {
        "name": "邹*",
        "relation": "女儿",
        "phone": "139****4321",
    }


def test_a_key_persons_update_becomes_a_registry_update_for_casework(
    intake_worker, observer, settings, database
):
    sent = key_person_update("changed")
    publish_inbound(settings.amqp_uri, sent, system="civil-affairs")
    [update] = wait_until(
        lambda: observer.of_type(RESIDENT_REGISTRY_UPDATED.type), 20, message="registry_updated"
    )
    data = update["data"]
    assert data["change"] == "changed" and data["person"]["id_number"] == ID_NUMBER
    assert data["person"]["emergency_contacts"][0]["relation"] == "女儿"
    assert data["source"] == {
        "system": "civil-affairs",
        "kind": "key_person_update",
        "event_id": sent["id"],
    }
    assert data["resident_ref"].startswith("p_")
    # the published event (with the number in full) leaves the document once marked
    [kept] = wait_until(
        lambda: list(database("intake")["registry_updates"].find({"published_seq": 1})),
        5,
        message="the progress mark",
    )
    assert kept["person"]["id_number"] == "110105********002X"  # masked outside casework
    assert ID_NUMBER not in json.dumps(kept, ensure_ascii=False)


def test_the_same_event_twice_is_one_request(
    intake_worker, observer, settings, requests_collection
):
    sent = referral()
    publish_inbound(settings.amqp_uri, sent, system="civil-affairs")
    publish_inbound(settings.amqp_uri, sent, system="civil-affairs")
    received(observer)
    marker = checkin_missed()  # processed after both copies: the queue is in order
    publish_inbound(settings.amqp_uri, marker, system="elderly-care")
    events = received(observer, 2)
    assert [e["data"]["source"]["event_id"] for e in events] == [sent["id"], marker["id"]]
    assert requests_collection.count_documents({}) == 2


POISON = [
    (
        "unknown type",
        lambda: {**referral(), "type": "gov.suyu.civil_affairs.unknown.v1"},
        "civil-affairs",
        "unknown_type",
    ),
    (
        "type not allowed",
        lambda: {**petition(), "source": "/suyu/elderly-care"},
        "elderly-care",
        "type_not_allowed",
    ),
    ("wrong key", referral, "petition-office", "unauthenticated"),
    (
        "unknown source",
        lambda: {**referral(), "source": "/elsewhere"},
        "civil-affairs",
        "unknown_system",
    ),
    (
        "operator as a name",
        lambda: referral(resident={"name": {"$gt": ""}, "phone": "13812345678"}),
        "civil-affairs",
        "invalid_data",
    ),
    (
        "operator as a phone",
        lambda: checkin_missed(resident={"name": "邹书兰", "phone": {"$gt": ""}}),
        "elderly-care",
        "invalid_data",
    ),
    (
        "bad id number",
        lambda: key_person_update(id_number="110105194912310021"),
        "civil-affairs",
        "invalid_data",
    ),
    (
        "not CloudEvents",
        lambda: {"hello": "world", "source": "/suyu/civil-affairs"},
        "civil-affairs",
        "invalid_event",
    ),
    # dates no station could mean: typos, refused with the range (issue 26)
    (
        "a check-in due in 2000",
        lambda: checkin_missed(due_at="2000-05-29T07:30:00+08:00"),
        "elderly-care",
        "invalid_data",
    ),
    (
        "a last check-in in 2062",
        lambda: checkin_missed(last_checkin_at="2062-05-28T07:31:00+08:00"),
        "elderly-care",
        "invalid_data",
    ),
    (
        "an event time in 2000",
        lambda: {**referral(), "time": "2000-05-29T07:55:00+08:00"},
        "civil-affairs",
        "invalid_event",
    ),
]


@pytest.mark.parametrize("name, make, system, code", POISON, ids=[p[0] for p in POISON])
def test_a_poison_event_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    intake_worker, observer, settings, requests_collection, database, name, make, system, code
):
    publish_inbound(settings.amqp_uri, make(), system=system)
    [(headers, body)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert headers["x-death-reason"].startswith(code)
    assert headers["x-original-queue"] == "shegong.inbound.intake"
    assert "shegong-api-key" not in headers  # no credential parked with the message
    assert requests_collection.count_documents({}) == 0
    assert database("intake")["registry_updates"].count_documents({}) == 0
    good = referral()
    publish_inbound(settings.amqp_uri, good, system="civil-affairs")
    [published] = received(observer)
    assert published["data"]["source"]["event_id"] == good["id"]


def test_a_body_that_is_not_json_is_dead_lettered(intake_worker, observer, settings):
    publish_inbound(
        settings.amqp_uri,
        None,
        system="civil-affairs",
        raw=b"\xff not json",
        content_type="application/json",
    )
    [(headers, _)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert "could not be decoded" in headers["x-death-reason"]
    publish_inbound(settings.amqp_uri, referral(), system="civil-affairs")
    received(observer)


def test_a_system_may_prove_itself_by_its_rabbitmq_user(
    container_factory, settings, topology, database, observer, tmp_path, monkeypatch
):
    systems = tmp_path / "systems.json"
    systems.write_text(
        json.dumps(
            {
                "systems": [
                    {
                        "id": "petition-office",
                        "source": "/suyu/petition-office",
                        "amqp_user": "guest",
                        "key_sha256": "0" * 64,
                        "event_types": ["gov.suyu.petition.forwarded.v1"],
                    }
                ]
            }
        )
    )
    monkeypatch.setenv("SHEGONG_INBOUND_SYSTEMS_FILE", str(systems))
    database("intake")
    # the Settings naming the registry file above
    container = container_factory(IntakeService, config.settings().nameko_config())
    container.start()
    # RabbitMQ refuses a user_id other than the connection's own user
    publish_inbound(settings.amqp_uri, petition(), user_id="guest")
    [published] = received(observer)
    assert published["data"]["channel"] == "petition"
    publish_inbound(settings.amqp_uri, petition())  # neither user nor key
    [(headers, _)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert headers["x-death-reason"].startswith("unauthenticated")


def test_the_inbound_exchange_is_part_of_the_topology(topology):
    names = {getattr(entity, "name", None) for entity in topology}
    assert {"shegong.inbound", "shegong.inbound.intake"} <= names


def test_a_date_no_station_could_mean_is_dead_lettered_naming_the_field_and_the_range(
    intake_worker, observer, settings, requests_collection
):
    publish_inbound(
        settings.amqp_uri, checkin_missed(due_at="2000-05-29T07:30:00+08:00"), system="elderly-care"
    )
    [(headers, _)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert headers["x-death-reason"].startswith("invalid_data")
    fields = headers["x-death-fields"]
    assert "due_at" in fields and "2023-01-01" in fields, fields
    assert requests_collection.count_documents({}) == 0
