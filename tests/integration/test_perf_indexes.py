"""The development store (nx-27017) uses single-field indexes only: the hot path's
lookups that MongoDB serves from a compound index have a single-field one as well, or
they scan every document (docs/performance.md)."""

from services.casework.store import CaseStore
from services.intake.store import RequestStore
from services.notifications.store import NotificationStore


def single_field_indexes(collection):
    return {
        tuple(spec["key"])[0][0]
        for spec in collection.index_information().values()
        if len(spec["key"]) == 1
    }


def test_the_hot_path_lookups_have_a_single_field_index(database):
    cases = CaseStore(database("casework"))
    cases.ensure_indexes()
    requests = RequestStore(database("intake"))
    requests.ensure_indexes()
    notifications = NotificationStore(database("notifications"))
    notifications.ensure_indexes()
    assert {"resident_ref", "request_id", "outbox_pending"} <= single_field_indexes(cases.cases)
    assert "outbox_pending" in single_field_indexes(requests.requests)
    assert {"phone_ref", "outbox_pending", "due_ms"} <= single_field_indexes(notifications.messages)
