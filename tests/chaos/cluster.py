"""Chaos on a RabbitMQ cluster: ``make cluster-chaos`` (``python -m tests.chaos.cluster``).

The whole system (tests/chaos/system.py) runs on the three-node cluster of
deploy/cluster/nodes.py, with quorum queues, every process given every node's address.
Under a steady stream of staff POSTs and inbound AMQP events (tests/chaos/cluster_load.py)
the faults are, in turn:

- ``kill``: the node with the most client connections is killed (SIGKILL), then
  brought back;
- ``stop``: the node that leads the most queues is stopped gracefully, then started;
- ``pause``: the node with the most client connections is paused (SIGSTOP) until the
  others count it gone, then resumed.

Then it waits for the system to drain and counts as the chaos suite does
(test_chaos.count): every accepted request and inbound event one request, one case and
one worker SMS, nothing twice; nothing left in a queue but dead letters, each with its
reason. The tally goes to ``var/cluster-chaos-tally.json``; the last line printed is
``cluster chaos: N requests, M events, lost L, duplicated D, max stall S s`` (S: the
longest time no request was answered). Exit status 1 when anything is lost or doubled.

The cluster is started when it is not running, and then stopped at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter

import requests as rabbit_requests
from pymongo import MongoClient

from deploy.cluster import nodes
from services.intake.domain.inbound import inbound_id
from tests.chaos.system import ROOT, ChaosSystem
from tests.chaos.test_chaos import count, quiesce
from tests.inbound_support import SOURCES
from tests.support import Rabbit, wait_until

FAULTS = ("kill", "stop", "pause")
SETTLE_S = 15  # after each step, before the next: the load runs on meanwhile


def say(text):
    print(f"[cluster-chaos] {text}", flush=True)


def management():
    """The management API of a node that runs (any of them answers for the cluster)."""
    for n in nodes.NODES:
        if nodes.pid(n) is not None and nodes.listening(nodes.management_port(n)):
            return Rabbit(nodes.api_uri(n))
    raise RuntimeError("no node of the cluster answers")


def busiest_node(vhost):
    """The node holding the most client connections of the run's virtual host."""
    connections = management().call("GET", "connections", params={"columns": "node,vhost"})
    found = Counter(c["node"] for c in connections if c.get("vhost") == vhost)
    name = found.most_common(1)[0][0] if found else nodes.name(1)
    return next(n for n in nodes.NODES if nodes.name(n) == name)


def leading_node(vhost):
    """The node that leads the most of the run's quorum queues."""
    found = Counter(leader for leader in nodes.leaders(vhost).values() if leader)
    name = found.most_common(1)[0][0] if found else nodes.name(1)
    return next(n for n in nodes.NODES if nodes.name(n) == name)


