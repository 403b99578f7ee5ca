"""The shared package: envelope, outbox staging, privacy masking, tokens."""

import logging

import pytest

from services.common import auth, clock, outbox, privacy
from services.common.contracts import CASE_ACCEPTED, CASE_OPENED
from services.common.envelope import InvalidEvent, load_event, new_event

ACCEPTED = {
    "case_id": "c-1",
    "request_id": "r-1",
    "station": "daxing",
    "status": "accepted",
    "accepted_by": "dx-01",
    "assignee_name": "王晨光",
    "accepted_at": "2023-05-29T08:05:00+08:00",
}


def accepted_event(**overrides):
    return {
        **new_event(CASE_ACCEPTED, ACCEPTED, subject="c-1", correlation_id="r-1", sequence=2),
        **overrides,
    }


def test_envelope_is_cloudevents_with_correlation_and_sequence():
    event = accepted_event()
    assert event["specversion"] == "1.0" and event["type"] == "shegong.case.accepted.v1"
    assert event["source"] == "/suyu/shegong/casework"
    assert (event["correlationid"], event["sequence"], event["subject"]) == ("r-1", 2, "c-1")
    envelope, data = load_event(event, CASE_ACCEPTED)
    assert data == ACCEPTED and envelope["id"] == event["id"]


@pytest.mark.parametrize(
    "broken, field",
    [
        ({"time": "2023-05-29T08:00:00"}, "time"),
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "id"),
        ({"correlationid": None}, "correlationid"),
    ],
)
def test_bad_envelopes_are_refused_with_the_field(broken, field):
    with pytest.raises(InvalidEvent) as refused:
        load_event(accepted_event(**broken), CASE_ACCEPTED)
    assert field in refused.value.fields


def test_bad_data_unknown_fields_and_wrong_types_are_refused():
    with pytest.raises(InvalidEvent, match="expected type"):
        load_event(accepted_event(), CASE_OPENED)
    with pytest.raises(InvalidEvent) as refused:
        load_event(
            accepted_event(data={**ACCEPTED, "extra": 1, "station": "atlantis"}), CASE_ACCEPTED
        )
    assert set(refused.value.fields) == {"extra", "station"}
    with pytest.raises(InvalidEvent):
        load_event(["not", "an", "object"], CASE_ACCEPTED)


def test_stage_numbers_and_trims_the_outbox():
    document = {"outbox": [{"sequence": 1}, {"sequence": 2}], "last_seq": 2, "published_seq": 1}
    staged = outbox.stage(document, [{"sequence": 3}])
    assert staged == {
        "outbox": [{"sequence": 2}, {"sequence": 3}],
        "last_seq": 3,
        "outbox_pending": True,
    }
    assert outbox.next_sequence(document) == 3
    assert outbox.stage({"last_seq": 4, "published_seq": 4, "outbox": []}, []) == {
        "outbox": [],
        "last_seq": 4,
        "outbox_pending": False,
    }


def test_masking():
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_name("邹书兰") == "邹**"
    assert privacy.mask_id_number("32132119900101123X") == "321321********123X"
    text = privacy.mask_text("call 13812345678, id 32132119900101123X")
    assert "13812345678" not in text and "19900101" not in text
    assert privacy.pseudonym("k", "13812345678") == privacy.pseudonym("k", "13812345678")
    assert privacy.pseudonym("k", "13812345678") != privacy.pseudonym("other", "13812345678")


def test_log_records_are_masked(caplog):
    logger = logging.getLogger("test.masking")
    logger.addFilter(privacy.MaskingFilter())
    with caplog.at_level(logging.INFO, "test.masking"):
        logger.info("resident %s called", "13812345678")
    assert "13812345678" not in caplog.text and "138****5678" in caplog.text


def test_tokens_carry_role_and_station_and_resist_tampering():
    token = auth.issue_token("s3cret", "dx-01", "worker", "daxing", "王晨光")
    principal = auth.verify_token("s3cret", token)
    assert (principal.id, principal.role, principal.station) == ("dx-01", "worker", "daxing")
    assert principal.may_see_station("daxing") and not principal.may_see_station("xiaxiang")
    with pytest.raises(auth.InvalidToken):
        auth.verify_token("other-secret", token)
    header, payload, signature = token.split(".")
    forged = auth.issue_token("attacker", "dx-01", "district_admin").split(".")[1]
    with pytest.raises(auth.InvalidToken):
        auth.verify_token("s3cret", f"{header}.{forged}.{signature}")
    with pytest.raises(auth.InvalidToken):
        auth.verify_token("s3cret", "garbage")
    expired = auth.issue_token("s3cret", "dx-01", "worker", "daxing", ttl_s=10, now=0)
    with pytest.raises(auth.InvalidToken, match="expired"):
        auth.verify_token("s3cret", expired)
    with pytest.raises(auth.InvalidToken):
        auth.verify_token("", token)


def test_epoch_milliseconds_and_instants_convert_both_ways():
    moment = clock.parse_iso("2023-05-29T08:00:01.250+08:00")
    assert clock.to_ms(moment) == 1685318401250
    assert clock.from_ms(1685318401250) == moment
    assert clock.iso(clock.from_ms(1685318401250)) == "2023-05-29T08:00:01+08:00"


def test_ids_are_random_version_4_uuids_and_a_forked_child_never_repeats_its_parent():
    import os
    import uuid

    from services.common import ids

    made = [ids.uuid4() for _ in range(600)]  # past a buffer's 256
    assert len(set(made)) == 600
    assert {u.version for u in made} == {4} and {u.variant for u in made} == {uuid.RFC_4122}
    assert uuid.UUID(ids.new_id()).version == 4
    ids.uuid4()  # the parent's buffer holds bytes not yet used
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, to the parent
        os.write(writing, ids.uuid4().bytes)
        os._exit(0)
    os.waitpid(child, 0)
    childs = os.read(reading, 16)
    assert childs != ids.uuid4().bytes  # the parent's next id is not the child's
