"""What the running system is doing, in two tables: ``make status``.

    python -m services.ops.status [--json]

- per service: its API's ``/readyz``, its worker's ``/readyz`` (on the worker's metrics
  port), the outbox backlog (documents whose events are not all
  published, and the oldest one's age, read from the service's own database), and the
  number of dead letters;
- per queue (RabbitMQ management API, ``RABBIT_API_URI``, on the virtual host of
  ``AMQP_URI``): its type, messages ready, unacknowledged, and consumers;
- per process that ``make run`` supervises (``var/processes.json``, written by
  deploy/supervisor.py): each instance (``casework-worker#2``; an API's replicas are
  the ``http_workers`` of its one gunicorn master) with its pid, port, time up,
  restarts, state (running, restarting, crash-looping) and how it last died.

Where each is looked for: what the environment says, else where this checkout's ``make
run`` runs (``var/run.json``, services/common/runfile.py), else the defaults:
``<SERVICE>_URL`` (default ``http://127.0.0.1:<port>``),
``<SERVICE>_METRICS_URL`` (default ``http://127.0.0.1:<metrics port>``, or where
``make run`` puts it, the API's port + 100, when no port is configured), ``MONGO_URI``
with ``SHEGONG_DB_PREFIX``. Exits 1 when something is not ready or a dead letter waits,
0 otherwise.
"""

import argparse
import json
import os
import sys
import time
from urllib.parse import quote, urlparse, urlunparse

import requests

from services.common import clock, config, mongo, runfile
from services.common.config import SERVICES
from services.common.dependencies import Outbox
from services.common.service_classes import service_class

TIMEOUT_S = 3


def outbox_collections(service):
    """The collections a service keeps an outbox in, read from its Outbox dependency."""
    cls = service_class(service)
    return [
        name
        for attr in vars(cls).values()
        if isinstance(attr, Outbox)
        for name in attr.collection_names
    ]


def probe(url):
    if not url:
        return "-"
    try:
        answer = requests.get(url, timeout=TIMEOUT_S)
    except requests.RequestException:
        return "down"
    if answer.status_code == 200:
        return "ready"
    try:
        failed = [name for name, ok in answer.json().get("checks", {}).items() if not ok]
    except ValueError:
        failed = []
    return f"not ready ({', '.join(failed)})" if failed else f"HTTP {answer.status_code}"


def outbox_backlog(settings, service):
    """(pending documents, age in seconds of the oldest), None if the store is away, or
    "-" for a service that keeps no outbox."""
    if not outbox_collections(service):
        return "-"
    database = mongo.database(settings, service)
    now_ms = clock.to_ms(clock.now())
    pending = []
    try:
        for name in outbox_collections(service):
            pending += [
                doc.get("updated_ms", now_ms)
                for doc in database[name].find(
                    {"outbox_pending": True}, {"updated_ms": 1}, limit=10000
                )
            ]
    except Exception:  # noqa: BLE001 - the table says "?"
        return None
    return len(pending), round((now_ms - min(pending, default=now_ms)) / 1000, 1)


def broker_queues(settings):
    """[{name, ready, unacked, consumers}] of the AMQP_URI's virtual host, or None."""
    api = urlparse(settings.rabbit_api_uri)
    base = urlunparse(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))
    vhost = config.vhost_of(settings.amqp_uri)
    try:
        answer = requests.get(
            f"{base}/api/queues/{quote(vhost, safe='')}",
            auth=(api.username or "guest", api.password or "guest"),
            timeout=TIMEOUT_S,
        )
        answer.raise_for_status()
    except requests.RequestException:
        return None
    return [
        {
            "queue": q["name"],
            "ready": q.get("messages_ready", 0),
            "unacked": q.get("messages_unacknowledged", 0),
            "consumers": q.get("consumers", 0),
            "type": q.get("type", "classic"),
        }
        for q in sorted(answer.json(), key=lambda q: q["name"])
    ]


