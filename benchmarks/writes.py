"""Every store command one staff request causes, per service, collection and command,
from its POST to its projection: ``python -m benchmarks.writes`` (issue 24).

Runs the whole system (benchmarks/system.py: every service its own process on the shared
broker, in a virtual host of its own, on nx-27017), warms it up, posts requests as fast
as ``BENCH_CLIENTS`` clients can for ``BENCH_PHASE_S`` seconds, waits until every one of
them is projected by reporting, and prints the commands and the documents they carried
(services/common/mongo.CommandCounts) divided by the requests: the table of
docs/performance.md; then ``make bench``'s exactly-once check of every request. Timers
that ran meanwhile (relays, sweeps, reconcile) are counted too, as in ``make bench``.
Not part of the test suite: it takes about a minute.
"""

import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import psutil
from pymongo import MongoClient

from benchmarks import counting
from benchmarks.load import Load
from benchmarks.run import exactly_once, wait_drained
from benchmarks.system import BenchSystem
from benchmarks.tracing import Tracer
from services.common.mongo import OPERATIONS_PREFIX
from tests.support import Rabbit


def service_of(pid: int, processes: dict) -> str:
    """The service a counting process belongs to (gunicorn's workers are children of
    the process the system started)."""
    owners = {started: name.rsplit("-", 1)[0] for name, started in processes.items()}
    try:
        chain = [pid] + [parent.pid for parent in psutil.Process(pid).parents()]
    except psutil.NoSuchProcess:
        return "?"
    return next((owners[p] for p in chain if p in owners), "?")


def per_service(directory: Path, processes: dict) -> Counter:
    """``(service, "command collection", "commands"|"documents") -> n`` summed per process."""
    total: Counter = Counter()
    for path in Path(directory).glob("*.json"):
        service = service_of(int(path.stem), processes)
        for name, n in counting.commands_of(path).items():
            if name.startswith(OPERATIONS_PREFIX):
                total[(service, name[len(OPERATIONS_PREFIX) :], "documents")] += n
            else:
                total[(service, name, "commands")] += n
    return total


def table(counted: Counter, requests: int) -> str:
    rows = sorted(
        {(service, name) for service, name, _ in counted},
        key=lambda row: (row[0], -counted[(*row, "documents")]),
    )
    lines = [
        "| service | command | collection | commands / request | documents / request |",
        "| --- | --- | --- | --- | --- |",
    ]
    totals = Counter()
    for service, name in rows:
        commands, documents = (
            counted[(service, name, "commands")],
            counted[(service, name, "documents")],
        )
        if not commands:
            continue
        verb, _, collection = name.partition(" ")
        totals["commands"] += commands
        totals["documents"] += documents
        lines.append(
            f"| {service} | {verb} | {collection} | {commands / requests:.2f} "
            f"| {documents / requests:.2f} |"
        )
    lines.append(
        f"| **all** | | | **{totals['commands'] / requests:.2f}** "
        f"| **{totals['documents'] / requests:.2f}** |"
    )
    return "\n".join(lines)


def main() -> int:
    seconds = float(os.environ.get("BENCH_PHASE_S", "10"))
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    base_amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    rabbit = Rabbit(os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"))
    vhost = f"shegong-writes-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    amqp_uri = urlunparse(urlparse(base_amqp)._replace(path="/" + quote(vhost, safe="")))
    var_dir = Path(tempfile.mkdtemp(prefix="shegong-writes-"))
    system = BenchSystem(var_dir, amqp_uri, "writes")
    tracer = None
    try:
        system.up()
        tracer = Tracer(
            amqp_uri, system.env["MONGO_URI"], "writes_reporting", var_dir / "sms.jsonl"
        )
        tracer.start()
        load = Load(system.url("intake", ""), system.token(), run=int(time.time()) % 1000)
        warm = load.fixed_rate(5, 4)
        wait_drained(tracer, [p.request_id for p in warm.accepted()], give_up_s=30)
        time.sleep(1.5)  # the counts of the warm-up written (every half second)
        before = per_service(system.command_counts, system.service_processes())
        result = load.max_rate(seconds, clients)
        ids = [p.request_id for p in result.accepted()]
        done = wait_drained(tracer, ids, give_up_s=30)
        time.sleep(1.5)
        counted = per_service(system.command_counts, system.service_processes()) - before
        print(
            f"{len(ids)} requests accepted in {seconds:g} s "
            f"({len(ids) / seconds:.1f}/s, {clients} clients), {done} projected"
        )
        print(table(counted, len(ids)))
        every = [p.request_id for p in warm.accepted()] + ids
        print(f"exactly once: {exactly_once(system, MongoClient(system.env['MONGO_URI']), every)}")
    finally:
        if tracer:
            tracer.stop()
        system.down()
        rabbit.delete_vhost(vhost)
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
