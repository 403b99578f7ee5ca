"""Staff tokens are PyJWT tokens: one algorithm, required claims, finite times, rotated
keys and revocation. Tokens here are made by PyJWT itself (as a third-party client
would) or byte by byte where PyJWT would refuse to make them."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from services.common import auth, token_keys
from services.common.revocations import Revocations, revoke

NOW = 1_800_000_000
SECRET = "s3cret-" + "x" * 32
GOOD = {"sub": "dx-01", "role": "worker", "station": "daxing", "iat": NOW, "exp": NOW + 600}


def raw_token(payload_text, secret=SECRET, header=None):
    """A token with a payload written as text (PyJWT never writes NaN; a forger might)."""

    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signed = f"{b64(json.dumps(header or {'alg': 'HS256'}).encode())}.{b64(payload_text.encode())}"
    signature = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(signature)}"


def test_a_token_made_by_pyjwt_with_the_shared_secret_is_accepted():
    token = jwt.encode(GOOD, SECRET, algorithm="HS256")
    principal = auth.verify_token(SECRET, token, now=NOW)
    assert (principal.id, principal.role, principal.station) == ("dx-01", "worker", "daxing")
    assert (
        jwt.decode(
            auth.issue_token(SECRET, "dx-01", "worker", "daxing"), SECRET, algorithms=["HS256"]
        )["sub"]
        == "dx-01"
    )


@pytest.mark.parametrize(
    "exp",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "1e300",
        str(10**30),
        "-1",
        "true",
        "null",
        '"9e99"',
        "[1]",
    ],
)
def test_an_expiry_that_is_not_a_finite_time_is_refused(exp):
    payload = json.dumps({**GOOD, "exp": 0}).replace('"exp": 0', f'"exp": {exp}')
    with pytest.raises(auth.InvalidToken):
        auth.verify_token(SECRET, raw_token(payload), now=NOW)


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e999", str(10**20)])
def test_other_time_claims_that_are_not_finite_are_refused(claim, value):
    payload = json.dumps({**GOOD, claim: 0}).replace(f'"{claim}": 0', f'"{claim}": {value}')
    with pytest.raises(auth.InvalidToken):
        auth.verify_token(SECRET, raw_token(payload), now=NOW)


def test_a_non_finite_number_anywhere_in_the_payload_is_refused():
    payload = json.dumps(GOOD)[:-1] + ', "level": NaN}'
    with pytest.raises(auth.InvalidToken, match="malformed"):
        auth.verify_token(SECRET, raw_token(payload), now=NOW)
    assert auth.verify_token(SECRET, raw_token(json.dumps(GOOD)), now=NOW).id == "dx-01"


def test_a_not_yet_valid_token_is_refused():
    token = jwt.encode({**GOOD, "nbf": NOW + 3600}, SECRET, algorithm="HS256")
    with pytest.raises(auth.InvalidToken, match="future"):
        auth.verify_token(SECRET, token, now=NOW)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_properly_signed_token_with_another_algorithm_is_refused(algorithm):
    token = jwt.encode(GOOD, SECRET + "y" * 32, algorithm=algorithm)
    with pytest.raises(auth.InvalidToken, match="unsupported algorithm"):
        auth.verify_token(SECRET + "y" * 32, token, now=NOW)


def test_alg_none_is_refused_even_without_a_signature():
    token = jwt.encode(GOOD, None, algorithm="none")
    assert token.endswith(".")
    with pytest.raises(auth.InvalidToken, match="unsupported algorithm"):
        auth.verify_token(SECRET, token, now=NOW)


@pytest.mark.parametrize(
    "missing, reason",
    [
        ("exp", "without iat and exp"),
        ("iat", "without iat and exp"),
        ("sub", "subject"),
        ("role", "known role"),
        ("station", "without a station"),
    ],
)
def test_a_token_without_a_required_claim_is_refused(missing, reason):
    claims = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(auth.InvalidToken, match=reason):
        auth.verify_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"), now=NOW)


@pytest.mark.parametrize(
    "claims", [{"sub": ""}, {"sub": 7}, {"station": ["daxing"]}, {"aud": "someone-else"}]
)
def test_claims_of_the_wrong_shape_are_refused(claims):
    token = jwt.encode({**GOOD, **claims}, SECRET, algorithm="HS256")
    with pytest.raises(auth.InvalidToken):
        auth.verify_token(SECRET, token, now=NOW)


def test_a_kid_that_is_not_a_string_is_refused():
    token = raw_token(json.dumps(GOOD), header={"alg": "HS256", "kid": 1})
    with pytest.raises(auth.InvalidToken, match="Key ID|kid"):
        auth.verify_token(token_keys.Keyring.parse(f"k1:{SECRET}"), token, now=NOW)


def test_rotation_names_the_key_and_ends_when_the_old_key_is_dropped():
    old_ring = token_keys.Keyring.parse(f"k1:{SECRET}")
    during = token_keys.Keyring.parse(f"k2:{SECRET}-new,k1:{SECRET}")
    old = auth.issue_token(old_ring, "dx-01", "worker", "daxing", now=NOW)
    new = auth.issue_token(during, "dx-01", "worker", "daxing", now=NOW)
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    assert auth.verify_token(during, old, now=NOW).id == auth.verify_token(during, new, now=NOW).id
    after = token_keys.Keyring.parse(f"k2:{SECRET}-new")
    assert auth.verify_token(after, new, now=NOW)
    with pytest.raises(auth.InvalidToken, match="unknown signing key"):
        auth.verify_token(after, old, now=NOW)
    forged = jwt.encode(GOOD, SECRET, algorithm="HS256", headers={"kid": "k2"})
    with pytest.raises(auth.InvalidToken, match="bad signature"):
        auth.verify_token(during, forged, now=NOW)


def test_a_revoked_subjects_pyjwt_token_is_refused(tmp_path):
    path = tmp_path / "revocations.json"
    token = jwt.encode(GOOD, SECRET, algorithm="HS256")
    revocations = Revocations(path)
    assert auth.verify_token(SECRET, token, now=NOW, revocations=revocations)
    revoke(path, "dx-01", now=NOW)
    with pytest.raises(auth.InvalidToken, match="revoked"):
        auth.verify_token(SECRET, token, now=NOW, revocations=revocations)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "...",
        "eyJ.eyJ.x",
        "%%%.%%%.%%%",
        raw_token("[1, 2]"),
        raw_token('"text"'),
        raw_token("[" * 5000 + "]" * 5000),
    ],
)
def test_garbage_is_refused_as_malformed(token):
    with pytest.raises(auth.InvalidToken):
        auth.verify_token(SECRET, token, now=NOW)
