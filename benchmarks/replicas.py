"""What a worker instance costs with no work and at a modest steady load (issue 24).

``python -m benchmarks.replicas [instances] [idle_s] [rate] [load_s]`` starts the
system as ``make bench`` does (benchmarks/system.py, its own virtual host) with
``instances`` of each scaled worker, leaves it idle for ``idle_s``, then posts ``rate``
requests a second for ``load_s`` and waits for them to settle. For each window it
prints, per process, the CPU seconds spent and the store commands sent (by command and
collection), and the broker's publishes and deliveries in the virtual host; the load
window's also per request. Not part of ``make bench``: one run takes about 3 minutes.
"""

import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import psutil

from benchmarks.load import Load
from benchmarks.system import BenchSystem
from services.common.mongo import OPERATIONS_PREFIX
from tests.support import Rabbit

SETTLE_S = 15.0  # after start (eager timers, first sweeps) and after the load


def snapshot(system, rabbit, vhost):
    """Per process: CPU seconds and store command counts; the vhost's message totals."""
    processes = {}
    for name, pid in system.service_processes().items():
        cpu, commands = 0.0, Counter()
        try:  # a gunicorn API: its master and its worker
            family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            continue
        for process in family:
            try:
                times = process.cpu_times()
                counts = json.loads((system.command_counts / f"{process.pid}.json").read_text())
            except psutil.Error:
                continue
            except (OSError, ValueError):
                counts = {}
            cpu += times.user + times.system
            commands.update(
                {k: v for k, v in counts.items() if not k.startswith(OPERATIONS_PREFIX)}
            )
        processes[name] = {"cpu_s": cpu, "commands": commands}
    stats = rabbit.call("GET", f"vhosts/{quote(vhost, safe='')}").get("message_stats", {})
    broker = {key: stats.get(key, 0) for key in ("publish", "deliver_get", "ack")}
    return {"at": time.monotonic(), "processes": processes, "broker": broker}


def difference(before, after, requests=0):
    seconds = after["at"] - before["at"]
    per = {}
    for name, now in after["processes"].items():
        then = before["processes"].get(name, {"cpu_s": 0.0, "commands": Counter()})
        commands = now["commands"] - then["commands"]
        per[name] = {
            "cpu_s_per_min": round((now["cpu_s"] - then["cpu_s"]) * 60 / seconds, 2),
            "commands_per_s": round(sum(commands.values()) / seconds, 2),
            "top": dict(commands.most_common(6)),
        }
    total = sum(sum(p["commands"].values()) for p in after["processes"].values()) - sum(
        sum(p["commands"].values()) for p in before["processes"].values()
    )
    broker = {k: after["broker"][k] - before["broker"][k] for k in after["broker"]}
    result = {
        "seconds": round(seconds, 1),
        "commands_per_s": round(total / seconds, 2),
        "cpu_s_per_min": round(sum(p["cpu_s_per_min"] for p in per.values()), 2),
        "broker_per_s": {k: round(v / seconds, 2) for k, v in broker.items()},
        "processes": per,
    }
    if requests:
        merged = Counter()
        for name, now in after["processes"].items():
            merged.update(now["commands"] - before["processes"].get(name, {}).get("commands", {}))
        cpu = sum(
            now["cpu_s"] - before["processes"].get(name, {"cpu_s": 0.0})["cpu_s"]
            for name, now in after["processes"].items()
        )
        result["per_request"] = {
            "requests": requests,
            "commands": round(total / requests, 2),
            "cpu_ms": round(cpu * 1000 / requests, 1),
            "deliveries": round(broker["deliver_get"] / requests, 2),
            "top": {k: round(v / requests, 2) for k, v in merged.most_common(14)},
        }
    return result


def main():
    instances, idle_s, rate, load_s = (
        int(sys.argv[1]) if len(sys.argv) > 1 else 1,
        float(sys.argv[2]) if len(sys.argv) > 2 else 60.0,
        float(sys.argv[3]) if len(sys.argv) > 3 else 20.0,
        float(sys.argv[4]) if len(sys.argv) > 4 else 30.0,
    )
    rabbit = Rabbit(os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"))
    vhost = f"shegong-replicas-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    amqp_uri = urlunparse(urlparse(base)._replace(path="/" + quote(vhost, safe="")))
    system = BenchSystem(Path(tempfile.mkdtemp(prefix="shegong-replicas-")), amqp_uri, "bench")
    system.instances = instances
    results = {"instances": instances}
    try:
        system.up()
        time.sleep(SETTLE_S)
        start = snapshot(system, rabbit, vhost)
        time.sleep(idle_s)
        idle = snapshot(system, rabbit, vhost)
        results["idle"] = difference(start, idle)
        load = Load(system.url("intake", ""), system.token(), run=int(time.time()) % 1000)
        posted = load.fixed_rate(rate, load_s)
        time.sleep(SETTLE_S)
        results["load"] = difference(idle, snapshot(system, rabbit, vhost), len(posted.accepted()))
        # the 20/s figures follow how busy the machine is (docs/performance.md)
        results["loadavg_at_end"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        system.down()
        rabbit.delete_vhost(vhost)
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
