"""What a worker instance costs the store when it has no work, and what a second one
adds (issue 24): counted on the real wire protocol. The timers' looks scale with the
work (something pending or coming due), not with the ticks or the instances; two
instances never both sweep the same outbox; and what a killed instance left is still
published."""

from datetime import datetime, timedelta, timezone

from services.common import clock, config, outbox, sweep_lease
from services.common.contracts import CATALOGUE
from services.common.envelope import data_schema, dumped, load_event
from services.common.messaging import EventPublisher
from services.common.outbox import OutboxRelay
from services.notifications.handlers import batch as notifications_batch
from services.notifications.store import NotificationStore
from services.reporting.domain import events as domain_events
from services.reporting.handlers.projector import Projector
from services.reporting.store import ReportStore
from tests.fakes.relay import RecordingRelay
from tests.integration.test_outbox_relay import drain, events, listening_queue, write
from tests.integration.test_perf_round_trips import counted
from tests.reporting_events import month

CASEWORK_OUTBOXES = ("cases", "programs", "rosters")


class Clock:
    """clock.now, moved on by the test: a minute of timer ticks without the wait."""

    def __init__(self):
        self.at = datetime.now(timezone.utc)

    def __call__(self):
        return self.at

    def advance(self, seconds):
        self.at += timedelta(seconds=seconds)

    def ms(self):
        return clock.to_ms(self.at)


def test_an_idle_relay_looks_once_a_grace_period_not_at_every_tick(settings, database, monkeypatch):
    database("casework")  # dropped after the test
    now = Clock()
    monkeypatch.setattr(clock, "now", now)
    with counted(settings, "casework") as (db, commands):
        for name in CASEWORK_OUTBOXES:
            outbox.ensure_indexes(db[name])
        relay = OutboxRelay(
            EventPublisher(settings.amqp_uri), {n: db[n] for n in CASEWORK_OUTBOXES}, 2.0
        )
        commands.names.clear()
        for _ in range(60):  # a minute of the worker's timer, every second
            assert relay.sweep() == 0
            now.advance(1.0)
        sent = list(commands.names)
    # one indexed read per collection and grace period (2 s): 30 a minute each, where
    # every tick read each collection twice (360 in all)
    assert len(sent) <= 3 * 30
    assert {name.split()[0] for name in sent} == {"find"}


def test_a_fresh_pending_document_is_not_looked_at_again_before_it_can_be_stale(
    settings, database, monkeypatch
):
    database("casework")
    now = Clock()
    monkeypatch.setattr(clock, "now", now)
    with counted(settings, "casework") as (db, commands):
        outbox.ensure_indexes(db["cases"])
        queue = listening_queue(settings)
        relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": db["cases"]}, 2.0)
        write(db["cases"], "case-1", events("case-1", 1, 2), now.ms())  # its writer's
        commands.names.clear()
        assert relay.sweep() == 0
        now.advance(1.0)
        assert relay.sweep() == 0  # not due before its updated_ms + grace: no command
        assert len(commands.names) == 1
        now.advance(1.5)  # its writer died: the relay publishes it
        assert relay.sweep() == 2
    assert [e["sequence"] for e in drain(settings.amqp_uri, queue)] == [1, 2]


def test_two_instances_do_not_both_sweep_the_same_outbox(settings, database):
    collection = database("casework")["cases"]
    outbox.ensure_indexes(collection)
    queue = listening_queue(settings)
    stale_ms = clock.now_ms() - 10_000
    for number in range(3):
        write(collection, f"case-{number}", events(f"case-{number}", 1, 2), stale_ms)
    first, second = (
        OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": collection}, grace_s=2.0)
        for _ in range(2)
    )
    during = []
    publish_batch = first.publish_batch

    def publishing(documents, **kwargs):
        during.append(second.sweep())  # the other instance's timer fires meanwhile
        return publish_batch(documents, **kwargs)

    first.publish_batch = publishing
    assert first.sweep() == 6
    assert during == [0]  # it found them stale, but the first was sweeping them
    assert second.sweep() == 0  # and once marked, nothing is left
    assert len(drain(settings.amqp_uri, queue)) == 6  # each event once


def test_what_a_killed_sweeper_left_is_published_once_its_lease_runs_out(
    settings, database, monkeypatch
):
    collection = database("casework")["cases"]
    outbox.ensure_indexes(collection)
    queue = listening_queue(settings)
    now = Clock()
    monkeypatch.setattr(clock, "now", now)
    write(collection, "case-1", events("case-1", 1, 2), now.ms() - 10_000)
    # an instance killed (kill -9) in the middle of its sweep: the lease is left taken
    assert sweep_lease.take(collection.database, "cases", "killed", now.ms(), 10_000)
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": collection}, grace_s=2.0)
    assert relay.sweep() == 0
    now.advance(11.0)
    assert relay.sweep() == 2
    assert [e["sequence"] for e in drain(settings.amqp_uri, queue)] == [1, 2]


