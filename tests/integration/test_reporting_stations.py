"""GET /v1/reports/stations on the real store (issue 17): all ten township stations side
by side for a period, as JSON and CSV, the figures equal to each station's summary and
the open cases by age equal to what the generated history left open."""

import csv
import io
from datetime import datetime, timezone

import pytest
from werkzeug.test import Client

from services.common import auth, clock
from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.common.vocabulary import stations
from services.reporting import api
from services.reporting.domain.stations import DAY_MS, age_bucket
from services.reporting.handlers import reports
from services.reporting.store import ReportStore
from tests.reporting_events import keep, month, projector_of
from tests.support import conforms

NOW = datetime(2023, 5, 12, 4, tzinfo=timezone.utc)  # 12:00 in the district


@pytest.fixture
def reporting(settings, database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    history = month(seed=62, stations=("daxing", "xiaxiang", "shunhe"), cases_per_day=1, days=10)
    for envelope in history.events:
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    secret = settings.token_secret
    tokens = {
        "admin": auth.issue_token(secret, "admin", "district_admin"),
        "daxing": auth.issue_token(secret, "dx-01", "worker", "daxing"),
    }
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return store, history, Client(api.create_app(settings)), tokens


def bearer(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


def expected_open_by_age(history, station):
    tally = {}
    for case in history.cases.values():
        if case["station"] == station and not case.get("cancelled") and not case.get("resolved"):
            bucket = age_bucket(clock.to_ms(NOW) - clock.to_ms(case["opened"]))
            tally[bucket] = tally.get(bucket, 0) + 1
    return tally


def test_every_station_side_by_side_with_its_open_cases_by_age(reporting):
    store, history, client, tokens = reporting
    answer = client.get(
        "/v1/reports/stations?from=2023-05-01&to=2023-05-07", headers=bearer(tokens["admin"])
    )
    assert answer.status_code == 200
    body = conforms("reporting", "StationsOut", answer.json)
    assert [row["station"] for row in body["stations"]] == list(stations()) and len(
        body["stations"]
    ) == 10
    assert (body["from"], body["to"], body["as_of"]) == (
        "2023-05-01",
        "2023-05-07",
        "2023-05-12T12:00:00+08:00",
    )
    opened_somewhere = 0
    for row in body["stations"]:
        summary = reports.summary(store, row["station"], "2023-05-01", "2023-05-07")
        assert row["name"] == stations()[row["station"]]["name"]
        for figure in (
            "requests_received",
            "cases_opened",
            "cases_by_priority",
            "cases_by_status",
            "time_to_accept_seconds",
            "sla_breaches",
        ):
            assert row[figure] == summary[figure], (row["station"], figure)
        assert (
            row["programs"]["volunteer_teams_formed"]
            == summary["programs"]["volunteer_teams_formed"]
        )
        by_age = {k: v for k, v in row["open_cases_by_age"].items() if v}
        assert by_age == expected_open_by_age(history, row["station"])
        assert row["open_cases"] == sum(by_age.values())
        opened_somewhere += row["cases_opened"]
    assert (
        opened_somewhere
        == reports.summary(store, None, "2023-05-01", "2023-05-07")["cases_opened"]
        > 0
    )
    quiet = next(row for row in body["stations"] if row["station"] == "luji")
    assert quiet["cases_opened"] == quiet["open_cases"] == 0
    assert quiet["time_to_accept_seconds"] == {"count": 0, "median": None, "p90": None}
    daxing = next(row for row in body["stations"] if row["station"] == "daxing")
    assert daxing["open_cases"] > 0 and daxing["time_to_accept_seconds"]["p90"] is not None
    assert set(daxing["open_cases_by_age"]) == {
        "under_1d",
        "1_to_3d",
        "3_to_7d",
        "7_to_30d",
        "over_30d",
    }


def test_the_stations_as_csv_one_line_each(reporting):
    _, _, client, tokens = reporting
    body = client.get("/v1/reports/stations?from=2023-05-01", headers=bearer(tokens["admin"])).json
    for request in (
        dict(path="/v1/reports/stations?from=2023-05-01&format=csv"),
        dict(path="/v1/reports/stations?from=2023-05-01", headers={"Accept": "text/csv"}),
    ):
        exported = client.get(
            request["path"], headers=bearer(tokens["admin"], **request.get("headers", {}))
        )
        assert exported.status_code == 200 and exported.mimetype == "text/csv"
        text = exported.get_data(as_text=True)
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert [r["station"] for r in rows] == list(stations())
        for row, json_row in zip(rows, body["stations"], strict=True):
            assert row["name"] == json_row["name"]
            assert int(row["cases_opened"]) == json_row["cases_opened"]
            assert int(row["cases_by_priority.urgent"]) == json_row["cases_by_priority"]["urgent"]
            assert (
                int(row["open_cases_by_age.over_30d"]) == json_row["open_cases_by_age"]["over_30d"]
            )
            median = json_row["time_to_accept_seconds"]["median"]
            assert row["time_to_accept_seconds.median"] == ("" if median is None else str(median))


def test_station_staff_get_their_own_row_and_bad_input_is_refused(reporting):
    _, _, client, tokens = reporting
    own = client.get("/v1/reports/stations", headers=bearer(tokens["daxing"]))
    assert [row["station"] for row in own.json["stations"]] == ["daxing"]
    named = client.get("/v1/reports/stations?station=daxing", headers=bearer(tokens["admin"]))
    assert named.status_code == 422 and "station" in named.json["error"]["fields"]
    backwards = client.get(
        "/v1/reports/stations?from=2023-05-09&to=2023-05-01", headers=bearer(tokens["admin"])
    )
    assert backwards.status_code == 422 and "from" in backwards.json["error"]["fields"]
    assert client.get("/v1/reports/stations").status_code == 401


def test_age_buckets_are_whole_days_youngest_first():
    assert [
        age_bucket(ms)
        for ms in (
            0,
            DAY_MS - 1,
            DAY_MS,
            3 * DAY_MS - 1,
            3 * DAY_MS,
            7 * DAY_MS,
            30 * DAY_MS - 1,
            30 * DAY_MS,
            400 * DAY_MS,
        )
    ] == [
        "under_1d",
        "under_1d",
        "1_to_3d",
        "1_to_3d",
        "3_to_7d",
        "7_to_30d",
        "7_to_30d",
        "over_30d",
        "over_30d",
    ]
