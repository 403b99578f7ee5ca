"""The holiday calendar on the real store (issue 14): loaded from the operator's file,
the casework API's /healthz and /readyz and the worker's log warn before it runs out,
and after its end the roster follows the weekly duty days."""

import logging
from datetime import datetime, timezone

import pytest
from werkzeug.test import Client

from services.casework import api as casework_api
from services.casework import rosters, seed
from services.casework.store import CaseStore
from services.common import auth, clock, config


def at(year, month, day):
    return datetime(year, month, day, 2, tzinfo=timezone.utc)  # 10:00 in the district


@pytest.fixture
def casework(settings, database, topology):
    store = CaseStore(database("casework"))
    store.ensure_indexes()
    rosters.load_roster(store, seed.roster(), seed.calendar())
    return store, Client(casework_api.create_app(settings))


def test_health_warns_weeks_before_the_calendar_runs_out_and_after(casework, monkeypatch):
    store, client = casework
    assert store.calendar().covers_until == "2027-01-03"
    monkeypatch.setattr(clock, "now", lambda: at(2026, 11, 1))
    for path in ("/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code == 200 and "warnings" not in answer.json
    monkeypatch.setattr(clock, "now", lambda: at(2026, 12, 20))
    for path in ("/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code == 200  # a warning, not unreadiness
        assert "ends on 2027-01-03 (in 14 days)" in answer.json["warnings"]["holiday_calendar"]
    monkeypatch.setattr(clock, "now", lambda: at(2027, 2, 10))
    assert "ended on 2027-01-03" in client.get("/readyz").json["warnings"]["holiday_calendar"]


def test_the_warning_period_is_a_setting(casework, monkeypatch):
    _, client = casework
    monkeypatch.setattr(clock, "now", lambda: at(2026, 11, 1))
    monkeypatch.setenv("SHEGONG_HOLIDAY_WARNING_DAYS", "90")
    early = Client(casework_api.create_app(config.settings()))
    assert "in 63 days" in early.get("/healthz").json["warnings"]["holiday_calendar"]


def test_the_worker_logs_the_warning(casework, caplog):
    store, _ = casework
    with caplog.at_level(logging.WARNING, logger="services.casework.rosters"):
        assert rosters.warn_if_calendar_ends(store, at(2026, 11, 1), 30) is None
        assert caplog.records == []
        warning = rosters.warn_if_calendar_ends(store, at(2026, 12, 20), 30)
    assert [r.getMessage() for r in caplog.records] == [warning]
    assert caplog.records[0].levelno == logging.WARNING


def test_past_the_end_the_roster_follows_the_weekly_duty_days(casework, settings):
    _, client = casework
    worker = {
        "Authorization": "Bearer "
        + auth.issue_token(settings.token_secret, "dx-01", "worker", "daxing", "王晨光")
    }
    new_year = client.get("/v1/stations/daxing/roster?day=2027-01-01", headers=worker).json
    assert new_year["holiday"] is True and len(new_year["on_duty"]) == 2
    for day, weekday in (("2027-02-10", 3), ("2027-02-13", 6), ("2027-10-01", 5)):
        answer = client.get(f"/v1/stations/daxing/roster?day={day}", headers=worker).json
        expected = sorted(
            w["id"] for w in seed.roster() if w["station"] == "daxing" and weekday in w["duty_days"]
        )
        assert answer["holiday"] is False
        assert sorted(w["id"] for w in answer["on_duty"]) == expected != []
