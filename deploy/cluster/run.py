"""``make cluster``: the three-node RabbitMQ cluster (nodes.py), then ``make run`` on it.

Every process is given every node's address (AMQP_URI as kombu's failover list), the
queues are quorum queues replicated on the three nodes (SHEGONG_QUEUE_TYPE=quorum),
declared once by make run's start-up (services.ops.bootstrap), and AMQP heartbeats
are short (SHEGONG_AMQP_HEARTBEAT_S=5) so that a node that stops answering is left for
another within about 10 s. Ctrl-C stops the services; the nodes run on until
``make cluster-stop`` (which also stops a ``make cluster`` still running).

``python deploy/cluster/run.py [stop]``
"""

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deploy.cluster import nodes  # noqa: E402

RUN_PID = nodes.var_dir().parent / "cluster-run.pid"


def start() -> int:
    print("[shegong] cluster: starting three RabbitMQ nodes (var/cluster/)", flush=True)
    nodes.up()
    vhost = os.environ.get("SHEGONG_AMQP_VHOST", "shegong")
    os.environ.update(
        {
            "AMQP_URI": nodes.amqp_uri(vhost),
            "SHEGONG_QUEUE_TYPE": "quorum",
            "SHEGONG_AMQP_HEARTBEAT_S": os.environ.get("SHEGONG_AMQP_HEARTBEAT_S", "5"),
            "RABBIT_API_URI": os.environ.get("RABBIT_API_URI", nodes.api_uri(1)),
        }
    )
    print(
        f"[shegong] cluster: {', '.join(nodes.name(n) for n in nodes.NODES)} on AMQP ports "
        f"{', '.join(str(nodes.amqp_port(n)) for n in nodes.NODES)}, management "
        f"{nodes.management_port(1)}",
        flush=True,
    )
    RUN_PID.write_text(str(os.getpid()))
    from deploy import local  # (here: it reads the environment set above)

    try:
        return local.main()
    finally:
        RUN_PID.unlink(missing_ok=True)


def stop() -> int:
    """Stop a ``make cluster`` still running (SIGTERM: its services stop as on Ctrl-C),
    then every node of the cluster."""
    try:
        pid = int(RUN_PID.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if (
        pid is not None
        and Path(f"/proc/{pid}/cmdline").exists()
        and b"cluster/run.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ):
        print(f"[shegong] cluster: stopping make cluster (pid {pid})", flush=True)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    RUN_PID.unlink(missing_ok=True)
    nodes.down()
    left = [nodes.name(n) for n in nodes.NODES if nodes.pid(n) is not None]
    if left:
        print(f"[shegong] cluster: still running: {left}", flush=True)
        return 1
    print("[shegong] cluster: every node stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(stop() if sys.argv[1:] == ["stop"] else start())
