"""A station head exports the station's cases of a period as CSV (UTF-8 with BOM), masked
unless asked in full by a role that may, the full export recorded (issue 17)."""

import csv
import io
from datetime import date, timedelta

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import handlers
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.common import auth, clock
from tests.support import add_case, register_resident, seeded_case_store


@pytest.fixture
def tokens(settings):
    def issue(*args):
        return {"Authorization": f"Bearer {auth.issue_token(settings.token_secret, *args)}"}

    return {
        "admin": issue("district-admin", "district_admin"),
        "worker": issue("dx-01", "worker", "daxing", "王晨光"),
        "head": issue("dx-02", "station_head", "daxing", "陈静"),
        "xiaxiang_head": issue("xx-01", "station_head", "xiaxiang", "吴军"),
    }


@pytest.fixture
def stations(settings, database, topology):
    store = seeded_case_store(database)
    for number, (station, name, phone) in enumerate(
        (
            ("daxing", "邹书兰", "13812345678"),
            ("daxing", "=HYPERLINK(1)", "13712340000"),
            ("xiaxiang", "郑秀英", "13612345678"),
        )
    ):
        request = {
            "request_id": f"r-{number}",
            "channel": "phone",
            "station": station,
            "resident": {"name": name, "phone": phone, "categories": ["elderly"]},
            "resident_ref": f"p_{number}",
            "need": {"type": "home_visit", "description": "探访"},
            "received_at": "2026-11-30T08:00:00+08:00",
        }
        roster = [
            domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
            for w in store.roster(station)
        ]
        register_resident(store, request, clock.now())
        case, events = domain_opening.open_case(f"case-{number}", request, roster, {}, clock.now())
        add_case(store, case, handlers.to_envelopes(case, events, None, f"e-{number}"))
    return store, Client(casework_api.create_app(settings))


def period(days_before=1, days_after=1):
    today = date.fromisoformat(clock.local_day(clock.now()))
    return (
        f"from={(today - timedelta(days=days_before)).isoformat()}"
        f"&to={(today + timedelta(days=days_after)).isoformat()}"
    )


def rows(answer):
    assert answer.status_code == 200, answer.data[:300]
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.data.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
    return list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))


def test_a_station_head_exports_the_stations_cases_masked(stations, tokens):
    store, client = stations
    table = rows(client.get(f"/v1/cases/export?{period()}", headers=tokens["head"]))
    header, lines = table[0], table[1:]
    assert header[:3] == ["案件编号", "站点", "状态"]
    assert sorted(line[0] for line in lines) == ["case-0", "case-1"]  # Daxing's only
    zou = next(line for line in lines if line[0] == "case-0")
    assert "邹**" in zou and "138****5678" in zou and "13812345678" not in zou
    # a formula in a name is text in the spreadsheet, not something it runs
    assert all(not cell.startswith("=") for line in lines for cell in line)
    assert store.access_log.entries.count_documents({}) == 0  # nothing in full
    # another period has none of them
    assert rows(client.get(f"/v1/cases/export?{period(-5, 9)}", headers=tokens["head"]))[1:] == []


def test_in_full_only_for_a_role_that_may_and_each_case_is_recorded(stations, tokens):
    store, client = stations
    full = rows(client.get(f"/v1/cases/export?{period()}&personal=full", headers=tokens["head"]))
    assert any("13812345678" in line for line in full[1:])
    assert sorted((e["case_id"], e["purpose"]) for e in store.access_log.entries.find()) == [
        ("case-0", "export"),
        ("case-1", "export"),
    ]
    district = rows(client.get(f"/v1/cases/export?{period()}", headers=tokens["admin"]))
    assert len(district) == 4
    assert client.get(f"/v1/cases/export?{period()}", headers=tokens["worker"]).status_code == 403
    assert (
        client.get(
            f"/v1/cases/export?{period()}&station=daxing", headers=tokens["xiaxiang_head"]
        ).status_code
        == 403
    )
    for query, field in (
        ("to=2026-11-30", "from"),
        (period(-3, 1), "to"),
        (f"{period()}&personal=all", "personal"),
    ):
        bad = client.get(f"/v1/cases/export?{query}", headers=tokens["head"])
        assert bad.status_code == 422 and field in bad.json["error"]["fields"], query
