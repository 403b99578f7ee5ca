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
}

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
    "note": "备注",
}

CASE_STATUSES = ("received", "assigned", "accepted", "in_progress", "resolved")

REQUEST_STATUSES = ("received", "case_opened", "resolved")  # in the order they are reached

RECIPIENT_ROLES = ("worker", "resident")

MESSAGE_CHANNELS = ("sms",)

MESSAGE_STATUSES = ("created", "sent")


@lru_cache(maxsize=1)
def _reference():
    path = Path(__file__).with_name("data") / "stations.json"
    return json.loads(path.read_text(encoding="utf-8"))


def stations():
    """The district's township stations: configuration data, not code."""
    return {station["id"]: station for station in _reference()["stations"]}


def district():
    return _reference()["district"]
