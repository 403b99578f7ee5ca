"""The casework HTTP API in-process (WSGI) on the real store and broker: the whole life
of a case, reassignment and escalation, station programs, rosters, the access log."""

import json

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers, seed
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.casework.store import CaseStore
from services.common import auth, clock
from tests.support import add_case, register_resident, tap, wait_until


@pytest.fixture
def tokens(settings):
    secret = settings.token_secret

    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(secret, *args)}"}

    return {
        "admin": issue("district-admin", "district_admin"),
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "other": issue("dx-03", "worker", "daxing", "刘洋"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "xiaxiang": issue("xx-02", "worker", "xiaxiang", "郑芳"),
        "xiaxiang_head": issue("xx-01", "station_head", "xiaxiang", "吴军"),
    }


@pytest.fixture
def program_events(settings, topology):
    """A queue bound to every casework event, to see what reaches the broker."""
    return tap(settings.amqp_uri, "casework", "test-casework-events")


@pytest.fixture
def casework(settings, database, topology):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster(), seed.calendar())
    return store, Client(casework_api.create_app(settings))


def open_case(store, assignee="dx-01"):
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
    worker = [
        domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
        for w in store.roster("daxing")
        if w.id in (assignee, "dx-02")
    ]
    case, events = domain_opening.open_case("case-1", request, worker, {}, clock.now())
    register_resident(store, request, clock.now())
    add_case(store, case, handlers.to_envelopes(case, events, None, "e-0"))
    return case


def post(client, path, body, headers):
    return client.post(path, json=body, headers=headers)


def test_the_whole_life_of_a_case_through_the_api(casework, tokens, program_events):
    store, client = casework
    open_case(store)
    steps = [
        ("accept", {}, "worker", 200, "accepted"),
        ("refer", {"agency": "区残联", "note": "需要轮椅"}, "worker", 200, "referred"),
        ("referral-answer", {"accepted": False}, "worker", 200, "in_progress"),
        ("actions", {"type": "delivery", "note": "药已送到"}, "worker", 200, "in_progress"),
        ("close", {}, "head", 409, None),
        ("resolve", {"summary": "代购药品并送达"}, "worker", 200, "resolved"),
        ("reopen", {"reason": "药不对"}, "worker", 200, "assigned"),
        ("accept", {}, "worker", 200, "accepted"),
        ("resolve", {"summary": "换药"}, "worker", 200, "resolved"),
        ("close", {}, "head", 200, "closed"),
        ("reopen", {}, "head", 409, None),
        ("cancel", {"reason": "withdrawn"}, "head", 409, None),
    ]
    for command, body, who, status, case_status in steps:
        answer = post(client, f"/v1/cases/case-1/{command}", body, tokens[who])
        assert answer.status_code == status, (command, answer.json)
        if status == 200:
            assert answer.json["status"] == case_status
            assert answer.json["resident"]["phone"] == "13812345678"  # in full, recorded
        else:
            assert answer.json["error"]["code"] == "illegal_transition"
            assert answer.json["error"]["message"]

    def published(document):
        return document.get("published_seq") == document["last_seq"] and document["outbox"] == []

    wait_until(
        lambda: published(store.cases.find_one({"_id": "case-1"})), 5, message="the progress mark"
    )
    stored = store.cases.find_one({"_id": "case-1"})
    on_the_wire = program_events()
    # the opening events left in the outbox go out, in order, with the first command
    assert [e["sequence"] for e in on_the_wire] == list(range(1, stored["last_seq"] + 1))
    assert on_the_wire[-1]["type"] == "shegong.case.closed.v1"


def test_reassignment_is_for_the_station_head_and_escalation_goes_to_the_head(casework, tokens):
    store, client = casework
    open_case(store)
    assert (
        post(
            client, "/v1/cases/case-1/reassign", {"worker_id": "dx-03"}, tokens["worker"]
        ).status_code
        == 403
    )
    assert (
        post(
            client, "/v1/cases/case-1/reassign", {"worker_id": "dx-03"}, tokens["xiaxiang_head"]
        ).status_code
        == 403
    )
    unknown = post(client, "/v1/cases/case-1/reassign", {"worker_id": "nobody"}, tokens["head"])
    assert unknown.status_code == 422 and "worker_id" in unknown.json["error"]["fields"]
    moved = post(client, "/v1/cases/case-1/reassign", {"worker_id": "dx-03"}, tokens["head"])
    assert moved.status_code == 200 and moved.json["assignee"]["id"] == "dx-03"
    assert post(client, "/v1/cases/case-1/accept", {}, tokens["worker"]).status_code == 403
    up = post(client, "/v1/cases/case-1/escalate", {"note": "需站长协调"}, tokens["other"])
    assert up.status_code == 200 and up.json["assignee"]["id"] == "dx-02"
    assert up.json["escalations"][-1]["reason"] == "manual"
    assert (
        post(client, "/v1/cases/case-1/cancel", {"reason": "lost"}, tokens["head"]).status_code
        == 422
    )
    cancelled = post(client, "/v1/cases/case-1/cancel", {"reason": "duplicate"}, tokens["head"])
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"


def test_a_worker_sees_and_changes_only_their_stations_cases(casework, tokens):
    store, client = casework
    open_case(store)
    for path, body in (
        ("accept", {}),
        ("actions", {"type": "note"}),
        ("cancel", {"reason": "withdrawn"}),
    ):
        refused = post(client, f"/v1/cases/case-1/{path}", body, tokens["xiaxiang"])
        assert refused.status_code == 403, path
    assert client.get("/v1/cases/case-1", headers=tokens["xiaxiang"]).status_code == 403
    assert store.get("case-1")[0].version == 1
    assert client.get("/v1/cases/case-1", headers=tokens["admin"]).status_code == 200
    mine = client.get("/v1/cases?assignee=dx-01", headers=tokens["worker"]).json["cases"]
    assert [c["case_id"] for c in mine] == ["case-1"]
    assert client.get("/v1/cases?assignee=dx-03", headers=tokens["other"]).json["cases"] == []


