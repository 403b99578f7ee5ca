"""Partner agencies a case can be referred to: configuration, not code.

The agencies file (``SHEGONG_AGENCIES_FILE``, default ``services/common/data/agencies.json``)
names each agency with its declared purpose (which resident fields it may receive,
everything else leaves masked or not at all) and how referrals reach it: ``amqp`` (it
consumes its own queue ``shegong.outbound.<id>`` as its own RabbitMQ user) or ``webhook``
(notifications POSTs each referral to its URL, signed with HMAC-SHA256 under its secret
from ``SHEGONG_WEBHOOK_SECRETS``, never from the file). Shared by casework (which agencies
exist, what each receives, which queues to declare) and notifications (webhook URLs),
and read here only. An agency answers as an external system of intake's systems registry
(``SHEGONG_INBOUND_SYSTEMS_FILE``), under the same id: its API key and AMQP user are
intake's to know. Its RabbitMQ user: ``python -m services.ops.agencies provision``.
"""

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlparse

from services.common.privacy import mask_id_number, mask_name, mask_phone

DEFAULT_FILE = Path(__file__).with_name("data") / "agencies.json"
ANSWER_TYPE = "gov.suyu.agency.referral_answered.v1"
SIGNATURE_HEADER = "X-Shegong-Signature"
TIMESTAMP_HEADER = "X-Shegong-Timestamp"
# What a purpose may name; anything not named leaves masked (name, phone) or not at all.
RESIDENT_FIELDS = ("name", "phone", "id_number", "categories", "emergency_contacts")
CASE_FIELDS = ("need_description", "note")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Agency:
    id: str  # the same as its system's in intake's systems registry (its answers)
    name: str
    purpose: str
    receives: frozenset  # e.g. {"resident.phone", "need_description"}
    delivery: str  # "amqp" or "webhook"
    webhook_url: Optional[str] = None

    @property
    def queue(self) -> str:
        return f"shegong.outbound.{self.id}"


def _agency(entry: dict) -> Agency:
    receives = frozenset(entry.get("receives", ()))
    known = {f"resident.{f}" for f in RESIDENT_FIELDS} | set(CASE_FIELDS)
    if receives - known:
        raise ValueError(f"agency {entry['id']!r}: unknown fields {sorted(receives - known)}")
    delivery = entry.get("delivery", "amqp")
    if delivery not in ("amqp", "webhook"):
        raise ValueError(f"agency {entry['id']!r}: delivery is amqp or webhook")
    url = urlparse(entry.get("webhook_url") or "")
    if delivery == "webhook" and not (
        url.scheme == "https"
        or (url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost"))
    ):
        # personal data leaves in the body: only over TLS (plain HTTP on this host only)
        raise ValueError(f"agency {entry['id']!r}: a webhook agency needs an https webhook_url")
    return Agency(
        id=entry["id"],
        name=entry.get("name", entry["id"]),
        purpose=entry["purpose"],
        receives=receives,
        delivery=delivery,
        webhook_url=entry.get("webhook_url"),
    )


@lru_cache(maxsize=8)
def _load(path: str) -> dict:
    if Path(path).resolve() == DEFAULT_FILE.resolve():
        # its webhook points at this host: fine on a laptop, never in production
        log.warning(
            "partner agencies: the development file %s; set SHEGONG_AGENCIES_FILE outside "
            "development",
            DEFAULT_FILE.name,
        )
    entries = json.loads(Path(path).read_text(encoding="utf-8"))["agencies"]
    return {entry["id"]: _agency(entry) for entry in entries}


def partners_in(path) -> dict:
    """Agency id -> Agency, of an agencies file."""
    return _load(str(path))


def partners(settings) -> dict:
    """Agency id -> Agency, for this process's agencies file (read once per file)."""
    return _load(settings.agencies_file or str(DEFAULT_FILE))


def outbound_queues(settings) -> list:
    """The queues (of ``settings.queue_type``) of the AMQP agencies in the agencies file
    ``settings`` names, declared by casework (which publishes their referrals) so that
    nothing sent to an agency is unroutable."""
    from services.common.topology import agency_queue

    return [
        agency_queue(agency, settings.queue_type)
        for _, agency in sorted(partners(settings).items())
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
