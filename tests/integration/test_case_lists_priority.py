"""Lists of cases narrowed to priorities on the real store (services/casework/store/lists.py):
a priority filter is index ranges (one per priority and status), so a page of the few
urgent cases among thousands of others reads the urgent ones, not the others; every
page sequence is the filtered, sorted list; cases stored before the priority keys get
them once (issue 23). Commands and documents counted with a pymongo command listener."""

import random
from contextlib import contextmanager

import pymongo
import pytest
from pymongo import monitoring

from services.casework.domain import Case
from services.casework.store import CaseStore, as_document, lists
from services.common import clock, migrations
from services.common.vocabulary import CASE_STATUSES
from tests.support import seeded_case_store

HOUR_MS = 3600 * 1000
STATIONS = ("daxing", "xiaxiang")
WORKERS = {"daxing": ("dx-01", "dx-03"), "xiaxiang": ("xx-02",)}


class Reads(monitoring.CommandListener):
    """The reads sent (find and getMore) and the documents they returned."""

    def __init__(self):
        self.commands, self.documents = [], 0

    def started(self, event):
        if event.command_name in ("find", "getMore"):
            self.commands.append(event.command_name)

    def succeeded(self, event):
        batch = (event.reply or {}).get("cursor", {})
        self.documents += len(batch.get("firstBatch", batch.get("nextBatch", ())))

    def failed(self, event):
        pass


@contextmanager
def counted(settings):
    """casework's store on a client of its own, and the reads sent through it."""
    reads = Reads()
    client = pymongo.MongoClient(settings.mongo_uri, event_listeners=[reads])
    try:
        yield CaseStore(client[settings.database_name("casework")]), reads
    finally:
        client.close()


def a_case(number, priority, status, station, rng, now_ms):
    opened_ms = now_ms - rng.randrange(0, 400) * HOUR_MS
    opened = clock.iso(clock.from_ms(opened_ms))
    return Case(
        case_id=f"case-{number:05d}",
        request_id=f"r-{number}",
        station=station,
        status=status,
        priority=priority,
        priority_reason="x",
        need_type="home_visit",
        need_description="探访",
        resident={"name": "邹**", "phone": "138****5678", "categories": []},
        resident_ref=f"p_{number}",
        assignee={"id": rng.choice(WORKERS[station]), "name": "x", "phone": "13900000000"},
        correlation_id=f"c-{number}",
        request_received_at=opened,
        opened_at=opened,
        accept_due_ms=opened_ms + rng.choice([-2, 4, 4, 30]) * HOUR_MS,
        resolve_due_ms=opened_ms + rng.choice([-1, 24, 48, 72]) * HOUR_MS,
    )


def history(store, urgent, others, seed=3, statuses=CASE_STATUSES):
    """``urgent`` urgent cases among ``others`` normal and low ones, of ``statuses``; the
    cases as stored."""
    rng, now_ms = random.Random(seed), clock.to_ms(clock.now())
    priorities = ["urgent"] * urgent + [rng.choice(["normal", "low"]) for _ in range(others)]
    rng.shuffle(priorities)
    cases = [
        a_case(n, priority, rng.choice(statuses), rng.choice(STATIONS), rng, now_ms)
        for n, priority in enumerate(priorities)
    ]
    store.cases.insert_many([as_document(case) for case in cases])
    return cases


def expected(cases, filters, order):
    chosen = [
        case
        for case in cases
        if case.priority in filters["priorities"]
        and case.status in (filters.get("statuses") or CASE_STATUSES)
        and filters.get("station") in (None, case.station)
        and filters.get("assignee") in (None, (case.assignee or {}).get("id"))
    ]
    if order == "due":
        return [c.case_id for c in sorted(chosen, key=lambda c: (c.due_ms, c.case_id))]
    return [c.case_id for c in sorted(chosen, key=lambda c: (c.opened_at, c.case_id), reverse=True)]


@pytest.fixture
def store(database):
    return seeded_case_store(database)


@pytest.mark.parametrize("order", ["due", "opened"])
def test_a_page_of_urgent_cases_reads_the_urgent_ones_not_the_others(store, settings, order):
    cases = history(store, urgent=12, others=1500)
    filters = {"priorities": ["urgent"], "now_ms": clock.to_ms(clock.now())}
    with counted(settings) as (counted_store, reads):
        found, next_cursor = counted_store.page(filters, order, 100)
    assert [case.case_id for case in found] == expected(cases, filters, order)
    assert next_cursor is None
    # one range per status (each read to its end at once), nothing but the urgent read
    assert len(reads.commands) <= len(CASE_STATUSES) and "getMore" not in reads.commands
    assert reads.documents == 12


@pytest.mark.parametrize("order", ["due", "opened"])
@pytest.mark.parametrize(
    "filters",
    [
        {"priorities": ["urgent"]},
        {"priorities": ["urgent", "low"], "statuses": ["assigned", "closed"]},
        {"priorities": ["normal"], "station": "daxing"},
        {"priorities": ["low", "urgent"], "station": "xiaxiang", "statuses": ["in_progress"]},
        {"priorities": ["urgent"], "assignee": "dx-01", "station": "daxing"},
        {"priorities": ["urgent", "normal", "low"], "station": "daxing"},  # the status keys
    ],
)
def test_every_page_sequence_of_a_priority_filter_is_the_sorted_list(store, filters, order):
    cases = history(store, urgent=40, others=300)
    seen, cursor = [], None
    for _ in range(200):
        found, cursor = store.page({**filters, "now_ms": 0}, order, 7, cursor)
        assert len(found) <= 7
        seen += [case.case_id for case in found]
        if cursor is None:
            break
    assert seen == expected(cases, filters, order)


def test_a_page_of_one_status_is_one_read(store, settings):
    """A station's closed cases newest first: one range, one command (no getMore past
    the driver's first batch of 101 documents)."""
    history(store, urgent=0, others=300, statuses=("closed",))
    filters = {"station": "daxing", "statuses": ["closed"], "now_ms": 0}
    with counted(settings) as (counted_store, reads):
        found, next_cursor = counted_store.page(filters, "opened", 100)
    assert len(found) == 100 and next_cursor is not None
    assert reads.commands == ["find"] and reads.documents == 101


def test_cases_stored_before_the_priority_keys_get_them_once(store, database):
    """A deployment whose cases have the status list keys (case_list_keys done) but not
    the priority ones: the next start writes them, once."""
    cases = history(store, urgent=5, others=50)
    store.cases.update_many({}, {"$unset": {field: "" for field in lists.PRIORITY_LISTS.values()}})
    casework = database("casework")
    casework["migrations"].delete_one({"_id": lists.PRIORITY_MIGRATION})
    filters = {"priorities": ["urgent"], "now_ms": 0}
    assert store.page(filters, "due", 100) == ([], None)  # not found through the new keys

    store.ensure_indexes()
    assert [case.case_id for case in store.page(filters, "due", 100)[0]] == expected(
        cases, filters, "due"
    )
    done = casework["migrations"].find_one({"_id": lists.PRIORITY_MIGRATION})
    assert done["changed"] == 55
    assert not migrations.run_once(casework, lists.PRIORITY_MIGRATION, lambda: 1 / 0)
