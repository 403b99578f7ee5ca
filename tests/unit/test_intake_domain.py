"""Intake rules: request identity, idempotency fingerprints, forward-only status."""

from datetime import datetime, timezone

import pytest

from services.common.vocabulary import CASE_STATUSES
from services.intake import domain
from tests.support import story_request

NOW = datetime(2023, 5, 29, 0, 0, 5, tzinfo=timezone.utc)


def test_same_caller_and_key_name_the_same_claim():
    assert domain.idempotency_key_id("op-1", "k") == domain.idempotency_key_id("op-1", "k")
    assert domain.idempotency_key_id("op-1", "k") != domain.idempotency_key_id("op-2", "k")
    assert domain.idempotency_key_id("op-1", "k") != domain.idempotency_key_id("op-1", "k2")


def test_fingerprint_ignores_key_order_but_not_values():
    body = story_request()
    reordered = dict(reversed(list(body.items())))
    assert domain.fingerprint(body) == domain.fingerprint(reordered)
    assert domain.fingerprint(body) != domain.fingerprint(story_request(station="xiaxiang"))


def test_replay_with_another_body_conflicts():
    stored = {"fingerprint": domain.fingerprint(story_request())}
    domain.check_replay(stored, domain.fingerprint(story_request()))
    with pytest.raises(domain.IdempotencyConflict):
        domain.check_replay(stored, domain.fingerprint(story_request(channel="online")))


def test_receive_keeps_the_resident_masked_and_announces_her_in_full():
    body = {**story_request(), "received_at": None}
    record, (contract, data) = domain.receive("r-1", body, "op-1", "fp", "k", "key", NOW)
    assert record["resident"] == {"name": "邹**", "phone": "138****5678"}
    assert record["received_at"] == "2023-05-29T08:00:05+08:00"
    assert data["resident"]["phone"] == "13812345678"
    assert data["resident_ref"].startswith("p_") and "13812345678" not in data["resident_ref"]
    assert contract.type == "shegong.request.received.v1"


def test_the_request_status_follows_its_case_status():
    # the order of arrival is settled by the case events' sequence (tests/service)
    assert domain.request_status("assigned") == "case_opened"
    assert domain.request_status("in_progress") == "case_opened"
    assert domain.request_status("resolved") == "resolved"
    assert domain.request_status("closed") == "closed"
    assert domain.request_status("cancelled") == "cancelled"
    assert set(domain.STATUS_OF_CASE) == set(CASE_STATUSES)
