"""MongoDB access: one client per process, one database per service.

Only what behaves identically on MongoDB and on the development wire-protocol server
is used (see docs/architecture.md, "Store"): single-document atomic writes, unique
indexes, simple filters; no transactions, no datetimes, no dotted-path upserts.
"""
import os
import threading

from pymongo import MongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError

STORE_DOWN_ERRORS = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError)

_clients = {}
_lock = threading.Lock()


def client(uri):
    """The process's client for ``uri``, created lazily (after a gunicorn fork)."""
    key = (uri, os.getpid())
    with _lock:
        if key not in _clients:
            _clients[key] = MongoClient(uri, serverSelectionTimeoutMS=3000,
                                        connectTimeoutMS=2000, socketTimeoutMS=10000,
                                        appname="shegong")
        return _clients[key]


def database(settings, service):
    return client(settings.mongo_uri)[settings.database_name(service)]


def store_reachable(settings):
    try:
        client(settings.mongo_uri).admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
