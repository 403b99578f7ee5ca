"""The rest of a case's life, rosters, service levels, the access chain and the
residents registry: pure rules, no I/O."""

from datetime import date, datetime, timedelta, timezone

import pytest

from services.casework import domain, seed
from services.casework.domain import access as domain_access
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import opening as domain_opening
from services.casework.domain import residents as domain_residents
from services.casework.domain import roster as domain_roster
from services.casework.domain import sla as domain_sla
from services.common.auth import Principal
from services.common.contracts import (
    CASE_ASSIGNED,
    CASE_CANCELLED,
    CASE_CLOSED,
    CASE_ESCALATED,
    CASE_OPENED,
    CASE_REFERRAL_ANSWERED,
    CASE_REFERRED,
    CASE_REOPENED,
    CASE_REQUEST_LINKED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
)

MONDAY_0800 = datetime(2023, 5, 29, 0, 0, tzinfo=timezone.utc)
LEVELS = domain_sla.parse_service_levels("urgent=30m/24h,normal=4h/7d,low=1d/30d")
WORKER = domain_roster.Worker(
    "dx-01", "王晨光", "13900000101", "daxing", "worker", tuple(range(1, 8))
)
OTHER = domain_roster.Worker("dx-03", "刘洋", "13900000103", "daxing", "worker", tuple(range(1, 8)))
HEAD = domain_roster.Worker("dx-02", "陈静", "13900000102", "daxing", "station_head", ())
ASSIGNEE = Principal("dx-01", "worker", "daxing")
HEAD_TOKEN = Principal("dx-02", "station_head", "daxing")
OTHER_HEAD = Principal("xx-01", "station_head", "xiaxiang")


def request(request_id="r-1", categories=("elderly", "living_alone", "key_concern")):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": "邹书兰", "phone": "13812345678", "categories": list(categories)},
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase", "description": "药"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }


def types(events):
    return [contract for contract, _ in events]


def accepted(at=MONDAY_0800):
    case, _ = domain_opening.open_case("case-1", request(), [WORKER, HEAD], {}, at, levels=LEVELS)
    return domain.accept(case, ASSIGNEE, at)[0]


def resolved(at=MONDAY_0800):
    return domain.resolve(accepted(at), ASSIGNEE, "药已送到", at)[0]


# -- rosters -------------------------------------------------------------------------


def test_every_station_has_someone_on_duty_or_a_head_every_day_of_the_year():
    workers = [
        domain_roster.Worker(**{**w, "duty_days": tuple(w["duty_days"])}) for w in seed.roster()
    ]
    calendar = domain_roster.Calendar(
        tuple(seed.calendar()["holidays"]), seed.calendar()["holiday_rota"]
    )
    from services.common.vocabulary import stations

    assert {w.station for w in workers} == set(stations())
    day = date(2026, 1, 1)
    while day.year == 2026:
        for station in stations():
            on_duty = domain_roster.on_duty_workers(workers, station, day, calendar)
            assert on_duty or domain_roster.station_head(workers, station), (station, day)
            if station != "luji":  # luji: a head and nobody on duty, to show the escalation
                assert on_duty, (station, day)
        day += timedelta(days=1)


def test_holidays_follow_the_rota_not_the_weekday():
    calendar = domain_roster.Calendar(("2026-10-01", "2026-10-02"), {"daxing": ("dx-01", "dx-03")})
    roster = [
        WORKER,
        OTHER,
        domain_roster.Worker(
            "dx-04", "赵敏", "13900000104", "daxing", "worker", tuple(range(1, 8))
        ),
    ]
    on_first = {
        w.id for w in domain_roster.on_duty_workers(roster, "daxing", date(2026, 10, 1), calendar)
    }
    assert on_first == {"dx-01", "dx-03"}
    ordinary = domain_roster.on_duty_workers(roster, "daxing", date(2026, 10, 8), calendar)
    assert len(ordinary) == 3


def test_nobody_on_duty_gives_the_case_to_the_station_head_and_escalates():
    case, events = domain_opening.open_case(
        "case-1", request(), [HEAD], {}, MONDAY_0800, levels=LEVELS
    )
    assert case.status == "assigned" and case.assignee["id"] == "dx-02"
    assert types(events) == [CASE_OPENED, CASE_ASSIGNED, CASE_ESCALATED]
    assert events[2][1]["reason"] == "nobody_on_duty"
    assert events[2][1]["station_head"]["id"] == "dx-02"


