"""The addresses of the broker: AMQP_URI (one node, or a cluster's failover list) with
its virtual host applied, its first node, and the virtual host it names.

Pure functions of the text of a URI, apart from ``Settings`` so that a tool that only
needs an address can read one; ``config`` re-exports them.
"""

from urllib.parse import quote, unquote, urlparse, urlunparse


def amqp_uri(env) -> str:
    """AMQP_URI; when it names no virtual host (its path is empty or "/"), the one named
    by SHEGONG_AMQP_VHOST, if set. ``%2F`` names the default virtual host explicitly.

    On a cluster AMQP_URI names every node, kombu's failover list
    ``amqp://h:5681/;amqp://h:5682/;amqp://h:5683/`` (services/common/brokers.py): the
    virtual host is applied to each node's address."""
    uri = env.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    vhost = env.get("SHEGONG_AMQP_VHOST", "").strip()
    nodes = [part.strip() for part in uri.split(";") if part.strip()] or [uri]
    if vhost:
        nodes = [
            urlunparse(parsed._replace(path="/" + quote(vhost, safe="")))
            if (parsed := urlparse(node)).path in ("", "/")
            else node
            for node in nodes
        ]
    return ";".join(nodes)


def first_node(uri: str) -> str:
    """The first node's address of a (failover) AMQP URI."""
    return uri.split(";")[0].strip()


def vhost_of(uri: str) -> str:
    """The virtual host of an AMQP URI (of its first node when it lists several)."""
    return unquote(urlparse(first_node(uri)).path[1:]) or "/"
