"""Store round trips on the request path, counted on the real wire protocol: each costs
the embedded store about a millisecond of CPU (docs/performance.md), so the paths
that run once per request are held to what they need."""

import threading
from collections import Counter
from contextlib import contextmanager

import pymongo
from pymongo import monitoring

from services.common.contracts import CATALOGUE, REQUEST_RECEIVED
from services.common.envelope import load_event
from services.common.group_commit import GroupPublish
from services.common.messaging import BrokerProbe, EventPublisher
from services.common.outbox import OutboxRelay
from services.intake import handlers as intake_handlers
from services.intake.store import RequestStore
from services.reporting.handlers.projector import now_ms
from services.reporting.store import ReportStore
from tests.fakes.relay import RecordingRelay
from tests.inbound_support import Observer
from tests.reporting_events import keep, month, projector_of
from tests.support import find_messages, story_request, wait_until


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.names = []
        self.statements = []  # (command name, the statements an update carries)

    def started(self, event):
        self.names.append(f"{event.command_name} {event.command.get(event.command_name)}")
        if event.command_name == "update":
            self.statements.append((self.names[-1], len(event.command.get("updates") or ())))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@contextmanager
def counted(settings, service):
    """A database of ``service`` on a client of its own, and the commands sent on it."""
    commands = Commands()
    client = pymongo.MongoClient(settings.mongo_uri, event_listeners=[commands])
    try:
        yield client[settings.database_name(service)], commands
    finally:
        client.close()


class Reachable:
    def reachable(self):
        return True


def test_a_new_request_costs_no_reads_and_its_replay_no_writes(settings, database):
    RequestStore(database("intake")).ensure_indexes()
    body = story_request()
    with counted(settings, "intake") as (db, commands):
        store = RequestStore(db)

        def submit():
            commands.names.clear()
            answer = intake_handlers.receive_request(
                store, RecordingRelay(), Reachable(), body, "op-1", "key-1", settings.pseudonym_key
            )
            return (
                answer,
                Counter(name.split()[0] for name in commands.names),
                Counter(commands.names),
            )

        (first, replayed), verbs, sent = submit()
        assert not replayed
        # the request holds the key's and the need's claims: one insert, nothing read
        # first, no other document (issue 24: was a key claim, a need claim, a request)
        assert sent == {"insert requests": 1}, sent
        assert first["key_claim"] and first["open_need"]

        # the same key again: its insert is refused by a claim's unique index (nothing
        # written), and the request holding it read once
        (again, replayed), verbs, sent = submit()
        assert replayed and again["_id"] == first["_id"]
        assert sent == {"insert requests": 1, "find requests": 1}, sent
        assert RequestStore(database("intake")).requests.count_documents({}) == 1


def _keep(store: ReportStore, envelope: dict) -> None:
    """Project one event as reporting's consumer does."""
    keep(projector_of(store), *load_event(envelope, CATALOGUE[envelope["type"]]))


def test_keeping_a_new_event_in_an_idle_store_reads_pending_events_once(settings, database):
    ReportStore(database("reporting")).ensure_indexes()
    events = month(seed=89, stations=("daxing",), cases_per_day=1, days=4).events
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        for envelope in events[:2]:  # the projector lease and the versions exist
            _keep(store, envelope)
        commands.names.clear()
        envelope = events[2]
        _keep(store, envelope)
        sent = list(commands.names)
    # keep (one batch document); pending; facts; daily figures; their month and all-time
    # rollups; the pass as one document, then save (3: one bulk write a collection);
    # mark: the lease taken by the first events is still held, with the projection
    # version read when it was taken (no lease or version command)
    assert sent.count("find event_batches") == 1 and sent.count("insert event_batches") == 1
    assert not [name for name in sent if name.endswith(" events")], sent
    assert sent.count("find rollup_v1") == 1 and sent.count("update rollup_v1") == 1, sent
    assert [name for name in sent if name.endswith(" meta")] == ["update meta"], sent
    assert len(sent) <= 10, "\n".join(sent)


