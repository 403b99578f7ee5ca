"""Chaos: a stream of requests while the broker restarts, processes are killed with -9,
the store stops and starts, events are delivered twice and poison is published.

Then, from the stores and the APIs: every request accepted with 202 is there exactly
once, as exactly one case, with exactly one SMS per (event, recipient), counted once
in reporting; the poison is in the dead-letter queues with its reason. A Jepsen-style
tally is printed (``pytest -s`` shows it; it is also written to
``var/chaos-tally.json``).

``SHEGONG_CHAOS_REQUESTS`` (default 2000) sets the size of the run;
``SHEGONG_CHAOS_BROKER_RESTART=0`` leaves the shared broker alone (for local runs
beside other work).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests
from pymongo import MongoClient

from tests.chaos.load import POISON, Tap, chaos_request, publish_poison
from tests.chaos.system import ROOT, ChaosSystem, restart_broker
from tests.support import wait_until

pytestmark = pytest.mark.chaos
TOTAL = int(os.environ.get("SHEGONG_CHAOS_REQUESTS", "2000"))
BROKER_RESTART = os.environ.get("SHEGONG_CHAOS_BROKER_RESTART", "1") != "0"
CONSUMERS_OF_REQUESTS = ("casework", "notifications", "reporting")


class LoadProcess:
    """The request stream, in its own process; ``done`` is read from its progress file."""

    def __init__(self, system, total):
        self.total, self.dir = total, system.var_dir
        self.progress, self.result_file = self.dir / "load-progress", self.dir / "load-result.json"
        self.progress.write_text("0")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.chaos.load",
                system.url("intake", "/v1/requests"),
                system.token(),
                f"chaos-{uuid.uuid4().hex[:8]}",
                str(self.progress),
                str(self.result_file),
                str(total),
            ],
            cwd=ROOT,
        )

    @property
    def done(self):
        text = self.progress.read_text().strip()
        return int(text) if text else 0

    def result(self, timeout):
        assert self.process.wait(timeout) == 0, "the load process failed"
        return json.loads(self.result_file.read_text())


@pytest.fixture
def chaos(rabbit):
    vhost = f"shegong-chaos-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    amqp_uri = urlunparse(base._replace(path="/" + quote(vhost, safe="")))
    var_dir = ROOT / "var" / "chaos-last"  # kept after the run, for the logs
    shutil.rmtree(var_dir, ignore_errors=True)
    system = ChaosSystem(var_dir, amqp_uri, f"chaos{uuid.uuid4().hex[:6]}")
    system.vhost = vhost
    try:
        system.up()
        yield system
    finally:
        system.down()
        rabbit.delete_vhost(vhost)


def faults(system, load, taps, log):
    """The schedule of faults, each at a point of the request stream's progress."""

    def at(fraction, what, action):
        wait_until(
            lambda: load.done >= fraction * load.total or load.process.poll() is not None,
            timeout=1800,
            interval=0.2,
            message=f"{fraction:.0%} of the load",
        )
        started, done = time.monotonic(), load.done
        action()
        log.append(f"{done:>5} done: {what} ({time.monotonic() - started:.1f} s)")

    at(0.05, "kill -9 casework worker", lambda: system.restart("casework-worker"))
    at(0.12, "kill -9 notifications worker", lambda: system.restart("notifications-worker"))
    at(
        0.20,
        "deliver 50 request events and 50 case events again",
        lambda: [taps[p].redeliver(50) for p in taps],
    )
    if BROKER_RESTART:
        at(0.28, "restart RabbitMQ", restart_broker)
    at(0.36, "kill -9 reporting worker", lambda: system.restart("reporting-worker"))
    at(0.44, "kill -9 intake API (requests in flight)", lambda: system.restart("intake-api"))
    at(0.52, "publish poison", lambda: publish_poison(system.env["AMQP_URI"]))
    at(0.60, "stop the store for 3 s", lambda: system.restart("store", down_s=3))
    at(0.68, "kill -9 intake worker (its outbox relay)", lambda: system.restart("intake-worker"))
    at(
        0.76,
        "kill -9 casework worker and API",
        lambda: (system.restart("casework-worker"), system.restart("casework-api")),
    )
    at(0.84, "deliver 50 more of each again", lambda: [taps[p].redeliver(50) for p in taps])
    at(0.90, "kill -9 notifications worker", lambda: system.restart("notifications-worker"))


