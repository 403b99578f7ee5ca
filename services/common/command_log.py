"""Every command this process sends to the store, with where in the code it was sent
from: how the query-plan check (benchmarks/plans.py, tests/integration/
test_query_plans.py) learns the command shapes the services use. Off unless
SHEGONG_COMMAND_LOG_DIR is set; then each process appends to ``<dir>/<pid>.jsonl``.

Commands carry personal data: the log is for test and benchmark stores only."""

import base64
import json
import os
import threading
import traceback
from pathlib import Path

import bson
from pymongo import monitoring

# the commands whose plan depends on their filter (the rest are handshakes and cursors)
LOGGED = frozenset(
    {"find", "aggregate", "count", "distinct", "insert", "update", "delete", "findAndModify"}
)
# frames of these files say nothing about the caller
PLUMBING = ("services/common/mongo.py", "services/common/command_log.py")


def _callers() -> list[str]:
    """The services' frames that led to the command, innermost first
    (``services/x/y.py:function``)."""
    found = []
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, "/")
        at = path.rfind("/services/")
        if at < 0 or path.endswith(PLUMBING):
            continue
        found.append(f"{path[at + 1 :]}:{frame.name}")
    return found[:4]


class CommandLog(monitoring.CommandListener):
    def __init__(self, directory: str) -> None:
        self.path = Path(directory) / f"{os.getpid()}.jsonl"
        self.lock = threading.Lock()

    def started(self, event) -> None:
        if event.command_name not in LOGGED:
            return
        command = {
            key: value
            for key, value in event.command.items()
            if key not in ("lsid", "$clusterTime", "txnNumber", "$readPreference")
        }
        # as BSON, so that it is sent again exactly as it was (JSON would turn a
        # {"$regex": ...} filter into a regular expression object)
        line = json.dumps(
            {
                "database": event.database_name,
                "callers": _callers(),
                "command": base64.b64encode(bson.encode(command)).decode(),
            }
        )
        try:
            with self.lock, self.path.open("a", encoding="utf-8") as log:
                log.write(line + "\n")
        except OSError:
            pass  # logging never stops the service

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass
