"""The benchmark's history copies a block of weeks made by the services' code
(benchmarks/history/clone.py): the copies must be what the services would have
written for other requests, residents and weeks, and written straight into the
embedded store's files they must read back through the store as through the wire.

An nx-27017 of its own on a data directory (the file writer needs its files)."""

from collections import Counter
from datetime import timedelta

import pytest
from pymongo import MongoClient

from benchmarks import history
from benchmarks.history.life import ELDERLY_CARE
from deploy.dev import embedded_store
from services.casework.domain import residents as registry
from services.casework.domain.opening import case_id_for
from services.casework.store import CaseStore, as_case, lists
from services.common import clock, config
from services.common.privacy import pseudonym
from services.common.vocabulary import OPEN_CASE_STATUSES
from services.intake.domain.inbound import inbound_id
from services.reporting.domain.daily import dailies
from services.reporting.domain.figures import row_of
from services.reporting.domain.rollups import rollups_of
from services.reporting.store import ReportStore, _packed
from services.reporting.store.rollups import packed
from tests.support import free_port

REQUESTS, SPAN_DAYS = 1500, 120
MIX = history.Mix(span_days=SPAN_DAYS, block_days=7, recent_days=21)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    files = tmp_path_factory.mktemp("nx-history")
    uri, server = embedded_store.start(free_port(), files, files)
    yield MongoClient(uri), str(files)
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="module")
def built(store):
    client, files = store
    now = clock.now()
    report = history.build(
        client, "copies", REQUESTS, mix=MIX, now=now, files=files, say=lambda text: None
    )
    return client, report, now


def db(client, service, prefix="copies"):
    return client[f"{prefix}_{service}"]


def test_copies_are_what_the_services_would_write(built):
    client, report, now = built
    assert report["copies_of_block"]["copies"] >= 3
    assert report["made_by_services_code"] < REQUESTS / 2
    settings = config.settings()
    cases = {doc["_id"]: doc for doc in db(client, "casework")["cases"].find({}, {"outbox": 0})}
    requests = list(db(client, "intake")["requests"].find({}, {"outbox": 0}))
    assert len(cases) == REQUESTS
    assert len({r["_id"] for r in requests}) == len(requests) > REQUESTS
    links = {d["_id"]: d["case_id"] for d in db(client, "casework")["request_links"].find()}
    for case_id, case in cases.items():  # casework's derived ids
        assert case_id == case_id_for(case["request_id"])
    alerts = [r for r in requests if r.get("source")]
    assert len({r["source"]["event_id"] for r in alerts}) == len(alerts) > 0
    for request in alerts:  # intake's id of an inbound event's request
        assert request["_id"] == inbound_id(ELDERLY_CARE, request["source"]["event_id"])
    for request in requests:  # every request follows its case; repeats are listed
        case = cases[request["case_id"]]
        assert request["_id"] == case["request_id"] or links[request["_id"]] == case["_id"]
        for linked in request.get("linked_requests", ()):
            assert links[linked] == request["case_id"]
    # received over the whole span, every week as many as the block (± the rest)
    first = clock.to_ms(now - timedelta(days=SPAN_DAYS)) // 1000 * 1000  # whole seconds
    received = sorted(r["received_ms"] for r in requests)
    assert first == received[0] and received[-1] <= clock.to_ms(now)
    weeks = Counter((ms - first) // (7 * 86_400_000) for ms in received)
    block = weeks[0]
    assert all(weeks[k] == block for k in range(report["copies_of_block"]["copies"] + 1))
    # residents: distinct people per copy, keyed and hinted as casework writes them
    residents = list(db(client, "casework")["residents"].find())
    keys = {d["_id"]: d["resident"] for d in db(client, "casework")["resident_keys"].find()}
    assert len({r["phone"] for r in residents}) == len(residents) > 3 * block / 4
    for record in residents:
        assert record["_id"] == pseudonym(settings.pseudonym_key, record["phone"])
        assert keys[registry.key_of(phone=record["phone"])] == record["_id"]
        for need, case_id in registry.hinted_cases(record).items():
            assert (cases[case_id]["resident_ref"], cases[case_id]["need_type"]) == (
                record["_id"],
                need,
            )
    # notifications follow the cases; the access log's chain holds over every copy
    for message in db(client, "notifications")["messages"].find({}, {"case_id": 1}):
        assert message.get("case_id") is None or message["case_id"] in cases
    casework = CaseStore(db(client, "casework"))
    assert casework.access_log.verify()["valid"]
    assert casework.access_log.entries.count_documents({}) == sum(
        1 for case in cases.values() if case.get("accepted_at")
    )
    open_counts = Counter(
        c["assignee"]["id"]
        for c in cases.values()
        if c.get("assignee") and c["status"] in OPEN_CASE_STATUSES
    )
    workload = {d["_id"]: d["open"] for d in casework.workload.find()}
    assert {w: n for w, n in workload.items() if n} == dict(open_counts)
    # every case listed as casework lists it: its list keys (by status, by priority and
    # status) those of its fields, copies included (their keys written at start-up by the
    # list keys' migration, services/casework/store/lists.py)
    for document in cases.values():
        assert {field: document.get(field) for field in lists.FIELDS} == lists.keys_of(
            as_case(document)
        ), document["_id"]
    # reporting's daily figures are those a rebuild makes from the facts written
    reports = ReportStore(db(client, "reporting"))
    facts = list(reports.facts(1).find())
    stored = {d["_id"]: d for d in reports.daily(1).find()}
    assert stored == {d["_id"]: _packed(d) for d in dailies(facts)}
    # and its month and all-time rollups those made from them (the store's migration)
    made = rollups_of(dailies(facts), lambda d: row_of([d]), facts)
    assert {d["_id"]: d for d in reports.rollups(1).collection.find()} == {
        r["_id"]: packed(r) for r in made
    }
    for service, names in {**history.MIGRATIONS, "reporting": ["rollup_v1"]}.items():
        assert {d["_id"] for d in db(client, service)["migrations"].find()} >= set(names)


def test_the_wire_writes_the_same_documents(built, store):
    client, report, now = built
    through_wire = history.build(
        client, "wire", REQUESTS, mix=MIX, now=now, files=None, say=lambda text: None
    )
    assert through_wire["documents"] == report["documents"]
    for service in config.SERVICES:
        for name in db(client, service).list_collection_names():
            if name != "migrations":
                assert db(client, service, "wire")[name].count_documents({}) == db(client, service)[
                    name
                ].count_documents({}), name
