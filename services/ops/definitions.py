"""The RabbitMQ definitions file: the whole topology as RabbitMQ imports it.

    python -m services.ops.definitions write    # deploy/rabbitmq/definitions.json
    python -m services.ops.definitions import   # POST it to RABBIT_API_URI

Generated from the very entities ``services.ops.bootstrap`` declares
(``messaging.topology``), with quorum queues and the default retry delays, so the file,
the code's declarations and the broker cannot disagree (RabbitMQ refuses a declaration
that differs from an existing queue). ``make docs`` regenerates it; a contract test
fails if it drifts from the code.

It carries no users: a definitions file imported at boot makes RabbitMQ skip its
default user, and credentials have no place in the repository. So the broker starts
with its default user from the environment (RABBITMQ_DEFAULT_USER / _PASS), and the
compose ``init`` container (or the Kubernetes ``shegong-init`` Job) imports the file
through the management API before any service starts.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

from services.common import config
from services.common.messaging import topology
from services.common.service_classes import SERVICE_CLASSES, service_class

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS_FILE = ROOT / "deploy" / "rabbitmq" / "definitions.json"


def committed_settings():
    """What the committed file declares: the defaults (of no environment), quorum queues."""
    return replace(config.settings({}), queue_type="quorum")


def definitions(settings, vhost="/"):
    """The definitions document (RabbitMQ's export format) of one virtual host: the
    topology of ``settings`` (its queue type, retry delays and agencies' registry)."""
    entities = topology([service_class(name) for name in SERVICE_CLASSES], settings)
    exchanges, queues, bindings = [], [], []
    for entity in entities:
        if hasattr(entity, "exchange") and hasattr(entity, "queue_arguments"):  # a Queue
            queues.append(
                {
                    "name": entity.name,
                    "vhost": vhost,
                    "durable": entity.durable,
                    "auto_delete": bool(entity.auto_delete),
                    "arguments": dict(entity.queue_arguments or {}),
                }
            )
            bindings.append(
                {
                    "source": entity.exchange.name,
                    "vhost": vhost,
                    "destination": entity.name,
                    "destination_type": "queue",
                    "routing_key": entity.routing_key or "",
                    "arguments": dict(entity.binding_arguments or {}),
                }
            )
        else:
            exchanges.append(
                {
                    "name": entity.name,
                    "vhost": vhost,
                    "type": entity.type,
                    "durable": entity.durable,
                    "auto_delete": bool(entity.auto_delete),
                    "internal": False,
                    "arguments": dict(entity.arguments or {}),
                }
            )
    key = lambda item: json.dumps(item, sort_keys=True)  # noqa: E731 - a stable order
    return {
        "rabbit_version": "3.13.0",
        "vhosts": [{"name": vhost}],
        "exchanges": sorted(exchanges, key=key),
        "queues": sorted(queues, key=key),
        "bindings": sorted(bindings, key=key),
        "policies": [],
        "parameters": [],
    }


def render(document):
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def import_definitions(settings, document):
    """POST the definitions to the management API of RABBIT_API_URI (idempotent)."""
    import requests

    api = urlparse(settings.rabbit_api_uri)
    base = urlunparse(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))
    vhost = document["vhosts"][0]["name"]
    answer = requests.post(
        f"{base}/api/definitions/{quote(vhost, safe='')}",
        json={key: document[key] for key in ("exchanges", "queues", "bindings", "policies")},
        auth=(api.username or "guest", api.password or "guest"),
        timeout=30,
    )
    answer.raise_for_status()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.ops.definitions")
    parser.add_argument("command", choices=("write", "import", "print"))
    args = parser.parse_args(argv)
    if args.command == "write":
        DEFINITIONS_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEFINITIONS_FILE.write_text(render(definitions(committed_settings())))
        print(f"wrote {DEFINITIONS_FILE.relative_to(ROOT)}", file=sys.stderr)
    elif args.command == "print":
        sys.stdout.write(render(definitions(committed_settings())))
    else:
        settings = config.settings()
        vhost = config.vhost_of(settings.amqp_uri)
        import_definitions(settings, definitions(settings, vhost))
        print(f"imported the definitions into virtual host {vhost}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
