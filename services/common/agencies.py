"""Partner agencies a case can be referred to: configuration, not code.

An agency is an external system of the systems file (``SHEGONG_INBOUND_SYSTEMS_FILE``,
default ``services/intake/systems.json``) with an ``agency`` block: its declared
purpose (which resident fields it may receive, everything else leaves masked or not at
all) and how referrals reach it: ``amqp`` (it consumes its own queue
``shegong.outbound.<id>`` as its own RabbitMQ user) or ``webhook`` (notifications POSTs
each referral to its URL, signed with HMAC-SHA256 under its secret from
``SHEGONG_WEBHOOK_SECRETS``, never from the file). Its API key and AMQP user (the
system's) authenticate its answers on ``POST /v1/events`` or ``shegong.inbound``.

    python -m services.common.agencies provision <agency-id> < password-file
"""

import argparse
import hashlib
import hmac
import json
import logging
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlparse

from services.common.privacy import mask_id_number, mask_name, mask_phone

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "intake" / "systems.json"
ANSWER_TYPE = "gov.suyu.agency.referral_answered.v1"
SIGNATURE_HEADER = "X-Shegong-Signature"
TIMESTAMP_HEADER = "X-Shegong-Timestamp"
# What a purpose may name; anything not named leaves masked (name, phone) or not at all.
RESIDENT_FIELDS = ("name", "phone", "id_number", "categories", "emergency_contacts")
CASE_FIELDS = ("need_description", "note")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    source: str
    purpose: str
    receives: frozenset  # e.g. {"resident.phone", "need_description"}
    delivery: str  # "amqp" or "webhook"
    amqp_user: Optional[str] = None
    webhook_url: Optional[str] = None

    @property
    def queue(self) -> str:
        return f"shegong.outbound.{self.id}"


def _agency(entry: dict) -> Agency:
    block = entry["agency"]
    receives = frozenset(block.get("receives", ()))
    known = {f"resident.{f}" for f in RESIDENT_FIELDS} | set(CASE_FIELDS)
    if receives - known:
        raise ValueError(f"agency {entry['id']!r}: unknown fields {sorted(receives - known)}")
    delivery = block.get("delivery", "amqp")
    if delivery not in ("amqp", "webhook"):
        raise ValueError(f"agency {entry['id']!r}: delivery is amqp or webhook")
    url = urlparse(block.get("webhook_url") or "")
    if delivery == "webhook" and not (
        url.scheme == "https"
        or (url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost"))
    ):
        # personal data leaves in the body: only over TLS (plain HTTP on this host only)
        raise ValueError(f"agency {entry['id']!r}: a webhook agency needs an https webhook_url")
    return Agency(
        id=entry["id"],
        name=entry.get("name", entry["id"]),
        source=entry["source"],
        purpose=block["purpose"],
        receives=receives,
        delivery=delivery,
        amqp_user=entry.get("amqp_user"),
        webhook_url=block.get("webhook_url"),
    )


@lru_cache(maxsize=8)
def _load(path: str) -> dict:
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["systems"]
    return {entry["id"]: _agency(entry) for entry in entries if entry.get("agency")}


def partners_in(path) -> dict:
    """Agency id -> Agency, of a systems file."""
    return _load(str(path))


def partners(settings) -> dict:
    """Agency id -> Agency, for this process's systems file (read once per file)."""
    return _load(settings.inbound_systems_file or str(DEFAULT_FILE))


def outbound_queues(queue_type: str = "classic") -> list:
    """The queues of the AMQP agencies, declared by casework (which publishes
    their referrals) so that nothing sent to an agency is unroutable."""
    from services.common import config
    from services.common.topology import agency_queue

    return [
        agency_queue(agency, queue_type)
        for _, agency in sorted(partners(config.settings()).items())
        if agency.delivery == "amqp"
    ]


def minimised(agency: Agency, resident: Mapping, need_description: str, note: str) -> dict:
    """What of the resident and the case leaves for this agency: only what its declared
    purpose names in full; the name and phone otherwise masked; the rest not at all."""
    wants = agency.receives
    out = {
        "name": resident.get("name")
        if "resident.name" in wants
        else mask_name(resident.get("name")),
        "phone": resident.get("phone")
        if "resident.phone" in wants
        else mask_phone(resident.get("phone")),
    }
    if "resident.id_number" in wants and resident.get("id_number"):
        out["id_number"] = resident["id_number"]
    elif resident.get("id_number"):
        out["id_number"] = mask_id_number(resident["id_number"])
    if "resident.categories" in wants:
        out["categories"] = list(resident.get("categories", []))
    if "resident.emergency_contacts" in wants:
        out["emergency_contacts"] = list(resident.get("emergency_contacts", []))
    case = {
        "need_description": need_description if "need_description" in wants else None,
        "note": note if "note" in wants else None,
    }
    return {"resident": out, **case}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>``: what a webhook receiver recomputes."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def permissions(agency: Agency) -> dict:
    """The agency's RabbitMQ permissions: read its own queue, publish its answers to
    ``shegong.inbound``, declare nothing."""
    return {
        "configure": "^$",
        "write": r"^shegong\.inbound$",
        "read": "^" + agency.queue.replace(".", r"\.").replace("-", r"\-") + "$",
    }


def provision(rabbit_api_uri: str, vhost: str, agency: Agency, password: str) -> None:
    """Create (or update) the agency's RabbitMQ user and its permissions in ``vhost``."""
    from urllib.parse import quote, urlparse, urlunparse

    import requests

    api = urlparse(rabbit_api_uri)
    base = urlunparse(api._replace(netloc=f"{api.hostname}:{api.port or 15672}"))
    auth = (api.username or "guest", api.password or "guest")
    user = agency.amqp_user
    if not user:
        raise ValueError(f"agency {agency.id} has no amqp_user")
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

    from services.common import config

    parser = argparse.ArgumentParser(prog="python -m services.common.agencies")
    parser.add_argument("command", choices=("provision",))
    parser.add_argument("agency")
    args = parser.parse_args(argv)
    settings = config.settings()
    agency = partners(settings).get(args.agency)
    if agency is None:
        parser.error(f"no agency {args.agency} in the systems file")
    password = sys.stdin.readline().strip()  # never on the command line (ps shows it)
    if not password:
        parser.error("give the agency user's password on standard input")
    vhost = config.vhost_of(settings.amqp_uri)
    provision(settings.rabbit_api_uri, vhost, agency, password)
    print(f"user {agency.amqp_user} may read {agency.queue} in {vhost}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