def test_registry_flags_raise_the_priority():
    case, _ = domain_opening.open_case(
        "case-1",
        request(categories=()),
        [WORKER],
        {},
        MONDAY_0800,
        categories=("key_concern", "living_alone"),
    )
    assert case.priority == "urgent"
    assert set(case.resident["categories"]) == {"key_concern", "living_alone"}
    assert case.resident["name"] == "邹**"  # the case keeps a masked copy only


# -- the rest of the life ------------------------------------------------------------


def test_referral_rejected_returns_to_the_worker_accepted_resolves():
    case, events = domain_lifecycle.refer(accepted(), ASSIGNEE, "区残联", "需要辅具", MONDAY_0800)
    assert case.status == "referred" and types(events) == [CASE_REFERRED]
    assert case.actions[-1]["type"] == "referral"
    back, events = domain_lifecycle.answer_referral(case, ASSIGNEE, False, "", MONDAY_0800)
    assert back.status == "in_progress" and types(events) == [CASE_REFERRAL_ANSWERED]
    assert back.referral["answer"] == "rejected"
    again, _ = domain_lifecycle.refer(back, ASSIGNEE, "民政局", "", MONDAY_0800)
    done, events = domain_lifecycle.answer_referral(again, ASSIGNEE, True, "", MONDAY_0800)
    assert done.status == "resolved" and types(events) == [CASE_REFERRAL_ANSWERED, CASE_RESOLVED]
    assert done.version == again.version + 1


def test_close_is_final_and_reopen_only_within_the_window():
    case = resolved()
    window = 7 * 86400
    reopened, events = domain_lifecycle.reopen(
        case, ASSIGNEE, "药不对", MONDAY_0800 + timedelta(days=6), window, LEVELS
    )
    assert reopened.status == "assigned" and types(events) == [CASE_REOPENED, CASE_ASSIGNED]
    assert events[1][1]["reason"] == "reopened" and reopened.accepted_at is None
    with pytest.raises(domain.IllegalTransition) as late:
        domain_lifecycle.reopen(case, ASSIGNEE, "", MONDAY_0800 + timedelta(days=8), window, LEVELS)
    assert "reopened" in late.value.reason
    closed, events = domain_lifecycle.close(case, HEAD_TOKEN, MONDAY_0800)
    assert closed.status == "closed" and types(events) == [CASE_CLOSED]
    with pytest.raises(domain.IllegalTransition):
        domain_lifecycle.reopen(closed, HEAD_TOKEN, "", MONDAY_0800, window, LEVELS)


def test_cancel_a_duplicate():
    case, events = domain_lifecycle.cancel(accepted(), ASSIGNEE, "duplicate", MONDAY_0800)
    assert case.status == "cancelled" and types(events) == [CASE_CANCELLED]
    assert case.sla_due_ms is None  # no clock runs on a cancelled case


def test_only_the_station_head_reassigns_and_the_status_is_kept():
    case = accepted()
    with pytest.raises(domain.NotAllowed):
        domain_lifecycle.reassign(case, ASSIGNEE, OTHER, MONDAY_0800)
    with pytest.raises(domain.NotAllowed):
        domain_lifecycle.reassign(case, OTHER_HEAD, OTHER, MONDAY_0800)
    moved, events = domain_lifecycle.reassign(case, HEAD_TOKEN, OTHER, MONDAY_0800)
    assert (moved.status, moved.assignee["id"]) == ("accepted", "dx-03")
    assert events[0][1]["reason"] == "reassigned"
    stranger = domain_roster.Worker("xx-02", "郑芳", "13900000202", "xiaxiang")
    with pytest.raises(domain.IllegalTransition):
        domain_lifecycle.reassign(case, HEAD_TOKEN, stranger, MONDAY_0800)


def test_manual_escalation_gives_the_case_to_the_head():
    case, events = domain_lifecycle.escalate(accepted(), ASSIGNEE, HEAD, "家属有异议", MONDAY_0800)
    assert case.assignee["id"] == "dx-02" and case.status == "accepted"
    assert events[0][1]["reason"] == "manual"
    with pytest.raises(domain.IllegalTransition):
        domain_lifecycle.escalate(case, HEAD_TOKEN, HEAD, "", MONDAY_0800)


def test_a_repeat_request_links_once():
    case = accepted()
    linked, events = domain_lifecycle.link_request(case, request("r-2"), MONDAY_0800)
    assert types(events) == [CASE_REQUEST_LINKED] and linked.status == "accepted"
    same, none = domain_lifecycle.link_request(linked, request("r-2"), MONDAY_0800)
    assert none == [] and same is linked


# -- service levels ------------------------------------------------------------------


