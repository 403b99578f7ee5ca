"""The end-to-end benchmark: ``make bench`` (``python -m benchmarks.run``).

Starts the whole system on its own free ports, store files and RabbitMQ virtual host;
measures the raw broker and store baselines (one by one and in batches); then drives
requests at the maximum rate (closed loop) and at a fixed rate (open loop), and with 2
and 3 instances of the casework, notifications, reporting and intake workers; traces every
request by its id from the POST to its case assigned, its worker SMS recorded and its
projection updated;
checks that every effect happened exactly once; counts store commands and broker
deliveries per request (benchmarks/counting.py); times the storm phase (benchmarks/storm.py:
5,000 check-in alerts on each transport until each one's worker SMS is projected) and
the bulk phase (benchmarks/bulk.py: 10,000 registry updates on each transport until
applied); writes the results
(``benchmarks/results/latest.json``) and the chart (``docs/performance.svg``).

Environment (all optional):
  BENCH_PHASE_S      seconds of load per phase (default 30; 300 for the sustained run)
  BENCH_RATE         the fixed rate in requests/s (default: half the measured maximum)
  BENCH_FIXED        1 (default): run the fixed-rate phase; 0: only the maximum-rate ones
  BENCH_CLIENTS      closed-loop clients of the maximum-rate phases (default 16)
  BENCH_INSTANCES    worker instance counts to run, e.g. "1,2,3" (default) or "1"; "0":
                     none of the staff phases (only the storm and bulk phases)
  BENCH_BASELINE_S   seconds per baseline (default 8)
  BENCH_BULK         1 (default): run the bulk phase (registry updates, HTTP and AMQP)
  BENCH_BULK_COUNT   registry updates per transport in the bulk phase (default 10000)
  BENCH_STORM        1 (default): run the storm phase (check-in alerts, HTTP and AMQP)
  BENCH_STORM_EVENTS alerts per transport in the storm phase (default 5000)
  BENCH_STORM_TRANSPORTS  the storm's transports, in order (default http,amqp)
  BENCH_KEYED        1 (default): every POST carries an Idempotency-Key; 0: none
  BENCH_OUT          the results directory (default benchmarks/results)
  BENCH_CHART        where to write the chart (default docs/performance.svg)
  BENCH_MONGO_URI    a store to use instead of starting nx-27017 (e.g. a real MongoDB);
                     the run's databases there are dropped at the end
  BENCH_STORES       shared (default): one nx-27017 for every service, as `make run`;
                     per-service: one each (casework's is the "store" measured as before)
  BENCH_HISTORY      requests of history written into the store before the phases
                     (benchmarks/history: years of a district, every collection of every
                     service); a list runs the whole benchmark once per size on a fresh
                     system, side by side, e.g. "0,100000" (default 100000, the size
                     issue 23 asks for; 0: an empty store)
  BENCH_APIS         1 (default): time every list and report the APIs answer (apis.py)
  BENCH_API_REPEATS  times each is asked (default 30)
  SHEGONG_*          passed to the services (e.g. SHEGONG_MAX_WORKERS)
"""

import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import psutil
from pymongo import MongoClient

from benchmarks import apis, baselines, bulk, chart, counting, history, storm
from benchmarks.load import Load
from benchmarks.report import ratios, report
from benchmarks.resources import Sampler, broker_pids, cpu_seconds
from benchmarks.system import BenchSystem
from benchmarks.tracing import Tracer
from services.common import config
from services.reporting.store import ReportStore
from tests.support import Rabbit, wait_until

ROOT = Path(__file__).resolve().parent.parent


def say(text):
    print(f"[bench] {text}", flush=True)


def percentiles(values):
    if not values:
        return None
    ordered = sorted(values)
    pick = lambda f: round(ordered[min(len(ordered) - 1, int(f * len(ordered)))], 1)  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 1)}