def test_an_idle_projector_timer_costs_one_read_and_no_lease(settings, database):
    database("reporting")
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        store.ensure_indexes()
        projector = Projector(store)
        commands.names.clear()
        for _ in range(30):  # a minute of project_pending, every 2 s
            assert projector.drain_left() == 0
        assert commands.names == ["find event_batches"] * 30  # the pending batches


def test_the_notifications_sweep_looks_for_numbers_to_erase_once_a_minute(
    settings, database, monkeypatch
):
    database("notifications")
    now = Clock()
    monkeypatch.setattr(clock, "now", now)
    with counted(settings, "notifications") as (db, commands):
        store = NotificationStore(db)
        store.ensure_indexes()
        commands.names.clear()
        for _ in range(60):  # a minute of deliver_due, every second
            notifications_batch.deliver_due(store, RecordingRelay(), None, config.settings())
            now.advance(1.0)
        # the due messages each second, the numbers to erase once
        assert len(commands.names) == 61


def test_a_second_instance_refused_the_projector_lease_pays_one_command(settings, database):
    database("reporting")
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        store.ensure_indexes()
        assert store.take_lease("first-instance", clock.now_ms(), 30_000)
        commands.names.clear()
        assert not store.take_lease("second-instance", clock.now_ms(), 30_000)
        assert commands.names == ["update meta", "find meta"]  # it was three writes
        commands.names.clear()  # refused before: it knows it is not the last owner
        assert not store.take_lease("second-instance", clock.now_ms(), 30_000, False)
        assert commands.names == ["find meta"]
        assert store.take_lease("first-instance", clock.now_ms(), 30_000)  # renewed
        store.release_lease("first-instance")
        assert store.take_lease("second-instance", clock.now_ms(), 30_000)  # run out


def test_a_projector_refused_once_asks_for_the_lease_with_one_read(settings, database):
    database("reporting")
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        store.ensure_indexes()
        store.take_lease("first-instance", clock.now_ms(), 30_000)
        second = Projector(store, owner="second-instance")
        assert second.drain() == 0
        commands.names.clear()
        assert second.drain() == 0
        assert commands.names == ["find meta"]
        store.release_lease("first-instance")
        assert second.drain() == 0  # taken now: nothing pending
        assert store.meta.find_one({"_id": "projector-lease"})["owner"] == "second-instance"


def stored(event):
    """EVENT's event store document, as reporting keeps it."""
    contract = CATALOGUE[event["type"]]
    envelope, data = load_event(event, contract)
    return domain_events.record(envelope, dumped(data_schema(contract.schema), data), 0)


def test_a_standby_timer_leaves_the_events_being_projected_and_drains_those_left(
    settings, database
):
    """Under load the pending events a timer finds are those the projecting instance's
    next pass takes (a different one at each look): the standby takes no lease for them.
    An event still pending at its next look was left (a killed keeper): drained then."""
    database("reporting")
    events = month(seed=83, stations=("daxing",), cases_per_day=1, days=1).events
    records = [stored(event) for event in events]
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        store.ensure_indexes()
        standby, projecting = Projector(store, owner="standby"), Projector(store, owner="leader")
        for record in records[:3]:  # each look finds another instance's fresh event
            store.keep_many([record])
            commands.names.clear()
            assert standby.drain_left() == 0
            assert commands.names == ["find event_batches"]  # one read, no lease asked for
            projecting.drain()
        projecting.release_lease()
        store.keep_many(records[3:])  # kept, and its keeper killed before its pass
        commands.names.clear()
        assert standby.drain_left() == 0  # the first look: it may be on its way
        assert commands.names == ["find event_batches"]
        assert standby.drain_left() == len(records) - 3  # still there: left, drained
        assert store.a_pending_id() is None


def test_a_lease_holder_whose_batches_went_to_another_instance_lets_the_lease_go(database):
    """A standby became the leader of the batch queues (the old leader restarted, or
    a new instance drew a higher priority): the old one, keeping nothing since its
    last tick, lets the projector lease go there, and the new leader projects its own
    batches again (they were refused until the lease ran out: up to 30 s)."""
    store = ReportStore(database("reporting"))
    store.ensure_indexes()
    events = month(seed=89, stations=("daxing",), cases_per_day=1, days=3).events
    records = [stored(event) for event in events]
    assert len(records) >= 3
    old, new = Projector(store, owner="old"), Projector(store, owner="new")
    assert old.keep_many(records[:1]) == {}  # projected under its lease, kept held
    old.drain_left()  # a tick after a batch of its own: it keeps the lease
    assert new.keep_many(records[1:2]) == {}  # kept, refused the lease: left pending
    [left] = store.pending(10)  # the batch of the one kept under a refused lease
    assert store.a_pending_id() == left["_id"]
    assert [event["_id"] for event in left["events"]] == [records[1]["_id"]]
    old.drain_left()  # nothing kept since the last tick: lets go (and finds one pending)
    assert new.keep_many(records[2:3]) == {}  # its pass projects it, and what was left
    assert store.a_pending_id() is None
