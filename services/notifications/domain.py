"""Notification rules, templates and rendering. Pure: data and functions, no I/O.

Which event reaches whom, through which channel, with which words, is data
(``RULES`` and ``TEMPLATES``); templates are checked against the variables their
rules provide when the service starts, not when a message is sent.
"""
import string
from dataclasses import dataclass

from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, CASE_RESOLVED
from services.common.vocabulary import NEED_TYPES, PRIORITY_LABELS, stations

SIGNATURE = "宿豫社工"


@dataclass(frozen=True)
class Template:
    name: str
    provider_code: str      # the template code registered with the SMS provider
    signature: str          # the registered signature name, shown as 【…】
    text: str

    def variables(self):
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


@dataclass(frozen=True)
class Rule:
    event_type: str
    recipient_role: str     # worker | resident
    channel: str            # sms
    template: str


TEMPLATES = {t.name: t for t in (
    Template("case_assigned_worker", "SMS_SHEGONG_001", SIGNATURE,
             "{priority_label}个案：{resident_name}（{resident_phone}）需要{need_label}，"
             "已派给您，请尽快联系。个案号{case_ref}。"),
    Template("case_accepted_resident", "SMS_SHEGONG_002", SIGNATURE,
             "您好，您的求助已由{station_name}社工{worker_name}受理，我们会尽快与您联系。"),
    Template("case_resolved_resident", "SMS_SHEGONG_003", SIGNATURE,
             "您好，您的求助已办结。如还有需要，请随时联系{station_name}。"),
)}

RULES = (
    Rule(CASE_ASSIGNED.type, "worker", "sms", "case_assigned_worker"),
    Rule(CASE_ACCEPTED.type, "resident", "sms", "case_accepted_resident"),
    Rule(CASE_RESOLVED.type, "resident", "sms", "case_resolved_resident"),
)

# The variables each event type offers its templates.
VARIABLES = {
    CASE_ASSIGNED.type: {"priority_label", "resident_name", "resident_phone", "need_label",
                         "case_ref", "station_name"},
    CASE_ACCEPTED.type: {"station_name", "worker_name", "case_ref"},
    CASE_RESOLVED.type: {"station_name", "worker_name", "case_ref"},
}


class TemplateError(Exception):
    pass


def check_templates(rules=RULES, templates=TEMPLATES, variables=VARIABLES):
    """Fail at start-up if a rule names a missing template or a template a missing variable."""
    for rule in rules:
        if rule.template not in templates:
            raise TemplateError(f"rule for {rule.event_type} names unknown template {rule.template}")
        missing = templates[rule.template].variables() - variables.get(rule.event_type, set())
        if missing:
            raise TemplateError(f"template {rule.template} uses {sorted(missing)}, "
                                f"which {rule.event_type} does not provide")


def rules_for(event_type):
    return [rule for rule in RULES if rule.event_type == event_type]


def variables_for(event_type, data):
    """Template variables from an event's data (personal data arrives masked)."""
    station = stations()[data["station"]]["name"]
    base = {"station_name": station, "case_ref": data["case_id"][-8:].upper()}
    if event_type == CASE_ASSIGNED.type:
        return {**base, "priority_label": PRIORITY_LABELS[data["priority"]],
                "resident_name": data["resident"]["name"],
                "resident_phone": data["resident"]["phone"],
                "need_label": NEED_TYPES[data["need_type"]]}
    return {**base, "worker_name": data["assignee_name"]}


def render(template, variables):
    """The SMS text as the phone shows it: 【signature】 then the body."""
    return f"【{template.signature}】" + template.text.format_map(variables)


def message_id(event_id, rule):
    """One message per (event, recipient, template), however often the event arrives."""
    return f"{event_id}:{rule.recipient_role}:{rule.template}"