def supervised(settings):
    """make run's processes, from its state file: None when make run is not running here."""
    try:
        state = json.loads((settings.var_dir / "processes.json").read_text())
        os.kill(state["supervisor_pid"], 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no file, a torn one, or a stale one whose make run is gone
    now = time.time()
    return [
        {
            "process": p["name"],
            "pid": p["pid"],
            "port": p.get("port") or "-",
            "http_workers": p.get("http_workers", "-"),
            "up_s": round(now - p["started_at"]) if p["state"] != "restarting" else 0,
            "restarts": p["restarts"],
            "state": p["state"],
            "last_exit": p["last_exit"] or "-",
        }
        for p in state["processes"]
    ]


def collect(settings):
    queues = broker_queues(settings)
    depth = {q["queue"]: q["ready"] + q["unacked"] for q in queues or []}
    services = []
    store_up = mongo.store_reachable(settings)  # once: a down store would time out per service
    for name in SERVICES:
        api = settings.api_urls.get(name, f"http://127.0.0.1:{settings.port(name)}")
        # not configured: where `make run` puts it (a worker elsewhere is named by
        # <SERVICE>_METRICS_URL)
        worker = settings.worker_metrics_urls.get(
            name, f"http://127.0.0.1:{settings.local_metrics_port(name)}"
        )
        backlog = (
            outbox_backlog(settings, name) if store_up or not outbox_collections(name) else None
        )
        if backlog is None or backlog == "-":
            backlog = ("?", "?") if backlog is None else ("-", "-")
        services.append(
            {
                "service": name,
                "api": probe(f"{api}/readyz"),
                "worker": probe(f"{worker}/readyz" if worker else ""),
                "outbox_backlog": backlog[0],
                "oldest_pending_s": backlog[1],
                "dead_letters": "?"
                if queues is None
                else depth.get(f"shegong.dead-letter.{name}", 0),
            }
        )
    return {
        "services": services,
        "queues": queues,
        "processes": supervised(settings),
        "run": run_of(settings),
    }


def run_of(settings):
    """This checkout's make run as var/run.json records it: None when it has none."""
    content = runfile.read(settings.var_dir)
    if not content:
        return None
    state = "running" if runfile.running(content) else "stopped"
    return {
        "state": state,
        "pid": content.get("pid"),
        "record": str(settings.var_dir / runfile.NAME),
        "virtual_host": settings.amqp_vhost,
        "store": runfile.without_password(settings.mongo_uri),
    }


def table(rows, columns):
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def healthy(status):
    return (
        all(
            s["api"] == "ready" and s["worker"] in ("ready", "-") and s["dead_letters"] == 0
            for s in status["services"]
        )
        and status["queues"] is not None
        and all(p["state"] == "running" for p in status.get("processes") or [])
    )


def render(status):
    parts = [
        table(
            status["services"],
            ("service", "api", "worker", "outbox_backlog", "oldest_pending_s", "dead_letters"),
        )
    ]
    if status["queues"] is None:
        parts.append("queues: the RabbitMQ management API is not reachable (RABBIT_API_URI)")
    else:
        parts.append(table(status["queues"], ("queue", "type", "ready", "unacked", "consumers")))
    if status.get("processes"):
        parts.append(
            table(
                status["processes"],
                (
                    "process",
                    "pid",
                    "port",
                    "http_workers",
                    "up_s",
                    "restarts",
                    "state",
                    "last_exit",
                ),
            )
        )
    if status.get("run"):
        run = status["run"]
        parts.append(
            f"make run ({run['record']}): {run['state']}, pid {run['pid']}; virtual "
            f"host {run['virtual_host']!r}, store {run['store']}"
        )
    return "\n\n".join(parts)


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(
        prog="python -m services.ops.status",
        description="Health, queues, outbox and dead letters.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    status = collect(config.operations_settings())
    print(
        json.dumps(status, ensure_ascii=False, indent=2) if args.json else render(status), file=out
    )
    return 0 if healthy(status) else 1


if __name__ == "__main__":
    sys.exit(main())
