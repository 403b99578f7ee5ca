"""casework's and reporting's HTTP APIs in-process (WSGI) on the real store and broker:
case commands follow the state machine (illegal transitions, versions), cases and
figures are scoped to the caller's station, reads of personal data are recorded."""

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers, seed
from services.casework.store import CaseStore
from services.common.contracts import REQUEST_RECEIVED
from services.common.envelope import load_event, new_event
from services.reporting import api as reporting_api
from services.reporting.store import ReportStore
from tests.http_support import bearer
from tests.reporting_events import keep, projector_of
from tests.support import add_case, register_resident, wait_until


@pytest.fixture
def casework(settings, database, topology):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster())
    return store, Client(casework_api.create_app(settings))


def open_story_case(store, assignee="dx-01"):
    """A case assigned to ``assignee`` (the roster's duty days are not this test's subject)."""
    from services.casework.domain import opening as domain_opening
    from services.casework.domain import roster as domain_roster
    from services.common import clock

    request = {
        "request_id": "r-1",
        "channel": "phone",
        "station": "daxing",
        "resident": {
            "name": "邹书兰",
            "phone": "13812345678",
            "categories": ["elderly", "living_alone", "key_concern"],
        },
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase", "description": "药"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }
    worker = [w for w in store.roster("daxing") if w.id == assignee]
    worker = [
        domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))}) for w in worker
    ]
    case, events = domain_opening.open_case("case-1", request, worker, {}, clock.now())
    register_resident(store, request, clock.now())  # full data: the registry only
    add_case(store, case, handlers.to_envelopes(case, events, None, "e-0"))
    return case


def test_case_commands_follow_the_state_machine(casework, tokens):
    store, client = casework
    open_story_case(store)
    worker = bearer(tokens["daxing"])
    refused = client.post("/v1/cases/case-1/resolve", json={"summary": "x"}, headers=worker)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "illegal_transition"
    assert (
        client.post(
            "/v1/cases/case-1/accept", json={}, headers=bearer(tokens["daxing_other"])
        ).status_code
        == 403
    )
    accepted = client.post("/v1/cases/case-1/accept", json={"version": 1}, headers=worker)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    stale = client.post(
        "/v1/cases/case-1/actions", json={"type": "visit", "version": 1}, headers=worker
    )
    assert stale.status_code == 409 and stale.json["error"]["code"] == "version_conflict"
    bad = client.post("/v1/cases/case-1/actions", json={"type": "teleport"}, headers=worker)
    assert bad.status_code == 422 and "type" in bad.json["error"]["fields"]
    done = client.post(
        "/v1/cases/case-1/actions", json={"type": "purchase", "version": 2}, headers=worker
    )
    assert done.status_code == 200 and done.json["version"] == 3
    # published at once (its progress mark follows within a moment): nothing for the relay
    wait_until(
        lambda: store.cases.find_one({"_id": "case-1"}).get("published_seq") == 4,
        5,
        message="the progress mark",
    )
    stored = store.cases.find_one({"_id": "case-1"})
    assert [e["sequence"] for e in stored["outbox"] if e["sequence"] > 4] == []
    # every answer that carried the resident in full was recorded, refusals were not
    assert [
        (a["actor"], a["purpose"]) for a in store.access_log.entries.find({"case_id": "case-1"})
    ] == [
        ("dx-01", "accept"),
        ("dx-01", "record_action"),
    ]


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
    access = list(store.access_log.entries.find({"case_id": "case-1"}))
    assert [(a["actor"], a["purpose"]) for a in access] == [("dx-01", "view")]
    assert client.get("/v1/cases/nope", headers=bearer(tokens["admin"])).status_code == 404
    assert client.get("/v1/cases?status=lost", headers=bearer(tokens["admin"])).status_code == 422


def test_figures_are_scoped_to_the_callers_station(settings, database, tokens):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    event = new_event(
        REQUEST_RECEIVED,
        {
            "request_id": "r-1",
            "channel": "phone",
            "station": "daxing",
            "resident_ref": "p_1",
            "resident": {"name": "邹书兰", "phone": "13812345678"},
            "need": {"type": "medicine_purchase"},
            "received_at": "2023-05-29T08:00:00+08:00",
        },
        subject="r-1",
        correlation_id="r-1",
    )
    keep(projector_of(store), *load_event(event, REQUEST_RECEIVED))
    client = Client(reporting_api.create_app(settings))
    mine = client.get("/v1/reports/summary", headers=bearer(tokens["daxing"]))
    assert mine.status_code == 200
    assert (mine.json["station"], mine.json["requests_received"]) == ("daxing", 1)
    assert (
        client.get(
            "/v1/reports/summary?station=daxing", headers=bearer(tokens["xiaxiang"])
        ).status_code
        == 403
    )
    assert (
        client.get("/v1/reports/summary", headers=bearer(tokens["xiaxiang"])).json[
            "requests_received"
        ]
        == 0
    )
    district = client.get(
        "/v1/reports/summary?from=2023-05-29&to=2023-05-29", headers=bearer(tokens["admin"])
    )
    assert (district.json["station"], district.json["requests_received"]) == (None, 1)
    assert (
        client.get("/v1/reports/summary?from=2023-05-30", headers=bearer(tokens["admin"])).json[
            "requests_received"
        ]
        == 0
    )
    reversed_period = client.get(
        "/v1/reports/summary?from=2023-06-01&to=2023-05-01", headers=bearer(tokens["admin"])
    )
    assert reversed_period.status_code == 422 and "from" in reversed_period.json["error"]["fields"]
    assert (
        client.get("/v1/reports/summary?from=soon", headers=bearer(tokens["admin"])).status_code
        == 422
    )
