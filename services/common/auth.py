"""Staff and system credentials: HS256-signed JSON Web Tokens, signed and checked by PyJWT.

A token names who is calling (``sub``), their role and, for station staff, their
station. Every API verifies it with the keys from the environment; no service needs
another's database to authenticate a caller.

- Keys and rotation: ``SHEGONG_TOKEN_SECRETS="kid2:secret2,kid1:secret1"`` (the first
  signs, every one listed is accepted; the token header names its ``kid``), or a single
  ``SHEGONG_TOKEN_SECRET`` (no ``kid``). A rotation puts the new key first and keeps the
  old one listed for the grace period: the longest token lifetime.
- Checks: PyJWT verifies the signature with the one algorithm listed (HS256: ``none``
  and every other ``alg`` are refused) and requires ``exp``, ``iat``, ``sub`` and
  ``role``; time claims must be finite numbers of seconds (``NaN``, ``Infinity``,
  ``1e999`` or a year past 9999 are refused, as is any non-finite number in the payload).
- Lifetime: every token carries ``exp``; a token living longer than
  ``SHEGONG_TOKEN_TTL_S`` (default 12 h), or without ``exp``, is refused.
- Revocation: a per-subject "not before" in ``SHEGONG_TOKEN_REVOCATIONS_FILE``; tokens
  of that subject issued before it are refused (``python -m services.common.credentials
  revoke <subject>``).

The keys are token_keys.py's, the revocations revocations.py's.
"""

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    InvalidAlgorithmError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MissingRequiredClaimError,
)
from jwt.types import Options

from services.common.revocations import Revocations
from services.common.token_keys import Keyring, as_keyring

ROLES = ("worker", "station_head", "operator", "district_admin")
DEFAULT_TTL_S = 12 * 3600
CLOCK_SKEW_S = 300  # a token "issued" further in the future than this is forged or wrong


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    station: str | None = None
    name: str | None = None

    @property
    def district_wide(self):
        return self.role == "district_admin"

    def may_see_station(self, station):
        return self.district_wide or self.station == station


ALGORITHMS = ["HS256"]  # explicit: a token naming any other algorithm ("none") is refused
REQUIRED_CLAIMS = ["exp", "iat", "sub", "role"]
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_EPOCH_S = 253402300799  # 9999-12-31T23:59:59Z: a later "time" is no time at all


class _StrictJWT(jwt.PyJWT):
    """PyJWT, reading the payload as strict JSON: ``NaN``, ``Infinity`` and numbers too
    large for a float (``1e999``) are refused rather than compared as times."""

    def _decode_payload(self, decoded: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = json.loads(
                decoded["payload"], parse_constant=_refuse_constant, parse_float=_finite_float
            )
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"invalid payload: {exc}") from None
        if not isinstance(payload, dict):
            raise DecodeError("the payload is not a JSON object")
        return payload


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


_JWT = _StrictJWT()
# PyJWT checks the signature, the algorithm and that the claims are there; the times are
# checked below against one clock the caller may give (tests, the CLI), with the maximum
# lifetime and the clock skew PyJWT has no notion of.
_DECODE_OPTIONS: Options = {
    "require": REQUIRED_CLAIMS,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": True,
    "verify_sub": True,
}


def issue_token(
    secret: str | Keyring,
    subject: str,
    role: str,
    station: str | None = None,
    name: str | None = None,
    ttl_s: int | None = None,
    now: float | None = None,
) -> str:
    """A token for one staff member (``secret``: a string, or a Keyring whose current key
    signs and is named in the header). It expires after ``ttl_s`` (default 12 h)."""
    kid, key = as_keyring(secret).current
    if not key:
        raise ValueError("no token secret configured")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + int(ttl_s or DEFAULT_TTL_S),
    }
    if station:
        claims["station"] = station
    if name:
        claims["name"] = name
    return _JWT.encode(claims, key, algorithm=ALGORITHMS[0], headers={"kid": kid} if kid else None)


def verify_token(
    secret: str | Keyring,
    token: str,
    now: float | None = None,
    revocations: Revocations | None = None,
    max_ttl_s: int | None = DEFAULT_TTL_S,
) -> Principal:
    """Return the Principal of a valid token; raise InvalidToken (saying why) otherwise.

    ``secret``: a string or a Keyring; ``revocations``: a Revocations (or None)."""
    keys = as_keyring(secret)
    if not keys:
        raise InvalidToken("authentication is not configured")
    claims = _verified_claims(keys, token)
    _check_lifetime(claims, now if now is not None else time.time(), max_ttl_s)
    if claims.get("role") not in ROLES or not claims["sub"]:
        raise InvalidToken("token lacks a subject or a known role")
    station = claims.get("station")
    if station is not None and not isinstance(station, str):
        raise InvalidToken("malformed token: station is not a string")
    if claims["role"] != "district_admin" and not station:
        raise InvalidToken("station staff token without a station")
    name = claims.get("name")
    if revocations is not None and claims["iat"] < revocations.not_before(claims["sub"]):
        raise InvalidToken("token revoked")
    return Principal(
        claims["sub"], claims["role"], station, name if isinstance(name, str) else None
    )


def _verified_claims(keys: Keyring, token: str) -> dict[str, Any]:
    """The claims of a token signed with the key its ``kid`` names, by PyJWT."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except InvalidTokenError as exc:  # not three parts, a header that is not JSON, ...
        raise InvalidToken(f"malformed token: {exc}") from None
    if kid is not None and not isinstance(kid, str):
        raise InvalidToken("malformed token: kid is not a string")
    key = keys.secret_for(kid)
    if not key:
        raise InvalidToken("unknown signing key")
    try:
        return _JWT.decode(token, key, algorithms=ALGORITHMS, options=_DECODE_OPTIONS)
    except InvalidSignatureError:
        raise InvalidToken("bad signature") from None
    except InvalidAlgorithmError:
        raise InvalidToken("unsupported algorithm") from None
    except MissingRequiredClaimError as exc:
        if exc.claim in ("iat", "exp"):
            raise InvalidToken("token without iat and exp") from None
        raise InvalidToken("token lacks a subject or a known role") from None
    except InvalidSubjectError:
        raise InvalidToken("token lacks a subject or a known role") from None
    except InvalidTokenError as exc:
        raise InvalidToken(f"malformed token: {exc}") from None


def _check_lifetime(claims: dict[str, Any], now: float, max_ttl_s: int | None) -> None:
    for claim in TIME_CLAIMS:
        value = claims.get(claim)
        if claim == "nbf" and value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value <= MAX_EPOCH_S
        ):
            raise InvalidToken(
                f"token without iat and exp as times ({claim} is not a finite number of seconds)"
            )
    issued, expires = claims["iat"], claims["exp"]
    if expires < now:
        raise InvalidToken("token expired")
    if issued > now + CLOCK_SKEW_S or claims.get("nbf", 0) > now + CLOCK_SKEW_S:
        raise InvalidToken("token issued in the future")
    if max_ttl_s and expires - issued > max_ttl_s:
        raise InvalidToken("token lifetime exceeds the maximum")
