"""Reporting rules: facts from events, daily figures from facts, figures from daily figures
(pure)."""

import itertools

from services.common import clock
from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_OPENED,
    CASE_RESOLVED,
    MESSAGE_SENT,
    REQUEST_RECEIVED,
    STATION_ROSTER_PUBLISHED,
)
from services.common.vocabulary import CASE_STATUSES
from services.reporting import domain
from services.reporting.domain import daily as domain_daily
from services.reporting.domain import figures as domain_figures

REF = {"case_id": "c-1", "request_id": "r-1", "station": "daxing"}
EVENTS = [
    (
        REQUEST_RECEIVED.type,
        None,
        {
            "request_id": "r-1",
            "channel": "phone",
            "station": "daxing",
            "resident_ref": "p_1",
            "need": {"type": "medicine_purchase"},
            "received_at": "2023-05-29T08:00:00+08:00",
        },
    ),
    (
        CASE_OPENED.type,
        1,
        {
            **REF,
            "status": "received",
            "priority": "urgent",
            "need_type": "medicine_purchase",
            "resident_ref": "p_1",
            "request_received_at": "2023-05-29T08:00:00+08:00",
            "opened_at": "2023-05-29T08:00:01+08:00",
        },
    ),
    (
        CASE_ASSIGNED.type,
        2,
        {
            **REF,
            "status": "assigned",
            "priority": "urgent",
            "need_type": "medicine_purchase",
            "assigned_at": "2023-05-29T08:00:01+08:00",
        },
    ),
    (
        CASE_ACCEPTED.type,
        3,
        {**REF, "status": "accepted", "accepted_at": "2023-05-29T08:05:00+08:00"},
    ),
    (
        CASE_RESOLVED.type,
        4,
        {
            **REF,
            "status": "resolved",
            "priority": "urgent",
            "resolved_at": "2023-05-29T10:00:00+08:00",
        },
    ),
    (
        MESSAGE_SENT.type,
        1,
        {
            "message_id": "m-1",
            "station": "daxing",
            "recipient_role": "worker",
            "channel": "sms",
            "template": "t",
            "status": "sent",
            "sent_at": "2023-05-29T08:00:02+08:00",
        },
    ),
]


def records(events):
    return [
        {
            "_id": f"e-{n}",
            "type": t,
            "sequence": seq,
            "data": data,
            "time_ms": clock.to_ms(clock.parse_iso("2023-05-29T08:00:00+08:00")),
        }
        for n, (t, seq, data) in enumerate(events)
    ]


def project(recs):
    """A fake store: facts and daily figures as dicts, changed as the real projector does."""
    facts, dailies = {}, {}
    for record in recs:
        kind, key = domain.fact_key(record)
        before = facts.get(f"{kind}:{key}")
        after = domain.apply(before or {"_id": f"{kind}:{key}"}, record)
        facts[f"{kind}:{key}"] = after
        old, new = domain_daily.contributions(before), domain_daily.contributions(after)
        for slot in set(old) | set(new):
            rid = domain_daily.daily_id(*slot)
            dailies[rid] = domain_daily.merge(
                dailies.get(rid, {}), [(old.get(slot), new.get(slot))], *slot
            )
    return facts, dailies


def test_facts_and_daily_figures_are_the_same_in_any_order_and_with_duplicates():
    expected = project(records(EVENTS))
    for order in itertools.permutations(records(EVENTS)):
        assert project(list(order) + list(order[:2])) == expected


def test_the_case_status_is_the_one_of_the_highest_sequence():
    facts, _ = project(list(reversed(records(EVENTS))))
    assert facts["case:c-1"]["status"] == "resolved"


def test_facts_hold_no_personal_data():
    facts = repr(project(records(EVENTS)))
    assert "13812345678" not in facts and "p_1" in facts


def test_summary_of_the_story():
    _, dailies = project(records(EVENTS))
    figures = domain_figures.summary(dailies.values())
    assert figures["requests_received"] == 1 and figures["requests_by_channel"]["phone"] == 1
    assert figures["cases_opened"] == figures["cases_resolved"] == 1
    assert figures["cases_by_priority"] == {"urgent": 1, "normal": 0, "low": 0}
    assert figures["cases_by_need_type"]["medicine_purchase"] == 1
    assert sum(figures["cases_by_need_type"].values()) == 1
    assert figures["time_to_accept_seconds"] == {"count": 1, "median": 300.0, "p90": 300.0}
    assert figures["time_to_resolve_seconds"]["median"] == 7200.0
    assert figures["messages_sent"] == 1 and figures["residents_served"] == 1
    assert figures["urgent_cases_resolved"] == 1
    assert figures["by_day"] == [
        {
            "day": "2023-05-29",
            "requests_received": 1,
            "cases_opened": 1,
            "cases_accepted": 1,
            "cases_resolved": 1,
            "cases_closed": 0,
            "cases_cancelled": 0,
            "sla_breaches": 0,
            "messages_sent": 1,
            "messages_delivered": 0,
            "messages_failed": 0,
            "cases_by_status": {**dict.fromkeys(CASE_STATUSES, 0), "resolved": 1},
        }
    ]
    assert figures["cases_by_status"]["resolved"] == 1
    assert sum(figures["cases_by_status"].values()) == 1


