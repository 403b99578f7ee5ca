"""Other government systems end to end: every service as its own process (deploy/local.py),
an alert published on the inbound exchange and a petition posted to POST /v1/events each
become a case in casework, and the request's status page follows it."""

import json

import pytest
import requests

from tests.e2e.test_story import bearer, system  # noqa: F401 - the running system fixture
from tests.inbound_support import KEYS, checkin_missed, petition, publish_inbound
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def case_of(system, admin, request_id):  # noqa: F811
    listing = requests.get(
        system.url("casework", f"/v1/cases?request_id={request_id}"), headers=admin, timeout=10
    ).json()
    return listing["cases"][0] if listing.get("cases") else None


def request_status(system, admin, request_id):  # noqa: F811
    answer = requests.get(
        system.url("intake", f"/v1/requests/{request_id}"), headers=admin, timeout=10
    )
    return answer.json() if answer.status_code == 200 else None


def test_events_from_other_systems_become_cases(system):  # noqa: F811
    admin = bearer(system.credentials()["district_admin"])
    # by HTTP: the petition office forwards a petition
    answer = requests.post(
        system.url("intake", "/v1/events"),
        timeout=10,
        data=json.dumps(petition(), ensure_ascii=False).encode("utf-8"),
        headers={
            "Content-Type": "application/cloudevents+json",
            "X-Api-Key": KEYS["petition-office"],
        },
    )
    assert answer.status_code == 202, answer.text
    petition_id = answer.json()["results"][0]["request_id"]
    case = wait_until(lambda: case_of(system, admin, petition_id), 30, message="petition case")
    assert case["station"] == "xiaxiang"
    # by AMQP: the elderly-care platform's missed check-in alert
    alert = checkin_missed()
    publish_inbound(system.amqp_uri, alert, system="elderly-care")
    found = wait_until(
        lambda: next(
            (
                r
                for r in requests.get(
                    system.url("casework", "/v1/cases?station=daxing"), headers=admin, timeout=10
                ).json()["cases"]
                if r.get("need_type") == "home_visit"
            ),
            None,
        ),
        30,
        message="alert case",
    )
    status = wait_until(
        lambda: (
            (s := request_status(system, admin, found["request_id"]))
            and s["status"] == "case_opened"
            and s
        ),
        30,
        message="status followed",
    )
    assert status["channel"] == "alert"
    assert status["source"] == {
        "system": "elderly-care",
        "kind": "checkin_missed",
        "event_id": alert["id"],
    }
