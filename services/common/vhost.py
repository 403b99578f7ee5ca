"""``make run``'s own RabbitMQ virtual host: made when missing, looked into at start-up,
emptied by ``make clean``.

    python -m services.common.vhost clear     # what make clean runs

Which virtual host: the one ``AMQP_URI`` names, else ``SHEGONG_AMQP_VHOST`` (``make
run``, ``make status``, ``make deadletters`` and ``make clean`` default it to
``shegong``); see ``config.amqp_uri``. Durable queues outlive a run: a new, empty store
next to a virtual host that still holds events of an earlier run would consume them
into cases, SMS and figures it has no request for. ``make run`` therefore refuses to
start in that case (``stale``), naming the queues and the command that clears them,
unless ``SHEGONG_ACCEPT_QUEUED=1`` says to go on and consume them.

Only shegong's queues (``evt-*`` and ``shegong.*``) are counted or deleted, so that a
virtual host shared on purpose keeps everything else.
"""
from __future__ import annotations

import sys
from urllib.parse import quote, urlparse, urlunparse

import requests
from kombu import Connection

from services.common import config, mongo
from services.common.config import SERVICES, Settings

TIMEOUT_S = 5
OURS = ("evt-", "shegong.")


def _api(settings: Settings) -> tuple[str, tuple[str, str]]:
    api = urlparse(settings.rabbit_api_uri)
    base = urlunparse(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))
    return f"{base.rstrip('/')}/api", (api.username or "guest", api.password or "guest")


def ensure(settings: Settings) -> bool:
    """Make the virtual host if it is missing, with full permissions for the user of
    ``AMQP_URI``; True when it was made. Raises requests.RequestException when the
    management API cannot be asked."""
    base, auth = _api(settings)
    name = quote(settings.amqp_vhost, safe="")
    found = requests.get(f"{base}/vhosts/{name}", auth=auth, timeout=TIMEOUT_S)
    if found.status_code == 200:
        return False
    if found.status_code != 404:
        found.raise_for_status()
    requests.put(f"{base}/vhosts/{name}", auth=auth, timeout=TIMEOUT_S).raise_for_status()
    user = urlparse(config.first_node(settings.amqp_uri)).username or "guest"
    requests.put(f"{base}/permissions/{name}/{quote(user, safe='')}", auth=auth,
                 timeout=TIMEOUT_S,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return True


def our_queues(settings: Settings) -> list[str]:
    """The names of shegong's queues on the virtual host (management API)."""
    base, auth = _api(settings)
    answer = requests.get(f"{base}/queues/{quote(settings.amqp_vhost, safe='')}",
                          params={"columns": "name"}, auth=auth, timeout=TIMEOUT_S)
    answer.raise_for_status()
    return sorted(q["name"] for q in answer.json() if q["name"].startswith(OURS))


def queued(settings: Settings) -> dict[str, int]:
    """{queue: messages} of shegong's queues that hold any. Counted over AMQP (a passive
    declare answers now; the management API's figures lag by seconds)."""
    found = {}
    with Connection(settings.amqp_uri, connect_timeout=TIMEOUT_S) as connection:
        for name in our_queues(settings):
            channel = connection.channel()
            try:
                _, count, _ = channel.queue_declare(queue=name, passive=True)
            except Exception:  # noqa: BLE001, S112 - deleted meanwhile: holds nothing
                continue
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001, S110 - a failed declare closed it
                    pass
            if count:
                found[name] = count
    return found


def store_is_new(settings: Settings) -> bool:
    """No service's database exists yet in the store (before the roster is seeded)."""
    names = set(mongo.client(settings.mongo_uri).list_database_names())
    return not any(settings.database_name(service) in names for service in SERVICES)


def stale(settings: Settings) -> dict[str, int]:
    """What a new store would wrongly consume: the queued messages, when the store is new."""
    return queued(settings) if store_is_new(settings) else {}


def refusal(settings: Settings, found: dict[str, int]) -> str:
    listed = ", ".join(f"{name} ({count})" for name, count in sorted(found.items()))
    return (f"the store is new (empty) but the virtual host {settings.amqp_vhost!r} holds "
            f"{sum(found.values())} message(s) of an earlier run: {listed}. They would become "
            "cases, SMS and figures without their requests. `make clean` empties it (and "
            "removes var/); SHEGONG_ACCEPT_QUEUED=1 starts anyway and consumes them")


def clear(settings: Settings) -> list[str]:
    """Delete shegong's queues on the virtual host (make run declares them again)."""
    base, auth = _api(settings)
    vhost = quote(settings.amqp_vhost, safe="")
    names = our_queues(settings)
    for name in names:
        answer = requests.delete(f"{base}/queues/{vhost}/{quote(name, safe='')}", auth=auth,
                                 timeout=TIMEOUT_S)
        if answer.status_code != 404:
            answer.raise_for_status()
    return names


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["clear"]:
        print("usage: python -m services.common.vhost clear", file=sys.stderr)
        return 2
    settings = config.settings()
    try:
        names = clear(settings)
    except requests.RequestException as exc:
        print(f"[shegong] could not empty the virtual host {settings.amqp_vhost!r} through the "
              f"management API ({type(exc).__name__}); is RabbitMQ up (RABBIT_API_URI)?",
              file=sys.stderr)
        return 1
    print(f"[shegong] virtual host {settings.amqp_vhost!r}: {len(names)} queue(s) deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
