"""Referrals to partner agencies, pure: what leaves per the agency's purpose, how the
case follows each answer, the webhook signature, an agency's RabbitMQ permissions."""

import hashlib
import hmac
import json

import pytest

from services.casework.domain import referrals as domain_referrals
from services.common import agencies
from services.common.contracts import (
    CASE_REFERRAL_ANSWERED,
    CASE_REFERRED,
    CASE_RESOLVED,
    REFERRAL_SENT,
)
from services.common.envelope import new_event
from services.intake.systems import ExternalSystems, external_systems
from services.notifications import webhooks
from services.ops import agencies as ops_agencies
from tests.unit.test_casework_lifecycle import ASSIGNEE, MONDAY_0800, accepted, types

RESIDENT = {
    "name": "邹书兰",
    "phone": "13812345678",
    "id_number": "11010519491231002X",
    "categories": ["elderly", "living_alone"],
    "emergency_contacts": [{"name": "邹丽", "relation": "女儿", "phone": "13987654321"}],
}
HEALTH = agencies.Agency(
    "health-commission",
    "宿豫区卫生健康委员会",
    "家庭医生上门诊疗",
    frozenset({"resident.name", "resident.phone"}),
    "webhook",
    webhook_url="http://127.0.0.1:1/x",
)
NARROW = agencies.Agency("stats", "统计", "统计", frozenset(), "amqp")


def referred(agency=HEALTH, note="需要上门"):
    return domain_referrals.refer_to_agency(
        accepted(), ASSIGNEE, agency, RESIDENT, note, MONDAY_0800, "ref-1"
    )


def answer(kind, reason="", referral_id="ref-1", agency="health-commission"):
    return {
        "referral_id": referral_id,
        "case_id": "case-1",
        "station": "daxing",
        "agency": agency,
        "answer": kind,
        "reason": reason,
        "answered_at": "2023-05-29T09:00:00+08:00",
    }


def test_a_referral_sends_only_what_the_purpose_names():
    case, events = referred()
    assert case.status == "referred" and types(events) == [CASE_REFERRED, REFERRAL_SENT]
    sent = events[1][1]
    new_event(REFERRAL_SENT, sent, subject="case-1", correlation_id="r-1", sequence=1)
    assert sent["resident"] == {
        "name": "邹书兰",
        "phone": "13812345678",
        "id_number": "110105********002X",
    }
    assert sent["need_description"] is None and sent["note"] is None  # not in its purpose
    assert events[0][1]["referral_id"] == "ref-1" and events[0][1]["agency"] == HEALTH.id
    _, narrow = referred(NARROW)
    assert narrow[1][1]["resident"]["name"] != "邹书兰"
    assert "13812345678" not in str(narrow[1][1])


@pytest.mark.parametrize(
    "kind, status, contracts",
    [
        ("accepted", "referred", [CASE_REFERRAL_ANSWERED]),
        ("rejected", "in_progress", [CASE_REFERRAL_ANSWERED]),
        ("done", "resolved", [CASE_REFERRAL_ANSWERED, CASE_RESOLVED]),
    ],
)
def test_the_case_follows_each_answer_once(kind, status, contracts):
    case, _ = referred()
    after, events = domain_referrals.answer_from_agency(
        case, answer(kind, "不在服务范围" if kind == "rejected" else ""), "ev-1", MONDAY_0800
    )
    assert after.status == status and types(events) == contracts
    assert after.referral["answer"] == kind
    assert after.actions[-1]["by"] == "agency:health-commission"
    assert events[0][1]["answer"] == kind and events[0][1]["accepted"] == (kind != "rejected")
    again, repeated = domain_referrals.answer_from_agency(after, answer(kind), "ev-1", MONDAY_0800)
    assert repeated == [] and again is after


def test_accepted_then_done_resolves_and_a_late_accept_changes_nothing():
    case, _ = referred()
    case, _ = domain_referrals.answer_from_agency(case, answer("accepted"), "ev-1", MONDAY_0800)
    case, events = domain_referrals.answer_from_agency(case, answer("done"), "ev-2", MONDAY_0800)
    assert case.status == "resolved" and types(events)[-1] == CASE_RESOLVED
    late, none = domain_referrals.answer_from_agency(case, answer("accepted"), "ev-3", MONDAY_0800)
    assert none == [] and late.status == "resolved"


def test_an_answer_for_another_referral_or_agency_is_refused():
    case, _ = referred()
    with pytest.raises(domain_referrals.UnknownReferral):
        domain_referrals.answer_from_agency(
            case, answer("done", referral_id="ref-2"), "e", MONDAY_0800
        )
    with pytest.raises(domain_referrals.UnknownReferral):
        domain_referrals.answer_from_agency(case, answer("done", agency="other"), "e", MONDAY_0800)


def test_the_webhook_signature_is_hmac_sha256_over_timestamp_and_body():
    body, headers = webhooks.signed_request(
        {"id": "e-1", "data": {"x": "邹"}}, "s3cret", 1685322000
    )
    expected = hmac.new(b"s3cret", b"1685322000." + body, hashlib.sha256).hexdigest()
    assert headers[agencies.SIGNATURE_HEADER] == "sha256=" + expected
    assert headers[agencies.TIMESTAMP_HEADER] == "1685322000"
    assert agencies.signature("other", "1685322000", body) != headers[agencies.SIGNATURE_HEADER]


def test_an_agency_user_reads_its_own_queue_and_writes_only_answers():
    rights = ops_agencies.permissions(
        agencies.Agency("disabled-federation", "残联", "p", frozenset(), "amqp")
    )
    import re

    assert re.fullmatch(rights["read"], "shegong.outbound.disabled-federation")
    assert not re.fullmatch(rights["read"], "shegong.outbound.health-commission")
    assert re.fullmatch(rights["write"], "shegong.inbound")
    assert not re.fullmatch(rights["write"], "shegong.outbound")
    assert rights["configure"] == "^$"


def test_the_development_registry_has_an_agency_of_each_delivery():
    from services.common import config

    found = agencies.partners(config.settings({}))
    assert {a.delivery for a in found.values()} == {"amqp", "webhook"}
    # each answers as a system of intake's registry, under the same id (the AMQP one as
    # the RabbitMQ user it is provisioned with)
    systems = external_systems(config.settings({})).systems
    for agency in found.values():
        assert systems[agency.id].may_send(agencies.ANSWER_TYPE)
        assert agency.delivery != "amqp" or systems[agency.id].amqp_user
    with pytest.raises(ValueError):
        agencies._agency({"id": "x", "purpose": "p", "receives": ["resident.soul"]})
    for url, ok in (
        ("http://agency.example/hook", False),
        ("https://agency.example/hook", True),
        ("http://127.0.0.1:8099/hook", True),
        (None, False),
    ):
        entry = {"id": "x", "purpose": "p", "delivery": "webhook", "webhook_url": url}
        if ok:
            assert agencies._agency(entry).webhook_url == url
        else:
            with pytest.raises(ValueError, match="https"):
                agencies._agency(entry)


def test_a_systems_registry_still_holding_agency_blocks_says_they_are_not_read(caplog):
    entry = {
        "id": "x",
        "source": "/x",
        "key_sha256": "0" * 64,
        "event_types": [],
        "agency": {"purpose": "p"},
    }
    ExternalSystems.from_json(json.dumps({"systems": [entry]}))
    assert "SHEGONG_AGENCIES_FILE" in caplog.text
