"""The external government systems allowed to send events in: configuration, not code.

Each system has an id, the CloudEvents ``source`` it sends as, the SHA-256 of its API
key (the key itself is never stored; during a changeover ``key_sha256`` lists two: the
new key and the old one, both accepted until the old one is removed), optionally the
RabbitMQ user it publishes as, and the event types it may send. Onboarding a system is
adding an entry to the file named by ``SHEGONG_INBOUND_SYSTEMS_FILE`` (default:
``services/intake/systems.json``).
"""

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_FILE = Path(__file__).with_name("systems.json")
log = logging.getLogger(__name__)


def key_digest(key):
    """What the registry stores of a key. API keys are long random strings, so a plain
    SHA-256 is enough (a password hash would only slow every call down)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExternalSystem:
    id: str
    name: str
    source: str
    key_sha256: str
    event_types: frozenset
    amqp_user: str | None = None
    previous_key_sha256: tuple = ()  # still accepted during a key changeover

    def key_matches(self, key):
        if not key:
            return False
        digest = key_digest(key)
        # every hash is compared, so the time taken does not tell which one matched
        matches = [
            hmac.compare_digest(digest, known)
            for known in (self.key_sha256, *self.previous_key_sha256)
        ]
        return any(matches)

    def may_send(self, event_type):
        return event_type in self.event_types


class ExternalSystems:
    def __init__(self, systems):
        self.systems = {system.id: system for system in systems}
        self._by_source = {system.source: system for system in systems}
        if len(self._by_source) != len(self.systems):
            raise ValueError("two external systems share a CloudEvents source")

    @classmethod
    def from_json(cls, text):
        entries = json.loads(text)["systems"]
        if any("agency" in entry for entry in entries):
            # an agency's purpose and delivery moved out of this file: a registry written
            # before would otherwise leave its agencies silently unknown to casework
            log.warning(
                'external systems: the "agency" blocks of this registry are not read; '
                "partner agencies are in SHEGONG_AGENCIES_FILE (docs/agencies.md)"
            )
        return cls(
            [
                ExternalSystem(
                    id=entry["id"],
                    name=entry.get("name", entry["id"]),
                    source=entry["source"],
                    key_sha256=_hashes(entry)[0],
                    event_types=frozenset(entry["event_types"]),
                    amqp_user=entry.get("amqp_user"),
                    previous_key_sha256=_hashes(entry)[1:],
                )
                for entry in entries
            ]
        )

    def for_source(self, source):
        return self._by_source.get(source)

    def for_key(self, key):
        """The system this API key belongs to, or None."""
        if not key:
            return None
        return next((s for s in self.systems.values() if s.key_matches(key)), None)


def _hashes(entry):
    """``key_sha256``: one hex SHA-256, or at most two during a changeover (new first)."""
    given = entry["key_sha256"]
    hashes = tuple(h.lower() for h in ([given] if isinstance(given, str) else given))
    if not 1 <= len(hashes) <= 2 or not all(
        len(h) == 64 and set(h) <= set("0123456789abcdef") for h in hashes
    ):
        raise ValueError(
            f"system {entry.get('id')!r}: key_sha256 is one or two SHA-256 hex digests"
        )
    return hashes


@lru_cache(maxsize=8)
def _load(path):
    if Path(path).resolve() == DEFAULT_FILE.resolve():
        # its keys are published in docs/intake.md: fine on a laptop, never in production
        log.warning(
            "external systems: the development registry %s (keys published in "
            "docs/intake.md); set SHEGONG_INBOUND_SYSTEMS_FILE outside development",
            DEFAULT_FILE.name,
        )
    return ExternalSystems.from_json(Path(path).read_text(encoding="utf-8"))


def external_systems(settings):
    """The external systems configured for this process (read once per file)."""
    return _load(settings.inbound_systems_file or str(DEFAULT_FILE))
