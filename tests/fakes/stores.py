"""casework's and notifications' stores in memory (tests/fakes/mongo.py): the real
store classes on a database with no server, for the service-layer unit tests."""

from services.casework import seed
from services.casework.store import CaseStore
from services.notifications.store import NotificationStore
from tests.fakes.mongo import Database


def case_store(rosters: bool = True) -> CaseStore:
    """casework's store, indexed, with the pilot stations' rosters (``rosters``)."""
    store = CaseStore(Database())
    store.ensure_indexes()
    if rosters:
        store.seed_roster(seed.roster(), seed.calendar())
    return store


def notification_store() -> NotificationStore:
    store = NotificationStore(Database())
    store.ensure_indexes()
    return store
