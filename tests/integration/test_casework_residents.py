"""Finding a resident and opening their record through the casework API on the real
store: station scoping, masking by role, contacts and cases, and every read in full
recorded in the access log (issue 17)."""

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.common import auth, clock
from services.common.fields import ID_CARD_CHECK, ID_CARD_WEIGHTS
from tests.support import add_case, register_resident, seeded_case_store


def id_number(first17):
    total = sum(int(d) * w for d, w in zip(first17, ID_CARD_WEIGHTS, strict=True))
    return first17 + ID_CARD_CHECK[total % 11]


ZOU_ID = id_number("32000019450101123")


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "admin": issue("district-admin", "district_admin"),
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "xiaxiang": issue("xx-02", "worker", "xiaxiang", "郑芳"),
    }


def request(request_id, ref, name, phone, station="daxing", **resident):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": station,
        "resident": {"name": name, "phone": phone, "categories": ["elderly"], **resident},
        "resident_ref": ref,
        "need": {"type": "home_visit", "description": "探访"},
        "received_at": "2026-11-30T08:00:00+08:00",
    }


@pytest.fixture
def registry(settings, database, topology):
    store = seeded_case_store(database)
    zou = request(
        "r-1",
        "p_zou",
        "邹书兰",
        "13812345678",
        id_number=ZOU_ID,
        emergency_contact={"name": "邹明", "relation": "儿子", "phone": "13900001111"},
    )
    for req in (
        zou,
        request("r-2", "p_zhou", "周国强", "13712340000"),
        request("r-3", "p_zheng", "郑秀英", "13612345678", station="xiaxiang"),
        # the same person again, known by another ref (e.g. from another channel)
        request("r-4", "p_zou_2", "邹书兰", "13812345678"),
    ):
        register_resident(store, req, clock.now())
    roster = [
        domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
        for w in store.roster("daxing")
    ]
    for case_id, req in (
        ("case-1", zou),
        ("case-2", request("r-4", "p_zou_2", "邹书兰", "13812345678")),
    ):
        case, events = domain_opening.open_case(case_id, req, roster, {}, clock.now())
        add_case(store, case, handlers.to_envelopes(case, events, None, f"e-{case_id}"))
    return store, Client(casework_api.create_app(settings))


def found(answer):
    assert answer.status_code == 200, answer.json
    return answer.json["residents"]


def test_a_worker_finds_the_stations_residents_masked_by_name_phone_or_id(registry, tokens):
    store, client = registry
    for q in ("书兰", "5678", ZOU_ID):
        shown = found(client.get(f"/v1/residents?q={q}", headers=tokens["worker"]))
        assert [r["resident_ref"] for r in shown] == ["p_zou"], q
        assert shown[0]["name"] == "邹**" and shown[0]["phone"] == "138****5678"
        assert shown[0]["id_number"] == ZOU_ID[:6] + "********" + ZOU_ID[-4:]
    # another station's resident does not show, and naming that station is refused
    assert found(client.get("/v1/residents?q=郑", headers=tokens["worker"])) == []
    assert client.get("/v1/residents?station=xiaxiang", headers=tokens["worker"]).status_code == 403
    assert [
        r["resident_ref"]
        for r in found(client.get("/v1/residents?q=郑", headers=tokens["xiaxiang"]))
    ] == ["p_zheng"]
    # a regular expression in q is text, not a pattern
    assert found(client.get("/v1/residents?q=.*", headers=tokens["worker"])) == []
    assert client.get("/v1/residents?q=", headers=tokens["worker"]).status_code == 422
    # masked lists are not reads of personal data: nothing was logged
    assert store.access_log.entries.count_documents({}) == 0


def test_a_head_sees_in_full_and_each_resident_shown_is_logged(registry, tokens):
    store, client = registry
    answer = client.get("/v1/residents?limit=1", headers=tokens["head"])
    first = found(answer)
    assert answer.json["masked"] is False and len(first) == 1
    second = client.get(
        f"/v1/residents?limit=1&cursor={answer.json['next_cursor']}", headers=tokens["head"]
    ).json
    assert second["next_cursor"] is None
    assert {first[0]["resident_ref"], second["residents"][0]["resident_ref"]} == {"p_zou", "p_zhou"}
    zou = next(r for r in first + second["residents"] if r["resident_ref"] == "p_zou")
    assert zou["phone"] == "13812345678"
    logged = list(store.access_log.entries.find({}, {"_id": 0}))
    assert sorted((e["actor"], e["purpose"], e["resident_ref"]) for e in logged) == [
        ("dx-02", "search_resident", "p_zhou"),
        ("dx-02", "search_resident", "p_zou"),
    ]


def test_the_residents_record_with_contacts_and_cases_and_the_read_logged(registry, tokens):
    store, client = registry
    record = client.get("/v1/residents/p_zou", headers=tokens["worker"])
    assert record.status_code == 200, record.json
    body = record.json
    assert body["name"] == "邹书兰" and body["id_number"] == ZOU_ID
    assert body["emergency_contacts"] == [
        {"name": "邹明", "relation": "儿子", "phone": "13900001111"}
    ]
    assert "elderly" in body["categories"]
    # the cases under both of the person's refs
    assert sorted(c["case_id"] for c in body["cases"]) == ["case-1", "case-2"]
    # opened by the alias ref too
    assert (
        client.get("/v1/residents/p_zou_2", headers=tokens["worker"]).json["resident_ref"]
        == "p_zou"
    )
    assert client.get("/v1/residents/p_zou", headers=tokens["xiaxiang"]).status_code == 403
    assert client.get("/v1/residents/nobody", headers=tokens["worker"]).status_code == 404
    entries = client.get("/v1/access-log?resident_ref=p_zou", headers=tokens["admin"]).json
    assert [(e["actor"], e["purpose"], e["case_id"]) for e in entries["entries"]] == [
        ("dx-01", "view_resident", None),
        ("dx-01", "view_resident", None),
    ]
    verified = client.get("/v1/access-log/verify", headers=tokens["admin"]).json
    assert verified["valid"] is True and verified["checked"] == 2
    # the chain covers the resident named: changing it is caught
    store.access_log.entries.update_one({"seq": 1}, {"$set": {"resident_ref": "p_zhou"}})
    assert client.get("/v1/access-log/verify", headers=tokens["admin"]).json["valid"] is False


def test_a_search_reads_index_ranges_by_the_start_of_a_name_or_either_end_of_a_phone(
    registry, tokens
):
    """Family name, full name, given name; the phone's first or last digits (issue 23:
    what a search reads is bounded by what it finds, not by how many residents there are).
    A piece from the middle of a name or a phone finds nothing (docs/casework.md)."""
    store, client = registry

    def refs(q, token="worker"):
        return [
            r["resident_ref"]
            for r in found(client.get(f"/v1/residents?q={q}", headers=tokens[token]))
        ]

    for q in ("邹", "邹书兰", "书兰", "书", "138123", "5678", "45678"):
        assert refs(q) == ["p_zou"], q
    assert refs("周") == ["p_zhou"] and refs("0000") == ["p_zhou"]
    for q in ("兰", "2345", "书兰X"):
        assert refs(q) == [], q
    assert store.residents.records.find_one({"_id": "p_zou"})["phone_reversed"] == "87654321831"
