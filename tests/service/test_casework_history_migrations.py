"""Documents written by earlier versions, before the batch path found everything by
``_id``: the one-time migrations (services/common/migrations.py) let the new lookups
find them as the old queries did (issue 23)."""

import pytest
from nameko.testing.services import worker_factory

from services.casework.service import CaseworkService
from services.casework.store import CaseStore
from services.common import config
from tests.fakes.relay import RecordingRelay
from tests.service.test_casework_batch import received
from tests.support import find_cases, seeded_case_store


@pytest.fixture
def old_store(database):
    """A store as an earlier version left it: a registry record known by its ID number
    only (no lookup keys), and an open case not noted on its resident's record."""
    store = CaseStore(database("casework"))
    store.residents.records.insert_one(
        {
            "_id": "p_registry",
            "resident_ref": "p_registry",
            "name": "邹书兰",
            "id_number": "321321194505290026",
            "phone": "13912345678",
            "station": "daxing",
            "categories": ["key_concern"],
        }
    )
    store.cases.insert_one(
        {
            "_id": "case-old",
            "case_id": "case-old",
            "request_id": "r-old",
            "station": "daxing",
            "status": "assigned",
            "priority": "normal",
            "priority_reason": "",
            "need_type": "home_visit",
            "need_description": "",
            "resident": {"name": "邹**", "phone": "139****5678", "categories": []},
            "resident_ref": "p_old",
            "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13800000001"},
            "correlation_id": "r-old",
            "request_received_at": "2023-05-29T08:00:00+08:00",
            "opened_at": "2023-05-29T08:00:00+08:00",
            "version": 2,
        }
    )
    store.residents.records.insert_one(
        {
            "_id": "p_old",
            "resident_ref": "p_old",
            "name": "李四",
            "phone": "13700000000",
            "station": "daxing",
            "categories": [],
        }
    )
    return seeded_case_store(database)  # ensure_indexes: the migrations run here


def test_a_record_written_before_lookup_keys_is_found_by_its_id_number(old_store):
    service = worker_factory(
        CaseworkService, store=old_store, relay=RecordingRelay(), settings=config.settings()
    )
    event = received("r-new", "p_newphone", "13600000000")
    event["data"]["resident"]["id_number"] = "321321194505290026"
    assert service.request_received([event]) == {}
    case = find_cases(old_store, request_id="r-new")[0]
    assert "key_concern" in case.resident["categories"]  # the registry's record was found
    assert old_store.residents.get("p_newphone")["_id"] == "p_registry"


def test_an_open_case_of_an_earlier_version_is_joined_not_doubled(old_store):
    service = worker_factory(
        CaseworkService, store=old_store, relay=RecordingRelay(), settings=config.settings()
    )
    assert service.request_received([received("r-again", "p_old", "13700000000")]) == {}
    assert find_cases(old_store, request_id="r-again") == []  # no second case for the need
    case, _ = old_store.get("case-old")
    assert [link["request_id"] for link in case.linked_requests] == ["r-again"]


def test_the_migrations_run_once(old_store, database):
    done = {doc["_id"]: doc["changed"] for doc in database("casework")["migrations"].find()}
    when = {doc["_id"]: doc["at"] for doc in database("casework")["migrations"].find()}
    names = ("resident_keys", "open_case_hints", "case_list_keys", "case_priority_list_keys")
    assert {name: done[name] for name in names} == {
        "resident_keys": 3,  # 2 + 1 keys
        "open_case_hints": 1,
        "case_list_keys": 1,
        "case_priority_list_keys": 0,  # written by case_list_keys' pass
    }
    old_store.ensure_indexes()  # a restart: nothing runs again
    again = {doc["_id"]: doc["at"] for doc in database("casework")["migrations"].find()}
    assert again == when