def test_service_levels_parse_and_refuse_nonsense():
    assert LEVELS["urgent"] == (1800, 86400) and LEVELS["normal"] == (4 * 3600, 7 * 86400)
    for text in ("urgent=30/24h,normal=4h/7d,low=1d/30d", "urgent=30m/24h"):
        with pytest.raises(ValueError):
            domain_sla.parse_service_levels(text)


def test_an_unaccepted_case_breaches_once_and_goes_to_the_head():
    case, _ = domain_opening.open_case(
        "case-1", request(), [WORKER, HEAD], {}, MONDAY_0800, levels=LEVELS
    )
    early, nothing = domain_lifecycle.breach(case, HEAD, MONDAY_0800 + timedelta(minutes=29))
    assert nothing == [] and early is case
    late = MONDAY_0800 + timedelta(minutes=31)
    breached, events = domain_lifecycle.breach(case, HEAD, late)
    assert types(events) == [CASE_SLA_BREACHED, CASE_ESCALATED]
    assert events[0][1]["kind"] == "acceptance" and events[1][1]["reason"] == "sla_breach"
    assert breached.assignee["id"] == "dx-02" and breached.status == "assigned"
    assert breached.sla_breached == ("acceptance",)
    assert breached.sla_due_ms == case.resolve_due_ms  # next: the resolution clock
    again, none = domain_lifecycle.breach(breached, HEAD, late + timedelta(minutes=5))
    assert none == [] and again is breached
    last, events = domain_lifecycle.breach(breached, HEAD, MONDAY_0800 + timedelta(hours=25))
    assert types(events) == [CASE_SLA_BREACHED] and events[0][1]["kind"] == "resolution"
    assert last.sla_due_ms is None


def test_accepting_in_time_stops_the_acceptance_clock():
    case = accepted()
    assert case.sla_due_ms == case.resolve_due_ms
    assert domain_lifecycle.breach(case, HEAD, MONDAY_0800 + timedelta(hours=1))[1] == []


# -- the access chain ----------------------------------------------------------------


def chain(n):
    entries, previous = [], None
    for i in range(n):
        previous = domain_access.chain(
            previous,
            {
                "case_id": f"case-{i}",
                "actor": "dx-01",
                "role": "worker",
                "station": "daxing",
                "purpose": "view",
                "at": "t",
                "at_ms": i,
            },
        )
        entries.append(previous)
    return entries


def test_the_access_chain_verifies_and_names_the_first_tampered_entry():
    entries = chain(5)
    assert domain_access.verify(entries) == {
        "valid": True,
        "checked": 5,
        "first_invalid_seq": None,
        "reason": None,
    }
    tampered = [dict(e) for e in entries]
    tampered[2]["actor"] = "someone-else"
    result = domain_access.verify(tampered)
    assert (result["valid"], result["first_invalid_seq"], result["checked"]) == (False, 3, 2)
    removed = entries[:1] + entries[2:]
    assert domain_access.verify(removed)["first_invalid_seq"] == 2


# -- the residents registry ----------------------------------------------------------


def test_registry_updates_keep_the_person_and_flag_them():
    update = {
        "change": "added",
        "resident_ref": "p_1",
        "person": {
            "id_number": "11010519491231002X",
            "name": "邹书兰",
            "phone": "13812345678",
            "station": "daxing",
            "categories": ["elderly", "living_alone"],
            "emergency_contacts": [],
        },
        "source": {"system": "mca", "kind": "key_person_update", "event_id": "x"},
        "updated_at": "2023-05-28T08:00:00+08:00",
    }
    record = domain_residents.from_registry(None, update, "t")
    assert set(record["categories"]) == {"elderly", "living_alone", "key_concern"}
    removed = domain_residents.from_registry(record, {**update, "change": "removed"}, "t")
    assert "key_concern" not in removed["categories"] and removed["name"] == "邹书兰"
    merged = domain_residents.from_request(record, request(categories=["disabled"]), "t")
    assert {"disabled", "key_concern"} <= set(merged["categories"])


def test_a_record_saved_again_needs_only_the_lookup_keys_it_did_not_have():
    before = {"_id": "p_1", "id_number": "11010519491231002x", "phone": "13812345678"}
    assert domain_residents.new_lookup_keys(before, None) == [
        "id_number:11010519491231002X",
        "phone:13812345678",
    ]
    assert domain_residents.new_lookup_keys(dict(before), before) == []
    moved = {**before, "phone": "13912345678"}
    assert domain_residents.new_lookup_keys(moved, before) == ["phone:13912345678"]
    # another record's keys are not this one's
    assert domain_residents.new_lookup_keys({**before, "_id": "p_2"}, before) == [
        "id_number:11010519491231002X",
        "phone:13812345678",
    ]