def running_nodes(asking):
    """The nodes ``asking`` sees running; asked locally (rabbit_nodes:all_running), so a
    paused node does not hang the question as ``cluster_status`` would."""
    try:
        out = nodes.ctl(asking, "eval", "rabbit_nodes:all_running().", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return set()
    return {nodes.name(n) for n in nodes.NODES if nodes.name(n) in out}


def connected(asking, n):
    """Whether ``asking`` still counts node ``n`` as connected (net_ticktime)."""
    try:
        out = nodes.ctl(asking, "eval", "nodes().", check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return True
    return nodes.name(n) in out


def all_running():
    return all(running_nodes(n) >= {nodes.name(m) for m in nodes.NODES} for n in nodes.NODES)


def kill_and_restart(vhost, log):
    n = busiest_node(vhost)
    step(log, f"kill -9 {nodes.name(n)} (most connections)", lambda: nodes.kill(n))
    time.sleep(SETTLE_S)
    step(log, f"start {nodes.name(n)} again", lambda: nodes.start(n))
    wait_until(all_running, 120, interval=2, message="the cluster whole again")


def stop_leader(vhost, log):
    n = leading_node(vhost)
    step(log, f"stop {nodes.name(n)} gracefully (leads the most queues)", lambda: nodes.stop(n))
    time.sleep(SETTLE_S)
    step(log, f"start {nodes.name(n)} again", lambda: nodes.start(n))
    wait_until(all_running, 120, interval=2, message="the cluster whole again")


def pause_and_resume(vhost, log):
    n = busiest_node(vhost)
    others = [m for m in nodes.NODES if m != n]
    step(log, f"pause {nodes.name(n)} (SIGSTOP, most connections)", lambda: nodes.pause(n))
    started = time.monotonic()
    wait_until(
        lambda: not connected(others[0], n),
        120,
        interval=1,
        message=f"the others to count {nodes.name(n)} gone",
    )
    log.append(
        {
            "at": time.time(),
            "what": f"the others count it gone after {time.monotonic() - started:.0f} s",
        }
    )
    time.sleep(5)
    step(log, f"resume {nodes.name(n)} (SIGCONT)", lambda: nodes.resume(n))
    wait_until(all_running, 180, interval=2, message="the cluster whole again")


FAULT_STEPS = {"kill": kill_and_restart, "stop": stop_leader, "pause": pause_and_resume}


def step(log, what, action):
    say(what)
    log.append({"at": time.time(), "what": what})
    action()


def stalls(completed, windows):
    """The longest time without an answered request within each window (start, end)."""
    found = []
    for start, end in windows:
        times = [start] + [t for t in completed if start < t < end] + [end]
        found.append(round(max(b - a for a, b in zip(times, times[1:], strict=False)), 1))
    return found


def start_load(system, amqp_uri, rate, events_rate):
    files = {name: system.var_dir / name for name in ("progress", "result.json", "stop")}
    files["progress"].write_text("0")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.chaos.cluster_load",
            system.url("intake", "/v1/requests"),
            system.token(),
            f"cc-{uuid.uuid4().hex[:8]}",
            str(files["progress"]),
            str(files["result.json"]),
            str(files["stop"]),
            amqp_uri,
            "--rate",
            str(rate),
            "--events-rate",
            str(events_rate),
            "--health",
            *[system.url(name, "/healthz") for name in system.ports],
        ],
        cwd=ROOT,
    )
    return process, files


def run(faults=FAULTS, rate=3.0, events_rate=1.0, warmup_s=20.0):
    """Start what is needed, inject ``faults`` under load, count; returns the tally."""
    started_cluster = any(nodes.pid(n) is None for n in nodes.NODES)
    if started_cluster:
        say("starting the cluster (deploy/cluster/nodes.py)")
        nodes.up()
    vhost = f"shegong-cluster-chaos-{uuid.uuid4().hex[:8]}"
    rabbit = management()
    rabbit.add_vhost(vhost)
    amqp_uri = nodes.amqp_uri(vhost)
    var_dir = ROOT / "var" / "cluster-chaos-last"  # kept after the run, for the logs
    shutil.rmtree(var_dir, ignore_errors=True)
    system = ChaosSystem(var_dir, amqp_uri, f"cc{uuid.uuid4().hex[:6]}")
    system.vhost = vhost
    process = None
    system.env.update(
        {
            "SHEGONG_QUEUE_TYPE": "quorum",
            "SHEGONG_AMQP_HEARTBEAT_S": "5",
            "RABBIT_API_URI": nodes.api_uri(1),
            "LOG_LEVEL": os.environ.get("SHEGONG_CHAOS_LOG_LEVEL", "INFO"),
        }
    )
    try:
        ports = ", ".join(str(nodes.amqp_port(n)) for n in nodes.NODES)
        say(f"the system on the three nodes (AMQP {ports}), virtual host {vhost}, quorum queues")
        system.up()
        process, files = start_load(system, amqp_uri, rate, events_rate)
        log, began = [], time.time()
        time.sleep(warmup_s)
        windows = []
        for fault in faults:
            start = time.time()
            try:
                FAULT_STEPS[fault](vhost, log)
            except AssertionError as exc:  # a wait ran out: said in the tally, load goes on
                step(log, f"{fault}: {exc}", lambda: None)
            time.sleep(SETTLE_S)
            windows.append((start, time.time()))
        files["stop"].write_text("stop")
        assert process.wait(600) == 0, "the load process failed"
        outcome = json.loads(files["result.json"].read_text())
        ended = time.time()
        say("load stopped; waiting for the system to drain")
        rabbit = management()
        client = MongoClient(system.env["MONGO_URI"], serverSelectionTimeoutMS=5000)
        quiesce(system, client, rabbit)
        return tally(system, client, rabbit, outcome, log, windows, faults, round(ended - began, 1))
    finally:
        for n in nodes.NODES:  # never leave a node paused
            if nodes.pid(n) is not None:
                nodes.resume(n)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(30)
        system.down()
        try:  # its quorum queues are deleted on every node: it takes a while
            rabbit = management()
            rabbit_requests.delete(
                f"{rabbit.base}/api/vhosts/{vhost}", auth=rabbit.auth, timeout=180
            )
        except Exception as exc:  # noqa: BLE001 - the cluster may be gone already
            say(f"virtual host {vhost} not deleted: {exc}")
        if started_cluster:
            nodes.down()


