"""Corrections of station program records through the casework API on the real store and
broker: append-only, with the reason and who made it, the history showing both, and
program.record_corrected on the wire (issue 17)."""

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.common import auth
from services.common.contracts import PROGRAM_RECORD_CORRECTED
from tests.support import seeded_case_store, tap, wait_until


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "xiaxiang": issue("xx-02", "worker", "xiaxiang", "郑芳"),
    }


@pytest.fixture
def programs(settings, database, topology):
    store = seeded_case_store(database)
    events = tap(
        settings.amqp_uri, "casework", "test-corrections", routing_key=PROGRAM_RECORD_CORRECTED.type
    )
    return store, Client(casework_api.create_app(settings)), events


def test_a_donation_corrected_then_voided_keeps_its_whole_history(programs, tokens):
    store, client, events = programs
    donation = client.post(
        "/v1/stations/daxing/donations",
        headers=tokens["worker"],
        json={"kind": "money", "amount_fen": 500_000, "donor": "爱心企业", "on": "2026-11-20"},
    )
    assert donation.status_code == 201
    record_id = donation.json["record_id"]
    path = f"/v1/stations/daxing/programs/{record_id}/corrections"
    fixed = client.post(
        path,
        headers={**tokens["head"], "Idempotency-Key": "fix-1"},
        json={
            "reason": "金额多录了一个零",
            "values": {"kind": "money", "amount_fen": 50_000, "on": "2026-11-20"},
        },
    )
    assert fixed.status_code == 201, fixed.json
    assert fixed.json["corrects"] == record_id and fixed.json["recorded_by"] == "dx-02"
    again = client.post(
        path,
        headers={**tokens["head"], "Idempotency-Key": "fix-1"},
        json={
            "reason": "金额多录了一个零",
            "values": {"kind": "money", "amount_fen": 50_000, "on": "2026-11-20"},
        },
    )
    assert again.status_code == 200 and again.json["record_id"] == fixed.json["record_id"]
    history = client.get(f"/v1/stations/daxing/programs/{record_id}", headers=tokens["worker"])
    assert history.status_code == 200
    assert history.json["record"]["details"]["amount_fen"] == 500_000  # never changed
    assert history.json["current"]["amount_fen"] == 50_000
    assert [c["details"]["reason"] for c in history.json["corrections"]] == ["金额多录了一个零"]
    assert store.programs.get(record_id)["details"]["amount_fen"] == 500_000

    voided = client.post(path, headers=tokens["head"], json={"reason": "重复登记", "void": True})
    assert voided.status_code == 201
    after = client.get(f"/v1/stations/daxing/programs/{record_id}", headers=tokens["worker"]).json
    assert after["void"] is True and after["current"] is None and after["revision"] == 2
    assert [c["details"]["revision"] for c in after["corrections"]] == [1, 2]
    refused = client.post(
        path,
        headers=tokens["head"],
        json={"reason": "再改", "values": {"kind": "money", "amount_fen": 1}},
    )
    assert refused.status_code == 409
    # both corrections went out, each once, naming the original and the reason
    published = wait_until(
        lambda: (found := events()) and len(found) >= 2 and found,
        5,
        message="program.record_corrected on the broker",
    )
    assert [(e["data"]["revision"], e["data"]["void"]) for e in published] == [
        (1, False),
        (2, True),
    ]
    assert published[0]["data"]["corrected"]["amount_fen"] == 50_000
    assert published[0]["data"]["original"]["amount_fen"] == 500_000
    assert "爱心企业" not in str(published)  # the donor stays home
    # the list shows the original and both corrections
    listed = client.get("/v1/stations/daxing/programs", headers=tokens["worker"]).json
    assert sorted(r["kind"] for r in listed["records"]) == ["correction", "correction", "donation"]


def test_bad_corrections_change_nothing(programs, tokens):
    store, client, events = programs
    activity = client.post(
        "/v1/stations/daxing/activities",
        headers=tokens["worker"],
        json={"activity_type": "training", "title": "培训", "participants": 12},
    )
    record_id = activity.json["record_id"]
    path = f"/v1/stations/daxing/programs/{record_id}/corrections"
    for body, field in (
        ({"values": {"activity_type": "training", "title": "x"}}, "reason"),
        ({"reason": "r"}, "values"),
        ({"reason": "r", "void": True, "values": {"title": "x"}}, "values"),
        ({"reason": "r", "values": {"activity_type": "dance", "title": "x"}}, "values"),
    ):
        bad = client.post(path, headers=tokens["head"], json=body)
        assert bad.status_code == 422 and field in bad.json["error"]["fields"], body
    assert (
        client.post(
            path, headers=tokens["xiaxiang"], json={"reason": "r", "void": True}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/stations/daxing/programs/nope/corrections",
            headers=tokens["head"],
            json={"reason": "r", "void": True},
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/v1/stations/xiaxiang/programs/{record_id}/corrections",
            headers=tokens["xiaxiang"],
            json={"reason": "r", "void": True},
        ).status_code
        == 404
    )
    assert store.programs.corrections_of(record_id) == [] and events() == []
