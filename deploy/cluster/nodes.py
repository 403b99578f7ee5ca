"""A RabbitMQ cluster of three nodes of its own on this machine, beside its broker.

``python deploy/cluster/nodes.py up|down|status|uri|kill N|start N|stop N|pause N|resume N``

Each node ``shegong-cluster-N@localhost`` (N = 1, 2, 3) has its own ports (AMQP 5680+N,
management 15680+N, distribution 25680+N), its own config file and its data and logs
under ``var/cluster/nodeN`` (owned by the rabbitmq user, which the server drops to); they
share the machine's Erlang cookie, so ``rabbitmqctl -n`` and ``join_cluster`` work. The
machine's own broker (rabbit@localhost, 5672) is never touched: every command names its
node. ``net_ticktime`` is lowered (10 s) so that a node that stops answering (SIGSTOP)
is counted gone within about 10 s; a partition it leaves heals by itself (``autoheal``).

``up`` starts the nodes and forms the cluster (the 2nd and 3rd join the 1st); ``down``
stops every node of it (SIGKILL for one that does not stop) and leaves none running.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODES = (1, 2, 3)
BASE_AMQP_PORT, BASE_MANAGEMENT_PORT, BASE_DIST_PORT = 5680, 15680, 25680
NET_TICKTIME_S = 10
USER = "guest:guest"


def var_dir() -> Path:
    return Path(os.environ.get("SHEGONG_CLUSTER_DIR", ROOT / "var" / "cluster")).resolve()


def name(n: int) -> str:
    return f"shegong-cluster-{n}@localhost"


def amqp_port(n: int) -> int:
    return BASE_AMQP_PORT + n


def management_port(n: int) -> int:
    return BASE_MANAGEMENT_PORT + n


def amqp_uri(vhost: str = "", nodes=NODES) -> str:
    """Every node's address, as kombu's failover list: ``amqp://...:5681/v;amqp://...``."""
    from urllib.parse import quote  # a small script's only use of it

    path = "/" + quote(vhost, safe="") if vhost else "/"
    return ";".join(f"amqp://{USER}@127.0.0.1:{amqp_port(n)}{path}" for n in nodes)


def api_uri(n: int = 1) -> str:
    return f"http://{USER}@127.0.0.1:{management_port(n)}"


def node_dir(n: int) -> Path:
    return var_dir() / f"node{n}"


def environment(n: int) -> dict:
    base = node_dir(n)
    return dict(
        os.environ,
        RABBITMQ_NODENAME=name(n),
        RABBITMQ_NODE_PORT=str(amqp_port(n)),
        RABBITMQ_DIST_PORT=str(BASE_DIST_PORT + n),
        RABBITMQ_CONFIG_FILE=str(base / "node.conf"),
        RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
        RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
        RABBITMQ_LOG_BASE=str(base / "log"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
    )


def write_config(n: int) -> None:
    base = node_dir(n)
    for sub in ("mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "node.conf").write_text(
        f"listeners.tcp.local = 127.0.0.1:{amqp_port(n)}\n"
        f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {management_port(n)}\n"
        "loopback_users = none\n"
        # a partition (a node that was frozen, SIGSTOP, comes back to find the others
        # counted it gone) heals by itself: the side with fewer clients restarts
        "cluster_partition_handling = autoheal\n"
        "vm_memory_high_watermark.relative = 0.2\n"
        "disk_free_limit.absolute = 200MB\n"
    )
    (base / "advanced.config").write_text(f"[{{kernel, [{{net_ticktime, {NET_TICKTIME_S}}}]}}].\n")
    (base / "enabled_plugins").write_text("[rabbitmq_management].\n")
    rabbitmq = pwd.getpwnam("rabbitmq")
    for path in [var_dir(), base, *base.rglob("*")]:
        os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)


