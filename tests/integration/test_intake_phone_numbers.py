"""Phone numbers at intake, over HTTP and AMQP alike (issue 14): look-alike digits, stray
whitespace and numbers no carrier has are refused and change nothing; the E.164 form is
taken and stored as the 11-digit national number, so it finds the same resident."""

import pytest
from werkzeug.test import Client

from services.common import auth
from services.common.contracts import REQUEST_RECEIVED
from services.intake import api as intake_api
from tests.inbound_support import (
    Observer,
    checkin_missed,
    dead_letters,
    key_person_update,
    petition,
    publish_inbound,
    referral,
)
from tests.support import story_request, wait_until

NOT_A_PHONE = [
    "１３８１２３４５６７８",
    "١٣٨١٢٣٤٥٦٧٨",
    " 13812345678",
    "13812345678\n",
    "138 1234 5678",
    "138-1234-5678",
    "14012345678",
    "+85213812345678",
]


@pytest.fixture
def token(settings):
    return {
        "Authorization": "Bearer "
        + auth.issue_token(settings.token_secret, "dx-01", "worker", "daxing", "王晨光")
    }


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


@pytest.mark.parametrize("phone", NOT_A_PHONE)
def test_http_refuses_phones_that_are_not_a_carriers_number(intake, token, database, phone):
    resident = {**story_request()["resident"], "phone": phone}
    answer = intake.post("/v1/requests", json=story_request(resident=resident), headers=token)
    assert answer.status_code == 422, answer.text
    assert "phone" in answer.json["error"]["fields"]["resident"]
    contact = {
        **story_request()["resident"],
        "emergency_contact": {"name": "邹丽", "relation": "女儿", "phone": phone},
    }
    answer = intake.post("/v1/requests", json=story_request(resident=contact), headers=token)
    assert answer.status_code == 422, answer.text
    assert "phone" in answer.json["error"]["fields"]["resident"]["emergency_contact"]
    assert database("intake")["requests"].count_documents({}) == 0


def test_the_e164_form_is_stored_national_and_finds_the_same_resident(
    intake, token, database, observer
):
    resident = {**story_request()["resident"], "phone": "+8613812345678"}
    first = intake.post("/v1/requests", json=story_request(resident=resident), headers=token)
    assert first.status_code == 202, first.text
    again = intake.post("/v1/requests", json=story_request(), headers=token)
    assert again.json["repeat_of"] == first.json["request_id"]
    events = wait_until(
        lambda: len(found := observer.of_type(REQUEST_RECEIVED.type)) >= 2 and found,
        20,
        message="two request.received",
    )
    assert {e["data"]["resident"]["phone"] for e in events} == {"13812345678"}
    assert len({e["data"]["resident_ref"] for e in events}) == 1


INBOUND = [
    ("civil-affairs", lambda phone: referral(resident={"name": "邹书兰", "phone": phone})),
    ("elderly-care", lambda phone: checkin_missed(resident={"name": "邹书兰", "phone": phone})),
    ("petition-office", lambda phone: petition(resident={"name": "李建国", "phone": phone})),
    ("civil-affairs", lambda phone: key_person_update(phone=phone)),
]


def test_amqp_dead_letters_phones_that_are_not_a_carriers_number_with_the_reason(
    intake_worker, observer, settings, database
):
    sent = 0
    for phone in ("１３８１２３４５６７８", "138 1234 5678", "14012345678"):
        for system, make in INBOUND:
            publish_inbound(settings.amqp_uri, make(phone), system=system)
            sent += 1
    parked = []
    wait_until(
        lambda: parked.extend(dead_letters(settings.amqp_uri)) or len(parked) == sent,
        30,
        message="every event dead-lettered",
    )
    for headers, _ in parked:
        assert headers["x-death-reason"].startswith("invalid_data"), headers
        assert "phone" in headers["x-death-fields"], headers  # the field, named
    assert database("intake")["requests"].count_documents({}) == 0
    # the E.164 form is taken, and sent on in the national form
    publish_inbound(
        settings.amqp_uri,
        referral(resident={"name": "邹书兰", "phone": "+8613812345678"}),
        system="civil-affairs",
    )
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="the request.received"
    )
    assert event["data"]["resident"]["phone"] == "13812345678"
