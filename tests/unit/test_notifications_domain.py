"""Notification rules and templates (pure)."""

import pytest

from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, CASE_RESOLVED
from services.notifications import domain

ASSIGNED = {
    "case_id": "case-0000-abcdef12",
    "request_id": "r-1",
    "station": "daxing",
    "priority": "urgent",
    "need_type": "medicine_purchase",
    "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
    "resident": {"name": "邹**", "phone": "138****5678"},
    "assigned_at": "2023-05-29T08:00:01+08:00",
}


def test_every_rule_has_a_template_whose_variables_its_event_provides():
    domain.check_templates()


def test_a_template_with_a_missing_variable_fails_the_check():
    broken = {
        **domain.TEMPLATES,
        "case_accepted_resident": domain.Template(
            "case_accepted_resident", "X", "宿豫社工", "{worker_name}{resident_id_number}"
        ),
    }
    with pytest.raises(domain.TemplateError, match="resident_id_number"):
        domain.check_templates(templates=broken)
    with pytest.raises(domain.TemplateError, match="unknown template"):
        domain.check_templates(rules=(domain.Rule("x", "worker", "sms", "nope"),))


def test_who_is_told_of_what():
    assert [
        (r.recipient_role, r.template) for r in domain.rules_for(CASE_ASSIGNED.type, ASSIGNED)
    ] == [("worker", "case_assigned_worker")]
    alert = {**ASSIGNED, "origin": "checkin_missed"}
    assert [
        (r.recipient_role, r.template) for r in domain.rules_for(CASE_ASSIGNED.type, alert)
    ] == [("worker", "checkin_missed_worker")]
    assert [r.recipient_role for r in domain.rules_for(CASE_ACCEPTED.type, {})] == ["resident"]
    assert [
        r.recipient_role for r in domain.rules_for(CASE_RESOLVED.type, {"priority": "normal"})
    ] == ["resident"]
    assert [
        r.recipient_role for r in domain.rules_for(CASE_RESOLVED.type, {"priority": "urgent"})
    ] == ["resident", "emergency_contact"]
    assert domain.rules_for("shegong.case.action_recorded.v1") == []


def test_the_worker_sms_is_chinese_and_shows_the_resident_masked():
    template = domain.TEMPLATES["case_assigned_worker"]
    text = domain.render(template, domain.variables_for(CASE_ASSIGNED.type, ASSIGNED))
    assert text == (
        "【宿豫社工】紧急个案：邹**（138****5678）需要代购药品，已派给您，请尽快联系。"
        "个案号ABCDEF12。"
    )


def test_the_resident_sms_names_station_and_worker():
    accepted = {
        "case_id": "case-1",
        "request_id": "r-1",
        "station": "daxing",
        "accepted_by": "dx-01",
        "assignee_name": "王晨光",
        "accepted_at": "2023-05-29T08:05:00+08:00",
    }
    text = domain.render(
        domain.TEMPLATES["case_accepted_resident"],
        domain.variables_for(CASE_ACCEPTED.type, accepted),
    )
    assert "大兴镇社会工作服务站" in text and "王晨光" in text and text.startswith("【宿豫社工】")


def test_one_message_id_per_event_recipient_and_template():
    rule = domain.rules_for(CASE_ASSIGNED.type)[0]
    assert domain.message_id("e-1", rule) == domain.message_id("e-1", rule)
    assert domain.message_id("e-1", rule) != domain.message_id("e-2", rule)
