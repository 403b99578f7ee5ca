"""casework reads the roster and the holiday calendar at most every ROSTER_CACHE_S, not
twice per case opened; seeding a roster through the store takes effect at once."""

from services.casework import seed
from services.casework.store import CaseStore
from services.casework.store import roster as roster_store


def test_the_roster_is_read_once_per_period_and_reseeding_takes_effect(database, monkeypatch):
    store = CaseStore(database("casework"))
    store.seed_roster(seed.roster(), seed.calendar())
    daxing = store.roster("daxing")
    assert daxing and store.calendar().holidays
    store.workers.delete_many({})  # changed behind the store's back...
    store.calendar_documents.delete_many({})
    assert store.roster("daxing") == daxing  # ...not read again within the period
    assert store.calendar().holidays
    monkeypatch.setattr(roster_store, "ROSTER_CACHE_S", 0.0)
    assert store.roster("daxing") == []  # the period is over: read again
    assert store.calendar().holidays == ()
    monkeypatch.setattr(roster_store, "ROSTER_CACHE_S", 30.0)
    store.seed_roster(seed.roster()[:2])
    assert len(store.roster("daxing")) == 2  # seeding clears the cache at once


def test_a_caller_changing_its_roster_list_leaves_the_cache_alone(database):
    store = CaseStore(database("casework"))
    store.seed_roster(seed.roster(), seed.calendar())
    store.roster("daxing").clear()
    assert store.roster("daxing")
