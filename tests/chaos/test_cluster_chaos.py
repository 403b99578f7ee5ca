"""The cluster chaos run, short (``make cluster-chaos`` runs the long one): on the
three-node cluster of deploy/cluster/nodes.py, with quorum queues, under a steady
stream of staff POSTs and inbound AMQP events, the node with the most client
connections is killed (SIGKILL) and brought back, then a node is paused (SIGSTOP) long
enough for the others to count it gone and resumed. Every process must move to another
node by itself and go on: nothing lost, nothing twice, no stall over 30 s, every
/healthz answered, no process restarted. (A killed node alone resets its sockets, which
kombu's failover list survived before; the pause is what held consumers and API threads.)
"""

import shutil

import pytest

from tests.chaos import cluster

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(
        shutil.which("rabbitmq-server") is None,
        reason="needs RabbitMQ's server to start the cluster's nodes",
    ),
]


def test_a_killed_or_paused_node_loses_nothing_and_stalls_nothing():
    result = cluster.run(faults=("kill", "pause"), rate=3.0, events_rate=1.0, warmup_s=15.0)
    print("\n" + cluster.summary_line(result))
    lost, duplicated = cluster.lost_and_duplicated(result)
    assert result["requests"] > 0 and result["events"] > 0, result
    assert (lost, duplicated) == (0, 0), result
    assert result["refused"] == 0, result
    assert result["max_stall_per_fault_s"]["kill"] <= 30, result
    assert result["max_stall_per_fault_s"]["pause"] <= 30, result
    assert not result["healthz"]["failed"], result["healthz"]
    assert not result["exited"], result["exited"]
