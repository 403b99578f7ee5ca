"""How the embedded store executes a command: nx-27017 run in this process (the same
package and version the tests and ``make run`` start), each SQLite connection traced,
so that the SQL it runs for one command is known, and SQLite's ``EXPLAIN QUERY PLAN``
of each statement says whether it reads through an index or scans the collection.

A statement *scans* when its plan reads a collection's table whole (``SCAN <table>``,
with or without a covering index: every row or every index entry is read); it uses
an index when it only ``SEARCH``es the table (an index, the integer primary key, a
rowid). A fallback that reads the collection into Python shows as a plain
``SELECT ... FROM <table>``: a scan too.
"""

import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymongo

# what a statement does to a collection's table, by EXPLAIN QUERY PLAN's words
SCAN, INDEX, NONE = "scan", "index", "-"
EXPLAINED = re.compile(r"^\s*(SELECT|WITH|UPDATE|DELETE|INSERT|REPLACE)\b", re.I)
CREATE_AS = re.compile(r"^\s*CREATE\s+(?:TEMP\w*\s+)?TABLE\s+\S+\s+AS\s+(.*)$", re.I | re.S)
PLAN_ROW = re.compile(r"^(SCAN|SEARCH)\s+(\S+)")
# what the server asks its own catalogue (not the collections)
CATALOGUE = re.compile(r"\b(sqlite_master|sqlite_schema|pragma_\w+|neosqlite_\w+)\b")
# fields of a logged command that belong to the session, not to the command
SESSION = ("lsid", "$clusterTime", "txnNumber", "$readPreference", "$db")


@dataclass
class Statement:
    sql: str
    plan: list = field(default_factory=list)
    verdict: str = NONE


@dataclass
class Plan:
    statements: list
    error: str = ""

    @property
    def verdict(self) -> str:
        verdicts = {s.verdict for s in self.statements}
        return SCAN if SCAN in verdicts else INDEX if INDEX in verdicts else NONE

    def summary(self) -> str:
        """The plan lines that touch a collection, each once, in order."""
        seen = []
        for statement in self.statements:
            for line in statement.plan:
                if PLAN_ROW.match(line) and line not in seen:
                    seen.append(line)
        return "; ".join(seen) or "(no read)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TracedStore:
    """nx-27017 in a thread of this process, on a copy of ``data_dir`` (one SQLite file
    per database, as nx-27017 --data-dir keeps them), with every statement traced."""

    def __init__(self, data_dir: Path | None = None) -> None:
        import neosqlite.connection as neosqlite_connection
        from nx_27017.handler import NeoSQLiteHandler
        from nx_27017.server import run_server_threaded

        self.directory = Path(tempfile.mkdtemp(prefix="plans-"))
        if data_dir:
            shutil.copytree(data_dir, self.directory, dirs_exist_ok=True)
        self.traced: list = []
        self.tracing = False
        self.connections: list = []
        original = neosqlite_connection.Connection._configure_connection
        store = self

        def configure(connection):
            original(connection)
            database = connection.db
            store.connections.append(database)
            database.set_trace_callback(
                lambda sql: store.tracing and store.traced.append((database, sql))
            )

        neosqlite_connection.Connection._configure_connection = configure
        handler = NeoSQLiteHandler(str(self.directory), data_dir=str(self.directory))
        port = _free_port()
        threading.Thread(
            target=run_server_threaded,
            args=("127.0.0.1", port, handler, True),
            daemon=True,
            name="nx-27017 traced",
        ).start()
        self.uri = f"mongodb://127.0.0.1:{port}/"
        self.client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=10_000)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client.admin.command("ping")
                break
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self.client.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def explain(self, database: str, command: dict) -> Plan:
        """Send ``command`` to ``database`` and say how the store executed it."""
        command = {key: value for key, value in command.items() if key not in SESSION}
        self.traced.clear()
        self.tracing = True
        error = ""
        try:
            self.client[database].command(command)
        except pymongo.errors.PyMongoError as failure:
            error = str(failure)[:200]  # e.g. a duplicate key: the plan ran all the same
        finally:
            self.tracing = False
        statements = [
            self._explained(connection, sql)
            for connection, sql in self.traced
            if not CATALOGUE.search(sql)
        ]
        return Plan([s for s in statements if s is not None], error)

    def _explained(self, connection, sql: str) -> Statement | None:
        created = CREATE_AS.match(sql)
        query = created.group(1) if created else sql
        if not EXPLAINED.match(query):
            return None
        statement = Statement(" ".join(sql.split()))
        try:
            rows = connection.execute("EXPLAIN QUERY PLAN " + query).fetchall()
        except Exception as failure:  # noqa: BLE001 - e.g. a temporary table since dropped
            statement.plan = [f"(not explained: {str(failure)[:80]})"]
            return statement
        tables = self._tables(connection)
        statement.plan = [row[-1] for row in rows]
        for line in statement.plan:
            found = PLAN_ROW.match(line)
            if not found or found.group(2) not in tables:
                continue
            if found.group(1) == "SCAN":
                statement.verdict = SCAN
            elif statement.verdict == NONE:
                statement.verdict = INDEX
        return statement

    @staticmethod
    def _tables(connection) -> set:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {name for (name,) in rows if not name.startswith(("sqlite_", "neosqlite_", "temp_"))}

    def add_history(self, per_collection: int) -> dict:
        """Copies of each collection's documents until it holds ``per_collection``, so
        that the plans are those of a store with history; fields of unique indexes get
        values of their own. Returns the documents added per collection."""
        added = {}
        for name in self.client.list_database_names():
            if name in ("admin", "local", "config"):
                continue
            database = self.client[name]
            for collection_name in database.list_collection_names():
                collection = database[collection_name]
                documents = list(collection.find({}).limit(200))
                if not documents:
                    continue
                unique = {
                    key
                    for index in collection.list_indexes()
                    if index.get("unique")
                    for key in index["key"]
                    if key != "_id"
                }
                count = collection.estimated_document_count()
                copies = [
                    _copy(documents[n % len(documents)], n, unique)
                    for n in range(max(0, per_collection - count))
                ]
                for start in range(0, len(copies), 1000):
                    try:
                        collection.insert_many(copies[start : start + 1000], ordered=False)
                    except pymongo.errors.BulkWriteError:
                        pass  # a copy that a unique index refused: history all the same
                added[f"{name}.{collection_name}"] = len(copies)
        return added


def _copy(document: dict, number: int, unique: set) -> dict:
    copy = dict(document)
    copy["_id"] = f"{document['_id']}~history-{number}"
    for name in unique:
        top = name.split(".")[0]
        value = copy.get(top)
        if isinstance(value, str):
            copy[top] = f"{value}~history-{number}"
        elif isinstance(value, int) and not isinstance(value, bool):
            copy[top] = value + 1_000_000 + number
    return copy
