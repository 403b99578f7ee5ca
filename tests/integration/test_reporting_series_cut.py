"""A time series longer than its cap keeps the NEWEST periods and says it was cut; without
dates it ends today and starts at the first data within the cap, not at a record dated
years back (issue 26, item 3). On the real store, over the reporting API."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from werkzeug.test import Client

from services.common import auth, clock, config
from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.reporting import api
from services.reporting.domain.series import MAX_POINTS
from services.reporting.store import ReportStore
from tests.reporting_events import History, keep_one, projector_of
from tests.support import conforms


@pytest.fixture
def reporting(settings, database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    # a program record dated 2000, stored before dates were checked (the range widened
    # for the moment it is made and kept, as it was then)
    monkeypatch.setattr(config, "_ACCEPTED", list(config._ACCEPTED))
    config.accept_dates(replace(settings, accepted_first_day=date(2000, 1, 1)))
    old = History(seed=3)
    old.program("daxing", date(2000, 1, 1))
    keep(store, old)
    config.accept_dates(settings)
    today = History(seed=4)
    for number in range(3):
        today.request("daxing", clock.now() - timedelta(minutes=5), f"p_{number}")
    keep(store, today)
    admin = auth.issue_token(settings.token_secret, "admin", "district_admin")
    return store, Client(api.create_app(settings)), {"Authorization": f"Bearer {admin}"}


def keep(store, history):
    for envelope in history.events:
        keep_one(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))


def series(client, headers, **query):
    answer = client.get(
        "/v1/reports/timeseries",
        query_string={"metric": "requests_received", **query},
        headers=headers,
    )
    assert answer.status_code == 200, answer.json
    return conforms("reporting", "TimeseriesOut", answer.json), answer.headers


def test_without_dates_the_series_ends_today_and_starts_at_the_data_within_the_cap(reporting):
    _, client, headers = reporting
    today = clock.local_day(clock.now())
    for query in ({}, {"to": today}, {"station": "daxing"}):
        body, answer_headers = series(client, headers, **query)
        points = body["points"]
        assert points[-1]["period"] == today, query
        assert sum(p["value"] for p in points) == 3, query  # today's requests are there
        assert points[0]["period"] == today and len(points) == 1, query
        assert body["truncated"] is True and body["first_kept"] == today, query
        assert answer_headers["X-Series-Truncated"] == "true"


def test_a_long_series_keeps_the_newest_periods_and_says_so(reporting):
    _, client, headers = reporting
    today = clock.local_day(clock.now())
    body, _ = series(client, headers, **{"from": "2000-01-01"})
    points = body["points"]
    assert len(points) == MAX_POINTS and points[-1]["period"] == today
    assert (
        body["truncated"] is True
        and body["first_kept"]
        == points[0]["period"]
        == (date.fromisoformat(today) - timedelta(days=MAX_POINTS - 1)).isoformat()
    )
    assert points[-1]["value"] == 3
    exported = client.get(
        "/v1/reports/timeseries",
        query_string={"metric": "requests_received", "from": "2000-01-01", "format": "csv"},
        headers=headers,
    )
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[-1] == f"{today},3" and len(lines) == MAX_POINTS + 1
    assert exported.headers["X-Series-First-Kept"] == points[0]["period"]
    # months: 2000 to today fit under the cap, so nothing is cut and the old record shows
    months, cut = series(client, headers, interval="month")
    assert months["points"][0]["period"] == "2000-01-01" and months["truncated"] is False
    assert months["points"][-1]["period"] == today[:8] + "01" and "X-Series-Truncated" not in cut
    assert sum(p["value"] for p in months["points"]) == 3
