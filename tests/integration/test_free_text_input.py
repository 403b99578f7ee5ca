"""Control characters in free text are refused on both transports, changing nothing: a
422 naming the field on HTTP (intake, casework, notifications), a dead letter with the
reason on AMQP (intake's inbound exchange); what is accepted is stored NFC-normalised;
and the casework CSV export never holds a control character, even from a record kept
before these rules. In-process WSGI and a running intake worker on the real store and
broker."""

import re

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers, seed
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.casework.store import CaseStore
from services.common import auth, clock
from services.common.contracts import REQUEST_RECEIVED
from services.intake import api as intake_api
from services.notifications import api as notifications_api
from tests.inbound_support import Observer, dead_letters, publish_inbound, referral
from tests.support import add_case, register_resident, story_request, wait_until

BAD_NAMES = ["走\x07查\x1b[31m", "邹\x06兰", "邹\x1c兰", "邹\x85兰", "邹\u202e兰", "邹\n兰"]
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def bearer(settings, *args):
    return {"Authorization": "Bearer " + auth.issue_token(settings.token_secret, *args)}


@pytest.fixture
def intake(settings, topology, database):
    return Client(intake_api.create_app(settings)), database("intake")["requests"]


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_intake_refuses_a_resident_name_with_a_control_character(intake, settings, name):
    client, requests_collection = intake
    answer = client.post(
        "/v1/requests",
        json=story_request(resident={"name": name, "phone": "13812345678"}),
        headers=bearer(settings, "dx-01", "worker", "daxing", "王晨光"),
    )
    assert answer.status_code == 422, answer.json
    assert "U+" in answer.json["error"]["fields"]["resident"]["name"][0]
    assert requests_collection.count_documents({}) == 0


def test_intake_refuses_a_control_character_in_the_need_but_keeps_its_lines(
    intake, settings, observer
):
    client, requests_collection = intake
    token = bearer(settings, "dx-01", "worker", "daxing", "王晨光")
    refused = client.post(
        "/v1/requests",
        headers=token,
        json=story_request(need={"type": "home_visit", "description": "药吃完了\x1b[2J"}),
    )
    assert refused.status_code == 422
    assert "description" in refused.json["error"]["fields"]["need"]
    kept = client.post(
        "/v1/requests",
        headers=token,
        json=story_request(
            need={"type": "home_visit", "description": "药吃完了\r\n下雨出不了门\t"}
        ),
    )
    assert kept.status_code == 202
    assert requests_collection.count_documents({}) == 1
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    assert event["data"]["need"]["description"] == "药吃完了\n下雨出不了门\t"


def test_intake_stores_names_nfc_normalised(intake, settings, observer):
    client, requests_collection = intake
    answer = client.post(
        "/v1/requests",
        json=story_request(
            resident={"name": "Rene\u0301 \uf900", "phone": "13812345678"},
            need={"type": "home_visit", "description": "cafe\u0301"},
        ),
        headers=bearer(settings, "dx-01", "worker", "daxing", "王晨光"),
    )
    assert answer.status_code == 202
    [stored] = requests_collection.find({})
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    # what intake keeps and what casework receives: composed
    assert event["data"]["resident"]["name"] == "Ren\u00e9 \u8c48"
    assert event["data"]["need"]["description"] == "caf\u00e9"
    assert "\u0301" not in str(stored) and "\uf900" not in str(stored)


@pytest.fixture
def casework(settings, database, topology):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster(), seed.calendar())
    return store, Client(casework_api.create_app(settings))


def test_casework_refuses_a_program_name_with_a_c1_control(casework, settings, database):
    _, client = casework
    answer = client.post(
        "/v1/stations/daxing/volunteer-teams",
        json={"name": "邻里\x85互助队"},
        headers=bearer(settings, "dx-02", "station_head", "daxing", "陈静"),
    )
    assert answer.status_code == 422, answer.json
    assert "name" in answer.json["error"]["fields"]
    assert database("casework")["programs"].count_documents({}) == 0


def test_notifications_refuses_a_control_character_in_a_query(settings, database, topology):
    client = Client(notifications_api.create_app(settings))
    answer = client.get(
        "/v1/messages?case_id=case-1%07",
        headers=bearer(settings, "district-admin", "district_admin"),
    )
    assert answer.status_code == 422, answer.json
    assert "case_id" in answer.json["error"]["fields"]


def test_the_csv_export_never_holds_a_control_character(casework, settings):
    """Records kept before input refused control characters are exported without them."""
    store, client = casework
    roster = [
        domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
        for w in store.roster("daxing")
    ]
    for number, name in enumerate(("邹\x06兰", "李\x1c四", "王\x85五", "赵\u202e六\t")):
        request = {
            "request_id": f"r-{number}",
            "channel": "phone",
            "station": "daxing",
            "resident": {"name": name, "phone": "13812345678", "categories": []},
            "resident_ref": f"p_{number}",
            "need": {"type": "home_visit", "description": "探访"},
            "received_at": clock.iso(clock.now()),
        }
        register_resident(store, request, clock.now())
        case, events = domain_opening.open_case(f"case-{number}", request, roster, {}, clock.now())
        add_case(store, case, handlers.to_envelopes(case, events, None, f"e-{number}"))
    day = clock.local_day(clock.now())
    for personal in ("masked", "full"):
        answer = client.get(
            f"/v1/cases/export?from={day}&to={day}&personal={personal}",
            headers=bearer(settings, "district-admin", "district_admin"),
        )
        assert answer.status_code == 200
        text = answer.data.decode("utf-8-sig")
        assert len(text.split("\r\n")) == 6  # a header, four cases, the last line's end
        assert not CONTROL.search(text.replace("\r\n", "")), repr(text)
        assert "\t" not in text and "\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    "field, event",
    [
        ("name", referral(resident={"name": "走\x07查\x1b[31m", "phone": "13812345678"})),
        ("description", referral(need={"type": "home_visit", "description": "低保\x00复核"})),
    ],
)
def test_an_inbound_event_with_a_control_character_is_dead_lettered(
    intake_worker, observer, settings, database, field, event
):
    publish_inbound(settings.amqp_uri, event, system="civil-affairs")
    [(headers, _)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert headers["x-death-reason"].startswith("invalid_data")
    assert field in headers["x-death-fields"] and "U+" in headers["x-death-fields"]
    assert database("intake")["requests"].count_documents({}) == 0
    assert observer.of_type(REQUEST_RECEIVED.type) == []
