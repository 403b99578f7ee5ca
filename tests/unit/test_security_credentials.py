"""Credentials: token keys with rotation, lifetimes, per-subject revocation; external
systems' key changeover. Pure logic and files, no services."""

import base64
import hashlib
import hmac
import json

import pytest

from services.common import auth, config, token_keys
from services.common.revocations import Revocations, revoke
from services.intake.systems import ExternalSystems, key_digest
from services.ops import credentials

NOW = 1_800_000_000


def keys(text):
    return token_keys.Keyring.parse(text)


def test_the_current_key_signs_and_names_itself():
    token = auth.issue_token(
        keys("k2:new-secret,k1:old-secret"), "dx-01", "worker", "daxing", now=NOW
    )
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "k2"}
    assert auth.verify_token(keys("k2:new-secret"), token, now=NOW).id == "dx-01"
    with pytest.raises(auth.InvalidToken, match="bad signature"):
        auth.verify_token(keys("k2:another-secret"), token, now=NOW)


def test_a_rotation_accepts_the_previous_key_until_it_is_removed():
    before = auth.issue_token(keys("k1:old-secret"), "dx-01", "worker", "daxing", now=NOW)
    during = keys("k2:new-secret,k1:old-secret")
    assert auth.verify_token(during, before, now=NOW + 60).station == "daxing"
    with pytest.raises(auth.InvalidToken, match="unknown signing key"):
        auth.verify_token(keys("k2:new-secret"), before, now=NOW + 60)


def test_a_token_naming_one_key_but_signed_with_another_is_refused():
    signed_old = auth.issue_token(keys("k1:old-secret"), "x", "district_admin", now=NOW)
    header, payload, signature = signed_old.split(".")
    claims_k2 = (
        base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "k2"}).encode())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(auth.InvalidToken, match="bad signature"):
        auth.verify_token(
            keys("k2:new-secret,k1:old-secret"), f"{claims_k2}.{payload}.{signature}", now=NOW
        )


def test_the_single_secret_still_works_and_its_tokens_name_no_key():
    token = auth.issue_token("s3cret", "dx-01", "worker", "daxing", now=NOW)
    assert "kid" not in json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert auth.verify_token(keys("k9:s3cret"), token, now=NOW).id == "dx-01"  # the current one
    assert auth.verify_token("s3cret", token, now=NOW).id == "dx-01"


def test_rotation_settings_from_the_environment():
    settings = config.settings(
        {"SHEGONG_TOKEN_SECRETS": "k2:new, k1:old", "SHEGONG_TOKEN_SECRET": "ignored"}
    )
    assert settings.token_secret == "new"
    assert token_keys.keyring(settings).keys == (("k2", "new"), ("k1", "old"))
    assert not token_keys.keyring(config.settings({}))  # nothing configured: nothing accepted
    for bad in ("k1", "k1:", ":secret", "k1:a,k1:b"):
        with pytest.raises(ValueError):
            token_keys.Keyring.parse(bad)


def unsigned(claims, secret="s3cret", header=None):
    def b64(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signed = f"{b64(header or {'alg': 'HS256'})}.{b64(claims)}"
    signature = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"sub": "x", "role": "district_admin", "iat": NOW}, "without iat and exp"),
        ({"sub": "x", "role": "district_admin", "exp": NOW + 60}, "without iat and exp"),
        ({"sub": "x", "role": "district_admin", "iat": NOW - 100, "exp": NOW - 1}, "expired"),
        ({"sub": "x", "role": "district_admin", "iat": NOW, "exp": NOW + 10**8}, "lifetime"),
        ({"sub": "x", "role": "district_admin", "iat": NOW + 3600, "exp": NOW + 7200}, "future"),
        ({"sub": "x", "role": "district_admin", "iat": "0", "exp": "9e99"}, "without iat and exp"),
        ({"sub": ["x"], "role": "district_admin", "iat": NOW, "exp": NOW + 60}, "subject"),
        ({"sub": "x", "role": "root", "iat": NOW, "exp": NOW + 60}, "known role"),
        ({"sub": "x", "role": "worker", "iat": NOW, "exp": NOW + 60}, "without a station"),
    ],
)
def test_tokens_outside_their_lifetime_or_without_claims_are_refused(claims, reason):
    with pytest.raises(auth.InvalidToken, match=reason):
        auth.verify_token("s3cret", unsigned(claims), now=NOW)


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "HS512"}, ["HS256"]])
def test_only_hs256_is_accepted(header):
    token = unsigned(
        {"sub": "x", "role": "district_admin", "iat": NOW, "exp": NOW + 60}, header=header
    )
    with pytest.raises(auth.InvalidToken):
        auth.verify_token("s3cret", token, now=NOW)


