"""A worker's own list on the real store: several statuses, assignee=me, overdue, priority,
sorted by due time, and every casework list paged with an opaque cursor (issue 17)."""

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework.domain import Case
from services.common import auth, clock
from tests.support import add_case, seeded_case_store

HOUR_MS = 3600 * 1000


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "admin": issue("district-admin", "district_admin"),
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "other": issue("dx-03", "worker", "daxing", "刘洋"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "xiaxiang": issue("xx-02", "worker", "xiaxiang", "郑芳"),
    }


@pytest.fixture
def casework(settings, database, topology):
    store = seeded_case_store(database)
    return store, Client(casework_api.create_app(settings))


def a_case(
    case_id,
    status,
    priority="normal",
    assignee="dx-01",
    station="daxing",
    accept_in_h=4,
    resolve_in_h=48,
    opened="2026-11-30T08:00:00+08:00",
):
    now = clock.to_ms(clock.now())
    return Case(
        case_id=case_id,
        request_id=f"r-{case_id}",
        station=station,
        status=status,
        priority=priority,
        priority_reason="一般求助",
        need_type="home_visit",
        need_description="探访",
        resident={"name": "邹**", "phone": "138****5678", "categories": []},
        resident_ref=f"p_{case_id}",
        assignee={"id": assignee, "name": "x", "phone": "13900000000"} if assignee else None,
        correlation_id=case_id,
        request_received_at=opened,
        opened_at=opened,
        accept_due_ms=now + accept_in_h * HOUR_MS,
        resolve_due_ms=now + resolve_in_h * HOUR_MS,
    )


def seed_cases(store):
    cases = [
        a_case(
            "c-late-accept",
            "assigned",
            "urgent",
            accept_in_h=-1,
            resolve_in_h=20,
            opened="2026-11-30T09:00:00+08:00",
        ),
        a_case(
            "c-accepted",
            "accepted",
            accept_in_h=-30,
            resolve_in_h=10,
            opened="2026-11-30T10:00:00+08:00",
        ),
        a_case(
            "c-late-work",
            "in_progress",
            "low",
            accept_in_h=-50,
            resolve_in_h=-2,
            opened="2026-11-30T07:00:00+08:00",
        ),
        a_case("c-fresh", "assigned", accept_in_h=3, opened="2026-11-30T11:00:00+08:00"),
        a_case("c-resolved", "resolved", accept_in_h=-60, resolve_in_h=-50),
        a_case("c-colleague", "assigned", assignee="dx-03", accept_in_h=-3),
        a_case("c-elsewhere", "assigned", assignee="xx-02", station="xiaxiang", accept_in_h=-5),
    ]
    for case in cases:
        assert add_case(store, case, []) is not None


def ids(answer):
    assert answer.status_code == 200, answer.json
    return [case["case_id"] for case in answer.json["cases"]]


def test_my_open_cases_by_due_time_and_what_is_overdue(casework, tokens):
    store, client = casework
    seed_cases(store)
    mine = client.get(
        "/v1/cases?status=assigned,accepted,in_progress&assignee=me", headers=tokens["worker"]
    )
    # earliest deadline first: acceptance while waiting to be accepted, else resolution
    assert ids(mine) == ["c-late-work", "c-late-accept", "c-fresh", "c-accepted"]
    assert [c["overdue"] for c in mine.json["cases"]] == [True, True, False, False]
    assert all(c["due_at"] for c in mine.json["cases"])
    assert mine.json["next_cursor"] is None
    late = client.get("/v1/cases?assignee=me&overdue=true", headers=tokens["worker"])
    assert ids(late) == ["c-late-work", "c-late-accept"]  # resolved: no clock runs
    on_time = client.get(
        "/v1/cases?assignee=me&overdue=false&status=assigned,accepted", headers=tokens["worker"]
    )
    assert ids(on_time) == ["c-fresh", "c-accepted"]
    urgent = client.get("/v1/cases?assignee=me&priority=urgent,low", headers=tokens["worker"])
    assert ids(urgent) == ["c-late-work", "c-late-accept"]
    # the head's view of the station's overdue work; another station's never shows
    station_late = client.get("/v1/cases?overdue=true", headers=tokens["head"])
    assert ids(station_late) == ["c-colleague", "c-late-work", "c-late-accept"]
    # the old single-value status and the named assignee still work, newest first on ask
    assert ids(client.get("/v1/cases?status=resolved", headers=tokens["worker"])) == ["c-resolved"]
    newest = client.get("/v1/cases?assignee=dx-01&sort=opened", headers=tokens["worker"])
    assert ids(newest)[:2] == ["c-fresh", "c-accepted"]
    assert ids(client.get("/v1/cases?assignee=me", headers=tokens["xiaxiang"])) == ["c-elsewhere"]


