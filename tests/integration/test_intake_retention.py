"""What intake keeps only for a guarantee goes when the guarantee ends (issue 23): a
resident's need claim once her case is closed or cancelled (kept while it may still be
reopened), expired Idempotency-Key claims in batches on their index."""

from services.intake import domain
from services.intake.store import RequestStore
from tests.integration.test_intake_requests import intake, token  # noqa: F401 - fixtures
from tests.support import story_request


def claims(database):
    return {doc["_id"]: doc["request_id"] for doc in database("intake")["open_needs"].find()}


def follow(store, first, status, sequence):
    store.follow_cases([("case-1", domain.request_status(status), sequence, first, first)])


def test_a_needs_claim_goes_when_its_case_ends_for_good(intake, token, database):  # noqa: F811
    first = intake.post("/v1/requests", json=story_request(), headers=token).json["request_id"]
    store = RequestStore(database("intake"))
    assert list(claims(database).values()) == [first]
    follow(store, first, "resolved", 5)  # may still be reopened: the claim stays
    assert list(claims(database).values()) == [first]
    follow(store, first, "closed", 6)
    assert claims(database) == {}
    again = intake.post("/v1/requests", json=story_request(), headers=token).json
    assert again["repeat_of"] is None  # a new need of her own, as before the claim went
    # a claim taken over by a later request is not the closed one's to remove
    follow(store, first, "closed", 7)
    assert list(claims(database).values()) == [again["request_id"]]


def test_expired_key_claims_go_in_batches(database):
    store = RequestStore(database("intake"))
    store.idempotency_keys.insert_many(
        [{"_id": f"k{n}", "request_id": f"r{n}", "expires_ms": n} for n in range(1200)]
    )
    assert store.purge_expired_keys(now_ms=1100, batch=500) == 1100
    assert sorted(d["_id"] for d in store.idempotency_keys.find()) == sorted(
        f"k{n}" for n in range(1100, 1200)
    )
