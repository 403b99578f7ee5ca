"""Staff and system credentials: HS256-signed JSON Web Tokens.

A token names who is calling (``sub``), their role and, for station staff, their
station. Every API verifies it with the secret from ``SHEGONG_TOKEN_SECRET``; no
service needs another's database to authenticate a caller.
"""
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

ROLES = ("worker", "station_head", "operator", "district_admin")


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


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(secret, subject, role, station=None, name=None, ttl_s=None, now=None):
    if not secret:
        raise ValueError("no token secret configured")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iat": issued}
    if station:
        claims["station"] = station
    if name:
        claims["name"] = name
    if ttl_s:
        claims["exp"] = issued + int(ttl_s)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, ensure_ascii=False).encode("utf-8"))
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


def verify_token(secret, token, now=None):
    """Return the Principal of a valid token; raise InvalidToken otherwise."""
    if not secret:
        raise InvalidToken("authentication is not configured")
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_unb64(signature), expected.digest()):
            raise InvalidToken("bad signature")
        if json.loads(_unb64(header)).get("alg") != "HS256":
            raise InvalidToken("unsupported algorithm")
        claims = json.loads(_unb64(payload))
    except InvalidToken:
        raise
    except Exception:  # noqa: BLE001 - any malformed token is just invalid
        raise InvalidToken("malformed token") from None
    if "exp" in claims and claims["exp"] < (now if now is not None else time.time()):
        raise InvalidToken("token expired")
    if claims.get("role") not in ROLES or not claims.get("sub"):
        raise InvalidToken("token lacks a subject or a known role")
    if claims["role"] != "district_admin" and not claims.get("station"):
        raise InvalidToken("station staff token without a station")
    return Principal(claims["sub"], claims["role"], claims.get("station"), claims.get("name"))
