"""Run the whole system on one machine: what ``make run`` does.

1. the store: the embedded MongoDB-protocol server (nx-27017, file-backed under
   ``var/mongo``) unless MONGO_URI names a server;
2. where it runs, in ``var/run.json`` (ports, store, virtual host; marked stopped on
   exit), which ``make status``, ``make deadletters*`` and ``make clean`` follow
   (services/common/runfile.py);
3. the broker: RabbitMQ at AMQP_URI, which must be reachable, on a virtual host of its
   own (``SHEGONG_AMQP_VHOST``, default ``shegong``, made when missing: through the
   management API, else with rabbitmqctl when the broker is on this machine) unless
   AMQP_URI names one; a new store while that virtual host holds messages of an earlier
   run stops the start-up, naming them and ``make clean`` (services/ops/vhost.py);
4. the topology declared and casework's roster seeded, before anything publishes;
5. development credentials in ``var/dev-credentials.json``;
6. each service's Nameko worker and gunicorn API as separate processes, as many
   instances as ``SHEGONG_REPLICAS`` says (``casework-worker=2,intake-api=2``); each worker
   serves /metrics, /healthz and /readyz on its own port, its API's port + 100
   (8101 ... 8104) unless ``<SERVICE>_METRICS_PORT`` says otherwise; each API serves
   /metrics on its own port.

A process that dies is restarted with backoff while the others keep serving
(deploy/supervisor.py says how, and when one is reported as crash-looping); what runs
is in ``var/processes.json`` for ``make status``. Only Ctrl-C or SIGTERM stops them all
(workers finish in-flight messages first, then the store stops).
Logs: ``var/log/<process>.log``.
"""

import json
import os
import secrets
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.supervisor import Policy, Spec, Supervisor  # noqa: E402
from services.casework import seed  # noqa: E402
from services.common import auth, brokers, config, mongo, runfile, token_keys  # noqa: E402
from services.common.config import SERVICES  # noqa: E402
from services.common.messaging import broker_reachable  # noqa: E402
from services.common.replicas import parse_replicas  # noqa: E402
from services.common.service_classes import WSGI_APPS  # noqa: E402
from services.ops import vhost  # noqa: E402
from services.ops.bootstrap import declare  # noqa: E402

BIN = Path(sys.executable).parent


def say(message):
    print(f"[shegong] {message}", flush=True)


def fail(message):
    say(f"ERROR: {message}")
    sys.exit(1)


def port_in_use(host, port):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    fail(f"{what} did not come up within {seconds} s")


def start_store(settings, supervisor, env):
    if os.environ.get("MONGO_URI"):
        say(f"store: using MONGO_URI ({settings.mongo_uri.split('@')[-1]})")
        return None
    port = int(env.get("SHEGONG_EMBEDDED_MONGO_PORT", "27017"))
    if port_in_use("127.0.0.1", port):
        fail(f"port {port} is taken; stop what listens there, or set MONGO_URI to use it")
    data_dir = settings.var_dir / "mongo"
    data_dir.mkdir(parents=True, exist_ok=True)
    supervisor.start(
        Spec(
            "nx-27017",
            [
                str(BIN / "nx-27017"),
                "--data-dir",
                str(data_dir),
                "-p",
                str(port),
                "--log-file",
                str(settings.var_dir / "log" / "nx-27017.log"),
                "--pid-file",
                str(settings.var_dir / "nx-27017.pid"),
            ],
            dict(env),
            cwd=ROOT,
            last=True,
        )
    )
    env["MONGO_URI"] = os.environ["MONGO_URI"] = f"mongodb://127.0.0.1:{port}/"
    wait_for(lambda: mongo.store_reachable(config.settings()), 20, "the embedded store")
    say(f"store: embedded nx-27017 on 127.0.0.1:{port}, data in {data_dir}")
    return port


def token_secret(settings):
    if os.environ.get("SHEGONG_TOKEN_SECRET"):
        return os.environ["SHEGONG_TOKEN_SECRET"]
    path = settings.var_dir / "dev-token-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def write_credentials(settings):
    keys, ttl_s = token_keys.keyring(settings), settings.token_ttl_s  # valid for one lifetime
    workers = {
        worker["id"]: auth.issue_token(
            keys, worker["id"], worker["role"], worker["station"], worker["name"], ttl_s
        )
        for worker in seed.roster()
    }
    credentials = {
        "district_admin": auth.issue_token(keys, "district-admin", "district_admin", ttl_s=ttl_s),
        "workers": workers,
    }
    path = settings.var_dir / "dev-credentials.json"
    path.write_text(json.dumps(credentials, indent=2, ensure_ascii=False))
    path.chmod(0o600)
    return path


def own_vhost(settings):
    """make run's virtual host (services/ops/vhost.py): made when missing (through the
    management API, else with rabbitmqctl); a new store next to queued messages of an
    earlier run: refuse to start, unless told to go on."""
    nodes = [urlparse(node) for node in brokers.alternates(settings.amqp_uri)]
    where = ", ".join(node.netloc.split("@")[-1] + node.path for node in nodes)
    if not any(port_in_use(node.hostname or "127.0.0.1", node.port or 5672) for node in nodes):
        fail(
            f"RabbitMQ is not reachable at {where}; start it "
            "(for example `rabbitmq-server -detached`) or set AMQP_URI"
        )
    try:
        done = vhost.make(settings)
    except vhost.Unfixable as exc:
        fail(str(exc))
    if done in ("made with rabbitmqctl", "usable"):
        say(
            "the RabbitMQ management API is not reachable (RABBIT_API_URI): `make status` "
            "lists no queues until `rabbitmq-plugins enable rabbitmq_management`"
        )
    if done.startswith("made"):
        say(f"broker: virtual host {settings.amqp_vhost!r} {done}")
    if not broker_reachable(settings.amqp_uri):
        fail(
            f"RabbitMQ is not reachable at {where}; start it "
            "(for example `rabbitmq-server -detached`) or set AMQP_URI"
        )
    found = vhost.stale(settings)
    if found and not settings.accept_queued:
        fail(vhost.refusal(settings, found))
    if found:
        say(
            f"SHEGONG_ACCEPT_QUEUED=1: the new store consumes {sum(found.values())} queued "
            "message(s) of an earlier run"
        )


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def instance_log(log_dir, process, number):
    """var/log/<process>.log for the first instance (as before replicas), -<n> after."""
    return log_dir / (f"{process}.log" if number == 1 else f"{process}-{number}.log")


