"""What intake keeps only for a guarantee goes when the guarantee ends (issue 23): a
resident's need claim once her case is closed or cancelled (kept while it may still be
reopened), expired Idempotency-Key claims in batches on their index. Both are fields of
the request since issue 24 (``open_need``, ``key_claim``), unset, not deleted."""

from services.intake import domain
from services.intake.store import RequestStore
from tests.integration.test_intake_requests import intake, token  # noqa: F401 - fixtures
from tests.support import story_request


def claims(database):
    """Who holds each resident's need: ``open_need -> request id``."""
    requests = database("intake")["requests"]
    return {doc["open_need"]: doc["_id"] for doc in requests.find({"open_need": {"$exists": True}})}


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
    store.ensure_indexes()
    store.requests.insert_many(
        [{"_id": f"r{n}", "key_claim": f"k{n}", "key_expires_ms": n} for n in range(1200)]
    )
    assert store.purge_expired_keys(now_ms=1100, batch=500) == 1100
    held = store.requests.find({"key_claim": {"$exists": True}})
    assert sorted(d["key_claim"] for d in held) == sorted(f"k{n}" for n in range(1100, 1200))
    assert store.requests.count_documents({}) == 1200  # the requests stay, the keys go
    assert store.requests.find_one({"_id": "r0"}) == {"_id": "r0"}


def test_a_case_ending_frees_the_need_in_the_write_that_follows_it(database):
    store = RequestStore(database("intake"))
    store.ensure_indexes()
    store.requests.insert_one({"_id": "r-1", "case_seq": 0, "open_need": "p_a|medicine"})
    sent, requests = [], store.requests

    class Counting:  # the follow's writes
        def __getattr__(self, name):
            return getattr(requests, name)

        def bulk_write(self, operations, **kwargs):
            sent.append(len(operations))
            return requests.bulk_write(operations, **kwargs)

    store.requests = Counting()  # type: ignore[assignment]
    follow(store, "r-1", "closed", 6)
    assert sent == [1]  # one statement: the status, and the need let go with it
    assert requests.find_one({"_id": "r-1"}) == {
        "_id": "r-1",
        "case_seq": 6,
        "status": "closed",
        "case_id": "case-1",
    }


def test_the_claims_of_a_store_before_issue_24_move_onto_their_requests(database):
    from services.common import clock

    db = database("intake")
    now_ms = clock.to_ms(clock.now())
    later, key_id = now_ms + 3_600_000, domain.idempotency_key_id("op-1", "call-0800")
    db["requests"].insert_many(
        [
            {"_id": "open", "status": "received", "resident_ref": "p_a", "need_type": "medicine"},
            {"_id": "ended", "status": "closed", "resident_ref": "p_b", "need_type": "medicine"},
            {"_id": "keyed", "status": "case_opened", "resident_ref": "p_c", "need_type": "meal"},
        ]
    )
    db["idempotency_keys"].insert_many(
        [
            {"_id": key_id, "request_id": "keyed", "expires_ms": later},
            {"_id": "k-expired", "request_id": "open", "expires_ms": now_ms - 1},
            {"_id": "k-unrecorded", "request_id": "never-stored", "expires_ms": later},
        ]
    )
    db["open_needs"].insert_many(
        [
            {"_id": "p_a\x1fmedicine", "request_id": "open", "claimed_ms": 1},
            {"_id": "p_b\x1fmedicine", "request_id": "ended", "claimed_ms": 1},
            {"_id": "p_c\x1fmeal", "request_id": "keyed", "claimed_ms": 1},
            {"_id": "p_d\x1fmeal", "request_id": "never-stored", "claimed_ms": 1},
        ]
    )
    store = RequestStore(db)
    store.ensure_indexes()
    held = {d["_id"]: d for d in db["requests"].find({}, {"open_need": 1, "key_claim": 1})}
    assert held == {
        "open": {"_id": "open", "open_need": "p_a|medicine"},
        "ended": {"_id": "ended"},
        "keyed": {"_id": "keyed", "open_need": "p_c|meal", "key_claim": key_id},
    }
    assert db["requests"].find_one({"_id": "keyed"})["key_expires_ms"] == later
    names = db.list_collection_names()
    assert "idempotency_keys" not in names and "open_needs" not in names
    assert db["migrations"].find_one({"_id": "requests_hold_claims"})["changed"] == 3
    # what they bind is kept: her need is still taken, the key still names its request
    assert store.holding("open_need", "p_a|medicine")["_id"] == "open"
    assert store.holding("key_claim", key_id)["_id"] == "keyed"
    store.ensure_indexes()  # once only
    assert db["migrations"].count_documents({"_id": "requests_hold_claims"}) == 1