def test_bad_filters_are_refused_with_the_field_named(casework, tokens):
    _, client = casework
    for query, field in (
        ("status=assigned,lost", "status"),
        ("status=,", "status"),
        ("priority=high", "priority"),
        ("overdue=maybe", "overdue"),
        ("sort=name", "sort"),
        ("cursor=%25%25", "cursor"),
        ("cursor=bm90IGpzb24", "cursor"),
    ):
        answer = client.get(f"/v1/cases?{query}", headers=tokens["worker"])
        assert answer.status_code == 422, query
        assert field in answer.json["error"]["fields"], (query, answer.json)


def walk(client, path, headers, key):
    """Every page of a list, following next_cursor."""
    seen, cursor, pages = [], None, 0
    while True:
        joiner = "&" if "?" in path else "?"
        answer = client.get(path + (f"{joiner}cursor={cursor}" if cursor else ""), headers=headers)
        assert answer.status_code == 200, answer.json
        seen += answer.json[key]
        pages += 1
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return seen, pages


def test_every_casework_list_is_paged_with_a_cursor(casework, tokens):
    store, client = casework
    seed_cases(store)
    whole = ids(client.get("/v1/cases?station=daxing", headers=tokens["admin"]))
    assert len(whole) == 6
    for sort in ("due", "opened"):
        everything = ids(
            client.get(f"/v1/cases?station=daxing&sort={sort}", headers=tokens["admin"])
        )
        paged, pages = walk(
            client, f"/v1/cases?station=daxing&sort={sort}&limit=2", tokens["admin"], "cases"
        )
        assert [c["case_id"] for c in paged] == everything and pages == 3
    # a cursor belongs to its order: one from another sort is refused
    first = client.get("/v1/cases?sort=opened&limit=1", headers=tokens["admin"]).json
    refused = client.get(
        f"/v1/cases?sort=due&cursor={first['next_cursor']}", headers=tokens["admin"]
    )
    assert refused.status_code == 422 and "cursor" in refused.json["error"]["fields"]

    for number in range(5):
        answer = client.post(
            "/v1/stations/daxing/activities",
            headers=tokens["head"],
            json={"activity_type": "training", "title": f"培训{number}", "participants": number},
        )
        assert answer.status_code == 201
    records, pages = walk(client, "/v1/stations/daxing/programs?limit=2", tokens["head"], "records")
    assert pages == 3 and len({r["record_id"] for r in records}) == 5
    assert sorted(r["details"]["title"] for r in records) == [f"培训{n}" for n in range(5)]

    for case_id in whole:
        assert client.get(f"/v1/cases/{case_id}", headers=tokens["head"]).status_code == 200
    entries, pages = walk(client, "/v1/access-log?limit=4", tokens["admin"], "entries")
    assert [e["seq"] for e in entries] == list(range(1, 7)) and pages == 2
    after = client.get("/v1/access-log?after_seq=4", headers=tokens["admin"]).json
    assert [e["seq"] for e in after["entries"]] == [5, 6] and after["next_cursor"] is None
