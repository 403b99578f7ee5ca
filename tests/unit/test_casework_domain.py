"""Casework rules: triage, the roster, and the life of a case (pure, no I/O)."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.casework import domain
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.common.auth import Principal
from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, CASE_OPENED, CASE_RESOLVED

ROSTER_FILE = Path(__file__).resolve().parents[2] / "services/casework/seed/roster.json"
MONDAY_0800 = datetime(2023, 5, 29, 0, 0, tzinfo=timezone.utc)  # 08:00 in Suqian


def worker(wid, station="daxing", days=(1, 2, 3, 4, 5, 6, 7), role="worker"):
    return domain_roster.Worker(wid, f"社工{wid}", "13900000000", station, role, days)


def request(
    categories=("elderly", "living_alone", "key_concern"),
    need="medicine_purchase",
    station="daxing",
):
    return {
        "request_id": "r-1",
        "channel": "phone",
        "station": station,
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": list(categories)},
        "resident_ref": "p_abc",
        "need": {"type": need, "description": "药吃完了"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }


@pytest.mark.parametrize(
    "categories, need, expected",
    [
        (["elderly", "living_alone", "key_concern"], "medicine_purchase", "urgent"),
        (["key_concern", "living_alone"], "policy_consultation", "urgent"),
        (["elderly", "living_alone"], "medicine_purchase", "urgent"),
        (["elderly", "living_alone"], "policy_consultation", "normal"),
        (["disabled"], "home_visit", "normal"),
        (["hardship"], "assistance_application", "normal"),
        ([], "policy_consultation", "low"),
        ([], "other", "normal"),
    ],
)
def test_triage_priority(categories, need, expected):
    priority, reason = domain_opening.triage(categories, need)
    assert priority == expected
    assert reason


def test_the_story_resident_is_urgent_because_key_concern_living_alone():
    assert domain_opening.triage(
        ["elderly", "living_alone", "key_concern"], "medicine_purchase"
    ) == (
        "urgent",
        "重点关注对象且独居",
    )


def test_on_duty_workers_follow_the_weekday():
    roster = [worker("a", days=(1,)), worker("b", days=(2,)), worker("c", "xiaxiang", (1,))]
    assert [w.id for w in domain_roster.on_duty_workers(roster, "daxing", 1)] == ["a"]
    assert [w.id for w in domain_roster.on_duty_workers(roster, "daxing", 3)] == []


def test_assignee_is_the_on_duty_worker_with_fewest_open_cases():
    on_duty = [worker("a"), worker("b"), worker("c")]
    assert domain_roster.pick_assignee(on_duty, {"a": 2, "b": 1, "c": 1}).id == "b"
    assert domain_roster.pick_assignee(on_duty, {}).id == "a"
    assert domain_roster.pick_assignee([], {}) is None


def test_seed_roster_has_six_workers_and_someone_on_duty_every_day_at_each_pilot():
    workers = [
        domain_roster.Worker(**{**w, "duty_days": tuple(w["duty_days"])})
        for w in json.loads(ROSTER_FILE.read_text(encoding="utf-8"))["workers"]
    ]
    for station in ("daxing", "xiaxiang"):
        assert len([w for w in workers if w.station == station]) == 6
        assert len([w for w in workers if w.station == station and w.role == "station_head"]) == 1
        for day in range(1, 8):
            assert domain_roster.on_duty_workers(workers, station, day), (station, day)


def test_open_case_assigns_on_duty_worker_and_announces_masked_resident():
    case, events = domain_opening.open_case("case-1", request(), [worker("dx-01")], {}, MONDAY_0800)
    assert (case.status, case.priority, case.assignee["id"]) == ("assigned", "urgent", "dx-01")
    assert case.station == "daxing" and case.version == 1
    assert [contract for contract, _ in events] == [CASE_OPENED, CASE_ASSIGNED]
    assigned = events[1][1]
    assert assigned["resident"] == {"name": "邹**", "phone": "138****5678"}
    announced = json.dumps([data for _, data in events], ensure_ascii=False)
    assert "13812345678" not in announced and "邹书兰" not in announced


def test_open_case_without_anyone_on_duty_waits_unassigned():
    case, events = domain_opening.open_case(
        "case-1", request(), [worker("a", days=(2,))], {}, MONDAY_0800
    )
    assert case.status == "received" and case.assignee is None
    assert [contract for contract, _ in events] == [CASE_OPENED]


def opened_case():
    return domain_opening.open_case("case-1", request(), [worker("dx-01")], {}, MONDAY_0800)[0]


ASSIGNEE = Principal("dx-01", "worker", "daxing")
OTHER_WORKER = Principal("dx-02", "worker", "daxing")
HEAD = Principal("dx-09", "station_head", "daxing")


def test_the_whole_life_of_a_case():
    later = MONDAY_0800 + timedelta(minutes=5)
    case, events = domain.accept(opened_case(), ASSIGNEE, later)
    assert case.status == "accepted" and case.version == 2
    assert events[0][0] == CASE_ACCEPTED and events[0][1]["accepted_by"] == "dx-01"
    for kind in ("visit", "purchase", "delivery"):
        case, events = domain.record_action(case, ASSIGNEE, kind, "", later)
    assert case.status == "in_progress" and case.version == 5
    assert [a["type"] for a in case.actions] == ["visit", "purchase", "delivery"]
    case, events = domain.resolve(case, ASSIGNEE, "药已送到", later)
    assert case.status == "resolved" and case.version == 6 and not case.is_open
    assert events[0][0] == CASE_RESOLVED and events[0][1]["priority"] == "urgent"


def test_only_the_assignee_accepts():
    with pytest.raises(domain.NotAllowed):
        domain.accept(opened_case(), OTHER_WORKER, MONDAY_0800)


@pytest.mark.parametrize(
    "command",
    [
        lambda case: domain.record_action(case, ASSIGNEE, "visit", "", MONDAY_0800),
        lambda case: domain.resolve(case, ASSIGNEE, "done", MONDAY_0800),
    ],
)
def test_work_before_acceptance_is_an_illegal_transition(command):
    with pytest.raises(domain.IllegalTransition) as refused:
        command(opened_case())
    assert "assigned" in refused.value.reason and refused.value.code == "illegal_transition"


def test_a_resolved_case_takes_no_more_commands():
    case, _ = domain.accept(opened_case(), ASSIGNEE, MONDAY_0800)
    case, _ = domain.resolve(case, ASSIGNEE, "done", MONDAY_0800)
    for command in (
        lambda: domain.accept(case, ASSIGNEE, MONDAY_0800),
        lambda: domain.record_action(case, ASSIGNEE, "note", "", MONDAY_0800),
        lambda: domain.resolve(case, ASSIGNEE, "again", MONDAY_0800),
    ):
        with pytest.raises(domain.IllegalTransition):
            command()


def test_station_head_may_work_a_case_other_workers_may_not():
    case, _ = domain.accept(opened_case(), ASSIGNEE, MONDAY_0800)
    domain.record_action(case, HEAD, "call", "", MONDAY_0800)
    with pytest.raises(domain.NotAllowed):
        domain.record_action(case, OTHER_WORKER, "call", "", MONDAY_0800)


@pytest.mark.parametrize(
    "refusal, status",
    [
        (domain.NotAllowed("only the head"), 403),
        (domain.IllegalTransition("already closed"), 409),
        (domain.StaleCase("changed since version 3"), 409),
        (domain.CaseError("against the rules"), 409),
    ],
)
def test_the_api_maps_each_refusal_of_the_rules_to_its_http_status(refusal, status):
    from services.casework.api.cases import http_status

    assert http_status(refusal) == status
    assert not hasattr(refusal, "status")  # the domain knows nothing of HTTP


def test_a_published_roster_is_ids_roles_and_duty_days_in_a_stable_order():
    roster = [
        domain_roster.Worker("b", "乙", "13900000002", "luji", "worker", (5, 1)),
        domain_roster.Worker("a", "甲", "13900000001", "luji", "station_head", ()),
    ]
    assert domain_roster.published_staff(roster) == [
        {"id": "a", "role": "station_head", "duty_days": []},
        {"id": "b", "role": "worker", "duty_days": [1, 5]},
    ]
    assert domain_roster.published_staff(list(reversed(roster))) == domain_roster.published_staff(
        roster
    )
