"""Notification rules, templates and rendering. Pure: data and functions, no I/O.

Which event reaches whom, through which channel, with which words, is data
(``RULES`` and ``TEMPLATES``): a rule is event type (+ an optional condition on the
event's data) -> recipient role -> channel -> template. Templates are checked against
the variables their rules' events provide when the service starts, not when a
message is sent.
"""

import string
from dataclasses import dataclass, field

from services.common.contracts import (
    CASE_ACCEPTED,
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_RESIDENT_UNREACHED,
    CASE_RESOLVED,
    CASE_SLA_BREACHED,
    REQUEST_RECEIVED,
)
from services.common.privacy import mask_name, mask_phone
from services.common.vocabulary import (
    ESCALATION_REASONS,
    NEED_TYPES,
    PRIORITY_LABELS,
    SLA_KIND_LABELS,
    stations,
)

SIGNATURE = "宿豫社工"
SLA_LABELS = SLA_KIND_LABELS


@dataclass(frozen=True)
class Template:
    name: str
    provider_code: str  # the template code registered with Alibaba Cloud SMS
    signature: str  # the registered signature name, shown as 【…】
    text: str
    tencent_id: str = ""  # the template id registered with Tencent Cloud SMS

    def variables(self):
        """The named variables, in the order they appear (Tencent's params are positional)."""
        names = [name for _, name, _, _ in string.Formatter().parse(self.text) if name]
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Rule:
    event_type: str
    recipient_role: str  # a RECIPIENT_ROLES entry
    channel: str  # sms | in_app
    template: str
    when: dict = field(default_factory=dict)  # path in the event's data -> values that match
    unless: dict = field(default_factory=dict)  # path -> values that exclude
    urgent: bool = False  # goes at once even in quiet hours, whatever the case's priority

    def applies(self, data):
        return all(lookup(data, path) in values for path, values in self.when.items()) and not any(
            lookup(data, path) in values for path, values in self.unless.items()
        )


def lookup(data, path):
    """``source.kind`` -> data["source"]["kind"]; None when any step is missing."""
    value = data
    for step in path.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value


CHECKIN_MISSED = {"origin": ("checkin_missed",)}

TEMPLATES = {
    t.name: t
    for t in (
        Template(
            "case_assigned_worker",
            "SMS_SHEGONG_001",
            SIGNATURE,
            "{priority_label}个案：{resident_name}（{resident_phone}）需要{need_label}，"
            "已派给您，请尽快联系。个案号{case_ref}。",
            "1800001",
        ),
        Template(
            "checkin_missed_worker",
            "SMS_SHEGONG_004",
            SIGNATURE,
            "预警：独居老人{resident_name}（{resident_phone}）未按时报平安，已派给您，"
            "请立即电话或上门确认。个案号{case_ref}。",
            "1800004",
        ),
        Template(
            "case_accepted_resident",
            "SMS_SHEGONG_002",
            SIGNATURE,
            "您好，您的求助已由{station_name}社工{worker_name}受理，我们会尽快与您联系。",
            "1800002",
        ),
        Template(
            "case_resolved_resident",
            "SMS_SHEGONG_003",
            SIGNATURE,
            "您好，您的求助已办结。如还有需要，请随时联系{station_name}。",
            "1800003",
        ),
        Template(
            "case_resolved_emergency_contact",
            "SMS_SHEGONG_005",
            SIGNATURE,
            "您好，您的家人{resident_name}的紧急求助已由{station_name}社工{worker_name}办结，"
            "特此告知。",
            "1800005",
        ),
        Template(
            "checkin_missed_emergency_contact",
            "SMS_SHEGONG_006",
            SIGNATURE,
            "您好，您的家人{resident_name}今日未按时报平安，{station_name}已安排社工确认，"
            "如方便请尽快与其联系。",
            "1800006",
        ),
        Template(
            "case_escalated_station_head",
            "SMS_SHEGONG_007",
            SIGNATURE,
            "{priority_label}个案{case_ref}已升级至您（{escalation_reason}），请及时督办。",
            "1800007",
        ),
        Template(
            "case_escalated_station_head_inbox",
            "",
            SIGNATURE,
            "{priority_label}个案{case_ref}已升级至您：{escalation_reason}。",
        ),
        Template(
            "sla_breached_station_head_inbox",
            "",
            SIGNATURE,
            "{priority_label}个案{case_ref}{sla_label}超时（应于{due_time}前），请督办。",
        ),
        Template(
            "resident_unreached_worker_inbox",
            "",
            SIGNATURE,
            "{priority_label}个案{case_ref}：给居民的短信未送达，请电话联系居民。",
        ),
        Template(
            "sla_breached_duty_officer",
            "SMS_SHEGONG_008",
            SIGNATURE,
            "{station_name}{priority_label}个案{case_ref}{sla_label}超时（应于{due_time}前），"
            "请关注。",
            "1800008",
        ),
    )
}