def start_services(settings, supervisor, env, replicas, log_dir):
    """Each service's worker instances and its API under supervision; returns [(worker
    instance, its metrics port)]. A worker's instance n has its metrics on the first
    one's port + 100 * (n - 1) (8102, 8202, ...). An API's replicas are gunicorn worker
    processes of one master on the API's one port (the public ports stay 8001 ... 8004):
    the master restarts a dead worker of its own, the supervisor a dead master."""
    ports = []
    for name in SERVICES:
        first = settings.metrics_port(name)
        for number in range(1, replicas.get(f"{name}-worker", 1) + 1):
            port = first + 100 * (number - 1) if first else 0
            ports += [(f"{name}-worker#{number}", port)] if port else []
            supervisor.start(
                Spec(
                    f"{name}-worker#{number}",
                    [sys.executable, "-m", "services.common.runner", name],
                    dict(env, **{f"{name.upper()}_METRICS_PORT": str(port)}),
                    instance_log(log_dir, f"{name}-worker", number),
                    ROOT,
                    info={"port": port},
                )
            )
        workers = settings.http_workers * replicas.get(f"{name}-api", 1)
        supervisor.start(
            Spec(
                f"{name}-api#1",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    WSGI_APPS[name],
                    "--bind",
                    f"{settings.bind_host}:{settings.port(name)}",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(settings.http_threads),
                    "--workers",
                    str(workers),
                    "--graceful-timeout",
                    "20",
                    "--no-control-socket",
                ],
                dict(env),
                log_dir / f"{name}-api.log",
                ROOT,
                info={"port": settings.port(name), "http_workers": workers},
            )
        )
    return ports


def main():
    # its own virtual host unless AMQP_URI names one (config.amqp_uri)
    os.environ.setdefault("SHEGONG_AMQP_VHOST", config.LOCAL_AMQP_VHOST)
    settings = config.settings()
    try:
        replicas = parse_replicas(settings.replicas)
    except ValueError as exc:
        fail(str(exc))
    (settings.var_dir / "log").mkdir(parents=True, exist_ok=True)
    log_dir = settings.var_dir / "log"
    supervisor = Supervisor(Policy(), say, state_file=settings.var_dir / "processes.json")
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop_requested.append("SIGINT"))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    taken = [
        f"{name} {settings.port(name)}"
        for name in SERVICES
        if port_in_use(settings.bind_host, settings.port(name))
    ]
    if taken:
        fail(
            f"port(s) already in use: {', '.join(taken)}; stop what listens there "
            "(another `make run`?) or set INTAKE_PORT ... REPORTING_PORT"
        )
    recorded = False
    try:
        embedded_port = start_store(settings, supervisor, env)
        for name in SERVICES:
            # one metrics port per worker process (they all get the same environment)
            env.setdefault(f"{name.upper()}_METRICS_PORT", str(settings.local_metrics_port(name)))
        settings = config.settings(env)  # MONGO_URI: the store just started
        # where it runs, for make status, make deadletters and make clean (runfile.py)
        run_file = runfile.write(settings.var_dir, runfile.record(settings, embedded_port))
        say(f"where it runs: {run_file}")
        recorded = True
        own_vhost(settings)
        env["SHEGONG_TOKEN_SECRET"] = os.environ["SHEGONG_TOKEN_SECRET"] = token_secret(settings)
        settings = config.settings(env)
        declare(settings)
        say("broker: exchanges, queues and bindings declared")
        seed.main()
        say(f"credentials: {write_credentials(settings)}")
        settings = config.settings(env)
        ports = start_services(settings, supervisor, env, replicas, log_dir)
        for name in SERVICES:
            wait_for(
                lambda name=name: healthy(settings.port(name)) or bool(supervisor.exited()),
                30,
                f"the {name} API",
            )
        for what, port in ports:  # every worker instance answers its probes too
            wait_for(lambda port=port: healthy(port) or bool(supervisor.exited()), 30, what)
        if supervisor.exited():
            fail(f"process(es) exited during start: {supervisor.exited()}; see {log_dir}")
        for name in SERVICES:
            say(
                f"{name:<13} http://{settings.bind_host}:{settings.port(name)}   worker metrics "
                + " ".join(
                    f"http://{settings.metrics_host}:{port}/metrics"
                    for what, port in ports
                    if what.startswith(f"{name}-worker#")
                )
            )
        say(f"logs in {log_dir}; a process that dies is restarted; Ctrl-C stops everything")
        say("ready")
        supervisor.run(lambda: bool(stop_requested))
        say(f"{stop_requested[0]}: stopping")
        return 0
    finally:
        supervisor.stop()
        if recorded:
            runfile.mark_stopped(settings.var_dir)
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
