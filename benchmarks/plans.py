"""Every store command shape the services send, and how the embedded store executes it.

    python -m benchmarks.plans --markdown docs/query-plans.md   # run the workload, write the table
    python -m benchmarks.plans --logs DIR --store DIR --json F  # plans of logged commands

Without ``--logs`` the workload of benchmarks/plans_workload.py runs first (the whole
system on the real broker, in a virtual host of its own). Each command shape
(benchmarks/shapes.py) is then sent once more to nx-27017 run in this process on a copy
of the workload's store, grown to ``--history`` documents per collection, with SQLite
traced (benchmarks/plans_store.py): the SQL it ran and EXPLAIN QUERY PLAN of each
statement say whether the shape reads through an index or scans its collection.
tests/integration/test_query_plans.py fails on a shape that scans unless
tests/query_plans_allowed.py names it.
"""

import argparse
import base64
import json
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import bson

from benchmarks import shapes
from benchmarks.plans_store import SCAN, TracedStore

HISTORY = 3000
RANGE = {"$gt", "$gte", "$lt", "$lte"}


def logged(directory: Path):
    """(database, command, callers) of every command the processes logged."""
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                yield (
                    entry["database"],
                    bson.decode(base64.b64decode(entry["command"])),
                    entry.get("callers", []),
                )


def collect(directory: Path) -> dict:
    """The shapes of the logged commands: each with an example, a count and its callers."""
    found: dict = {}
    for database, command, callers in logged(directory):
        for shape, example in shapes.statements(command):
            entry = found.setdefault(
                shapes.key(shape),
                {
                    "shape": shape,
                    "database": database,
                    "example": example,
                    "count": 0,
                    "callers": Counter(),
                },
            )
            entry["count"] += 1
            entry["callers"][" <- ".join(callers[:3]) or "(not from services/)"] += 1
    return found


def explain_all(found: dict, store_dir: Path | None, history: int) -> list:
    store = TracedStore(store_dir)
    try:
        added = store.add_history(history) if history else {}
        rows = []
        # reads first, then writes, deletes last: no example removes what another reads
        order = {"insert": 1, "update": 2, "findAndModify": 2, "delete": 3}
        for key in sorted(found, key=lambda k: (order.get(found[k]["shape"]["command"], 0), k)):
            entry = found[key]
            plan = store.explain(entry["database"], entry["example"])
            collection = store.client[entry["database"]][entry["shape"]["collection"]]
            indexes = [list(index["key"]) for index in collection.list_indexes()]
            rows.append(
                {
                    "shape": key,
                    "service": entry["database"].split("_", 1)[-1],
                    "collection": entry["shape"]["collection"],
                    "command": entry["shape"]["command"],
                    "count": entry["count"],
                    "callers": [c for c, _ in entry["callers"].most_common(3)],
                    "verdict": plan.verdict,
                    "plan": plan.summary(),
                    "error": plan.error,
                    "sql": [s.sql[:400] for s in plan.statements],
                    "mongodb_index": mongodb_index(entry["shape"], indexes),
                }
            )
        return [{"history": added}, *rows]
    finally:
        store.close()


def _fields(filter_shape) -> tuple[set, set]:
    """(equality or $in fields, range fields) of a filter shape's top level."""
    equal, ranged = set(), set()
    for field, value in (filter_shape or {}).items():
        if field.startswith("$"):
            continue
        if not isinstance(value, dict) or set(value) & {"$eq", "$in"}:
            equal.add(field)
        elif set(value) & RANGE:
            ranged.add(field)
    return equal, ranged


