"""Reporting rules: facts from events, figures from facts (pure)."""
import itertools

from services.common.contracts import (
    CASE_ACCEPTED, CASE_ASSIGNED, CASE_OPENED, CASE_RESOLVED, MESSAGE_SENT, REQUEST_RECEIVED,
)
from services.reporting import domain

EVENTS = [
    (REQUEST_RECEIVED.type, {"request_id": "r-1", "channel": "phone", "station": "daxing",
                             "resident": {"name": "x", "phone": "13812345678", "categories": []},
                             "resident_ref": "p_1", "need": {"type": "medicine_purchase"},
                             "received_at": "2023-05-29T08:00:00+08:00"}),
    (CASE_OPENED.type, {"case_id": "c-1", "request_id": "r-1", "station": "daxing",
                        "priority": "urgent", "priority_reason": "", "need_type": "medicine_purchase",
                        "resident_ref": "p_1", "categories": [],
                        "request_received_at": "2023-05-29T08:00:00+08:00",
                        "opened_at": "2023-05-29T08:00:01+08:00"}),
    (CASE_ASSIGNED.type, {"case_id": "c-1", "station": "daxing",
                          "assigned_at": "2023-05-29T08:00:01+08:00"}),
    (CASE_ACCEPTED.type, {"case_id": "c-1", "station": "daxing",
                          "accepted_at": "2023-05-29T08:05:00+08:00"}),
    (CASE_RESOLVED.type, {"case_id": "c-1", "station": "daxing",
                          "resolved_at": "2023-05-29T10:00:00+08:00"}),
    (MESSAGE_SENT.type, {"message_id": "m-1", "station": "daxing", "recipient_role": "worker",
                         "channel": "sms", "status": "sent",
                         "sent_at": "2023-05-29T08:00:02+08:00"}),
]


def project(events):
    """A fake store: the projections as dicts, applied as the real store applies them."""
    store = {"requests": {}, "cases": {}, "messages": {}}
    for event_type, data in events:
        projected = domain.facts(event_type, data)
        if projected:
            projection, key, fields = projected
            store[projection].setdefault(key, {}).update(fields)
    return store


def test_facts_are_the_same_in_any_order_and_with_duplicates():
    expected = project(EVENTS)
    for order in itertools.permutations(EVENTS):
        assert project(list(order) + list(order[:2])) == expected


def test_facts_hold_no_personal_data():
    facts = repr(project(EVENTS))
    assert "13812345678" not in facts and "p_1" in facts


def test_summary_of_the_story():
    store = project(EVENTS)
    cases = list(store["cases"].values())
    figures = domain.summary(list(store["requests"].values()), cases, cases, cases,
                             list(store["messages"].values()))
    assert figures["requests_received"] == 1 and figures["requests_by_channel"]["phone"] == 1
    assert figures["cases_opened"] == figures["cases_resolved"] == 1
    assert figures["cases_by_priority"] == {"urgent": 1, "normal": 0, "low": 0}
    assert figures["cases_by_need_type"]["medicine_purchase"] == 1
    assert sum(figures["cases_by_need_type"].values()) == 1
    assert figures["time_to_accept_seconds"] == {"count": 1, "median": 300.0, "p90": 300.0}
    assert figures["time_to_resolve_seconds"]["median"] == 7200.0
    assert figures["messages_sent"] == 1 and figures["residents_served"] == 1
    assert figures["by_day"] == [{"day": "2023-05-29", "requests_received": 1, "cases_opened": 1,
                                  "cases_accepted": 1, "cases_resolved": 1}]


def test_local_day_is_the_district_day():
    _, _, fields = domain.facts(*EVENTS[0][:1], {**EVENTS[0][1],
                                                 "received_at": "2023-05-28T23:30:00+00:00"})
    assert fields["received_day"] == "2023-05-29"


def test_percentile_nearest_rank():
    assert domain.percentile([], 0.5) is None
    assert domain.percentile([5], 0.9) == 5
    assert domain.percentile(list(range(1, 11)), 0.5) == 5
    assert domain.percentile(list(range(1, 11)), 0.9) == 9
    assert domain.percentile([3, 1, 2], 0.5) == 2


def test_by_day_counts_each_figure_on_its_own_day():
    requests = [{"received_day": "2023-05-29"}, {"received_day": "2023-05-30"}]
    opened = [{"opened_day": "2023-05-29"}]
    resolved = [{"resolved_day": "2023-05-31"}]
    assert domain.by_day(requests, opened, [], resolved) == [
        {"day": "2023-05-29", "requests_received": 1, "cases_opened": 1, "cases_accepted": 0,
         "cases_resolved": 0},
        {"day": "2023-05-30", "requests_received": 1, "cases_opened": 0, "cases_accepted": 0,
         "cases_resolved": 0},
        {"day": "2023-05-31", "requests_received": 0, "cases_opened": 0, "cases_accepted": 0,
         "cases_resolved": 1}]