def test_station_programs_are_recorded_once_and_published(casework, tokens, program_events):
    _, client = casework
    key = {"Idempotency-Key": "team-1"}
    team = client.post(
        "/v1/stations/daxing/volunteer-teams",
        json={"name": "大兴邻里互助队", "on": "2023-05-20"},
        headers={**tokens["head"], **key},
    )
    assert team.status_code == 201, team.json
    replay = client.post(
        "/v1/stations/daxing/volunteer-teams",
        json={"name": "大兴邻里互助队", "on": "2023-05-20"},
        headers={**tokens["head"], **key},
    )
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json["record_id"] == team.json["record_id"]
    other = client.post(
        "/v1/stations/daxing/volunteer-teams",
        json={"name": "别的队"},
        headers={**tokens["head"], **key},
    )
    assert other.status_code == 409
    team_id = team.json["record_id"]
    member = client.post(
        f"/v1/stations/daxing/volunteer-teams/{team_id}/members",
        json={"name": "李四", "phone": "13700001111"},
        headers=tokens["worker"],
    )
    assert member.status_code == 201 and "13700001111" not in json.dumps(member.json)
    assert (
        client.post(
            "/v1/stations/daxing/volunteer-teams/nope/members",
            json={"name": "李四", "phone": "13700001111"},
            headers=tokens["worker"],
        ).status_code
        == 404
    )
    recorded = [
        ("social-organisations", {"name": "大兴为老服务社"}),
        ("donations", {"kind": "money", "amount_fen": 1_950_000, "donor": "爱心企业"}),
        ("donations", {"kind": "goods", "goods": "大米", "quantity": 20}),
        ("aid", {"household_ref": "h_1", "items": "米、油", "value_fen": 20000}),
        ("activities", {"activity_type": "training", "title": "项目管理培训", "participants": 12}),
    ]
    for path, body in recorded:
        answer = client.post(f"/v1/stations/daxing/{path}", json=body, headers=tokens["worker"])
        assert answer.status_code == 201, (path, answer.json)
    for path, body, field in (
        ("donations", {"kind": "money", "amount_fen": 0}, "amount_fen"),
        ("donations", {"kind": "money", "amount_fen": 1.5}, "amount_fen"),
        ("activities", {"activity_type": "dance", "title": "x"}, "activity_type"),
    ):
        bad = client.post(f"/v1/stations/daxing/{path}", json=body, headers=tokens["worker"])
        assert bad.status_code == 422 and field in bad.json["error"]["fields"]
    assert (
        client.post(
            "/v1/stations/daxing/activities",
            json={"activity_type": "training", "title": "x"},
            headers=tokens["xiaxiang"],
        ).status_code
        == 403
    )
    listed = client.get("/v1/stations/daxing/programs?kind=donation", headers=tokens["worker"])
    assert len(listed.json["records"]) == 2
    assert client.get("/v1/stations/daxing/programs", headers=tokens["xiaxiang"]).status_code == 403
    published = [e["type"] for e in program_events()]
    assert sorted(published) == sorted(
        [
            "shegong.program.volunteer_team_formed.v1",
            "shegong.program.volunteer_joined.v1",
            "shegong.program.social_organisation_cultivated.v1",
            "shegong.program.donation_received.v1",
            "shegong.program.donation_received.v1",
            "shegong.program.aid_distributed.v1",
            "shegong.program.activity_held.v1",
        ]
    )


def test_the_roster_says_who_is_on_duty_holidays_included(casework, tokens):
    _, client = casework
    national_day = client.get("/v1/stations/daxing/roster?day=2026-10-01", headers=tokens["worker"])
    assert national_day.status_code == 200 and national_day.json["holiday"] is True
    assert len(national_day.json["on_duty"]) == 2
    monday = client.get("/v1/stations/daxing/roster?day=2026-11-30", headers=tokens["worker"])
    assert monday.json["holiday"] is False and monday.json["station_head"]["id"] == "dx-02"
    luji = client.get("/v1/stations/luji/roster?day=2026-11-30", headers=tokens["admin"])
    assert luji.json["on_duty"] == [] and luji.json["station_head"]["id"] == "lj-01"
    assert client.get("/v1/stations/luji/roster", headers=tokens["worker"]).status_code == 403


def test_district_admins_read_and_verify_the_access_log_and_see_tampering(casework, tokens):
    store, client = casework
    open_case(store)
    for who in ("worker", "head", "worker", "admin"):
        assert client.get("/v1/cases/case-1", headers=tokens[who]).status_code == 200
    assert client.get("/v1/access-log", headers=tokens["head"]).status_code == 403
    log = client.get("/v1/access-log?case_id=case-1", headers=tokens["admin"])
    assert [(e["seq"], e["actor"]) for e in log.json["entries"]] == [
        (1, "dx-01"),
        (2, "dx-02"),
        (3, "dx-01"),
        (4, "district-admin"),
    ]
    assert log.json["entries"][1]["prev_hash"] == log.json["entries"][0]["hash"]
    assert client.get("/v1/access-log/verify", headers=tokens["admin"]).json["valid"] is True
    store.access_log.entries.update_one({"seq": 2}, {"$set": {"purpose": "nothing to see"}})
    verdict = client.get("/v1/access-log/verify", headers=tokens["admin"]).json
    assert (verdict["valid"], verdict["first_invalid_seq"]) == (False, 2)
