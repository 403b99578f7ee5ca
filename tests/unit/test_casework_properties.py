"""Property-based tests of the case state machine (pure, no I/O): whatever sequence of
commands anyone sends, at whatever times, the case keeps its invariants."""

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.casework import domain, handlers
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import opening as domain_opening
from services.casework.domain import roster as domain_roster
from services.common import clock, outbox
from services.common.auth import Principal

START = datetime(2023, 5, 29, 0, 0, tzinfo=timezone.utc)
LEVELS = {"urgent": (1800, 86400), "normal": (4 * 3600, 7 * 86400), "low": (86400, 30 * 86400)}
WINDOW_S = 7 * 86400
ROSTER = [
    domain_roster.Worker("dx-01", "王晨光", "13900000101", "daxing", "worker", tuple(range(1, 8))),
    domain_roster.Worker("dx-02", "陈静", "13900000102", "daxing", "station_head", (1, 2, 3)),
    domain_roster.Worker("dx-03", "刘洋", "13900000103", "daxing", "worker", (4, 5, 6, 7)),
]
HEAD = ROSTER[1]
ACTORS = {
    "owner": None,  # whoever owns the case at the moment
    "other": Principal("dx-03", "worker", "daxing"),
    "head": Principal("dx-02", "station_head", "daxing"),
    "stranger_head": Principal("xx-01", "station_head", "xiaxiang"),
    "admin": Principal("district-admin", "district_admin"),
}


def request(request_id="r-1"):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": "daxing",
        "resident": {
            "name": "邹书兰",
            "phone": "13812345678",
            "categories": ["elderly", "living_alone", "key_concern"],
        },
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase", "description": "药"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }


def actor(case, name):
    if name == "owner":
        owner = case.assignee["id"] if case.assignee else "nobody"
        return Principal(owner, "worker", "daxing")
    return ACTORS[name]


def command(name, who, arg, now, case):
    """The domain call for a drawn command name."""
    by = actor(case, who)
    return {
        "accept": lambda: domain.accept(case, by, now),
        "action": lambda: domain.record_action(
            case, by, ("call", "visit", "note")[arg % 3], "", now
        ),
        "resolve": lambda: domain.resolve(case, by, "done", now),
        "refer": lambda: domain_lifecycle.refer(case, by, "民政局", "", now),
        "answer": lambda: domain_lifecycle.answer_referral(case, by, bool(arg % 2), "", now),
        "close": lambda: domain_lifecycle.close(case, by, now),
        "reopen": lambda: domain_lifecycle.reopen(case, by, "", now, WINDOW_S, LEVELS),
        "cancel": lambda: domain_lifecycle.cancel(
            case, by, ("duplicate", "withdrawn")[arg % 2], now
        ),
        "reassign": lambda: domain_lifecycle.reassign(case, by, ROSTER[arg % 3], now),
        "escalate": lambda: domain_lifecycle.escalate(case, by, HEAD, "", now),
        "breach": lambda: domain_lifecycle.breach(case, HEAD, now),
        "link": lambda: domain_lifecycle.link_request(case, request(f"r-{2 + arg % 3}"), now),
    }[name]()


COMMANDS = st.tuples(
    st.sampled_from(
        [
            "accept",
            "action",
            "resolve",
            "refer",
            "answer",
            "close",
            "reopen",
            "cancel",
            "reassign",
            "escalate",
            "breach",
            "link",
        ]
    ),
    st.sampled_from(list(ACTORS)),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=3 * 86400),
)  # seconds until this command


def moments(case):
    """The case's milestones in the order they must have happened."""
    return [
        value
        for value in (
            case.opened_at,
            case.assigned_at,
            case.accepted_at,
            case.resolved_at,
            case.closed_at,
        )
        if value
    ]


def check_invariants(case):
    assert case.status in (
        "received",
        "assigned",
        "accepted",
        "in_progress",
        "referred",
        "resolved",
        "closed",
        "cancelled",
    )
    if case.status in domain.OWNED_STATUSES:
        assert case.assignee is not None, "an open case in work has exactly one owner"
    if case.status == "received":
        assert case.assignee is None
    times = [clock.parse_iso(value) for value in moments(case)]
    assert times == sorted(times), moments(case)
    action_times = [clock.parse_iso(a["at"]) for a in case.actions]
    assert action_times == sorted(action_times)
    assert len(set(case.sla_breached)) == len(case.sla_breached), "each breach once per cycle"
    if case.status == "resolved":
        assert case.resolved_at and case.resolution_summary
    if case.status == "referred":
        assert case.referral and case.referral["answer"] is None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.lists(COMMANDS, max_size=30))
def test_any_sequence_of_commands_keeps_the_invariants(nobody_on_duty, commands):
    roster = [HEAD] if nobody_on_duty else ROSTER
    now = START
    case, events = domain_opening.open_case("case-1", request(), roster, {}, now, levels=LEVELS)
    document = {**outbox.stage({}, handlers.to_envelopes(case, events, None, "e-0"))}
    check_invariants(case)
    breaches_this_cycle = []
    for name, who, arg, wait_s in commands:
        now += timedelta(seconds=wait_s)
        before = case
        try:
            case, events = command(name, who, arg, now, case)
        except domain.CaseError as refused:
            assert refused.reason and refused.code in ("illegal_transition", "forbidden")
            assert case is before  # a refused command changes nothing
            continue
        if before.status in domain.FINAL_STATUSES:
            assert (case, events) == (before, []), f"{name} changed a {before.status} case"
        if events:
            assert case.version == before.version + 1
            assert before.actions == case.actions[: len(before.actions)], "append-only log"
            # validated against the contracts and numbered after the case's last event
            envelopes = handlers.to_envelopes(case, events, document, None)
            document = {**document, **outbox.stage(document, envelopes)}
            assert all(
                e["data"]["status"] == case.status
                for e in envelopes
                if e["type"] != "shegong.case.referral_answered.v1"
                and e["type"] != "shegong.case.reopened.v1"
            )
            if name == "reopen":
                breaches_this_cycle = []
            breaches_this_cycle += [
                e["data"]["kind"] for e in envelopes if e["type"] == "shegong.case.sla_breached.v1"
            ]
            assert len(breaches_this_cycle) == len(set(breaches_this_cycle))
        else:
            assert case == before
        check_invariants(case)
    sequences = [event["sequence"] for event in document["outbox"]]
    assert sequences == list(range(1, document["last_seq"] + 1)), "contiguous, from 1"


@given(st.lists(COMMANDS, max_size=30))
def test_closed_is_final(commands):
    now = START
    case, _ = domain_opening.open_case("case-1", request(), ROSTER, {}, now, levels=LEVELS)
    case, _ = domain.accept(case, actor(case, "owner"), now)
    case, _ = domain.resolve(case, actor(case, "owner"), "done", now)
    case, _ = domain_lifecycle.close(case, ACTORS["head"], now)
    for name, who, arg, wait_s in commands:
        now += timedelta(seconds=wait_s)
        try:
            after, events = command(name, who, arg, now, case)
        except domain.CaseError:
            continue
        assert events == [] and after == case, name