def mongodb_index(shape: dict, indexes: list) -> str:
    """The index MongoDB's planner would pick for the shape (as explain() would name
    it), of the indexes the services create; "COLLSCAN" when none fits."""
    if shape["command"] == "insert":
        return "-"
    filter_shape = shape.get("filter")
    if shape["command"] == "aggregate":
        first = (shape.get("pipeline") or [{}])[0]
        filter_shape = first.get("$match", {})
    branches = (filter_shape or {}).get("$or")
    if branches:
        picked = [
            mongodb_index({**shape, "command": "find", "filter": b}, indexes) for b in branches
        ]
        return "COLLSCAN" if "COLLSCAN" in picked else "OR: " + " | ".join(picked)
    equal, ranged = _fields(filter_shape)
    sort = [field for field, _ in shape.get("sort") or []]
    best, score = None, 0.0
    for keys in indexes:
        n = 0
        while n < len(keys) and keys[n] in equal:
            n += 1
        points = n + (
            0.5 if n < len(keys) and (keys[n] in ranged or (sort and keys[n] == sort[0])) else 0
        )
        if points > score:
            best, score = keys, points
    if best is None:
        return "COLLSCAN"
    return "_id_" if best == ["_id"] else "{" + ", ".join(best) + "}"


def markdown(rows: list) -> str:
    history, rows = rows[0]["history"], rows[1:]
    scanning = [row for row in rows if row["verdict"] == SCAN]
    lines = [
        "# Store query plans",
        "",
        "Every store command shape the services sent in the workload of",
        "`benchmarks/plans_workload.py` (the story, every timer, every list and report),",
        "and how the embedded store (nx-27017 0.8.1, neosqlite 1.17.2 on SQLite) executes",
        "it on a store with history (each collection grown to about "
        f"{max(history.values(), default=0) + 2} documents).",
        "Generated by `python -m benchmarks.plans --markdown docs/query-plans.md`;",
        "`tests/integration/test_query_plans.py` fails on a new shape that scans, unless",
        "`tests/query_plans_allowed.py` names it with the reason.",
        "",
        "A shape is the command, the collection, the filter with values replaced by their",
        "types, the sort, the projection's keys, the update's operators. **scan**: a",
        "statement reads the collection's table whole (SQLite `SCAN <table>`, or the whole",
        "table read into Python); **index**: it only searches an index, the primary key or",
        "a rowid. *MongoDB* names the index MongoDB's planner would use, of those the",
        "services create (what `explain()` would show there), by its rule for such simple",
        "shapes: the longest prefix of equality fields, then the sort or range field (not",
        "measured: there is no mongod here); `COLLSCAN`: none fits.",
        "",
        f"{len(rows)} shapes, {len(scanning)} of them scan on the embedded store.",
        "",
        "| shape | from (file:function) | nx-27017 plan | scans | MongoDB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in sorted(rows, key=lambda r: (r["service"], r["collection"], r["shape"])):
        where = "<br>".join(row["callers"]) or "-"
        lines.append(
            f"| `{_cell(row['shape'])}` | {_cell(where)} | {_cell(row['plan'])} | "
            f"{'**scan**' if row['verdict'] == SCAN else row['verdict']} | "
            f"{_cell(row['mongodb_index'])} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def scanning_list(rows: list) -> str:
    return "".join(
        f"{row['shape']}\n    from: {'; '.join(row['callers'])}\n    plan: {row['plan']}\n"
        for row in rows[1:]
        if row["verdict"] == SCAN
    )


def run_workload(var_dir: Path) -> Path:
    import os

    from benchmarks import plans_workload
    from tests.support import Rabbit

    rabbit = Rabbit(os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"))
    vhost = f"shegong-plans-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    try:
        return plans_workload.run(
            var_dir,
            plans_workload.vhost_uri(
                os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"), vhost
            ),
        )
    finally:
        rabbit.delete_vhost(vhost)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plans",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--logs", type=Path, help="command logs (SHEGONG_COMMAND_LOG_DIR)")
    parser.add_argument("--store", type=Path, help="the workload's nx-27017 data directory")
    parser.add_argument("--history", type=int, default=HISTORY)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path, nargs="?", const=Path("docs/query-plans.md"))
    parser.add_argument("--scanning", type=Path, help="the shapes that scan, as text")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plans-workload-") as scratch:
        if args.logs is None:
            args.logs = run_workload(Path(scratch))
            args.store = Path(scratch) / "mongo"
        rows = explain_all(collect(args.logs), args.store, args.history)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(rows), encoding="utf-8")
    if args.scanning:
        args.scanning.write_text(scanning_list(rows), encoding="utf-8")
    if not (args.json or args.markdown or args.scanning):
        sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
