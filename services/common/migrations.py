"""One-time data migrations of a service's own database, run when its store starts.

A migration brings documents written by an earlier version to the shape the current
queries rely on (a field the new index-only lookups need). Each is recorded in the
database's ``migrations`` collection once it has run to the end, so a start-up after
that costs one ``_id`` lookup. Migrations are idempotent: two instances starting at
once may both run one, with the same result.
"""

from __future__ import annotations

import logging
from typing import Callable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import clock

log = logging.getLogger(__name__)


def run_once(database: Database, name: str, migrate: Callable[[], int]) -> bool:
    """Run ``migrate`` (returns how many documents it changed) unless ``name`` ran here
    before; True when it ran now."""
    done = database["migrations"]
    if done.find_one({"_id": name}) is not None:
        return False
    changed = migrate()
    try:
        done.insert_one({"_id": name, "at": clock.iso(clock.now()), "changed": changed})
    except DuplicateKeyError:
        pass  # a twin instance finished it too
    log.info("migration %s: %d document(s) changed", name, changed)
    return True


def mark_done(database: Database, names: list[str]) -> None:
    """Record migrations as done without running them: for a store whose documents were
    written by the current version from the start (a new store, a generated history)."""
    for name in names:
        database["migrations"].replace_one(
            {"_id": name}, {"_id": name, "at": clock.iso(clock.now()), "changed": 0}, upsert=True
        )
