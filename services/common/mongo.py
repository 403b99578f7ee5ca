"""MongoDB access: one client per process, one database per service.

Only what behaves identically on MongoDB and on the development wire-protocol server
is used (see docs/architecture.md, "Store"): single-document atomic writes, unique
indexes, simple filters; no transactions, no datetimes, no dotted-path upserts.
"""

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from pymongo import MongoClient, monitoring
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

from services.common.command_log import CommandLog

STORE_DOWN_ERRORS = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError)
# A write refused for an existing unique key (11000; 11001 and 12582 from older
# servers): the caller met a repeat or a concurrent twin, which is no error.
DUPLICATE_KEY_CODES = (11000, 11001, 12582)


def only_duplicates(errors: list) -> bool:
    """Whether every write error of a bulk write (``details["writeErrors"]``) is a
    duplicate key."""
    return all(error.get("code") in DUPLICATE_KEY_CODES for error in errors)


def duplicate_field(error: dict, fields: tuple[str, ...]) -> str:
    """Which of ``fields`` (single-field unique indexes) a duplicate key write error
    names, or ``"_id"``: MongoDB's error carries the index's ``keyPattern`` (and its
    errmsg ``... index: open_need_1 dup key: {...}``), nx-27017's errmsg names its
    index (``UNIQUE constraint failed: index 'idx_requests_open_need'``) or
    ``requests._id``. Only the part before the duplicate value is read."""
    pattern = error.get("keyPattern") or {}
    for field in fields:
        if field in pattern:
            return field
    message = str(error.get("errmsg", "")).split("dup key", 1)[0]
    for field in fields:
        if field in message:
            return field
    return "_id"


_clients: dict[tuple, MongoClient] = {}
_lock = threading.Lock()


# the field holding a write command's operations (one per document written or matched)
OPERATIONS = {"insert": "documents", "update": "updates", "delete": "deletes"}
OPERATIONS_PREFIX = "operations: "


class CommandCounts(monitoring.CommandListener):
    """Counts the commands this process sends to the store, by command and collection,
    and writes the totals to ``<directory>/<pid>.json`` every half second: how
    ``make bench`` counts store commands per request across every process (the
    embedded store keeps no counters of its own). Off unless SHEGONG_COMMAND_COUNTS_DIR
    is set."""

    def __init__(self, directory: str) -> None:
        self.counts: Counter = Counter()
        self.path = Path(directory) / f"{os.getpid()}.json"
        threading.Thread(
            target=self._write_forever, daemon=True, name="store command counts"
        ).start()

    def started(self, event) -> None:
        name = f"{event.command_name} {event.command.get(event.command_name)}"
        self.counts[name] += 1
        # the documents a command carries: what the embedded store's cost follows
        carried = OPERATIONS.get(event.command_name)
        self.counts[f"{OPERATIONS_PREFIX}{name}"] += (
            len(event.command.get(carried) or ()) if carried else 1
        )

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass

    def _write_forever(self) -> None:
        while True:
            time.sleep(0.5)
            try:
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(dict(self.counts)))
                temporary.replace(self.path)
            except OSError:
                pass  # counting never stops the service


def drop_retired_indexes(collection, keys: tuple[list, ...]) -> None:
    """Drop the indexes on ``keys`` (each ``[(field, direction), ...]``) that
    ``collection`` still has: ones no query uses any more, which each write to the
    collection still pays for. Found by key, not by name (the embedded store names
    its indexes otherwise)."""
    retired = {tuple(map(tuple, key)) for key in keys}
    for name, index in collection.index_information().items():
        if tuple(map(tuple, index["key"])) in retired:
            collection.drop_index(name)


def client(uri, counts_dir="", log_dir=""):
    """The process's client for ``uri``, created lazily (after a gunicorn fork)."""
    key = (uri, os.getpid())
    with _lock:
        if key not in _clients:
            listeners: list = [CommandCounts(counts_dir)] if counts_dir else []
            if log_dir:
                listeners.append(CommandLog(log_dir))
            _clients[key] = MongoClient(
                uri,
                serverSelectionTimeoutMS=3000,
                connectTimeoutMS=2000,
                socketTimeoutMS=10000,
                appname="shegong",
                event_listeners=listeners,
            )
        return _clients[key]


def database(settings, service):
    return client(settings.mongo_uri, settings.command_counts_dir, settings.command_log_dir)[
        settings.database_name(service)
    ]


def store_reachable(settings):
    try:
        # the same client as database()'s (the first call makes it, with its listeners)
        client(
            settings.mongo_uri, settings.command_counts_dir, settings.command_log_dir
        ).admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