def wait_drained(tracer, request_ids, give_up_s):
    """Until every request reached the projection, or nothing moved for ``give_up_s``."""
    last, last_change = -1, time.monotonic()
    while True:
        done = tracer.done(request_ids)
        if done >= len(request_ids):
            return done
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > give_up_s:
            return done
        time.sleep(0.5)


def processes(system):
    """The processes a phase's CPU is counted over: name -> pid."""
    named = {
        **system.service_processes(),
        **{f"rabbitmq (shared) {pid}": pid for pid in broker_pids()},
    }
    store = named.pop("store", None)
    if store:  # an external store (BENCH_MONGO_URI) is not ours to sample
        named["nx-27017 (store)"] = store
    return named


def per_item(usage, done):
    """Each process's CPU ms per item done (a request, an event), and their sum."""
    for usage_of in usage["processes"].values():
        usage_of["cpu_ms_per_request"] = (
            round(usage_of["cpu_percent"] * usage["seconds"] * 10 / done, 2) if done else None
        )
    usage["cpu_ms_per_request_total"] = round(
        sum(u["cpu_ms_per_request"] or 0 for u in usage["processes"].values()), 1
    )
    return usage


def counting_from(system, snapshot):
    """Start counting CPU, store commands and deliveries; ``stop(done)`` gives them per
    item done (the storm's events)."""
    counted, sampler = snapshot(), Sampler(processes(system)).start()

    def stop(done):
        usage = per_item(sampler.stop(), done)
        return usage, counted.per_request(done)

    return stop