def ctl(n: int, *args: str, timeout: float = 120, check: bool = True) -> str:
    # the machine's environment: only the node's own processes carry its RABBITMQ_ names
    done = subprocess.run(
        ["rabbitmqctl", "-n", name(n), *args], capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl -n {name(n)} {' '.join(args)}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    return done.stdout


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def processes(n: int) -> dict[int, str]:
    """pid -> command of every process of node n (its beam.smp and the helpers it
    started), found by the node name in their environment: the server writes no pid
    file when started detached."""
    wanted = f"RABBITMQ_NODENAME={name(n)}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                found[int(proc.name)] = (proc / "comm").read_text().strip()
        except OSError:  # gone meanwhile
            continue
    return found


def pid(n: int) -> int | None:
    """The node's beam.smp (the one that boots rabbit), if it runs."""
    for found, command in processes(n).items():
        try:
            if (
                command == "beam.smp"
                and b"\0rabbit\0boot\0" in Path(f"/proc/{found}/cmdline").read_bytes()
            ):
                return found
        except OSError:
            continue
    return None


def reap(n: int) -> None:
    """Kill what a killed node left behind (erl_child_setup, its disk monitor's shell)."""
    for found, command in processes(n).items():
        if command != "epmd":
            try:
                os.kill(found, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start(n: int, wait_s: float = 180) -> None:
    """Start node n (on the files it had) and wait until it runs."""
    launch(n)
    await_running(n, wait_s)


def launch(n: int) -> None:
    """Start node n's server, not waiting for it."""
    if pid(n) is not None:
        return
    write_config(n)
    subprocess.run(
        ["rabbitmq-server", "-detached"],
        env=environment(n),
        check=True,
        capture_output=True,
        timeout=60,
    )


def await_running(n: int, wait_s: float = 180) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        # await_startup fails at once when asked too early: loop
        done = subprocess.run(
            ["rabbitmqctl", "-n", name(n), "await_startup", "--timeout", "10"],
            capture_output=True,
            timeout=30,
        )
        if done.returncode == 0 and listening(amqp_port(n)):
            return
        time.sleep(1)
    raise RuntimeError(f"{name(n)} did not start within {wait_s} s; see {node_dir(n)}/log")


def stop(n: int) -> None:
    """Stop node n gracefully (its queues' leadership moves to the others first)."""
    if pid(n) is None:
        return
    ctl(n, "stop", check=False)
    wait_gone(n, 60)


def wait_gone(n: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pid(n) is None:
            return True
        time.sleep(0.2)
    return False


def kill(n: int, sig: int = signal.SIGKILL) -> None:
    found = pid(n)
    if found is not None:
        os.kill(found, sig)
    if sig == signal.SIGKILL:
        wait_gone(n, 30)
        reap(n)


def pause(n: int) -> None:
    kill(n, signal.SIGSTOP)


def resume(n: int) -> None:
    kill(n, signal.SIGCONT)


def up() -> str:
    """Start the three nodes and form the cluster; returns the failover AMQP URI."""
    # all at once: a clustered node waits at boot for the one that stopped last
    for n in NODES:
        launch(n)
    for n in NODES:
        await_running(n, 180)
    for n in NODES[1:]:
        members = ctl(n, "cluster_status", "--formatter", "json")
        if name(NODES[0]) in json.loads(members).get("running_nodes", []):
            continue
        ctl(n, "stop_app")
        ctl(n, "join_cluster", name(NODES[0]))
        ctl(n, "start_app")
    running = json.loads(ctl(NODES[0], "cluster_status", "--formatter", "json"))["running_nodes"]
    if sorted(running) != sorted(name(n) for n in NODES):
        raise RuntimeError(f"the cluster did not form: running {running}")
    return amqp_uri()


def down() -> None:
    for n in NODES:
        if pid(n) is not None:
            resume(n)  # a paused node cannot stop
            ctl(n, "stop", check=False, timeout=60)
            if not wait_gone(n, 30):
                kill(n)
        reap(n)


def remove() -> None:
    """down, then the nodes' files (a fresh cluster next time)."""
    down()
    shutil.rmtree(var_dir(), ignore_errors=True)


def leaders(vhost: str) -> dict:
    """queue name -> the node that leads it (quorum queues), from rabbitmqctl."""
    for n in NODES:
        if pid(n) is None:
            continue
        out = ctl(
            n,
            "list_queues",
            "-p",
            vhost,
            "name",
            "leader",
            "--formatter",
            "json",
            check=False,
            timeout=60,
        )
        try:
            return {row["name"]: row.get("leader") for row in json.loads(out or "[]")}
        except ValueError:
            continue
    return {}


def status() -> dict:
    return {
        name(n): {"pid": pid(n), "amqp": amqp_port(n), "management": management_port(n)}
        for n in NODES
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=(
            "up",
            "down",
            "remove",
            "status",
            "uri",
            "kill",
            "start",
            "stop",
            "pause",
            "resume",
        ),
    )
    parser.add_argument("node", nargs="?", type=int, choices=NODES)
    args = parser.parse_args(argv)
    if args.command == "up":
        print(up())
    elif args.command == "down":
        down()
    elif args.command == "remove":
        remove()
    elif args.command == "status":
        print(json.dumps(status(), indent=2))
    elif args.command == "uri":
        print(amqp_uri())
    else:
        if args.node is None:
            parser.error(f"{args.command} needs a node (1, 2 or 3)")
        {"kill": kill, "start": start, "stop": stop, "pause": pause, "resume": resume}[
            args.command
        ](args.node)
    return 0


if __name__ == "__main__":
    sys.exit(main())
