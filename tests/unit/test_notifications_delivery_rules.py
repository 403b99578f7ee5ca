"""When a message may go, and how statuses and receipts move (pure)."""

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError

from services.common import clock
from services.common.contracts import CASE_ESCALATED, CASE_SLA_BREACHED, REQUEST_RECEIVED
from services.notifications import domain
from services.notifications.domain.delivery import (
    HOUR_MS,
    SmsLimit,
    hold,
    moves_forward,
    quiet_until,
    rate_limited_until,
    recipient_kind,
    retry_delay_s,
    sms_limit,
)
from services.notifications.domain.receipts import read_receipts

POLICY = SimpleNamespace(
    quiet_start="22:00", quiet_end="07:00", rate_limit_per_hour=2, staff_rate_limit_per_hour=4
)


def utc(hour, minute=0, day=29):
    return datetime(2023, 5, day, hour, minute, tzinfo=timezone.utc)


def test_status_only_moves_forward_and_final_is_final():
    assert moves_forward("created", "sending") and moves_forward("sending", "sent")
    assert moves_forward("sent", "delivered") and moves_forward("sending", "failed")
    assert moves_forward("created", "technical_failure")
    assert not moves_forward("delivered", "sent") and not moves_forward("sent", "sending")
    for final in ("delivered", "failed", "technical_failure"):
        for other in ("delivered", "failed", "technical_failure"):
            assert not moves_forward(final, other)


def test_retries_are_bounded_with_growing_delays():
    delays = (30, 120, 600)
    assert [retry_delay_s(n, delays) for n in (1, 2, 3, 4)] == [30, 120, 600, None]


@pytest.mark.parametrize(
    "utc_time, until",
    [
        (utc(13, 59), None),  # 21:59 local
        (utc(14, 0), "2023-05-30T07:00:00+08:00"),  # 22:00
        (utc(16, 30), "2023-05-30T07:00:00+08:00"),  # 00:30 the next day
        (utc(22, 59, day=28), "2023-05-29T07:00:00+08:00"),  # 06:59
        (utc(23, 0, day=28), None),  # 07:00
    ],
)
def test_quiet_hours_span_midnight_in_the_district(utc_time, until):
    found = quiet_until(utc_time)
    assert (clock.iso(found) if found else None) == until


def test_quiet_hours_within_one_day_and_switched_off():
    assert quiet_until(utc(5), "12:00", "14:00") is not None  # 13:00 local
    assert quiet_until(utc(7), "12:00", "14:00") is None  # 15:00 local
    assert quiet_until(utc(16), "00:00", "00:00") is None


def test_the_rate_limit_counts_the_last_hour():
    now = 10 * HOUR_MS
    assert rate_limited_until([now - 10], now, 2) is None
    assert rate_limited_until([now - HOUR_MS - 1, now - 10], now, 2) is None
    assert rate_limited_until([now - 600_000, now - 10], now, 2) == now - 600_000 + HOUR_MS


def message(role, urgent=False, channel="sms"):
    return {"recipient_role": role, "urgent": urgent, "channel": channel}


def test_only_non_urgent_sms_to_residents_and_family_wait_for_the_morning():
    night = utc(15)  # 23:00 local
    assert hold(message("resident"), night, [], POLICY)[0] == "quiet_hours"
    assert hold(message("emergency_contact"), night, [], POLICY)[0] == "quiet_hours"
    assert hold(message("resident", urgent=True), night, [], POLICY) is None
    assert hold(message("worker"), night, [], POLICY) is None
    now_ms = clock.to_ms(utc(3))
    assert hold(message("resident"), utc(3), [now_ms - 5, now_ms - 1], POLICY)[0] == "rate_limited"
    assert (
        hold(message("emergency_contact"), utc(3), [now_ms - 5, now_ms - 1], POLICY)[0]
        == "rate_limited"
    )
    assert hold(message("station_head", channel="in_app"), utc(3), [now_ms] * 5, POLICY) is None


def test_staff_sms_are_never_held_by_quiet_hours_or_the_residents_limit():
    night, night_ms = utc(15), clock.to_ms(utc(15))
    for role in ("worker", "station_head", "duty_officer"):
        assert recipient_kind(role) == "staff"
        # three sent within the hour: past the residents' 2, below the staff's 4
        recent = [night_ms - 30, night_ms - 20, night_ms - 10]
        assert hold(message(role), night, recent, POLICY) is None
        assert hold(message(role, urgent=True), night, recent, POLICY) is None
        held = hold(message(role), night, recent + [night_ms - 5], POLICY)
        assert held == ("staff_rate_limited", night_ms - 30 + HOUR_MS)
    assert recipient_kind("resident") == recipient_kind("emergency_contact") == "resident"