RULES = (
    Rule(CASE_ASSIGNED.type, "worker", "sms", "case_assigned_worker", unless=CHECKIN_MISSED),
    Rule(
        CASE_ASSIGNED.type,
        "worker",
        "sms",
        "checkin_missed_worker",
        when=CHECKIN_MISSED,
        urgent=True,
    ),
    Rule(CASE_ACCEPTED.type, "resident", "sms", "case_accepted_resident"),
    Rule(CASE_RESOLVED.type, "resident", "sms", "case_resolved_resident"),
    Rule(
        CASE_RESOLVED.type,
        "emergency_contact",
        "sms",
        "case_resolved_emergency_contact",
        when={"priority": ("urgent",)},
    ),
    Rule(CASE_ESCALATED.type, "station_head", "sms", "case_escalated_station_head"),
    Rule(CASE_ESCALATED.type, "station_head", "in_app", "case_escalated_station_head_inbox"),
    Rule(CASE_SLA_BREACHED.type, "station_head", "in_app", "sla_breached_station_head_inbox"),
    Rule(CASE_RESIDENT_UNREACHED.type, "worker", "in_app", "resident_unreached_worker_inbox"),
    Rule(
        CASE_SLA_BREACHED.type,
        "duty_officer",
        "sms",
        "sla_breached_duty_officer",
        when={"priority": ("urgent",)},
    ),
    Rule(
        REQUEST_RECEIVED.type,
        "emergency_contact",
        "sms",
        "checkin_missed_emergency_contact",
        when={"source.kind": ("checkin_missed",)},
        urgent=True,
    ),
)

_CASE = {"station_name", "case_ref", "priority_label"}
# The variables each event type offers its templates.
VARIABLES = {
    CASE_ASSIGNED.type: _CASE | {"resident_name", "resident_phone", "need_label"},
    CASE_ACCEPTED.type: {"station_name", "worker_name", "case_ref"},
    CASE_RESOLVED.type: _CASE | {"worker_name"},
    CASE_ESCALATED.type: _CASE | {"escalation_reason"},
    CASE_SLA_BREACHED.type: _CASE | {"sla_label", "due_time"},
    CASE_RESIDENT_UNREACHED.type: _CASE,
    REQUEST_RECEIVED.type: {"station_name", "resident_name", "need_label"},
}


# What the recipient adds: a resident's or family member's message may name the resident
# (masked), from the contact kept for the request.
ROLE_VARIABLES = {"resident": {"resident_name"}, "emergency_contact": {"resident_name"}}


class TemplateError(Exception):
    pass


def check_templates(rules=None, templates=None, variables=None):
    """Fail at start-up if a rule names a missing template or a template a missing variable;
    every SMS template must carry its provider template code and signature."""
    rules = RULES if rules is None else rules
    templates = TEMPLATES if templates is None else templates
    variables = VARIABLES if variables is None else variables
    for rule in rules:
        if rule.template not in templates:
            raise TemplateError(
                f"rule for {rule.event_type} names unknown template {rule.template}"
            )
        template = templates[rule.template]
        offered = variables.get(rule.event_type, set()) | ROLE_VARIABLES.get(
            rule.recipient_role, set()
        )
        missing = set(template.variables()) - offered
        if missing:
            raise TemplateError(
                f"template {rule.template} uses {sorted(missing)}, "
                f"which {rule.event_type} does not provide"
            )
        if rule.channel == "sms" and not (template.provider_code and template.signature):
            raise TemplateError(f"SMS template {rule.template} has no provider code or signature")
        # rendering with every variable present proves the text itself is well formed
        render(template, {name: "x" for name in template.variables()})


def rules_for(event_type, data=None):
    """The rules of an event type; with ``data``, only those whose condition holds."""
    return [
        rule
        for rule in RULES
        if rule.event_type == event_type and (data is None or rule.applies(data))
    ]


def variables_for(event_type, data):
    """Template variables from an event's data. What staff messages show of a resident
    arrives masked; a resident's name for family members is masked here."""
    station = stations()[data["station"]]["name"]
    if event_type == REQUEST_RECEIVED.type:
        return {
            "station_name": station,
            "resident_name": mask_name(data["resident"]["name"]),
            "need_label": NEED_TYPES[data["need"]["type"]],
        }
    base = {"station_name": station, "case_ref": data["case_id"][-8:].upper()}
    if "priority" in data:
        base["priority_label"] = PRIORITY_LABELS[data["priority"]]
    if event_type == CASE_ASSIGNED.type:
        return {
            **base,
            "resident_name": data["resident"]["name"],
            "resident_phone": mask_phone(data["resident"]["phone"]),
            "need_label": NEED_TYPES[data["need_type"]],
        }
    if event_type == CASE_ESCALATED.type:
        return {**base, "escalation_reason": ESCALATION_REASONS[data["reason"]]}
    if event_type == CASE_SLA_BREACHED.type:
        return {**base, "sla_label": SLA_LABELS[data["kind"]], "due_time": data["due_at"][11:16]}
    if event_type == CASE_RESIDENT_UNREACHED.type:
        return base
    return {**base, "worker_name": data["assignee_name"]}


def template_params(template, variables):
    """The variables a template uses, in its order: what a provider's template is filled with."""
    return {name: str(variables[name]) for name in template.variables()}


def render(template, variables):
    """The SMS text as the phone shows it: 【signature】 then the body."""
    return f"【{template.signature}】" + template.text.format_map(variables)


def message_id(event_id, rule):
    """One message per (event, recipient, template), however often the event arrives."""
    return f"{event_id}:{rule.recipient_role}:{rule.template}"
