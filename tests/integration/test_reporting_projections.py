"""Reporting on the real MongoDB wire protocol: a generated month of events, delivered
shuffled and partly twice, gives the figures computed independently here from what
happened; a rebuild from the event store gives the same figures; no personal data is
stored anywhere in reporting's database."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.envelope import load_event
from services.reporting import domain, handlers, rebuild
from services.reporting.domain.daily import DISTRICT
from services.reporting.domain.rollups import in_period
from services.reporting.handlers import reports
from services.reporting.handlers.projector import now_ms
from services.reporting.store import ReportStore
from tests.reporting_events import (
    ID_NUMBER,
    NAME,
    PHONE,
    deliveries,
    keep,
    month,
    projector_of,
    series_of_dailies,
    stored_events,
)

ROOT = Path(__file__).resolve().parents[2]
PERIODS = [
    (None, None),
    ("2023-05-10", "2023-05-20"),
    ("2023-05-01", "2023-05-31"),
    ("2023-04-20", "2023-05-31"),
    (None, "2023-05-20"),
    ("2023-05-01", None),
    ("2023-05-12", None),
    ("2023-04-01", "2023-06-30"),
]
STATIONS = [None, "daxing", "xiaxiang"]


@pytest.fixture
def history():
    return month(seed=11, cases_per_day=1)


@pytest.fixture
def live(database, history):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    for envelope in deliveries(history.events, seed=5, repeats=0.25):
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    return store


def nearest_rank(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


def status_now(case):
    """Where the generator left the case: every accepted case has had an action."""
    for status in ("cancelled", "closed", "resolved"):
        if case.get(status):
            return status
    return "in_progress" if case.get("accepted") else "assigned"


def expected(history, station, date_from, date_to):
    """The figures straight from what the generator says happened."""

    def inside(day, where):
        return (
            day is not None
            and (station is None or where == station)
            and (date_from is None or day >= date_from)
            and (date_to is None or day <= date_to)
        )

    def day(moment):
        return clock.local_day(moment) if moment else None

    requests = [r for r in history.requests if inside(r[2], r[1])]
    cases = history.cases.values()

    def cases_on(what):
        return [c for c in cases if inside(day(c.get(what)), c["station"])]

    accepted, resolved = cases_on("accepted"), cases_on("resolved")
    accept_s = [(c["accepted"] - c["received"]).total_seconds() for c in accepted]
    resolve_s = [(c["resolved"] - c["received"]).total_seconds() for c in resolved]
    programs = [p for p in history.programs if inside(p[2], p[1])]
    messages = history.messages.values()
    return {
        "requests_received": len(requests),
        "requests_by_channel.phone": sum(1 for r in requests if r[3] == "phone"),
        "requests_by_need_type.home_visit": sum(1 for r in requests if r[4] == "home_visit"),
        "repeat_requests": sum(1 for r in requests if r[6]),
        "residents_served": len({r[5] for r in requests}),
        "cases_opened": len(cases_on("opened")),
        "cases_by_priority.urgent": sum(1 for c in cases_on("opened") if c["priority"] == "urgent"),
        "cases_accepted": len(accepted),
        "cases_resolved": len(resolved),
        "cases_resolved_by_priority.low": sum(1 for c in resolved if c["priority"] == "low"),
        "cases_closed": len(cases_on("closed")),
        "cases_cancelled": len(cases_on("cancelled")),
        **{
            f"cases_by_status.{status}": sum(
                1 for c in cases_on("opened") if status_now(c) == status
            )
            for status in ("assigned", "in_progress", "resolved", "closed", "cancelled")
        },
        "sla_breaches": len(cases_on("sla")),
        "time_to_accept_seconds.median": nearest_rank(accept_s, 0.5),
        "time_to_accept_seconds.p90": nearest_rank(accept_s, 0.9),
        "time_to_resolve_seconds.median": nearest_rank(resolve_s, 0.5),
        "time_to_resolve_seconds.p90": nearest_rank(resolve_s, 0.9),
        "messages_sent": sum(1 for m in messages if inside(m["sent"], m["station"])),
        "messages_delivered": sum(1 for m in messages if inside(m.get("delivered"), m["station"])),
        "messages_failed": sum(1 for m in messages if inside(m.get("failed"), m["station"])),
        "programs.volunteer_teams_formed": sum(1 for p in programs if p[0] == "team"),
        "programs.volunteers_joined": sum(1 for p in programs if p[0] == "volunteer"),
        "programs.social_organisations_cultivated": sum(
            1 for p in programs if p[0] == "organisation"
        ),
        "programs.donations_fen": sum(p[3] for p in programs if p[0] == "donation"),
        "programs.households_aided": len({p[3] for p in programs if p[0] == "aid"}),
        "programs.trainings": sum(1 for p in programs if p[0] == "activity" and p[3] == "training"),
    }


def read(figures, path):
    for part in path.split("."):
        figures = figures[part]
    return figures


def test_figures_of_a_month_equal_an_independent_computation(live, history):
    assert len(history.cases) > 40 and any(r[6] for r in history.requests)
    for station in STATIONS:
        for date_from, date_to in PERIODS:
            figures = reports.summary(live, station, date_from, date_to)
            want = expected(history, station, date_from, date_to)
            got = {name: read(figures, name) for name in want}
            assert got == want, (station, date_from, date_to)
    assert reports.summary(live)["cases_opened"] == len(history.cases)


def test_the_time_series_add_up_to_the_summary(live):
    figures = reports.summary(live, "daxing", "2023-05-01", "2023-05-31")
    for interval in ("day", "week", "month"):
        points = reports.series(
            live, "cases_resolved", interval, "daxing", "2023-05-01", "2023-05-31"
        )["points"]
        assert sum(p["value"] for p in points) == figures["cases_resolved"]
    days = reports.series(live, "requests_received", "day", None, "2023-05-01", "2023-05-31")[
        "points"
    ]
    assert len(days) == 31


@pytest.mark.parametrize("metric", ["time_to_accept_median", "residents_served", "cases_opened"])
def test_each_series_equals_the_one_made_from_every_daily_figure(live, metric):
    """Whichever documents a series reads (rows, month rollups, daily figures), its points
    are those the daily figures of each period give."""
    for station in STATIONS:
        place = station or DISTRICT
        days = list(live.daily(1).find({"station": place}))
        dailies = [live.load_dailies(1, [d["_id"]])[d["_id"]] for d in days]
        for interval in ("day", "week", "month"):
            for date_from, date_to in PERIODS:
                inside = [d for d in dailies if in_period(d["day"], date_from, date_to)]
                want = series_of_dailies(inside, metric, interval, date_from, date_to, "2023-06-30")
                got = reports.series(
                    live, metric, interval, station, date_from, date_to, "2023-06-30"
                )
                assert got == want, (metric, station, interval, date_from, date_to)


def test_a_rebuild_equals_live_and_switches_readers(live):
    figures = {(s, p): reports.summary(live, s, *p) for s in STATIONS for p in PERIODS}
    live_facts = sorted(live.all_facts(1), key=lambda f: f["_id"])
    version, replayed = rebuild.rebuild(live, batch=700, projector=projector_of(live))
    assert (version, live.versions()["current"]) == (2, 2)
    assert replayed == len(stored_events(live))  # each event once, repeats kept or not
    assert sorted(live.all_facts(2), key=lambda f: f["_id"]) == live_facts
    assert {(s, p): reports.summary(live, s, *p) for s in STATIONS for p in PERIODS} == figures
    # the old version is kept until the next rebuild has completed
    assert (
        live.all_facts(1)
        and rebuild.rebuild(live, batch=5000, projector=projector_of(live))[0] == 3
    )
    assert live.all_facts(2) and not live.all_facts(1)
    assert reports.summary(live) == figures[(None, (None, None))]


def test_rollups_kept_with_each_write_equal_those_a_migration_makes(live):
    """A store written before the rollups existed: its first start makes them from the
    daily figures, and they are those the projection keeps write by write."""
    kept = {d["_id"]: d for d in live.rollups(1).collection.find()}
    figures = {(s, p): reports.summary(live, s, *p) for s in STATIONS for p in PERIODS}
    stations = reports.stations_side_by_side(live)
    assert kept and any(_id.startswith("A|") for _id in kept)
    live.rollups(1).collection.drop()
    live.database["migrations"].delete_one({"_id": "rollup_v1"})
    live.ensure_indexes()
    assert {d["_id"]: d for d in live.rollups(1).collection.find()} == kept
    assert {(s, p): reports.summary(live, s, *p) for s in STATIONS for p in PERIODS} == figures
    assert reports.stations_side_by_side(live) == stations
    live.ensure_indexes()  # once only
    assert live.database["migrations"].count_documents({"_id": "rollup_v1"}) == 1


def test_events_that_arrive_during_a_rebuild_reach_the_new_version(live, history):
    extra = month(seed=12, stations=("luji",), cases_per_day=1)
    for envelope in extra.events:  # other ids than the month's: a station of its own
        envelope["data"] = {
            key: (
                value.replace("case-", "luji-case-")
                .replace("req-", "luji-req-")
                .replace("msg-", "luji-msg-")
                if isinstance(value, str)
                else value
            )
            for key, value in envelope["data"].items()
        }
    arriving = iter(extra.events)

    def while_replaying(_replayed):
        for envelope in [next(arriving, None) for _ in range(40)]:
            if envelope:
                keep(projector_of(live), *load_event(envelope, CATALOGUE[envelope["type"]]))

    version, _ = rebuild.rebuild(
        live, batch=400, progress=while_replaying, projector=projector_of(live)
    )
    luji = reports.summary(live, "luji")
    assert version == 2 and luji["requests_received"] > 0
    assert reports.summary(live, "luji", version=1) == luji  # live went on in version 1
    assert reports.summary(live, "daxing") == reports.summary(live, "daxing", version=1)


def test_no_personal_data_anywhere_in_reporting(live):
    for name in live.database.list_collection_names():
        for document in live.database[name].find():
            text = repr(document)
            assert PHONE not in text and NAME not in text and ID_NUMBER not in text, name
            assert "13912345678" not in text and "王晨光" not in text, name
    assert live.events.count_documents({}) == len({e["_id"] for e in live.events.find()})


def test_one_projector_at_a_time_across_processes(database):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    assert store.take_lease("a", 1_000, 30_000) and store.take_lease("a", 2_000, 30_000)
    assert not store.take_lease("b", 3_000, 30_000)  # a holds it until 32,000
    assert store.take_lease("b", 40_000, 30_000)  # a's lease ran out
    assert not store.take_lease("a", 41_000, 30_000)
    store.release_lease("b")
    assert store.take_lease("a", 42_000, 30_000)
    # while another process holds the lease, events are kept and left for it to project
    store.take_lease("elsewhere", now_ms(), 60_000)
    envelope = month(seed=41, stations=("daxing",), cases_per_day=1).events[1]
    keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    assert list(stored_events(store, pending=1)) == [envelope["id"]]
    store.release_lease("elsewhere")
    assert projector_of(store).drain() == 1 and not stored_events(store, pending=1)


def test_an_event_the_rules_fail_on_is_quarantined_and_stops_nothing(database, monkeypatch):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=51, stations=("daxing",), cases_per_day=1).events[1:30]
    poison = next(e for e in events if e["type"].endswith("case.accepted.v1"))
    apply = domain.apply

    def buggy(fact, record):
        if record["_id"] == poison["id"]:
            raise ValueError("a bug in a rule")
        return apply(fact, record)

    monkeypatch.setattr(domain, "apply", buggy)
    store.take_lease("elsewhere", now_ms(), 60_000)  # let them pile up: one batch
    for envelope in events:
        if envelope is not poison:
            keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    store.release_lease("elsewhere")
    with pytest.raises(handlers.ProjectionFailed, match="a bug in a rule"):
        keep(projector_of(store), *load_event(poison, CATALOGUE[poison["type"]]))
    # every batch projected; the poison kept in its batch and quarantined on its own
    assert not stored_events(store, pending=1)
    assert len(stored_events(store, pending=0)) == len(events)
    assert list(store.quarantined_among(e["id"] for e in events)) == [poison["id"]]
    assert "a bug in a rule" in store.quarantined(poison["id"])
    assert reports.summary(store)["cases_opened"] == sum(
        e["type"].endswith("case.opened.v1") for e in events
    )
    accepted = sum(e["type"].endswith("case.accepted.v1") for e in events)
    assert reports.summary(store)["cases_accepted"] == accepted - 1

    monkeypatch.setattr(domain, "apply", apply)  # the rule is fixed: a rebuild takes it in
    rebuild.rebuild(store, projector=projector_of(store))
    assert store.quarantined(poison["id"]) is None
    assert reports.summary(store)["cases_accepted"] == accepted


def test_the_trace_of_a_request_and_of_a_repeat_that_joined_its_case(live, history):
    linked = next(r for r in history.requests if r[6])
    original = linked[6]
    station, events = reports.trace(live, original)
    steps = [e["step"] for e in events]
    assert station == linked[1] and steps[:2] == ["request.received", "case.opened"]
    assert "case.request_linked" in steps and all(e["correlationid"] == original for e in events)
    sequences = [e["sequence"] for e in events if e["step"].startswith("case.")]
    assert sequences == sorted(sequences) == list(range(1, len(sequences) + 1))
    _, repeat = reports.trace(live, linked[0])
    assert [e["step"] for e in repeat] == ["request.received", "case.request_linked"]
    assert reports.trace(live, "nobody") == (None, [])


def test_the_rebuild_command(database, env):
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    for envelope in month(seed=71, stations=("daxing",), cases_per_day=1, days=3).events:
        keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))
    before = reports.summary(store)
    done = subprocess.run(
        [sys.executable, "-m", "services.reporting.rebuild"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rebuilt projection version 2 from" in done.stdout
    assert store.versions()["current"] == 2 and reports.summary(store) == before
