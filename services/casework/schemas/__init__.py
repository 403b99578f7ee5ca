"""marshmallow schemas of the casework HTTP API."""

from marshmallow import Schema, fields, validate

from services.casework.domain.sla import NO_DUE_MS
from services.common import clock
from services.common.fields import MAX_SEQUENCE, BoundedInteger, Line, Notes, Strict
from services.common.paging import Cursor, ValueList
from services.common.privacy import mask_name, mask_phone
from services.common.vocabulary import (
    ACTION_TYPES,
    CANCEL_REASONS,
    CASE_STATUSES,
    PRIORITIES,
    stations,
)


class CaseQuery(Strict):
    station = fields.String(validate=validate.OneOf(sorted(stations())))
    status = ValueList(CASE_STATUSES)
    priority = ValueList(PRIORITIES)
    request_id = Line(validate=validate.Length(max=200))
    assignee = Line(
        validate=validate.Length(max=100),
        metadata={"description": "a worker's id, or ``me``: the cases they own"},
    )
    overdue = fields.Boolean(
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={"description": "true: only cases past their acceptance or resolution deadline"},
    )
    sort = fields.String(
        load_default="due",
        validate=validate.OneOf(("due", "opened")),
        metadata={
            "description": "due: earliest deadline first (cases with "
            "no clock running last); opened: newest "
            "first"
        },
    )
    cursor = Cursor()
    limit = BoundedInteger(1, 500, strict=False, load_default=100)


class Versioned(Strict):
    version = BoundedInteger(1, MAX_SEQUENCE)


class AcceptCommand(Versioned):
    pass


class ActionCommand(Versioned):
    type = fields.String(required=True, validate=validate.OneOf(sorted(ACTION_TYPES)))
    note = Notes(load_default="", validate=validate.Length(max=2000))


class ResolveCommand(Versioned):
    summary = Notes(required=True, validate=validate.Length(min=1, max=2000))


class ReferCommand(Versioned):
    agency = Line(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "a registered agency's id (the referral is sent to it: "
            "docs/agencies.md), or the name of one reached by other means"
        },
    )
    note = Notes(load_default="", validate=validate.Length(max=2000))


class ReferralAnswerCommand(Versioned):
    accepted = fields.Boolean(required=True, truthy={True}, falsy={False})
    note = Notes(load_default="", validate=validate.Length(max=2000))


class CloseCommand(Versioned):
    pass


class ReopenCommand(Versioned):
    reason = Notes(load_default="", validate=validate.Length(max=500))


class CancelCommand(Versioned):
    reason = fields.String(required=True, validate=validate.OneOf(sorted(CANCEL_REASONS)))


class ReassignCommand(Versioned):
    worker_id = Line(required=True, validate=validate.Length(min=1, max=100))


class EscalateCommand(Versioned):
    note = Notes(load_default="", validate=validate.Length(max=2000))


class AssigneeOut(Schema):
    id = fields.String()
    name = fields.String()


class ActionOut(Schema):
    type = fields.String()
    note = fields.String()
    by = fields.String()
    at = fields.String()


class CaseSummaryOut(Schema):
    """A case in a list: the resident masked (lists are not access-logged)."""

    case_id = fields.String()
    request_id = fields.String()
    station = fields.String()
    status = fields.String()
    priority = fields.String()
    priority_reason = fields.String()
    need_type = fields.String()
    assignee = fields.Nested(AssigneeOut, allow_none=True)
    resident = fields.Method("_masked_resident")
    opened_at = fields.String()
    accepted_at = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    version = fields.Integer()
    due_at = fields.Method(
        "_due_at",
        metadata={
            "description": "the deadline the case works against now (acceptance, then "
            "resolution); null when no clock runs"
        },
    )
    overdue = fields.Method("_overdue")

    def _due_at(self, case):
        return None if case.due_ms == NO_DUE_MS else _instant(case.due_ms)

    def _overdue(self, case):
        return case.due_ms <= clock.to_ms(clock.now())

    def _masked_resident(self, case):
        return {
            "name": mask_name(case.resident["name"]),
            "phone": mask_phone(case.resident["phone"]),
            "categories": list(case.resident.get("categories", [])),
        }


class EscalationOut(Schema):
    reason = fields.String()
    at = fields.String()
    station_head = fields.String()


class LinkedRequestOut(Schema):
    request_id = fields.String()
    channel = fields.String(allow_none=True)
    received_at = fields.String(allow_none=True)
    linked_at = fields.String()


class ReferralOut(Schema):
    agency = fields.String()
    referred_by = fields.String()
    referred_at = fields.String()
    answer = fields.String(allow_none=True)
    answered_at = fields.String(allow_none=True)
    referral_id = fields.String(
        allow_none=True,
        metadata={"description": "set when the referral was sent to a registered agency"},
    )
    agency_name = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "why it was rejected"})


class CaseList(Schema):
    cases = fields.List(fields.Nested(CaseSummaryOut))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "pass as ``cursor`` for the next page; null on the last page"},
    )


class CaseOut(CaseSummaryOut):
    """One case in full, for its station's staff: reading it is recorded."""

    resident = fields.Dict()  # type: ignore[assignment]  # in full: the summary masks her
    need_description = fields.String()
    assigned_at = fields.String(allow_none=True)
    request_received_at = fields.String()
    resolution_summary = fields.String(allow_none=True)
    actions = fields.List(fields.Nested(ActionOut))
    channel = fields.String(allow_none=True)
    origin = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    cancelled_at = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    reopened_at = fields.String(allow_none=True)
    reopen_count = fields.Integer()
    referral = fields.Nested(ReferralOut, allow_none=True)
    escalations = fields.List(fields.Nested(EscalationOut))
    linked_requests = fields.List(fields.Nested(LinkedRequestOut))
    accept_due_at = fields.Method("_accept_due_at")
    resolve_due_at = fields.Method("_resolve_due_at")
    sla_breached = fields.List(fields.String())

    def _accept_due_at(self, case):
        return _instant(case.accept_due_ms)

    def _resolve_due_at(self, case):
        return _instant(case.resolve_due_ms)


def _instant(ms):
    return clock.iso(clock.from_ms(ms)) if ms else None


REFERRAL_STATES = ("sent", "accepted", "rejected", "done")


class ReferralQuery(Strict):
    station = fields.String(validate=validate.OneOf(sorted(stations())))
    agency = Line(validate=validate.Length(min=1, max=100))
    state = fields.String(
        validate=validate.OneOf(REFERRAL_STATES),
        metadata={"description": "sent: waiting for the agency's answer"},
    )
    limit = BoundedInteger(1, 500, strict=False, load_default=100)


class ReferralListed(Schema):
    """A referral with its state; the resident is not shown (open the case for that)."""

    case_id = fields.String()
    station = fields.String()
    case_status = fields.String()
    referral_id = fields.String(allow_none=True)
    agency = fields.String()
    agency_name = fields.String(allow_none=True)
    state = fields.String()
    reason = fields.String(allow_none=True)
    referred_by = fields.String()
    referred_at = fields.String()
    answered_at = fields.String(allow_none=True)


class ReferralList(Schema):
    referrals = fields.List(fields.Nested(ReferralListed))