def tally(system, client, rabbit, outcome, log, windows, faults, seconds):
    requests_ = set(outcome["accepted"].values())
    source = SOURCES["elderly-care"]
    events = {inbound_id(source, event_id) for event_id in outcome["events"]}
    counted = count(system, client, rabbit, requests_ | events)
    dead = {
        service: [m["properties"]["headers"].get("x-death-reason") for m in found]
        for service, found in counted["dead"].items()
    }
    completed = outcome["completed_at"]
    per_fault = stalls(completed, windows)
    overall = stalls(completed, [(completed[0], completed[-1])])[0] if completed else None
    result = {
        "requests": len(requests_),
        "events": len(events),
        "seconds": seconds,
        "refused": len(outcome["rejected"]),
        "client_retries": outcome["retries"],
        "answers": outcome["statuses"],
        "event_publish_attempts": outcome["event_attempts"],
        "lost": counted["lost"],
        "duplicated": counted["duplicated"],
        "dead_lettered": {service: len(reasons) for service, reasons in dead.items()},
        "dead_letters_without_reason": sum(1 for r in dead.values() for x in r if not x),
        "max_stall_s": overall,
        "max_stall_per_fault_s": dict(zip(faults, per_fault, strict=True)),
        "healthz": {"asked": outcome["health_asked"], "failed": outcome["health_failed"]},
        "exited": system.exited(),
        "faults": [
            f"{time.strftime('%H:%M:%S', time.localtime(e['at']))} {e['what']}" for e in log
        ],
    }
    out = ROOT / "var" / "cluster-chaos-tally.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return result


def lost_and_duplicated(result):
    """A dead letter without its reason counts as lost: nobody could tell what it was."""
    lost = sum(result["lost"].values()) + result["dead_letters_without_reason"]
    return lost, sum(result["duplicated"].values())


def summary_line(result):
    lost, duplicated = lost_and_duplicated(result)
    return (
        f"cluster chaos: {result['requests']} requests, {result['events']} events, "
        f"lost {lost}, duplicated {duplicated}, max stall {result['max_stall_s']} s"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", nargs="*", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--rate", type=float, default=3.0, help="staff POSTs a second")
    parser.add_argument("--events-rate", type=float, default=1.0, help="inbound events a second")
    args = parser.parse_args(argv)
    result = run(tuple(args.faults), args.rate, args.events_rate)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(summary_line(result), flush=True)
    lost, duplicated = lost_and_duplicated(result)
    return 1 if lost or duplicated or result["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