def test_the_lease_is_let_go_once_held_long_enough_and_taken_again(settings, database, monkeypatch):
    ReportStore(database("reporting")).ensure_indexes()
    events = month(seed=89, stations=("daxing",), cases_per_day=1, days=4).events
    with counted(settings, "reporting") as (db, commands):
        store = ReportStore(db)
        _keep(store, events[0])
        assert not store.take_lease("rebuild", now_ms(), 30_000)
        monkeypatch.setattr(projector_of(store), "hold_ms", 0)  # as if 10 s had passed
        commands.names.clear()
        _keep(store, events[1])
        sent = list(commands.names)
        # taken again, the version read again, the pass kept whole, and let go at the end
        # of the pass (the last pass, this projector's own, is not read again)
        assert [name for name in sent if name.endswith(" meta")] == [
            "update meta",
            "find meta",
            "update meta",
            "update meta",
        ], sent
        assert store.take_lease("rebuild", now_ms(), 30_000)


def test_requests_submitted_at_the_same_time_share_one_insert_per_collection(
    settings, topology, database
):
    RequestStore(database("intake")).ensure_indexes()
    observer = Observer(settings.amqp_uri)
    with counted(settings, "intake") as (db, commands):
        # a wide window, so that the threads below meet in it even on a busy machine
        store = RequestStore(db, commit_wait_s=0.2)
        relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"requests": store.requests})
        batches, publish_now_many = [], relay.publish_now_many

        def counting(name, documents):
            batches.append(len(documents))
            return publish_now_many(name, documents)

        relay.publish_now_many = counting
        relay = GroupPublish(relay)
        start, answers = threading.Barrier(12), []

        def submit(number):
            body = story_request(resident={"name": "邹书兰", "phone": f"1380000{number:04d}"})
            start.wait()
            answers.append(
                intake_handlers.receive_request(
                    store,
                    relay,
                    BrokerProbe(settings.amqp_uri),
                    body,
                    "op-1",
                    f"key-{number}",
                    settings.pseudonym_key,
                )
            )

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        sent = Counter(commands.names)
        assert store.requests.count_documents({}) == 12
    assert len(answers) == 12 and not any(replayed for _, replayed in answers)
    # their events published together too, each once
    assert sum(batches) == 12 and len(batches) < 12, batches
    published = wait_until(
        lambda: (
            len(observer.of_type(REQUEST_RECEIVED.type)) >= 12
            and observer.of_type(REQUEST_RECEIVED.type)
        ),
        10,
        message="the events",
    )
    assert len({event["id"] for event in published}) == len(published) == 12
    # 12 requests, each holding its key and need: a few inserts in all, nothing else
    assert sent["insert requests"] <= 3, sent
    assert not [name for name in sent if "idempotency_keys" in name or "open_needs" in name]
    assert not [name for name in sent if name.startswith("find")], sent


