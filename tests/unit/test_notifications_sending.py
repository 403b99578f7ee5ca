"""The SMS delivery state machine's pure decisions (domain/sending.py)."""

from services.notifications.domain import sending as domain_sending

AT = "2023-05-29T08:00:00+08:00"


def message(status="created", **extra):
    return {
        "_id": "e-1:worker:t",
        "status": status,
        "attempts": 0,
        "phone": "13900000101",
        "history": [{"kind": "status", "status": "created", "at": AT}],
        **extra,
    }


def test_a_claim_starts_an_attempt_with_a_lease():
    fields = domain_sending.claim(message(), 1_000, AT, lease_s=60)
    assert (fields["status"], fields["attempts"], fields["due_ms"]) == ("sending", 1, 61_000)
    assert fields["history"][-1] == {"kind": "status", "status": "sending", "at": AT, "attempt": 1}


def test_a_claim_whose_outcome_was_never_written_is_in_doubt_until_an_attempt_is():
    claimed = message(**domain_sending.claim(message(), 0, AT, 60))
    assert domain_sending.claim_in_doubt(claimed) == "2023-05-29"
    tried = {
        **claimed,
        "history": claimed["history"]
        + domain_sending.attempts_history([{"provider": "aliyun", "outcome": "down"}], 1, AT),
    }
    assert domain_sending.claim_in_doubt(tried) is None
    assert domain_sending.claim_in_doubt(message()) is None


def test_sent_moves_a_sending_message_on_and_keeps_a_later_status():
    sending = message("sending", attempts=1)
    fields, unset = domain_sending.sent(sending, "aliyun", "p-1", [], 1, AT, 5_000, 1)
    assert fields["status"] == "sent" and fields["erase_after_ms"] == 5_000 + 3_600_000
    assert unset == ("due_ms",)
    delivered = message("delivered", attempts=1)
    fields, _ = domain_sending.sent(delivered, "aliyun", "p-1", [], 1, AT, 5_000, 1)
    assert "status" not in fields and fields["provider_message_id"] == "p-1"


def test_a_failure_is_final_and_told_once():
    fields, tell, unset = domain_sending.failed(message("sending"), "failed", "空号", [], 1, AT)
    assert tell and fields["status"] == "failed" and fields["phone"] is None
    assert unset == domain_sending.FINAL_UNSET
    _, tell, _ = domain_sending.failed(message("delivered"), "failed", "late", [], 1, AT)
    assert not tell


def test_a_retry_only_for_a_message_still_sending():
    fields = domain_sending.retry(message("sending"), [], 1, "timeout", AT, 9_000, AT)
    assert fields["due_ms"] == 9_000 and fields["history"][-1]["kind"] == "retry"
    assert domain_sending.retry(message("sent"), [], 1, "timeout", AT, 9_000, AT) is None


def test_a_hold_makes_the_message_due_later():
    fields = domain_sending.held(message(), "quiet_hours", AT, AT, 7_000)
    assert fields["due_ms"] == 7_000 and fields["history"][-1]["reason"] == "quiet_hours"
