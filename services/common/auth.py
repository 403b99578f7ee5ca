"""Staff and system credentials: HS256-signed JSON Web Tokens.

A token names who is calling (``sub``), their role and, for station staff, their
station. Every API verifies it with the keys from the environment; no service needs
another's database to authenticate a caller.

- Keys and rotation: ``SHEGONG_TOKEN_SECRETS="kid2:secret2,kid1:secret1"`` (the first
  signs, every one listed is accepted; the token header names its ``kid``), or a single
  ``SHEGONG_TOKEN_SECRET`` (no ``kid``). A rotation puts the new key first and keeps the
  old one listed for the grace period: the longest token lifetime.
- Lifetime: every token carries ``exp``; a token living longer than
  ``SHEGONG_TOKEN_TTL_S`` (default 12 h), or without ``exp``, is refused.
- Revocation: a per-subject "not before" in ``SHEGONG_TOKEN_REVOCATIONS_FILE``; tokens
  of that subject issued before it are refused (``python -m services.common.credentials
  revoke <subject>``).
"""
import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

ROLES = ("worker", "station_head", "operator", "district_admin")
DEFAULT_TTL_S = 12 * 3600
CLOCK_SKEW_S = 300  # a token "issued" further in the future than this is forged or wrong


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    station: str = None
    name: str = None

    @property
    def district_wide(self):
        return self.role == "district_admin"

    def may_see_station(self, station):
        return self.district_wide or self.station == station


class Keyring:
    """The token signing keys: ``(kid, secret)`` pairs, the current (signing) one first."""

    def __init__(self, keys):
        self.keys = tuple((kid, secret) for kid, secret in keys if secret)

    @classmethod
    def parse(cls, secrets_text="", single_secret=""):
        """From ``SHEGONG_TOKEN_SECRETS`` ("kid:secret,..."), else the single secret."""
        keys = []
        for entry in (secrets_text or "").split(","):
            kid, sep, secret = entry.strip().partition(":")
            if entry.strip() and (not sep or not kid or not secret):
                raise ValueError("SHEGONG_TOKEN_SECRETS entries are kid:secret")
            if entry.strip():
                keys.append((kid, secret))
        if len({kid for kid, _ in keys}) != len(keys):
            raise ValueError("SHEGONG_TOKEN_SECRETS names a kid twice")
        return cls(keys or [(None, single_secret)])

    def __bool__(self):
        return bool(self.keys)

    @property
    def current(self):
        return self.keys[0] if self.keys else (None, "")

    def secret_for(self, kid):
        """The secret a token's ``kid`` names; a token naming none is the current key's."""
        if kid is None:
            return self.current[1]
        return next((secret for known, secret in self.keys if known == kid), None)


def keyring(settings):
    return Keyring.parse(settings.token_secrets, settings.token_secret)


def _as_keyring(secret):
    return secret if isinstance(secret, Keyring) else Keyring([(None, secret)])


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret, signed):
    return hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()


def issue_token(secret, subject, role, station=None, name=None, ttl_s=None, now=None):
    """A token for one staff member (``secret``: a string, or a Keyring whose current key
    signs and is named in the header). It expires after ``ttl_s`` (default 12 h)."""
    kid, key = _as_keyring(secret).current
    if not key:
        raise ValueError("no token secret configured")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iat": issued,
              "exp": issued + int(ttl_s or DEFAULT_TTL_S)}
    if station:
        claims["station"] = station
    if name:
        claims["name"] = name
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signed = f"{_b64(json.dumps(header).encode())}." \
             f"{_b64(json.dumps(claims, ensure_ascii=False).encode('utf-8'))}"
    return f"{signed}.{_b64(_sign(key, signed))}"


def verify_token(secret, token, now=None, revocations=None, max_ttl_s=DEFAULT_TTL_S):
    """Return the Principal of a valid token; raise InvalidToken otherwise.

    ``secret``: a string or a Keyring; ``revocations``: a Revocations (or None)."""
    keys = _as_keyring(secret)
    if not keys:
        raise InvalidToken("authentication is not configured")
    try:
        header, payload, signature = token.split(".")
        fields = json.loads(_unb64(header))
        if not isinstance(fields, dict) or fields.get("alg") != "HS256":
            raise InvalidToken("unsupported algorithm")
        key = keys.secret_for(fields.get("kid"))
        if not key:
            raise InvalidToken("unknown signing key")
        if not hmac.compare_digest(_unb64(signature), _sign(key, f"{header}.{payload}")):
            raise InvalidToken("bad signature")
        claims = json.loads(_unb64(payload))
        if not isinstance(claims, dict):
            raise InvalidToken("malformed token")
    except InvalidToken:
        raise
    except Exception:  # noqa: BLE001 - any malformed token is just invalid
        raise InvalidToken("malformed token") from None
    _check_lifetime(claims, now if now is not None else time.time(), max_ttl_s)
    if claims.get("role") not in ROLES or not claims.get("sub") \
            or not isinstance(claims["sub"], str):
        raise InvalidToken("token lacks a subject or a known role")
    if claims["role"] != "district_admin" and not claims.get("station"):
        raise InvalidToken("station staff token without a station")
    if revocations is not None and claims["iat"] < revocations.not_before(claims["sub"]):
        raise InvalidToken("token revoked")
    return Principal(claims["sub"], claims["role"], claims.get("station"), claims.get("name"))


def _check_lifetime(claims, now, max_ttl_s):
    issued, expires = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (issued, expires)):
        raise InvalidToken("token without iat and exp")
    if expires < now:
        raise InvalidToken("token expired")
    if issued > now + CLOCK_SKEW_S:
        raise InvalidToken("token issued in the future")
    if max_ttl_s and expires - issued > max_ttl_s:
        raise InvalidToken("token lifetime exceeds the maximum")


class Revocations:
    """Per-subject "not before" times (epoch seconds) in a JSON file
    ``{"not_before": {"<subject>": <epoch s>}}``, re-read when the file changes. A file
    that exists but cannot be read refuses every token (fail closed)."""

    def __init__(self, path):
        self.path = str(path) if path else ""
        self._lock = threading.Lock()
        self._stamp, self._table = None, {}

    def not_before(self, subject):
        return self._current().get(subject, 0)

    def _current(self):
        try:
            stat = os.stat(self.path) if self.path else None
        except FileNotFoundError:
            stat = None
        stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
        with self._lock:
            if stamp != self._stamp:
                self._table = self._read() if stat else {}
                self._stamp = stamp
            return self._table

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                table = json.load(handle)["not_before"]
            return {str(subject): float(at) for subject, at in table.items()}
        except Exception as exc:  # noqa: BLE001 - unreadable: refuse rather than let in
            log.error("token revocation file %s unreadable (%s); refusing every token",
                      self.path, type(exc).__name__)
            return _RefuseAll()


class _RefuseAll(dict):
    def get(self, key, default=None):
        return float("inf")


def revoke(path, subject, now=None):
    """Refuse every token of ``subject`` issued up to now; new ones are accepted."""
    table = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            table = json.load(handle).get("not_before", {})
    table[subject] = int(now if now is not None else time.time()) + 1
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"not_before": table}, handle, ensure_ascii=False, indent=2)
    os.replace(temporary, path)  # readers see the old file or the new one, never half
    return table[subject]