def queue_depths(rabbit, vhost):
    queues = rabbit.call("GET", f"queues/{quote(vhost, safe='')}")
    return {q["name"]: q.get("messages", 0) for q in queues}


def dead_letters(rabbit, vhost, service):
    """Peek at a dead-letter queue (requeued, so nothing is consumed)."""
    return rabbit.call(
        "POST",
        f"queues/{quote(vhost, safe='')}/shegong.dead-letter.{service}/get",
        json={"count": 1000, "ackmode": "ack_requeue_true", "encoding": "auto"},
    )


def snapshot(system, client, rabbit):
    depths = queue_depths(rabbit, system.vhost)
    busy = {
        name: n
        for name, n in depths.items()
        if n and not name.startswith(("shegong.dead-letter.", "chaos-tap-"))
    }
    counts = tuple(
        system.database(client, service)[collection].estimated_document_count()
        for service, collection in (
            ("intake", "requests"),
            ("casework", "cases"),
            ("notifications", "messages"),
        )
    )
    # reporting keeps each event first and projects it after (one projector at a time,
    # by lease; a killed holder's lease runs out after 30 s): kept but not projected is busy
    # (kept in batches: event_batches, one document per batch)
    unprojected = system.database(client, "reporting")["event_batches"].count_documents(
        {"pending": 1}
    )
    if unprojected:
        busy["reporting: event batches kept, not yet projected"] = unprojected
    return busy, counts


def quiesce(system, client, rabbit, timeout=600):
    """Until no queue holds work and the stores have not changed for 10 s."""
    deadline, last, stable_since = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        busy, counts = snapshot(system, client, rabbit)
        if busy or counts != last:
            last, stable_since = counts, time.monotonic()
        elif time.monotonic() - stable_since > 10:
            return
        time.sleep(1)
    raise AssertionError(f"no quiescence after {timeout} s: busy queues {busy}")


