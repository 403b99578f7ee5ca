"""Connections to a RabbitMQ cluster: every node's address, and moving to another node.

``AMQP_URI`` may name several nodes, kombu's failover list: ``amqp://h:5681/v;amqp://
h:5682/v;amqp://h:5683/v``. Every connection of the system is made from it, so each
knows every node. What kombu does not do by itself, and what is done here:

- a new connection starts at a node of its own choosing (``rotated``): after a failure,
  at the node after the one that failed, so that a dead or paused node is not tried
  first again and again (a paused node costs a whole connect timeout each time);
- a connection that has failed is thrown away without the closing handshake
  (``discard``): a node that is paused (SIGSTOP, a frozen VM) would never answer it, and
  the thread closing it would hang until the node came back;
- ``connect`` tries every node once before giving up.
"""

from __future__ import annotations

import itertools
import logging
import random
from typing import Any
from urllib.parse import urlparse

from kombu import Connection

log = logging.getLogger(__name__)

_turns = itertools.count(random.randrange(1000))  # noqa: S311 - spreads, not secret


def alternates(uri: str) -> list[str]:
    """The node URIs of a (failover) AMQP URI, in order."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def rotated(uri: str, start: int) -> str:
    """The failover list starting at its ``start``-th node (modulo their number)."""
    nodes = alternates(uri)
    if len(nodes) < 2:
        return uri
    start %= len(nodes)
    return ";".join(nodes[start:] + nodes[:start])


def next_turn() -> int:
    """A starting node for a new connection: successive ones go round the nodes."""
    return next(_turns)


def node_of(connection: Any) -> str:
    """``host:port`` of the node a kombu connection is (or was last) connected to."""
    return f"{connection.hostname}:{connection.port}"


def index_of(uri: str, connection: Any) -> int:
    """The position in ``uri``'s list of the node ``connection`` uses (0 if unknown)."""
    for position, node in enumerate(alternates(uri)):
        parsed = urlparse(node)
        if (parsed.hostname, parsed.port or 5672) == (
            connection.hostname,
            int(connection.port or 5672),
        ):
            return position
    return 0


def connect(uri: str, timeout: float = 5.0, start: int | None = None, **options: Any):
    """A connected kombu Connection to the first node of ``uri`` (from ``start``) that
    answers within ``timeout``, every node tried once; raises the last error."""
    turn = next_turn() if start is None else start
    connection = Connection(rotated(uri, turn), connect_timeout=timeout, **options)
    try:
        connection.ensure_connection(
            max_retries=max(len(alternates(uri)) - 1, 0),
            interval_start=0,
            interval_step=0.2,
            interval_max=0.5,
        )
    except Exception:
        discard(connection)
        raise
    return connection


def close(connection: Any, timeout: float = 2.0) -> None:
    """Close a connection that works, waiting at most ``timeout`` for the node's answer
    (then it is discarded): the node logs no "client unexpectedly closed" for it."""
    try:
        connection.connection.transport.sock.settimeout(timeout)
        connection.release()
    except Exception:  # noqa: BLE001 - no answer in time: drop it
        discard(connection)


def discard(connection: Any) -> None:
    """Drop a connection without the closing handshake (its node may never answer)."""
    if connection is None:
        return
    try:
        connection.collect()
    except Exception as exc:  # noqa: BLE001 - it is being thrown away
        log.debug("discarding a broker connection: %s", exc)