def test_the_case_counts_under_its_status_now_on_the_day_it_was_opened():
    for events, status in (
        (EVENTS[1:2], "received"),
        (EVENTS[1:3], "assigned"),
        (EVENTS[1:4], "accepted"),
        (EVENTS[4:5] + EVENTS[1:3], "resolved"),
    ):
        _, dailies = project(records(events))
        figures = domain_figures.summary(dailies.values())
        assert figures["cases_by_status"] == {**dict.fromkeys(CASE_STATUSES, 0), status: 1}


def test_a_late_opened_event_moves_the_acceptance_to_its_priority():
    accepted_only = project(records(EVENTS[3:4]))[1]
    assert (
        domain_figures.summary(accepted_only.values())["cases_accepted_by_priority"]["unknown"] == 1
    )
    both = project(records(EVENTS[3:4] + EVENTS[1:2]))[1]
    figures = domain_figures.summary(both.values())
    assert figures["cases_accepted_by_priority"] == {"urgent": 1, "normal": 0, "low": 0}


def test_local_day_is_the_district_day():
    late = records(
        [
            (
                REQUEST_RECEIVED.type,
                None,
                {**EVENTS[0][2], "received_at": "2023-05-28T23:30:00+00:00"},
            )
        ]
    )
    _, dailies = project(late)
    assert list(dailies) == ["daxing|2023-05-29"]


def test_percentile_nearest_rank():
    assert domain_figures.percentile([], 0.5) is None
    assert domain_figures.percentile([5], 0.9) == 5
    assert domain_figures.percentile(list(range(1, 11)), 0.5) == 5
    assert domain_figures.percentile(list(range(1, 11)), 0.9) == 9
    assert domain_figures.percentile([3, 1, 2], 0.5) == 2


def test_by_day_counts_each_figure_on_its_own_day():
    dailies = [
        {"day": "2023-05-29", "counts": {"requests_received": 1, "cases_opened": 1}},
        {"day": "2023-05-30", "counts": {"requests_received": 1}},
        {"day": "2023-05-31", "counts": {"cases_resolved": 1}},
    ]
    days = domain_figures.by_day(domain_figures.rows_of(dailies))
    assert [
        (d["day"], d["requests_received"], d["cases_opened"], d["cases_resolved"]) for d in days
    ] == [("2023-05-29", 1, 1, 0), ("2023-05-30", 1, 0, 0), ("2023-05-31", 0, 0, 1)]


def roster_event(sequence, staff):
    return (
        STATION_ROSTER_PUBLISHED.type,
        sequence,
        {
            "station": "luji",
            "published_at": "2023-05-01T09:00:00+08:00",
            "staff": [{"id": sid, "role": role, "duty_days": []} for sid, role in staff],
        },
    )


def test_a_station_roster_is_the_latest_published_and_adds_no_daily_figures():
    first = roster_event(1, [("lj-01", "station_head")])
    second = roster_event(2, [("lj-01", "station_head"), ("lj-02", "worker"), ("lj-03", "worker")])
    for order in ([first, second], [second, first], [second, first, second]):
        fact = {"_id": "roster:luji"}
        for record in records(order):
            assert domain.fact_key(record) == ("roster", "luji")
            fact = domain.apply(fact, record)
        assert fact["staff"] == {"total": 3, "workers": 2, "station_heads": 1}
        assert domain_daily.contributions(fact) == {}


def test_the_social_workers_figure_is_everyone_on_the_rosters_and_says_so():
    staffing = {"social_workers": {"daxing": 6, "luji": 1}, "project_funds_fen": None}
    [district] = [
        r
        for r in domain_figures.summary([], None, staffing)["table"]
        if r["figure"] == "social_workers"
    ]
    assert district == {
        "figure": "social_workers",
        "label": "社工总数（各站在册，含站长）",
        "value": 7,
        "unit": "人",
    }
    [luji] = [
        r
        for r in domain_figures.summary([], "luji", staffing)["table"]
        if r["figure"] == "social_workers"
    ]
    assert luji["value"] == 1 and luji["label"] == "驻站社工（在册，含站长）"
    assert not [
        r
        for r in domain_figures.summary([], "caiji", staffing)["table"]
        if r["figure"] == "social_workers"
    ]  # no roster published: no figure


def test_a_day_changed_by_many_facts_at_once_is_the_day_changed_one_fact_at_a_time():
    # a pass merges every change of one day together (the day copied and sorted once);
    # the result must be what merging them one after another gives, removals included
    import random

    rng = random.Random(7)

    def part():
        return {
            "counts": {"requests_received": 1, f"requests_by_need:{rng.choice('ab')}": 1},
            "samples": {
                "residents": [f"r{rng.randrange(6)}"],
                "accept_ms": [rng.randrange(4) * 1000],
            },
        }

    earlier = [part() for _ in range(40)]
    day = domain_daily.merge({}, [(None, p) for p in earlier], "daxing", "2023-05-29")
    changes = [(old, rng.choice([part(), None])) for old in rng.sample(earlier, 25)]
    changes += [(None, part()) for _ in range(10)]
    one_by_one = day
    for change in changes:
        one_by_one = domain_daily.merge(one_by_one, [change], "daxing", "2023-05-29")
    at_once = domain_daily.merge(day, changes, "daxing", "2023-05-29")
    assert at_once == one_by_one
    assert at_once["counts"]["requests_received"] == 40 - 25 + sum(1 for _, new in changes if new)
    assert len(at_once["samples"]["residents"]) == at_once["counts"]["requests_received"]