def test_every_issued_token_expires():
    token = auth.issue_token("s3cret", "dx-01", "worker", "daxing", now=NOW)
    assert auth.verify_token("s3cret", token, now=NOW + auth.DEFAULT_TTL_S - 1)
    with pytest.raises(auth.InvalidToken, match="expired"):
        auth.verify_token("s3cret", token, now=NOW + auth.DEFAULT_TTL_S + 1)


def test_revoking_a_subject_refuses_its_earlier_tokens_only(tmp_path):
    path = tmp_path / "revocations.json"
    revocations = Revocations(path)
    old = auth.issue_token("s3cret", "dx-01", "worker", "daxing", now=NOW)
    other = auth.issue_token("s3cret", "dx-02", "worker", "daxing", now=NOW)
    assert auth.verify_token("s3cret", old, now=NOW + 5, revocations=revocations)
    revoke(path, "dx-01", now=NOW + 10)
    with pytest.raises(auth.InvalidToken, match="revoked"):
        auth.verify_token("s3cret", old, now=NOW + 20, revocations=revocations)
    assert auth.verify_token("s3cret", other, now=NOW + 20, revocations=revocations)
    fresh = auth.issue_token("s3cret", "dx-01", "worker", "daxing", now=NOW + 11)
    assert auth.verify_token("s3cret", fresh, now=NOW + 20, revocations=revocations)


def test_an_unreadable_revocation_file_lets_no_one_in(tmp_path):
    path = tmp_path / "revocations.json"
    path.write_text("{not json")
    token = auth.issue_token("s3cret", "dx-02", "worker", "daxing", now=NOW)
    with pytest.raises(auth.InvalidToken, match="revoked"):
        auth.verify_token("s3cret", token, now=NOW, revocations=Revocations(path))


def test_the_credentials_command_issues_and_revokes(tmp_path, capsys):
    env = {
        "SHEGONG_TOKEN_SECRETS": "k2:new-secret,k1:old-secret",
        "SHEGONG_TOKEN_REVOCATIONS_FILE": str(tmp_path / "revoked.json"),
        "SHEGONG_TOKEN_TTL_S": "600",
    }
    assert (
        credentials.main(["issue", "dx-01", "worker", "--station", "daxing", "--ttl", "99999"], env)
        == 0
    )
    token = capsys.readouterr().out.strip()
    settings = config.settings(env)
    revocations = Revocations(settings.token_revocations_file)
    principal = auth.verify_token(
        token_keys.keyring(settings), token, revocations=revocations, max_ttl_s=600
    )  # the lifetime asked for was capped
    assert (principal.id, principal.station) == ("dx-01", "daxing")
    assert credentials.main(["revoke", "dx-01"], env) == 0
    with pytest.raises(auth.InvalidToken, match="revoked"):
        auth.verify_token(token_keys.keyring(settings), token, revocations=revocations)


def registry_with(hashes):
    return ExternalSystems.from_json(
        json.dumps(
            {
                "systems": [
                    {
                        "id": "civil-affairs",
                        "source": "/suyu/civil-affairs",
                        "key_sha256": hashes,
                        "event_types": ["gov.suyu.civil_affairs.referral.v1"],
                    }
                ]
            }
        )
    )


def test_an_external_system_has_two_valid_keys_during_a_changeover():
    during = registry_with([key_digest("new-key-" + "n" * 32), key_digest("old-key-" + "o" * 32)])
    assert during.for_key("new-key-" + "n" * 32).id == "civil-affairs"
    assert during.for_key("old-key-" + "o" * 32).id == "civil-affairs"
    assert during.for_key("guess") is None
    after = registry_with(key_digest("new-key-" + "n" * 32))
    assert after.for_key("old-key-" + "o" * 32) is None
    for bad in ([], ["0" * 64] * 3, ["not-hex"], "0" * 63):
        with pytest.raises(ValueError):
            registry_with(bad)


def test_an_event_larger_than_the_limit_is_invalid_whatever_its_fields():
    from docs.catalogue import example_envelope
    from services.common.contracts import CASE_ACCEPTED
    from services.common.envelope import MAX_EVENT_BYTES, InvalidEvent, load_event

    event = example_envelope(CASE_ACCEPTED)
    assert load_event(event, CASE_ACCEPTED)
    event["data"]["assignee_name"] = "王" * (MAX_EVENT_BYTES // 3 + 10)  # 3 bytes each
    with pytest.raises(InvalidEvent, match="larger than"):
        load_event(event, CASE_ACCEPTED)
