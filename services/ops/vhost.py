"""``make run``'s own RabbitMQ virtual host: made when missing, looked into at start-up,
emptied by ``make clean``.

    python -m services.ops.vhost clear     # what make clean runs

Which virtual host: the one ``AMQP_URI`` names, else ``SHEGONG_AMQP_VHOST``, else the
one this checkout's ``make run`` uses (``var/run.json``, services/common/runfile.py),
else ``shegong``; see ``config.amqp_uri``. Durable queues outlive a run: a new, empty
store next to a virtual host that still holds events of an earlier run would consume
them into cases, SMS and figures it has no request for. ``make run`` therefore refuses
to start in that case (``stale``), naming the queues and the command that clears them,
unless ``SHEGONG_ACCEPT_QUEUED=1`` says to go on and consume them.

None of it needs RabbitMQ's management API: the virtual host is made through it when
it answers, else, on a broker of this machine, with ``rabbitmqctl`` (``make``); the
queues looked into and deleted are the ones the topology declares (``known_queues``),
asked over AMQP, plus, when the management API answers, any other of shegong's queues
there (an earlier version's). Only shegong's queues (``evt-*`` and ``shegong.*``) are
counted or deleted, so that a virtual host shared on purpose keeps everything else.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from urllib.parse import quote, urlparse, urlunparse

import requests
from amqp.exceptions import NotAllowed, NotFound
from kombu import Connection, Queue

from services.common import config, mongo
from services.common.config import SERVICES, Settings
from services.common.messaging import broker_reachable

TIMEOUT_S = 5
OURS = ("evt-", "shegong.")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
RABBITMQCTL_TIMEOUT_S = 60


class Unfixable(Exception):
    """The virtual host cannot be made from here; the message says why and the command."""


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
    requests.put(
        f"{base}/permissions/{name}/{quote(amqp_user(settings), safe='')}",
        auth=auth,
        timeout=TIMEOUT_S,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    return True


def amqp_user(settings: Settings) -> str:
    return urlparse(config.first_node(settings.amqp_uri)).username or "guest"


def is_local(amqp_uri: str) -> bool:
    """The broker runs on this machine (rabbitmqctl here can manage it)."""
    return (urlparse(config.first_node(amqp_uri)).hostname or "127.0.0.1") in LOCAL_HOSTS


def rabbitmqctl_commands(settings: Settings) -> list[list[str]]:
    """What makes the virtual host and lets the AMQP user use it, both idempotent."""
    name = settings.amqp_vhost
    return [
        ["add_vhost", name],
        ["set_permissions", "-p", name, amqp_user(settings), ".*", ".*", ".*"],
    ]


def fix_command(settings: Settings) -> str:
    """The one line that makes the virtual host by hand (on the broker's machine)."""
    return " && ".join(
        "sudo rabbitmqctl " + shlex.join(args) for args in rabbitmqctl_commands(settings)
    )


def make(settings: Settings, rabbitmqctl: str | None = None) -> str:
    """See that the virtual host exists and the AMQP user may use it, making it if not.
    Returns what happened: "made" or "there" (management API), "usable" (no API, but
    the broker takes the connection), "made with rabbitmqctl". Raises Unfixable with the
    reason and the one command when it cannot be made from here. ``rabbitmqctl``: its
    path (default: found on PATH)."""
    try:
        return "made" if ensure(settings) else "there"
    except requests.RequestException:
        pass  # no management API (or no rights on it): over AMQP and rabbitmqctl instead
    if broker_reachable(settings.amqp_uri):
        return "usable"
    where = settings.amqp_uri.split("@")[-1]
    why = (
        f"RabbitMQ refuses user {amqp_user(settings)!r} on the virtual host "
        f"{settings.amqp_vhost!r} at {where} (missing, or no permissions) and its "
        "management API (RABBIT_API_URI) is not reachable to make it"
    )
    if not is_local(settings.amqp_uri):
        raise Unfixable(
            f"{why}; the broker is on another machine: there, run `{fix_command(settings)}`"
        )
    rabbitmqctl = rabbitmqctl or shutil.which("rabbitmqctl")
    if not rabbitmqctl:
        raise Unfixable(
            f"{why}, and rabbitmqctl is not installed here (not on PATH); run "
            f"`{fix_command(settings)}` where it is"
        )
    for args in rabbitmqctl_commands(settings):
        try:
            ran = subprocess.run(  # noqa: S603 - rabbitmqctl, our own arguments
                [rabbitmqctl, *args],
                capture_output=True,
                text=True,
                timeout=RABBITMQCTL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unfixable(
                f"{why}, and `rabbitmqctl {args[0]}` failed ({exc}); run `{fix_command(settings)}`"
            ) from exc
        if ran.returncode != 0:
            said = (ran.stderr.strip() or ran.stdout.strip()).splitlines()
            raise Unfixable(
                f"{why}, and `rabbitmqctl {args[0]}` refused (exit "
                f"{ran.returncode}: {said[-1] if said else 'no message'}); as a "
                f"user who may (root or rabbitmq), run `{fix_command(settings)}`"
            )
    if not broker_reachable(settings.amqp_uri):
        raise Unfixable(
            f"the virtual host {settings.amqp_vhost!r} is made, but RabbitMQ still "
            f"refuses user {amqp_user(settings)!r} at {where}: is the password in "
            "AMQP_URI right?"
        )
    return "made with rabbitmqctl"


def known_queues(settings: Settings) -> list[str]:
    """The names of the queues the topology declares (bootstrap), and those it retires."""
    from services.common import queue_moves
    from services.common.messaging import consumers_of, topology
    from services.common.service_classes import SERVICE_CLASSES, service_class

    classes = [service_class(name) for name in SERVICE_CLASSES]
    names = {entity.name for entity in topology(classes, settings) if isinstance(entity, Queue)}
    for cls in classes:
        names |= {
            retired.name
            for retired, _ in queue_moves.retired_queues(
                cls.name, consumers_of(cls), settings.queue_type
            )
        }
    return sorted(name for name in names if name.startswith(OURS))


def our_queues(settings: Settings) -> list[str]:
    """The names of shegong's queues on the virtual host (management API)."""
    base, auth = _api(settings)
    answer = requests.get(
        f"{base}/queues/{quote(settings.amqp_vhost, safe='')}",
        params={"columns": "name"},
        auth=auth,
        timeout=TIMEOUT_S,
    )
    answer.raise_for_status()
    return sorted(q["name"] for q in answer.json() if q["name"].startswith(OURS))


def candidates(settings: Settings) -> list[str]:
    """The queues to look into: the topology's, and shegong's others the API lists."""
    try:
        listed = our_queues(settings)
    except requests.RequestException:
        listed = []  # no management API: the topology's names are asked over AMQP
    return sorted(set(known_queues(settings)) | set(listed))


def _existing(connection, names):
    """{queue: messages} for each of NAMES that exists (a passive declare answers now;
    the management API's figures lag by seconds)."""
    found = {}
    for name in names:
        channel = connection.channel()
        try:
            _, count, _ = channel.queue_declare(queue=name, passive=True)
        except NotFound:  # not declared here (the broker closed the channel)
            continue
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001, S110 - a failed declare closed it
                pass
        found[name] = count
    return found


def queued(settings: Settings) -> dict[str, int]:
    """{queue: messages} of shegong's queues that hold any, counted over AMQP."""
    with Connection(settings.amqp_uri, connect_timeout=TIMEOUT_S) as connection:
        existing = _existing(connection, candidates(settings))
    return {name: count for name, count in existing.items() if count}


def store_is_new(settings: Settings) -> bool:
    """No service's database exists yet in the store (before the roster is seeded)."""
    names = set(mongo.client(settings.mongo_uri).list_database_names())
    return not any(settings.database_name(service) in names for service in SERVICES)


def stale(settings: Settings) -> dict[str, int]:
    """What a new store would wrongly consume: the queued messages, when the store is new."""
    return queued(settings) if store_is_new(settings) else {}


def refusal(settings: Settings, found: dict[str, int]) -> str:
    listed = ", ".join(f"{name} ({count})" for name, count in sorted(found.items()))
    return (
        f"the store is new (empty) but the virtual host {settings.amqp_vhost!r} holds "
        f"{sum(found.values())} message(s) of an earlier run: {listed}. They would become "
        "cases, SMS and figures without their requests. `make clean` empties it (and "
        "removes var/); SHEGONG_ACCEPT_QUEUED=1 starts anyway and consumes them"
    )


def clear(settings: Settings) -> list[str]:
    """Delete shegong's queues on the virtual host, over AMQP (make run declares them
    again); returns the names of those that existed."""
    names = candidates(settings)
    with Connection(settings.amqp_uri, connect_timeout=TIMEOUT_S) as connection:
        existing = sorted(_existing(connection, names))
        channel = connection.channel()
        try:
            for name in existing:
                channel.queue_delete(queue=name)
        finally:
            channel.close()
    return existing


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["clear"]:
        print("usage: python -m services.ops.vhost clear", file=sys.stderr)
        return 2
    settings = config.operations_settings()
    try:
        names = clear(settings)
    except NotAllowed:
        print(
            f"[shegong] virtual host {settings.amqp_vhost!r}: not there (or not ours to "
            "use): nothing to empty"
        )
        return 0
    except Exception as exc:  # noqa: BLE001 - said, with what to check
        print(
            f"[shegong] could not empty the virtual host {settings.amqp_vhost!r} at "
            f"{settings.amqp_uri.split('@')[-1]} ({type(exc).__name__}: {exc}); is RabbitMQ "
            "up (AMQP_URI)?",
            file=sys.stderr,
        )
        return 1
    print(f"[shegong] virtual host {settings.amqp_vhost!r}: {len(names)} queue(s) deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
