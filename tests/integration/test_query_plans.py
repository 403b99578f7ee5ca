"""Every store command shape the services send reads through an index on the embedded
store, or is named in tests/query_plans_allowed.py with the reason it may scan.

The whole system runs as ``make run`` starts it (benchmarks/plans_workload.py: the
story, every timer, every list and report) with each process logging its store
commands; benchmarks/plans.py sends each shape once more to nx-27017 on a copy of that
store grown to a few thousand documents per collection, with SQLite traced, and reads
EXPLAIN QUERY PLAN of every statement it ran. A new shape that scans fails here:
on a store with years of history it would read the whole collection each time."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks import plans_workload
from tests.query_plans_allowed import ALLOWED
from tests.support import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def plans(tmp_path_factory, rabbit):
    import uuid

    vhost = f"shegong-plans-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    var_dir = tmp_path_factory.mktemp("plans")
    try:
        logs = plans_workload.run(
            var_dir,
            plans_workload.vhost_uri(
                os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"), vhost
            ),
        )
    finally:
        rabbit.delete_vhost(vhost)
    out = var_dir / "plans.json"
    # its own process: nx-27017 runs in it, in threads (this one is eventlet's)
    explained = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.plans",
            "--logs",
            str(logs),
            "--store",
            str(var_dir / "mongo"),
            "--history",
            "2000",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert explained.returncode == 0, explained.stderr[-3000:]
    rows = json.loads(out.read_text())
    return rows[1:]


def test_the_workload_reaches_every_service_and_every_kind_of_command(plans):
    services = {row["service"] for row in plans}
    assert services == {"intake", "casework", "notifications", "reporting"}, services
    commands = {row["command"] for row in plans}
    # (no aggregate: none is sent any more; each read one index lookup or range)
    assert {"find", "insert", "update", "delete"} <= commands, commands
    # the story, the timers and the lists each left their shapes
    callers = " ".join(caller for row in plans for caller in row["callers"])
    for function in (
        "outbox.py:sweep",
        "enforce_service_levels",
        "reconcile_workload",
        "purge_expired_keys",
        "deliver_due",
        "projector.py:drain",
        "records.py:search",
        "reporting/store/__init__.py:load_dailies",
        "reporting/store/rollups.py:months",
        "reporting/store/rollups.py:all_time",
        "reporting/store/rollups.py:load",
        "webhooks.py:find",
    ):
        assert function in callers, function
    # and the store had history when the shapes ran again
    assert len(plans) > 40


def test_no_shape_scans_its_collection_unless_allowed(plans):
    scanning = {row["shape"]: row for row in plans if row["verdict"] == "scan"}
    new = {shape: row for shape, row in scanning.items() if shape not in ALLOWED}
    assert not new, "shapes that scan their collection on the embedded store:\n" + "\n".join(
        f"{shape}\n    from: {'; '.join(row['callers'])}\n    plan: {row['plan']}"
        for shape, row in new.items()
    )


def test_no_shape_compares_text_that_starts_like_a_date(plans):
    """Such text is compared as an instant in UTC on the embedded store and as text on
    MongoDB (benchmarks/shapes.type_of): a query holding it answers differently on the
    two, so none may; key on text that starts with its scope, or on numbers."""
    dated = {row["shape"]: row for row in plans if '"date-text"' in row["shape"]}
    assert not dated, "shapes that compare text starting like a date:\n" + "\n".join(
        f"{shape}\n    from: {'; '.join(row['callers'])}" for shape, row in dated.items()
    )


def test_every_allowed_shape_says_why():
    assert all(isinstance(reason, str) and reason.strip() for reason in ALLOWED.values())


def test_no_shape_is_allowed_that_no_longer_scans(plans):
    """An entry for a shape that now reads through an index (or is no longer sent) is
    stale: the list only ever names what still scans. Migrations run once per store, so
    theirs are checked where they ran (this workload's store is new: all of them ran)."""
    scanning = {row["shape"] for row in plans if row["verdict"] == "scan"}
    stale = sorted(shape for shape in ALLOWED if shape not in scanning)
    assert not stale, "allowed shapes that no longer scan (remove them):\n" + "\n".join(stale)
