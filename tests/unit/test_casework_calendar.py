"""The holiday calendar as data (issue 14): the file's format, the warning before it runs
out, and rosters after its end following the weekly duty days (pure)."""

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from services.casework import seed
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.casework.domain.roster import (
    Calendar,
    CalendarFileError,
    calendar_warning,
    calendar_years,
    on_duty_workers,
)

WORKERS = [domain_roster.Worker(**{**w, "duty_days": tuple(w["duty_days"])}) for w in seed.roster()]


def seeded():
    found = seed.calendar()
    return Calendar(tuple(found["holidays"]), found["holiday_rota"], found["covers_until"])


def test_the_operators_file_gives_the_holidays_and_how_far_the_calendar_goes():
    data = json.loads(seed.HOLIDAYS.read_text(encoding="utf-8"))
    holidays, covers_until = calendar_years(data)
    assert covers_until == data["covers_until"] == "2027-01-03"
    assert "2026-10-01" in holidays and "2026-02-17" in holidays and len(holidays) == 36
    assert holidays == tuple(sorted(holidays))
    assert all(entry["notice"] for entry in data["years"].values())


@pytest.mark.parametrize(
    "data, fault",
    [
        ({}, "years"),
        ({"years": {"2027": {"holidays": ["2027-13-01"]}}}, "not an ISO date"),
        ({"years": {"2027": {"holidays": ["2026-10-01"]}}}, "another year"),
        ({"years": {"2027": {"holidays": "2027-01-01"}}}, "list of ISO dates"),
        (
            {"covers_until": "2027-01-01", "years": {"2027": {"holidays": ["2027-02-01"]}}},
            "before the last holiday",
        ),
    ],
)
def test_a_calendar_file_out_of_format_is_refused_naming_the_fault(data, fault):
    with pytest.raises(CalendarFileError, match=fault):
        calendar_years(data)


def test_without_covers_until_the_calendar_ends_with_its_last_holiday():
    assert calendar_years({"years": {"2027": {"holidays": ["2027-05-01", "2027-01-01"]}}}) == (
        ("2027-01-01", "2027-05-01"),
        "2027-05-01",
    )


def test_the_warning_comes_the_set_number_of_days_before_the_end_and_after_it():
    calendar = seeded()
    assert calendar_warning(calendar, "2026-12-03", 30) is None  # 31 days left
    soon = calendar_warning(calendar, "2026-12-04", 30)  # 30 days left
    assert "2027-01-03" in soon and "in 30 days" in soon and "holidays.json" in soon
    assert calendar_warning(calendar, "2026-11-01", 90) is not None  # a longer notice
    assert "in 0 days" in calendar_warning(calendar, "2027-01-03", 30)
    ended = calendar_warning(calendar, date(2027, 1, 4), 30)
    assert "ended on 2027-01-03" in ended and "weekly duty days" in ended
    assert "no holiday calendar" in calendar_warning(Calendar(), "2026-12-04", 30)


def test_after_the_calendar_ends_rosters_follow_the_weekly_duty_days():
    calendar = seeded()
    new_year = on_duty_workers(WORKERS, "daxing", date(2027, 1, 1), calendar)
    assert len(new_year) == 2  # still known: the holiday rota
    for offset in range(14):  # two weeks past the end, Spring Festival 2027 included
        day = date(2027, 2, 1) + timedelta(days=offset)
        assert not calendar.is_holiday(day)
        for station in ("daxing", "xiaxiang", "shunhe"):
            assert (
                on_duty_workers(WORKERS, station, day, calendar)
                == on_duty_workers(WORKERS, station, day.isoweekday())
                != []
            )


def test_a_case_opened_past_the_end_goes_to_a_worker_on_duty_that_weekday():
    request = {
        "request_id": "r-1",
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": ["elderly"]},
        "resident_ref": "p_1",
        "need": {"type": "home_visit", "description": ""},
        "received_at": "2027-02-10T09:00:00+08:00",
    }
    now = datetime(2027, 2, 10, 1, tzinfo=timezone.utc)  # a Wednesday, 09:00 in the district
    case, _ = domain_opening.open_case(
        "case-x", request, [w for w in WORKERS if w.station == "daxing"], {}, now, seeded()
    )
    on_wednesday = {w.id for w in WORKERS if w.station == "daxing" and 3 in w.duty_days}
    assert case.assignee["id"] in on_wednesday
