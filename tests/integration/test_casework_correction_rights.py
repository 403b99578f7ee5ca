"""Who may correct or void a station's program records, on the real store and broker
(issue 26, item 5): the station head and district administrators; a worker only her own
record, within 24 hours, and never a void. Every refusal changes nothing and publishes
nothing. And the dates the records carry are the dates a station could mean (item 3)."""

from datetime import timedelta

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.common import auth, clock
from services.common.contracts import PROGRAM_RECORD_CORRECTED
from tests.support import seeded_case_store, tap, wait_until

DONATION = {"kind": "money", "amount_fen": 5_000_000, "donor": "爱心企业"}
AID = {"household_ref": "h_001", "items": "米、油", "value_fen": 20_000}
NEW_VALUES = {
    "donation": {"kind": "money", "amount_fen": 1},
    "aid": {"household_ref": "h_001", "items": "米", "value_fen": 1},
}


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "other_worker": issue("dx-03", "worker", "daxing", "李娜"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "admin": issue("district-admin", "district_admin"),
        "other_head": issue("xx-01", "station_head", "xiaxiang", "吴军"),
    }


@pytest.fixture
def station(settings, database, topology, monkeypatch):
    store = seeded_case_store(database)
    events = tap(
        settings.amqp_uri,
        "casework",
        "test-correction-rights",
        routing_key=PROGRAM_RECORD_CORRECTED.type,
    )
    return store, Client(casework_api.create_app(settings)), events


def record(client, tokens, kind, who="worker"):
    path = {"donation": "donations", "aid": "aid"}[kind]
    made = client.post(
        f"/v1/stations/daxing/{path}",
        headers=tokens[who],
        json=DONATION if kind == "donation" else AID,
    )
    assert made.status_code == 201, made.json
    return made.json["record_id"]


def correct(client, headers, record_id, void=False, kind="donation"):
    body = {"reason": "录入有误", **({"void": True} if void else {"values": NEW_VALUES[kind]})}
    return client.post(
        f"/v1/stations/daxing/programs/{record_id}/corrections", headers=headers, json=body
    )


def later(monkeypatch, hours):
    moment = clock.now() + timedelta(hours=hours)
    monkeypatch.setattr(clock, "now", lambda: moment)


@pytest.mark.parametrize("kind", ["donation", "aid"])
@pytest.mark.parametrize("void", [False, True], ids=["correct", "void"])
def test_a_worker_may_not_touch_a_record_someone_else_made(station, tokens, kind, void):
    store, client, events = station
    record_id = record(client, tokens, kind, who="head")
    refused = correct(client, tokens["worker"], record_id, void, kind)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert "station head" in refused.json["error"]["message"]
    assert store.programs.corrections_of(record_id) == []
    assert events() == []


@pytest.mark.parametrize("kind", ["donation", "aid"])
def test_a_worker_may_correct_her_own_record_within_24_hours_but_never_void_it(
    station, tokens, monkeypatch, kind
):
    store, client, events = station
    record_id = record(client, tokens, kind)
    voided = correct(client, tokens["worker"], record_id, True, kind)
    assert voided.status_code == 403 and "voids" in voided.json["error"]["message"]
    later(monkeypatch, 23)
    fixed = correct(client, tokens["worker"], record_id, False, kind)
    assert fixed.status_code == 201, fixed.json
    assert fixed.json["recorded_by"] == "dx-01"  # the history names her
    history = client.get(f"/v1/stations/daxing/programs/{record_id}", headers=tokens["head"])
    assert [c["recorded_by"] for c in history.json["corrections"]] == ["dx-01"]
    published = wait_until(events, 5, message="program.record_corrected")
    assert [e["data"]["recorded_by"] for e in published] == ["dx-01"]


@pytest.mark.parametrize("kind", ["donation", "aid"])
@pytest.mark.parametrize("void", [False, True], ids=["correct", "void"])
def test_a_worker_is_refused_her_own_record_after_24_hours(
    station, tokens, monkeypatch, kind, void
):
    store, client, events = station
    record_id = record(client, tokens, kind)
    later(monkeypatch, 25)
    refused = correct(client, tokens["worker"], record_id, void, kind)
    assert refused.status_code == 403, refused.json
    assert "24 hours" in refused.json["error"]["message"] or void
    assert store.programs.corrections_of(record_id) == [] and events() == []


def test_a_worker_may_not_undo_the_heads_correction_of_her_record(station, tokens):
    store, client, _ = station
    record_id = record(client, tokens, "donation")
    assert correct(client, tokens["head"], record_id).status_code == 201
    refused = correct(client, tokens["worker"], record_id)
    assert refused.status_code == 403 and "someone else" in refused.json["error"]["message"]
    assert len(store.programs.corrections_of(record_id)) == 1


@pytest.mark.parametrize("who", ["head", "admin"])
@pytest.mark.parametrize("kind", ["donation", "aid"])
def test_the_head_and_a_district_admin_correct_and_void_any_record_any_time(
    station, tokens, monkeypatch, who, kind
):
    store, client, events = station
    record_id = record(client, tokens, kind, who="other_worker")
    later(monkeypatch, 24 * 30)
    fixed = correct(client, tokens[who], record_id, False, kind)
    assert fixed.status_code == 201, fixed.json
    voided = correct(client, tokens[who], record_id, True, kind)
    assert voided.status_code == 201, voided.json
    history = client.get(f"/v1/stations/daxing/programs/{record_id}", headers=tokens["head"])
    by = {"head": "dx-02", "admin": "district-admin"}[who]
    assert [c["recorded_by"] for c in history.json["corrections"]] == [by, by]
    assert history.json["void"] is True


@pytest.mark.parametrize("void", [False, True], ids=["correct", "void"])
@pytest.mark.parametrize("kind", ["donation", "aid"])
def test_another_stations_head_is_refused(station, tokens, kind, void):
    store, client, events = station
    record_id = record(client, tokens, kind, who="head")
    refused = correct(client, tokens["other_head"], record_id, void, kind)
    assert refused.status_code == 403
    assert store.programs.corrections_of(record_id) == [] and events() == []


@pytest.mark.parametrize(
    "path, body",
    [
        ("donations", {**DONATION, "on": "2000-01-01"}),
        ("donations", {**DONATION, "on": "2062-11-30"}),
        ("aid", {**AID, "on": "2000-01-01"}),
        ("activities", {"activity_type": "training", "title": "培训", "on": "2022-12-31"}),
    ],
)
def test_a_record_dated_where_no_station_was_is_refused(station, tokens, path, body):
    store, client, _ = station
    refused = client.post(f"/v1/stations/daxing/{path}", headers=tokens["head"], json=body)
    assert refused.status_code == 422, refused.json
    assert "2023-01-01" in refused.json["error"]["fields"]["on"][0]
    assert client.get("/v1/stations/daxing/programs", headers=tokens["head"]).json["records"] == []


def test_a_correction_to_a_date_where_no_station_was_is_refused(station, tokens):
    store, client, events = station
    record_id = record(client, tokens, "donation", who="head")
    refused = client.post(
        f"/v1/stations/daxing/programs/{record_id}/corrections",
        headers=tokens["head"],
        json={"reason": "日期", "values": {**NEW_VALUES["donation"], "on": "2000-01-01"}},
    )
    assert refused.status_code == 422 and "on" in refused.json["error"]["fields"]["values"]
    assert store.programs.corrections_of(record_id) == [] and events() == []
