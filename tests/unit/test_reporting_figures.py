"""Reporting's event records, timelines, time series and CSV (pure)."""

from services.reporting.domain import csv_text
from services.reporting.domain import events as domain_events
from services.reporting.domain import figures as domain_figures
from tests.reporting_events import series_of_dailies

RESIDENT = {
    "name": "邹书兰",
    "phone": "13812345678",
    "id_number": "11010519491231002X",
    "categories": ["elderly"],
}


def test_records_keep_no_personal_data():
    envelope = {
        "id": "e-1",
        "type": "shegong.request.received.v1",
        "source": "/suyu/shegong/intake",
        "time": "2023-05-29T08:00:00+08:00",
        "correlationid": "r-1",
        "subject": "r-1",
    }
    kept = domain_events.record(
        envelope,
        {
            "request_id": "r-1",
            "station": "daxing",
            "resident": RESIDENT,
            "resident_ref": "p_1",
            "need": {"type": "medicine_purchase", "description": "药吃完了"},
        },
        0,
    )
    assert kept["data"] == {
        "request_id": "r-1",
        "station": "daxing",
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase"},
    }
    assert (kept["_id"], kept["station"], kept["request_id"]) == ("e-1", "daxing", "r-1")
    registry = domain_events.redacted(
        "shegong.resident.registry_updated.v1",
        {
            "resident_ref": "p_1",
            "person": {
                **RESIDENT,
                "station": "daxing",
                "emergency_contacts": [{"name": "邹丽", "phone": "13912345678"}],
            },
        },
    )
    assert registry == {
        "resident_ref": "p_1",
        "person": {"categories": ["elderly"], "station": "daxing"},
    }
    failed = domain_events.redacted("shegong.message.failed.v1", {"reason": "13812345678 停机"})
    assert failed["reason"] == "138****5678 停机"


def rec(event_id, event_type, time_ms, cause=None, sequence=None, **data):
    return {
        "_id": event_id,
        "type": f"shegong.{event_type}.v1",
        "time_ms": time_ms,
        "causationid": cause,
        "sequence": sequence,
        "data": data,
    }


def test_the_timeline_puts_causes_first_then_streams_in_sequence_then_time():
    events = [
        rec("sms-2", "message.delivered", 1000, "sms-1", 2, message_id="m"),
        rec("acc", "case.accepted", 1000, None, 3, case_id="c"),
        rec("sms-1", "message.sent", 1000, "opened", 1, message_id="m"),
        rec("assigned", "case.assigned", 1000, "req", 2, case_id="c"),
        rec("opened", "case.opened", 1000, "req", 1, case_id="c"),
        rec("req", "request.received", 1000),
        rec("res", "case.resolved", 900, None, 4, case_id="c"),  # a clock behind: sequence wins
    ]
    order = [e["_id"] for e in domain_events.timeline(events)]
    assert order.index("req") == 0
    assert order.index("opened") < order.index("assigned") < order.index("acc") < order.index("res")
    assert order.index("opened") < order.index("sms-1") < order.index("sms-2")


def test_timeseries_fills_empty_periods_and_buckets_by_week_and_month():
    dailies = [
        {"day": "2023-05-29", "counts": {"cases_opened": 2}},
        {"day": "2023-06-01", "counts": {"cases_opened": 1}},
        {"day": "2023-06-06", "counts": {"cases_opened": 4}},
    ]
    days = series_of_dailies(dailies, "cases_opened", "day", "2023-05-28", "2023-05-30")["points"]
    assert days == [
        {"period": "2023-05-28", "value": 0},
        {"period": "2023-05-29", "value": 2},
        {"period": "2023-05-30", "value": 0},
    ]
    weeks = series_of_dailies(dailies, "cases_opened", "week")["points"]
    assert weeks == [{"period": "2023-05-29", "value": 3}, {"period": "2023-06-05", "value": 4}]
    months = series_of_dailies(dailies, "cases_opened", "month")["points"]
    assert months == [{"period": "2023-05-01", "value": 2}, {"period": "2023-06-01", "value": 5}]
    median = series_of_dailies(
        [{"day": "2023-05-29", "samples": {"accept_ms": [60000]}}], "time_to_accept_median", "day"
    )["points"]
    assert median == [{"period": "2023-05-29", "value": 60.0}]


def test_csv_is_utf8_with_a_header():
    text = csv_text.to_csv(
        ("figure", "value"), csv_text.flatten({"a": 1, "b": {"c": None}, "d": [1]})
    )
    assert text == "\ufefffigure,value\r\na,1\r\nb.c,\r\n"


def test_the_table_has_the_districts_figures():
    dailies = [
        {
            "day": "2023-05-29",
            "station": "daxing",
            "counts": {
                "volunteer_teams_formed": 4,
                "social_organisations_cultivated": 2,
                "cases_opened": 17,
                "donations_fen": 1999900,
            },
            "samples": {"households": [f"h{n}" for n in range(14)] + ["h1"]},
        }
    ]
    staffing = {"social_workers": {"daxing": 6, "xiaxiang": 6}, "project_funds_fen": 270000000}
    district = {
        r["figure"]: r["value"] for r in domain_figures.summary(dailies, None, staffing)["table"]
    }
    assert district == {
        "volunteer_teams_formed": 4,
        "social_organisations_cultivated": 2,
        "professional_cases": 17,
        "donations_yuan": 19999.0,
        "households_aided": 14,
        "social_workers": 12,
        "stations": 10,
        "project_funds_yuan": 2700000.0,
    }
    station = {
        r["figure"]: r["value"]
        for r in domain_figures.summary(dailies, "daxing", staffing)["table"]
    }
    assert station["social_workers"] == 6 and "stations" not in station
