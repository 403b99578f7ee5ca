"""No one gets in: every route of every API (enumerated from the route tables, so a new
route is covered the day it is added) refuses a missing, malformed, forged, expired,
revoked or unknown-key token; another station's staff never get Daxing's records;
role-restricted routes refuse the roles they exclude. Over real HTTP."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from services.common import auth, revocations, token_keys
from tests.security_support import PUBLIC, STATION, endpoints

OLD_KEY, NEW_KEY = ("k-old", "old-" + "o" * 40), ("k-new", "new-" + "n" * 40)
# routes only some roles may use: (method, rule) -> callers who must get 403
ROLE_ONLY = {
    ("GET", "/v1/access-log"): ("worker", "head", "operator"),
    ("GET", "/v1/access-log/verify"): ("worker", "head", "operator"),
    ("POST", "/v1/cases/<case_id>/reassign"): ("worker", "colleague", "operator"),
    ("POST", "/v1/cases/<case_id>/accept"): ("colleague", "operator", "head"),
}
# once the case is accepted: only its worker (or the head) works on it
OWNER_ONLY = {
    ("POST", "/v1/cases/<case_id>/resolve"): ("colleague", "operator"),
    ("POST", "/v1/cases/<case_id>/actions"): ("colleague", "operator"),
    ("POST", "/v1/cases/<case_id>/refer"): ("colleague", "operator"),
}


@pytest.fixture
def apis(monkeypatch, apis_with):
    """The APIs with two signing keys: the new one current, the old one still listed."""
    monkeypatch.setenv(
        "SHEGONG_TOKEN_SECRETS", f"{NEW_KEY[0]}:{NEW_KEY[1]},{OLD_KEY[0]}:{OLD_KEY[1]}"
    )
    return apis_with()


def _b64(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _signed(header, payload_text, secret):
    """A token whose payload is written as text: PyJWT never writes NaN; a forger might."""
    text = base64.urlsafe_b64encode(payload_text.encode()).rstrip(b"=").decode()
    signed = f"{_b64(header)}.{text}"
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def bad_tokens(settings, revocations_file):
    """Tokens that must each get 401, by what is wrong with them."""
    admin = ("district-admin", "district_admin")
    good = auth.issue_token(token_keys.keyring(settings), *admin)
    header, payload, signature = good.split(".")
    revocations.revoke(revocations_file, "revoked-admin")
    now, kid = int(time.time()), {"alg": "HS256", "kid": NEW_KEY[0]}
    claims = {"sub": "district-admin", "role": "district_admin", "iat": now, "exp": now + 60}
    return {
        "exp NaN": _signed(kid, json.dumps({**claims, "exp": float("nan")}), NEW_KEY[1]),
        "exp Infinity": _signed(kid, json.dumps({**claims, "exp": float("inf")}), NEW_KEY[1]),
        "iat 1e999": _signed(
            kid, json.dumps(claims).replace(f'"iat": {now}', '"iat": 1e999'), NEW_KEY[1]
        ),
        "no sub (PyJWT)": jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"},
            NEW_KEY[1],
            algorithm="HS256",
            headers={"kid": NEW_KEY[0]},
        ),
        "HS512 (PyJWT)": jwt.encode(
            claims, NEW_KEY[1], algorithm="HS512", headers={"kid": NEW_KEY[0]}
        ),
        "garbage": "not-a-token",
        "empty parts": "..",
        "wrong secret": auth.issue_token(token_keys.Keyring([(NEW_KEY[0], "guessed")]), *admin),
        "unknown kid": auth.issue_token(token_keys.Keyring([("k-gone", NEW_KEY[1])]), *admin),
        "alg none": f"{_b64({'alg': 'none', 'kid': NEW_KEY[0]})}.{payload}.",
        "payload swapped": f"{header}.{_b64({'sub': 'x', 'role': 'district_admin'})}.{signature}",
        "expired": auth.issue_token(token_keys.keyring(settings), *admin, ttl_s=60, now=1_000_000),
        "too long lived": auth.issue_token(
            token_keys.keyring(settings), *admin, ttl_s=settings.token_ttl_s * 10
        ),
        "revoked": auth.issue_token(
            token_keys.keyring(settings), "revoked-admin", "district_admin", now=time.time() - 5
        ),
    }


def test_every_route_that_is_not_public_needs_a_token(apis):
    public = {route.path for app in apis.apps.values() for route in app.routes if route.public}
    assert public <= PUBLIC, f"new public routes: {public - PUBLIC}"
    for endpoint in endpoints(apis.apps):
        for headers in (
            {},
            {"Authorization": "Basic ZGlzdHJpY3Q6YWRtaW4="},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer   "},
        ):
            answer = apis.call(endpoint, headers=headers)
            assert answer.status_code == 401, (str(endpoint), headers, answer.text)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert answer.json()["error"]["code"] == "unauthenticated"


def test_every_route_refuses_bad_tokens(apis):
    tokens = bad_tokens(apis.settings, apis.settings.token_revocations_file)
    for endpoint in endpoints(apis.apps):
        for why, token in tokens.items():
            answer = apis.call(endpoint, who=token)
            assert answer.status_code == 401, (str(endpoint), why, answer.text)


def test_keys_rotate_without_locking_anyone_out(apis):
    """Tokens signed with the previous key still work while it is listed; new ones are
    signed with the current key."""
    old = auth.issue_token(token_keys.Keyring([OLD_KEY]), "district-admin", "district_admin")
    new = auth.issue_token(token_keys.keyring(apis.settings), "district-admin", "district_admin")
    assert json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))["kid"] == NEW_KEY[0]
    for endpoint in endpoints(apis.apps):
        if endpoint.method == "GET":
            for token in (old, new):
                answer = apis.call(endpoint, who=token)
                assert answer.status_code == 200, (str(endpoint), answer.text)


def test_a_revoked_staff_member_is_refused_everywhere_at_once(apis):
    gets = [e for e in endpoints(apis.apps) if e.method == "GET"]
    assert all(
        apis.call(e, who="head").status_code == 200
        for e in gets
        if e.rule not in ("/v1/access-log", "/v1/access-log/verify")
    )
    revocations.revoke(apis.settings.token_revocations_file, "dx-02")
    for endpoint in gets:
        assert apis.call(endpoint, who="head").status_code == 401, str(endpoint)
    assert apis.call(gets[0], who="worker").status_code != 401  # only dx-02 was revoked


def test_another_stations_staff_never_get_daxings_records(apis):
    markers = apis.daxing_markers()
    checked = 0
    for endpoint in endpoints(apis.apps):
        for who in ("other_worker", "other_head"):
            answer = apis.call(endpoint, who=who)
            if answer.status_code == 200:
                leaked = [m for m in markers if m in answer.text]
                assert not leaked, (str(endpoint), who, leaked)
            else:
                assert answer.status_code in (403, 404), (str(endpoint), who, answer.text)
                checked += 1
    assert checked >= len(endpoints(apis.apps))  # most routes are about one station's records


def test_station_staff_and_the_district_reach_daxings_records(apis):
    """The same calls the other station is refused work for Daxing's own staff (so the
    refusals above are about the station, not a broken call)."""
    for endpoint in endpoints(apis.apps):
        if endpoint.method != "GET" or (endpoint.method, endpoint.rule) in ROLE_ONLY:
            continue
        for who in ("admin", "head"):
            answer = apis.call(endpoint, who=who)
            assert answer.status_code == 200, (str(endpoint), who, answer.text)


def test_roles_are_enforced(apis):
    routes = {(e.method, e.rule): e for e in endpoints(apis.apps)}
    assert set(ROLE_ONLY) | set(OWNER_ONLY) <= set(routes)

    def refused(table):
        for key, callers in table.items():
            for who in callers:
                answer = apis.call(routes[key], who=who)
                assert answer.status_code == 403, (key, who, answer.text)

    refused(ROLE_ONLY)
    # and the roles allowed are let through
    assert apis.call(routes[("GET", "/v1/access-log")], who="admin").status_code == 200
    accepted = apis.call(routes[("POST", "/v1/cases/<case_id>/accept")], who="worker")
    assert accepted.status_code == 200, accepted.text
    refused(OWNER_ONLY)
    acted = apis.call(routes[("POST", "/v1/cases/<case_id>/actions")], who="worker")
    assert acted.status_code == 200, acted.text
    reassigned = apis.call(routes[("POST", "/v1/cases/<case_id>/reassign")], who="head")
    assert reassigned.status_code == 200 and reassigned.json()["assignee"]["id"] == "dx-03"
    assert reassigned.json()["station"] == STATION
