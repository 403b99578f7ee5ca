"""The words of the domain that more than one service uses, defined once.

Identifiers are English; the labels are what residents and staff read.
"""

import json
from functools import lru_cache
from pathlib import Path

CHANNELS = {
    "phone": "电话",
    "walk_in": "来访",
    "online": "网上",
    "referral": "转介",
    "hotline": "热线",
    "alert": "预警",
    "petition": "信访转办",
}

# Kinds of event other government systems send in (intake's inbound exchange).
INBOUND_KINDS = {
    "referral": "民政转介",
    "key_person_update": "重点关注对象名单变更",
    "checkin_missed": "独居老人未按时报平安",
    "petition": "信访转办",
    "referral_answer": "转介答复",
}

# What a partner agency answers to a referral made to it.
REFERRAL_ANSWERS = {"accepted": "已接收", "rejected": "已退回", "done": "已办结"}

RESIDENT_CATEGORIES = {
    "elderly": "老年人",
    "child": "儿童",
    "youth": "青少年",
    "disabled": "残疾人",
    "hardship": "困难群众",
    "living_alone": "独居",
    "key_concern": "重点关注对象",
    "no_family_nearby": "无子女在身边",
}

NEED_TYPES = {
    "medicine_purchase": "代购药品",
    "daily_living_help": "生活帮办",
    "home_visit": "上门探访",
    "policy_consultation": "政策咨询",
    "economic_status_verification": "经济状况核对",
    "assistance_application": "救助申请",
    "petition_mediation": "信访调处",
    "psychological_support": "心理支持",
    "other": "其他",
}

PRIORITIES = ("urgent", "normal", "low")

PRIORITY_LABELS = {"urgent": "紧急", "normal": "一般", "low": "较低"}

ACTION_TYPES = {
    "call": "电话联系",
    "visit": "上门探访",
    "purchase": "代购",
    "delivery": "送达",
    "referral": "转介",
    "note": "备注",
}

# The case's life; escalation and reassignment change the owner, not the status.
CASE_STATUSES = (
    "received",
    "assigned",
    "accepted",
    "in_progress",
    "referred",
    "resolved",
    "closed",
    "cancelled",
)
# before the case ends: what casework still works on and reporting counts as open
OPEN_CASE_STATUSES = CASE_STATUSES[:5]

CASE_STATUS_LABELS = {
    "received": "已登记",
    "assigned": "已派单",
    "accepted": "已接单",
    "in_progress": "处理中",
    "referred": "已转介",
    "resolved": "已办结",
    "closed": "已归档",
    "cancelled": "已撤销",
}

CANCEL_REASONS = {"duplicate": "重复求助", "withdrawn": "求助人撤回"}

ESCALATION_REASONS = {
    "nobody_on_duty": "无人值班",
    "sla_breach": "超时未处理",
    "manual": "人工升级",
}

SLA_KINDS = ("acceptance", "resolution")

SLA_KIND_LABELS = {"acceptance": "接单", "resolution": "办结"}

ASSIGNMENT_REASONS = ("initial", "reassigned", "reopened")

ACTIVITY_TYPES = {
    "policy_publicity": "政策宣传",
    "needs_survey": "需求调研",
    "group_work": "小组工作",
    "economic_verification": "经济状况核对",
    "training": "社工培训",
}

DONATION_KINDS = {"money": "善款", "goods": "物资"}

# In the order they are reached; a reopened case takes its request back to case_opened.
REQUEST_STATUSES = ("received", "case_opened", "resolved", "closed", "cancelled")

RECIPIENT_ROLES = ("worker", "resident", "emergency_contact", "station_head", "duty_officer")
# The roles on a station's roster (casework's Worker.role)
ROSTER_ROLES = ("worker", "station_head")

MESSAGE_CHANNELS = ("sms", "in_app")

# In the order a message moves through them; failed and technical_failure are final.
MESSAGE_STATUSES = ("created", "sending", "sent", "delivered", "failed", "technical_failure")


@lru_cache(maxsize=1)
def _reference():
    path = Path(__file__).with_name("data") / "stations.json"
    return json.loads(path.read_text(encoding="utf-8"))


def stations():
    """The district's township stations: configuration data, not code."""
    return {station["id"]: station for station in _reference()["stations"]}


def district():
    return _reference()["district"]