def test_nothing_is_lost_nothing_doubles_under_chaos(chaos, rabbit):
    system = chaos
    taps = {
        producer: Tap(system.env["AMQP_URI"], producer, f"chaos-tap-{producer}")
        for producer in ("intake", "casework")
    }
    started = time.monotonic()
    load, log = LoadProcess(system, TOTAL), []
    faults(system, load, taps, log)
    outcome = load.result(timeout=1800)
    elapsed = time.monotonic() - started
    client = MongoClient(system.env["MONGO_URI"], serverSelectionTimeoutMS=5000)
    quiesce(system, client, rabbit)
    assert not system.exited(), f"processes died on their own: {system.exited()}"

    accepted = set(outcome["accepted"].values())
    counted = count(system, client, rabbit, accepted)
    dead = counted["dead"]

    tally = {
        "requests": TOTAL,
        "seconds": round(elapsed, 1),
        "accepted": len(accepted),
        "refused": len(outcome["rejected"]),
        "client_retries": outcome["retries"],
        "answers": outcome["statuses"],
        "lost": counted["lost"],
        "duplicated": counted["duplicated"],
        "dead_lettered": {service: len(found) for service, found in dead.items()},
        "faults": log,
    }
    report = json.dumps(tally, ensure_ascii=False, indent=2)
    print("\nchaos tally\n" + report)
    out = Path(os.environ.get("SHEGONG_CHAOS_TALLY", ROOT / "var" / "chaos-tally.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")

    assert not outcome["rejected"], dict(list(outcome["rejected"].items())[:5])
    assert len(accepted) == TOTAL
    assert all(n == 0 for n in tally["lost"].values()), report
    assert all(n == 0 for n in tally["duplicated"].values()), report
    for service in CONSUMERS_OF_REQUESTS:
        reasons = [m["properties"]["headers"].get("x-death-reason") for m in dead[service]]
        assert len(reasons) == len(POISON), (service, reasons)
        assert all(reasons), (service, reasons)
    assert len(log) >= 10, log
    leaks = personal_data_in_logs(system, outcome)
    assert not leaks, leaks


def count(system, client, rabbit, accepted):
    """What was lost and what doubled, once the system is quiet: ``accepted``, the ids of
    every request the system took (by HTTP or inbound AMQP), each to be stored once, as
    one case, with one SMS per (case, recipient, template), counted once in reporting.
    Also the dead letters of each service (peeked at, left in their queues)."""
    intake = system.database(client, "intake")["requests"]
    cases = system.database(client, "casework")["cases"]
    messages = system.database(client, "notifications")["messages"]
    stored_requests = Counter(doc["_id"] for doc in intake.find({}, {"_id": 1}))
    case_per_request = Counter(doc["request_id"] for doc in cases.find({}, {"request_id": 1}))
    assigned = {
        doc["_id"]: doc
        for doc in cases.find({"assignee": {"$ne": None}}, {"_id": 1, "request_id": 1})
    }
    message_keys = Counter(
        (m.get("case_id"), m["recipient_role"], m["template"])
        for m in messages.find({}, {"case_id": 1, "recipient_role": 1, "template": 1})
    )
    worker_messages = {case_id for case_id, role, _ in message_keys if role == "worker"}
    sms_file = system.var_dir / "sms.jsonl"
    sms_lines = Counter(
        json.loads(line)["message_id"]
        for line in (sms_file.read_text(encoding="utf-8") if sms_file.exists() else "").splitlines()
        if line.strip()
    )
    summary = requests.get(
        system.url("reporting", "/v1/reports/summary"),
        headers={"Authorization": f"Bearer {system.token()}"},
        timeout=30,
    ).json()
    return {
        "lost": {
            "requests": len(accepted - set(stored_requests)),
            "cases": len(accepted - set(case_per_request)),
            "worker_sms": len(set(assigned) - worker_messages),
            "reporting_requests": len(accepted) - summary["requests_received"],
            "reporting_cases": len(accepted) - summary["cases_opened"],
        },
        "duplicated": {
            "requests": len(set(stored_requests) - accepted),
            "cases": sum(n - 1 for n in case_per_request.values() if n > 1)
            + len(set(case_per_request) - accepted),
            "messages": sum(n - 1 for n in message_keys.values() if n > 1),
            "sms_sent": sum(n - 1 for n in sms_lines.values() if n > 1),
            "reporting_requests": max(0, summary["requests_received"] - len(accepted)),
            "reporting_cases": max(0, summary["cases_opened"] - len(accepted)),
        },
        "dead": {
            service: dead_letters(rabbit, system.vhost, service)
            for service in ("intake", "casework", "notifications", "reporting")
        },
    }


def personal_data_in_logs(system, outcome):
    """Every log of the run (verbose by default) searched for the residents' names and
    numbers: none may appear, in full, anywhere."""
    personal = {
        needle
        for index in outcome["accepted"]
        for needle in (
            chaos_request(int(index))["resident"]["name"],
            chaos_request(int(index))["resident"]["phone"],
        )
    }
    shaped = re.compile(r"居民\d{5}|1\d{10}")
    leaks = []
    for path in sorted((system.var_dir / "log").glob("*.log")):
        found = set(shaped.findall(path.read_text(encoding="utf-8", errors="replace")))
        leaks += [(path.name, needle) for needle in sorted(found & personal)][:5]
    return leaks
