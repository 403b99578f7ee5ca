"""A partner agency's RabbitMQ user: it reads its own queue of referrals
(``shegong.outbound.<id>``) and publishes its answers to ``shegong.inbound``, nothing else.

    python -m services.ops.agencies provision <agency-id> < password-file

The agency is read from the agencies file (services/common/agencies.py); its user is the
``amqp_user`` of the external system of the same id in intake's registry
(services/intake/systems.py), which intake checks its answers against.
"""

import argparse
import sys
from urllib.parse import quote, urlparse, urlunparse

import requests

from services.common import config
from services.common.agencies import Agency, partners
from services.intake import systems


def permissions(agency: Agency) -> dict:
    """The agency's RabbitMQ permissions: read its own queue, publish its answers to
    ``shegong.inbound``, declare nothing."""
    return {
        "configure": "^$",
        "write": r"^shegong\.inbound$",
        "read": "^" + agency.queue.replace(".", r"\.").replace("-", r"\-") + "$",
    }


def provision(rabbit_api_uri: str, vhost: str, agency: Agency, user: str, password: str) -> None:
    """Create (or update) the agency's RabbitMQ user ``user`` (its system's ``amqp_user``
    in intake's registry) and its permissions in ``vhost``."""
    api = urlparse(rabbit_api_uri)
    base = urlunparse(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))
    auth = (api.username or "guest", api.password or "guest")
    requests.put(
        f"{base}/api/users/{quote(user, safe='')}",
        auth=auth,
        timeout=10,
        json={"password": password, "tags": ""},
    ).raise_for_status()
    requests.put(
        f"{base}/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
        auth=auth,
        timeout=10,
        json=permissions(agency),
    ).raise_for_status()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ops.agencies")
    parser.add_argument("command", choices=("provision",))
    parser.add_argument("agency")
    args = parser.parse_args(argv)
    settings = config.settings()
    agency = partners(settings).get(args.agency)
    if agency is None:
        parser.error(f"no agency {args.agency} in the agencies file")
    # the user it answers as: intake's registry of external systems, under the same id
    system = systems.external_systems(settings).systems.get(agency.id)
    user = system.amqp_user if system else None
    if not user:
        parser.error(f"agency {agency.id} has no amqp_user in intake's registry of systems")
    password = sys.stdin.readline().strip()  # never on the command line (ps shows it)
    if not password:
        parser.error("give the agency user's password on standard input")
    vhost = config.vhost_of(settings.amqp_uri)
    provision(settings.rabbit_api_uri, vhost, agency, user, password)
    print(f"user {user} may read {agency.queue} in {vhost}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