def test_the_limit_depends_on_the_recipient_kind_and_counts_staff_sms_per_kind():
    assert sms_limit(message("worker"), POLICY) == SmsLimit(4, True, "staff_rate_limited")
    assert sms_limit(message("duty_officer"), POLICY) == SmsLimit(4, True, "staff_rate_limited")
    assert sms_limit(message("resident"), POLICY) == SmsLimit(2, False, "rate_limited")
    assert sms_limit(message("emergency_contact"), POLICY).per_kind is False
    # about an urgent case: what a resident or her family waits for, never held (issue 26)
    assert sms_limit(message("emergency_contact", urgent=True), POLICY) is None
    assert sms_limit(message("resident", urgent=True), POLICY) is None
    assert sms_limit(message("worker", urgent=True), POLICY) == SmsLimit(
        4, True, "staff_rate_limited"
    )
    assert sms_limit(message("worker", channel="in_app"), POLICY) is None
    off = SimpleNamespace(**{**vars(POLICY), "staff_rate_limit_per_hour": 0})
    assert sms_limit(message("worker"), off) is None
    assert sms_limit(message("resident"), off).per_hour == 2


def test_every_new_rule_renders_chinese_from_its_event():
    escalated = {
        "case_id": "case-x-abcdef12",
        "request_id": "r",
        "station": "xiaxiang",
        "status": "assigned",
        "reason": "nobody_on_duty",
        "priority": "urgent",
        "station_head": {"id": "h", "name": "某", "phone": "13900000100"},
        "escalated_at": "2023-05-29T08:00:00+08:00",
    }
    [sms, inbox] = domain.rules_for(CASE_ESCALATED.type, escalated)
    assert (sms.channel, inbox.channel) == ("sms", "in_app")
    text = domain.render(
        domain.TEMPLATES[sms.template], domain.variables_for(CASE_ESCALATED.type, escalated)
    )
    assert text == "【宿豫社工】紧急个案ABCDEF12已升级至您（无人值班），请及时督办。"
    breach = {
        **escalated,
        "kind": "resolution",
        "priority": "normal",
        "due_at": "2023-05-30T08:00:00+08:00",
        "breached_at": "2023-05-30T08:00:01+08:00",
    }
    assert [r.recipient_role for r in domain.rules_for(CASE_SLA_BREACHED.type, breach)] == [
        "station_head"
    ]  # the duty officer only for urgent cases
    request = {
        "request_id": "r",
        "station": "daxing",
        "resident": {"name": "邹书兰"},
        "need": {"type": "home_visit"},
        "source": {"kind": "referral"},
    }
    assert domain.rules_for(REQUEST_RECEIVED.type, request) == []


def test_tencent_params_follow_the_template_order():
    template = domain.TEMPLATES["case_accepted_resident"]
    params = domain.template_params(
        template, {"worker_name": "王晨光", "station_name": "站", "case_ref": "unused"}
    )
    assert list(params.items()) == [("station_name", "站"), ("worker_name", "王晨光")]


def test_an_sms_template_without_a_provider_code_fails_the_check():
    broken = {
        **domain.TEMPLATES,
        "case_accepted_resident": domain.Template(
            "case_accepted_resident", "", "宿豫社工", "{worker_name}"
        ),
    }
    with pytest.raises(domain.TemplateError, match="provider code"):
        domain.check_templates(templates=broken)


def test_receipts_are_read_from_each_providers_shape():
    [aliyun] = read_receipts(
        "aliyun",
        [
            {
                "phone_number": "13900000101",
                "success": False,
                "biz_id": "b-1",
                "out_id": "m-1",
                "err_code": "MK:0001",
                "extra": "ignored",
            }
        ],
    )
    assert (aliyun["status"], aliyun["reason"], aliyun["message_id"]) == (
        "failed",
        "MK:0001",
        "m-1",
    )
    [tencent] = read_receipts("tencent", [{"sid": "s-1", "report_status": "SUCCESS"}])
    assert (tencent["status"], tencent["provider_message_id"]) == ("delivered", "s-1")
    [gateway] = read_receipts("http", {"id": "g-1", "status": "delivered"})
    assert gateway["status"] == "delivered"
    with pytest.raises(ValidationError):
        read_receipts("tencent", [{"sid": "s-1", "report_status": "MAYBE"}])


def test_a_rule_with_nobody_configured_is_counted_each_time_and_logged_once(caplog):
    from services.common import metrics
    from services.notifications import handlers

    rule = SimpleNamespace(recipient_role="duty_officer", template="sla_breached_duty_officer")
    policy = SimpleNamespace(duty_officer_phone="")
    counter = metrics.MESSAGES_UNADDRESSED.labels(
        "sla_breached_duty_officer", "SHEGONG_DUTY_OFFICER_PHONE"
    )
    before = counter._value.get()
    handlers._WARNED.clear()
    with caplog.at_level("WARNING", logger=handlers.log.name):
        for _ in range(3):
            assert handlers._recipient(None, policy, rule, {}) is None
    assert counter._value.get() - before == 3
    warnings = [r for r in caplog.records if "sla_breached_duty_officer" in r.getMessage()]
    assert len(warnings) == 1
    assert "SHEGONG_DUTY_OFFICER_PHONE" in warnings[0].getMessage()
    officer = SimpleNamespace(duty_officer_phone="13900000999")
    assert handlers._recipient(None, officer, rule, {}).phone == "13900000999"