def phase(name, system, tracer, drive, instances, snapshot=None):
    say(f"phase {name}: {instances} instance(s) of the scaled workers")
    counted = snapshot() if snapshot else None
    sampler = Sampler(processes(system)).start()
    result = drive()
    ids = [p.request_id for p in result.accepted()]
    done = wait_drained(tracer, ids, give_up_s=60)
    usage = sampler.stop()
    costs = counted.per_request(done) if counted else {}
    traces = tracer.timeline()
    by_id = {p.request_id: p for p in result.accepted()}
    lat = {"post": [(p.answered - p.started) * 1000 for p in by_id.values()]}
    ends = []
    for stage in ("assigned", "sms", "projected"):
        lat[stage] = [
            (traces[rid][stage] - p.started) * 1000
            for rid, p in by_id.items()
            if stage in traces.get(rid, {})
        ]
    ends = [traces[rid]["projected"] for rid in ids if "projected" in traces.get(rid, {})]
    # the slowest 1 % POST->SMS, by when they were posted: a tail that clusters in time
    # is a stall (a timer, a long command), one spread over the phase is load
    slowest = sorted(
        (
            ((traces[rid]["sms"] - p.started) * 1000, p.started - result.started)
            for rid, p in by_id.items()
            if "sms" in traces.get(rid, {})
        ),
        reverse=True,
    )[: max(1, len(by_id) // 100)]
    span = (max(ends) - result.started) if ends else None
    post_s = result.ended - result.started
    per_item(usage, done)  # the CPU budget of one request
    # completions per 10 s since the phase began: does the rate hold over the run?
    buckets = Counter(int((t - result.started) // 10) for t in ends)
    timeline = [buckets.get(i, 0) / 10 for i in range(max(buckets) + 1)] if buckets else []
    summary = {
        "name": name,
        "completed_per_s_by_10s": timeline,
        "instances": instances,
        "requests": len(ids),
        "failures": result.failures,
        "completed": done,
        "untraced": len(ids) - done,  # not seen projected (e.g. the tap was cut off)
        "post_rate": round(len(ids) / post_s, 1),
        "load_lag_s": round(result.lag_s, 2),
        "end_to_end_per_s": round(done / span, 1) if span else 0.0,
        "drain_s": round(max(ends) - result.ended, 1) if ends else None,
        "latency_ms": {stage: percentiles(values) for stage, values in lat.items()},
        "slowest_sms_posted_at_s": sorted(round(at, 2) for _, at in slowest),
        "usage": usage,
        "request_ids": ids,
        "per_request": costs,
    }
    say(
        f"  {len(ids)} accepted ({summary['post_rate']}/s posted), {done} projected; "
        f"end to end {summary['end_to_end_per_s']}/s; POST->SMS "
        f"{summary['latency_ms']['sms']}; load {usage['loadavg']}; per request "
        f"{costs.get('store_commands')} store commands ({costs.get('store_operations')} "
        f"documents), {costs.get('deliveries')} deliveries"
    )
    return summary


def exactly_once(system, client, request_ids):
    """Cases per request, worker SMS per case (stored and in the sink), facts per SMS."""
    cases = Counter(
        d["request_id"]
        for d in system.database(client, "casework")["cases"].find({}, {"request_id": 1})
    )
    case_of = {
        d["request_id"]: d["_id"]
        for d in system.database(client, "casework")["cases"].find({}, {"request_id": 1})
    }
    messages = Counter(
        d["case_id"]
        for d in system.database(client, "notifications")["messages"].find(
            {"recipient_role": "worker", "channel": "sms"}, {"case_id": 1}
        )
    )
    sink = Counter()
    lines = Counter()
    sink_file = system.var_dir / "sms.jsonl"
    with open(sink_file, encoding="utf-8") if sink_file.exists() else nullcontext([]) as sms:
        for line in sms:
            entry = json.loads(line)
            lines[entry["message_id"]] += 1
            if entry.get("recipient_role") == "worker":
                sink[entry["case_id"]] += 1
    reports = ReportStore(system.database(client, "reporting"))
    facts = reports.facts(reports.versions()["current"]).count_documents(
        {"_id": {"$regex": "^message:"}, "recipient_role": "worker"}
    )
    wanted = [case_of.get(rid) for rid in request_ids]
    return {
        "requests": len(request_ids),
        "requests_without_case": sum(1 for rid in request_ids if cases[rid] == 0),
        "requests_with_several_cases": sum(1 for rid in request_ids if cases[rid] > 1),
        "cases_without_worker_sms": sum(1 for cid in wanted if cid and messages[cid] == 0),
        "cases_with_several_worker_sms": sum(1 for cid in wanted if cid and messages[cid] > 1),
        "sms_lines_repeated": sum(1 for n in lines.values() if n > 1),
        "cases_with_several_sink_lines": sum(1 for cid in wanted if cid and sink[cid] > 1),
        "worker_sms_facts": facts,
        "worker_sms_stored": sum(messages.values()),
    }


def machine():
    return {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in psutil.getloadavg()],
    }


def _terminated(signum, _frame):
    # SIGTERM (kill, a CI timeout) ends the run as Ctrl-C does: through each ``finally``,
    # which stops the system's processes and deletes the run's virtual host
    raise SystemExit(128 + signum)


def main():
    signal.signal(signal.SIGTERM, _terminated)
    sizes = [int(n) for n in os.environ.get("BENCH_HISTORY", "100000").split(",")]
    if os.environ.get("BENCH_STORES", "shared") != "shared" and any(sizes):
        # the history writer fills one store's files; it knows nothing of several
        raise SystemExit("BENCH_STORES=per-service runs on an empty store: BENCH_HISTORY=0")
    out = Path(os.environ.get("BENCH_OUT", ROOT / "benchmarks" / "results"))
    chart_path = Path(os.environ.get("BENCH_CHART", ROOT / "docs" / "performance.svg"))
    runs = [run_with_history(size) for size in sizes]
    results = runs[0]
    for size, run in zip(sizes[1:], runs[1:], strict=True):  # side by side, by history
        results["phases"] += run["phases"]
        results.setdefault("exactly_once_with_history", []).append(run["exactly_once"])
        if run.get("apis"):  # the API answers of each run, named by its history
            results["apis"] = {
                **results.get("apis", {}),
                **{f"[history {size}] {query}": figures for query, figures in run["apis"].items()},
            }
    results["history_runs"] = [
        {
            "requests": size,
            "build": run.get("history"),
            "max_rate_end_to_end_per_s": {
                p["name"]: p["end_to_end_per_s"] for p in run["phases"] if "max x" in p["name"]
            },
        }
        for size, run in zip(sizes, runs, strict=True)
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    chart_path.write_text(chart.svg(results))
    print(report(results))
    return 0


def run_with_history(history_requests):
    """The whole benchmark on a fresh system whose store holds ``history_requests``
    requests of history (0: empty); its phases are named after the history."""
    label = f"[history {history_requests}] " if history_requests else ""
    phase_s = float(os.environ.get("BENCH_PHASE_S", "30"))
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    instances = [
        int(n) for n in os.environ.get("BENCH_INSTANCES", "1,2,3").split(",") if int(n) > 0
    ]
    baseline_s = float(os.environ.get("BENCH_BASELINE_S", "8"))
    base_amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    rabbit = Rabbit(os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"))
    vhost = f"shegong-bench-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    amqp_uri = urlunparse(urlparse(base_amqp)._replace(path="/" + quote(vhost, safe="")))
    var_dir = Path(tempfile.mkdtemp(prefix="shegong-bench-"))
    store_uri = os.environ.get("BENCH_MONGO_URI")
    system = BenchSystem(
        var_dir,
        amqp_uri,
        f"bench{uuid.uuid4().hex[:6]}" if store_uri else "bench",
        store_uri,
        os.environ.get("BENCH_STORES", "shared"),
    )
    results = {
        "machine": machine(),
        "settings": {
            "phase_s": phase_s,
            "clients": clients,
            "instances": instances,
            "keyed": os.environ.get("BENCH_KEYED", "1") == "1",
            "shegong_env": {
                k: v
                for k, v in system.env.items()
                if k.startswith("SHEGONG_") and k not in ("SHEGONG_TOKEN_SECRET",)
            },
        },
        "phases": [],
    }
    tracer = None
    if history_requests:

        def write_history():
            say(f"history: {history_requests} requests into the store before the services")
            results["history"] = history.build(
                MongoClient(system.env["MONGO_URI"]),
                system.db_prefix,
                history_requests,
                settings=config.settings(system.env),
                say=say,
                # nx-27017's own files, written directly; a store of the caller's: the wire
                files=None if system.external_store else str(system.var_dir / "mongo"),
            )
            say(f"history: {results['history']}")

        system.before_services = write_history
    try:
        say(f"starting the system (vhost {vhost}, files in {var_dir})")
        system.up()
        client = MongoClient(system.env["MONGO_URI"])
        say("baselines: broker round trip, one by one and in batches, then store upserts")
        store_pid = system.service_processes().get("store")
        store_cpu = (lambda: cpu_seconds([store_pid])) if store_pid else None
        results["baselines"] = {
            "broker": baselines.broker_round_trip(amqp_uri, baseline_s),
            "broker_batches": baselines.broker_batches(
                amqp_uri, baseline_s, broker_cpu_s=lambda: cpu_seconds(broker_pids())
            ),
            "store": baselines.store_upserts(
                system.env["MONGO_URI"],
                f"{system.db_prefix}_baseline",
                baseline_s / 2,
                store_cpu_s=store_cpu,
            ),
        }
        say(f"  {results['baselines']}")
        tracer = Tracer(
            amqp_uri,
            system.store_uri("reporting"),
            f"{system.db_prefix}_reporting",
            system.var_dir / "sms.jsonl",
        )
        tracer.start()
        load = Load(
            system.url("intake", ""),
            system.token(),
            run=int(time.time()) % 1000,
            keyed=results["settings"]["keyed"],
        )
        snapshot = lambda: counting.Snapshot(system.command_counts, rabbit, vhost)  # noqa: E731
        if instances:
            phase("warm-up", system, tracer, lambda: load.fixed_rate(5, 4), 1)
        for count in instances:
            if count > 1:
                system.scale(count)
                wait_consumers(rabbit, vhost, count)
                # as x1 was: the new instances' first batches (connections, a change of
                # leader and of reporting's lease, docs/operations.md "Scaling") before
                # the measure, which is of the instances at work, not of their start
                phase(f"warm-up x{count}", system, tracer, lambda: load.fixed_rate(5, 4), count)
            results["phases"].append(
                phase(
                    f"{label}max x{count}",
                    system,
                    tracer,
                    lambda: load.max_rate(phase_s, clients),
                    count,
                    snapshot,
                )
            )
            if count == instances[0] and os.environ.get("BENCH_FIXED", "1") == "1":
                best = results["phases"][-1]["end_to_end_per_s"]
                rate = float(os.environ.get("BENCH_RATE", "0")) or max(1.0, round(best / 2))
                results["phases"].append(
                    phase(
                        f"{label}fixed {rate:g}/s x{count}",
                        system,
                        tracer,
                        lambda rate=rate: load.fixed_rate(rate, phase_s),
                        count,
                        snapshot,
                    )
                )
        all_ids = [rid for p in results["phases"] for rid in p["request_ids"]]
        results["exactly_once"] = exactly_once(system, client, all_ids)
        say(f"exactly once: {results['exactly_once']}")
        if os.environ.get("BENCH_APIS", "1") == "1":
            results["apis"] = apis.measure(
                system, int(os.environ.get("BENCH_API_REPEATS", "30")), percentiles
            )
            say(f"API answers: {results['apis']}")
        if os.environ.get("BENCH_STORM", "1") == "1":
            results["storm"] = storm.phase(
                system,
                client,
                amqp_uri,
                tracer,
                int(os.environ.get("BENCH_STORM_EVENTS", "5000")),
                wait_drained,
                exactly_once,
                say,
                lambda: counting_from(system, snapshot),
                [t for t in os.environ.get("BENCH_STORM_TRANSPORTS", "http,amqp").split(",") if t],
            )
        if os.environ.get("BENCH_BULK", "1") == "1":
            results["bulk"] = bulk_phase(
                system, client, amqp_uri, int(os.environ.get("BENCH_BULK_COUNT", "10000"))
            )
        results["tracer_interruptions"] = tracer.interruptions
        results["machine"]["loadavg_at_end"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        if tracer:
            tracer.stop()
        system.down()
        if system.external_store:
            system.drop_databases(MongoClient(system.external_store))
        rabbit.delete_vhost(vhost)
    for p in results["phases"]:
        p["request_ids"] = len(p["request_ids"])
    ratios(results)
    shutil.rmtree(var_dir, ignore_errors=True)
    return results


def bulk_phase(system, client, amqp_uri, count):
    """10,000 registry updates over HTTP (batches of 100), then 10,000 over AMQP."""
    casework = system.database(client, "casework")
    say(f"bulk: {count} registry updates as POST /v1/events batches of 100")
    done = {"http": bulk.over_http(system.url("intake", ""), casework, count)}
    say(f"  {done['http']}")
    say(f"bulk: {count} registry updates on shegong.inbound")
    done["amqp"] = bulk.over_amqp(amqp_uri, casework, count)
    say(f"  {done['amqp']}")
    return done


def wait_consumers(rabbit, vhost, count):
    """Until every handler queue of the scaled services has ``count`` consumers."""

    def ready():
        queues = rabbit.call("GET", f"queues/{quote(vhost, safe='')}")
        scaled = [
            q
            for q in queues
            if q["name"].startswith("evt-")
            and any(f"--{s}." in q["name"] for s in ("casework", "notifications", "reporting"))
        ]
        return scaled and all(q.get("consumers", 0) >= count for q in scaled)

    wait_until(ready, 90, interval=1, message=f"{count} consumers per queue")


if __name__ == "__main__":
    sys.exit(main())
