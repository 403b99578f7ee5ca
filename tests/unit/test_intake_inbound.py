"""Intake's pure rules for inbound events, idempotency keys and repeats: no I/O."""

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.intake import domain
from services.intake.api.events import HTTP_STATUS, http_status
from services.intake.domain import inbound
from services.intake.systems import ExternalSystem, key_digest
from tests.inbound_support import (
    ID_NUMBER,
    checkin_missed,
    key_person_update,
    petition,
    referral,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2023, 5, 29, 0, 0, 5, tzinfo=timezone.utc)
ELDERLY_CARE = ExternalSystem(
    "elderly-care",
    "养老平台",
    "/suyu/elderly-care",
    key_digest("k"),
    frozenset({"gov.suyu.elderly_care.checkin_missed.v1"}),
)


def loaded(event, system=ELDERLY_CARE):
    envelope = inbound.parse_envelope(event)
    inbound_type = inbound.authorise(system, envelope)
    return inbound_type, envelope, inbound.load_data(inbound_type, envelope)


def test_a_missed_checkin_becomes_an_alert_for_a_home_visit():
    inbound_type, envelope, data = loaded(checkin_missed(note="电话无人接听"))
    body = inbound.request_body(inbound_type, envelope, data, NOW)
    assert (body["channel"], body["need"]["type"], body["station"]) == (
        "alert",
        "home_visit",
        "daxing",
    )
    assert "2023-05-29T07:30:00+08:00" in body["need"]["description"]
    assert body["received_at"] == "2023-05-29T07:55:00+08:00"
    assert inbound.source_of(ELDERLY_CARE, inbound_type, envelope)["kind"] == "checkin_missed"


def test_a_petition_keeps_its_number_and_summary_in_the_description():
    office = ExternalSystem(
        "petition-office",
        "信访局",
        "/suyu/petition-office",
        "x",
        frozenset({"gov.suyu.petition.forwarded.v1"}),
    )
    inbound_type, envelope, data = loaded(petition(summary="x" * 2000), office)
    body = inbound.request_body(inbound_type, envelope, data, NOW)
    assert body["channel"] == "petition" and body["need"]["type"] == "petition_mediation"
    assert body["need"]["description"].startswith("信访件 XF-2023-0112：")
    assert len(body["need"]["description"]) == inbound.MAX_DESCRIPTION


def test_a_time_in_the_future_or_missing_is_replaced_by_now():
    assert (
        inbound.event_time({"time": "2099-01-01T00:00:00+08:00"}, NOW)
        == "2023-05-29T08:00:05+08:00"
    )
    assert inbound.event_time({"time": None}, NOW) == "2023-05-29T08:00:05+08:00"


@pytest.mark.parametrize(
    "event, code, status",
    [
        ({**checkin_missed(), "source": "/suyu/civil-affairs"}, "forbidden", 403),
        (
            {**checkin_missed(), "type": "gov.suyu.elderly_care.fall_detected.v1"},
            "unknown_type",
            422,
        ),
        ({**referral(), "source": "/suyu/elderly-care"}, "type_not_allowed", 403),
        ({**checkin_missed(), "specversion": "0.3"}, "invalid_event", 422),
        ([checkin_missed()], "invalid_event", 422),
        (checkin_missed(station="beijing"), "invalid_data", 422),
    ],
)
def test_refusals_say_why(event, code, status):
    with pytest.raises(inbound.InboundRejected) as refused:
        loaded(event)
    assert (refused.value.code, http_status(refused.value)) == (code, status)


def test_every_refusal_raised_is_a_known_code_with_its_http_status_and_carries_none():
    """The domain names a refusal; HTTP maps it to a status at the API (issue 18)."""
    raised = set()
    for path in (ROOT / "services" / "intake").rglob("*.py"):  # every module that refuses
        text = path.read_text()
        raised |= set(re.findall(r'(?:InboundRejected|_refuse)\(\s*"([a-z_]+)"', text))
    assert raised and raised <= set(inbound.REFUSALS)
    assert set(HTTP_STATUS) == set(inbound.REFUSALS)
    assert not hasattr(inbound.InboundRejected("invalid_data", "x"), "status")


def test_a_registry_update_is_kept_masked_and_sent_in_full():
    civil = ExternalSystem(
        "civil-affairs",
        "民政局",
        "/suyu/civil-affairs",
        "x",
        frozenset({"gov.suyu.civil_affairs.key_person_update.v1"}),
    )
    inbound_type, envelope, data = loaded(key_person_update("removed"), civil)
    record, (contract, event) = inbound.registry_update(
        "u-1", civil, inbound_type, envelope, data, "key", NOW
    )
    assert contract.type == "shegong.resident.registry_updated.v1"
    assert event["person"]["id_number"] == ID_NUMBER and event["change"] == "removed"
    assert record["person"]["id_number"] == "110105********002X"
    assert record["person"]["name"] == "邹**" and record["person"]["phone"] == "138****5678"
    # the same person's requests (by phone) and registry entry share one ref
    assert event["resident_ref"] == domain.resident_ref("key", {"phone": "13812345678"})
    without_phone = domain.registered_person_ref("key", {"id_number": ID_NUMBER, "phone": None})
    assert without_phone.startswith("p_") and without_phone != event["resident_ref"]


def test_the_same_source_and_id_name_the_same_record():
    assert inbound.inbound_id("/a", "1") == inbound.inbound_id("/a", "1")
    assert inbound.inbound_id("/a", "1") != inbound.inbound_id("/b", "1")


def test_a_key_claim_lives_until_it_expires():
    held = {"_id": "r-1", **domain.key_fields("k", now_ms=1000, ttl_s=2)}
    assert held == {"_id": "r-1", "key_claim": "k", "key_expires_ms": 3000}
    assert domain.key_live(held, 2999) and not domain.key_live(held, 3000)
    assert not domain.key_live(None, 0)
    assert not domain.key_live({"_id": "r-2"}, 0)  # its key purged: free


def test_a_need_is_open_while_its_first_request_is_open():
    # (a claim is the request's own field since issue 24: never held by a request not
    # yet written, so no grace for one being written)
    assert domain.need_still_open({"status": "received"})
    assert domain.need_still_open({"status": "case_opened"})
    assert not domain.need_still_open({"status": "resolved"})
    assert not domain.need_still_open({"status": "cancelled"})
    assert domain.open_need("p_a", "medicine") == "p_a|medicine"