def test_a_batch_of_worker_sms_writes_its_messages_twice_whatever_its_size(
    settings, database, monkeypatch
):
    from services.common import config
    from services.notifications.handlers import batch as handlers_batch
    from services.notifications.store import NotificationStore
    from tests.service.test_notifications_batch import assigned
    from tests.service.test_service_entrypoints import RecordingProvider

    monkeypatch.setenv("SHEGONG_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("SHEGONG_QUIET_HOURS_END", "00:00")
    NotificationStore(database("notifications")).ensure_indexes()
    writes = {}
    for size in (1, 12):
        with counted(settings, "notifications") as (db, commands):
            items = [
                (n, event, event["data"])
                for n, event in enumerate(
                    assigned(f"case-{size}-{n}", f"dx-0{n % 4 + 1}") for n in range(size)
                )
            ]
            assert (
                handlers_batch.notify_many(
                    NotificationStore(db),
                    RecordingRelay(),
                    RecordingProvider(),
                    config.settings(),
                    items,
                )
                == {}
            )
        writes[size] = Counter(
            name
            for name in commands.names
            if name.endswith("messages") and not name.startswith("find")
        )
    # one insert of the intents, claimed as they are inserted (issue 24: the claim was a
    # write of its own), one write of the outcomes
    assert writes[1] == writes[12] == {"insert messages": 1, "update messages": 1}


def test_the_sweep_sends_what_is_due_in_two_writes_whatever_how_much(settings, database):
    from services.common import clock, config
    from services.notifications.handlers import batch as handlers_batch
    from services.notifications.store import NotificationStore

    NotificationStore(database("notifications")).ensure_indexes()
    now_ms = clock.to_ms(clock.now())

    def due(n, size):  # an inbox message for the station head, due since a second
        return {
            "_id": f"m-{size}-{n}",
            "event_id": f"e-{size}-{n}",
            "case_id": f"case-{n}",
            "request_id": f"r-{n}",
            "station": "daxing",
            "correlation_id": f"r-{n}",
            "recipient_role": "station_head",
            "recipient_id": "dx-head",
            "channel": "in_app",
            "template": "case_escalated_head",
            "status": "created",
            "attempts": 0,
            "due_ms": now_ms - 1000,
            "history": [{"kind": "status", "status": "created", "at": clock.iso(clock.now())}],
        }

    writes = {}
    for size in (1, 10):
        with counted(settings, "notifications") as (db, commands):
            store = NotificationStore(db)
            store.record_new_intents([due(n, size) for n in range(size)])
            commands.names.clear()
            assert (
                handlers_batch.deliver_due(store, RecordingRelay(), None, config.settings()) == size
            )
            assert {m["status"] for m in find_messages(store, {})} == {"sent"}
            store.messages.delete_many({})
        writes[size] = Counter(
            name for name in commands.names if name.startswith("update messages")
        )
    # the claims, the outcomes (the erasure of old numbers writes only when some are due:
    # none here)
    assert writes[1] == writes[10] == {"update messages": 2}


def test_a_batch_of_requests_costs_casework_the_same_commands_whatever_its_size(settings, database):
    from services.casework.handlers import batch as handlers_batch
    from services.casework.store import CaseStore
    from tests.service.test_casework_batch import received
    from tests.support import seeded_case_store

    seeded_case_store(database)
    sent = {}
    with counted(settings, "casework") as (db, commands):
        store = CaseStore(db)
        for size in (1, 1, 12):  # the first warms the roster's and calendar's cache
            commands.names.clear()
            items = [
                (n, event, event["data"])
                for n, event in enumerate(
                    received(
                        f"r-{size}-{n}-{len(sent)}",
                        f"p_{size}_{n}_{len(sent)}",
                        f"139{size:02d}{n:04d}{len(sent):02d}",
                    )
                    for n in range(size)
                )
            ]
            assert (
                handlers_batch.open_cases_for_requests(store, RecordingRelay(), items, settings)
                == {}
            )
            sent[len(sent)] = Counter(commands.names)
    # which requests have a case, the residents, the counters; the residents and their
    # keys, the cases, the counters: one command each, for one request or twelve
    assert sent[1] == sent[2], sent
    assert sum(sent[2].values()) <= 10, sent[2]


def test_the_outbox_mark_of_a_published_document_is_one_statement(settings, database):
    """Each statement costs the embedded store a document; the mark used to carry a
    second one for the rare append during publishing (issue 24)."""
    from services.common.messaging import EventPublisher
    from tests.integration.test_outbox_relay import events, listening_queue, write

    listening_queue(settings)
    with counted(settings, "casework") as (db, commands):
        cases = db["cases"]
        document = write(cases, "case-1", events("case-1", 1, 1), 0)
        commands.names.clear()
        commands.statements.clear()
        relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": cases})
        assert relay.publish_batch([(cases, document)]) == 1
        marked = cases.find_one({"_id": "case-1"})
    assert not marked["outbox_pending"] and marked["published_seq"] == 1
    assert commands.statements == [("update cases", 1)], commands.statements
