"""The reporting HTTP API over WSGI on the real store: summary and time series as JSON
and CSV, request traces, the dashboard's assets, and who may see what."""

import csv
import io

import pytest
from werkzeug.test import Client

from services.common import auth
from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.reporting import api
from services.reporting.handlers import reports
from services.reporting.store import ReportStore
from tests.reporting_events import keep, month, projector_of
from tests.support import conforms


@pytest.fixture
def reporting(settings, database):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    history = month(seed=61, stations=("daxing", "xiaxiang"), cases_per_day=1, days=10)
    for envelope in history.events:
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    secret = settings.token_secret
    tokens = {
        "admin": auth.issue_token(secret, "admin", "district_admin"),
        "daxing": auth.issue_token(secret, "dx-01", "worker", "daxing"),
        "xiaxiang": auth.issue_token(secret, "xx-02", "worker", "xiaxiang"),
    }
    return store, history, Client(api.create_app(settings)), tokens


def bearer(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


def test_the_summary_has_the_districts_table_and_exports_as_csv(reporting):
    store, _, client, tokens = reporting
    answer = client.get(
        "/v1/reports/summary?from=2023-05-01&to=2023-05-31", headers=bearer(tokens["admin"])
    )
    body = conforms("reporting", "SummaryOut", answer.json)
    table = {row["figure"]: row for row in body["table"]}
    assert table["professional_cases"]["value"] == body["cases_opened"] > 0
    assert table["volunteer_teams_formed"]["label"] == "志愿服务队"
    assert table["stations"]["value"] == 10
    for request in (
        dict(path="/v1/reports/summary?format=csv"),
        dict(path="/v1/reports/summary", headers={"Accept": "text/csv"}),
    ):
        exported = client.get(
            request["path"], headers=bearer(tokens["admin"], **request.get("headers", {}))
        )
        assert exported.status_code == 200 and exported.mimetype == "text/csv"
        rows = dict(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows["figure"] == "value"
        assert int(rows["cases_opened"]) == reports.summary(store)["cases_opened"]
        assert (
            int(rows["programs.volunteer_teams_formed"])
            == body["programs"]["volunteer_teams_formed"]
        )
        assert rows["time_to_accept_seconds.median"]


def test_time_series_by_day_week_and_month_as_json_and_csv(reporting):
    store, _, client, tokens = reporting
    weeks = client.get(
        "/v1/reports/timeseries?metric=cases_opened&interval=week&from=2023-05-01&to=2023-05-31",
        headers=bearer(tokens["daxing"]),
    )
    body = conforms("reporting", "TimeseriesOut", weeks.json)
    assert body["station"] == "daxing" and body["points"][0]["period"] == "2023-05-01"
    assert (
        sum(p["value"] for p in body["points"])
        == reports.summary(store, "daxing", "2023-05-01", "2023-05-31")["cases_opened"]
    )
    exported = client.get(
        "/v1/reports/timeseries?metric=time_to_accept_median&interval=month"
        "&station=daxing&format=csv",
        headers=bearer(tokens["admin"]),
    )
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "period,time_to_accept_median" and lines[1].startswith("2023-05-01,")
    wrong = client.get(
        "/v1/reports/timeseries?metric=nothing&interval=year", headers=bearer(tokens["admin"])
    )
    assert wrong.status_code == 422
    assert {"metric", "interval"} <= set(wrong.json["error"]["fields"])
    assert (
        client.get(
            "/v1/reports/timeseries?metric=cases_opened&station=daxing",
            headers=bearer(tokens["xiaxiang"]),
        ).status_code
        == 403
    )
    assert client.get("/v1/reports/timeseries?metric=cases_opened").status_code == 401


def test_a_trace_is_for_the_requests_station_and_the_district(reporting):
    _, history, client, tokens = reporting
    request_id, station = next((r[0], r[1]) for r in history.requests if r[1] == "daxing")
    mine = client.get(f"/v1/trace/{request_id}", headers=bearer(tokens["daxing"]))
    body = conforms("reporting", "TraceOut", mine.json)
    assert body["station"] == station and body["events"][0]["step"] == "request.received"
    assert "resident" not in body["events"][0]["data"]
    assert (
        client.get(f"/v1/trace/{request_id}", headers=bearer(tokens["xiaxiang"])).status_code == 403
    )
    assert client.get(f"/v1/trace/{request_id}", headers=bearer(tokens["admin"])).status_code == 200
    missing = client.get("/v1/trace/no-such-request", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_the_dashboard_and_its_assets_are_served_locally(reporting):
    _, _, client, _ = reporting
    page = client.get("/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "宿豫区" in html and "大兴镇社会工作服务站" in html
    assert "http" not in html.lower().replace('xmlns="http', "")
    for asset in ("dashboard.js", "charts.js", "dashboard.css"):
        served = client.get(f"/dashboard/assets/{asset}")
        assert served.status_code == 200 and f"/dashboard/assets/{asset}" in html
        assert "http://" not in served.get_data(as_text=True).replace("http://www.w3.org", "")
    assert client.get("/dashboard/assets/..%2Fapi.py").status_code == 404
    assert client.get("/dashboard/assets/index.html").status_code == 404
