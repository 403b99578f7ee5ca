"""Reporting rules: the facts each stored event sets (pure).

A *fact* is the state reporting keeps of one thing that happened: a request, a case, a
message, a volunteer team, a donation... An event changes its fact in a way that does
not depend on the order events arrive in nor on how often: a case's status is the one
of its highest ``sequence``; a first acceptance is the acceptance with the lowest
sequence, a resolution the one with the highest; repeated things (escalations, actions,
referrals) are kept by event id. Every figure is derived from the facts
(``domain_daily``), never counted as events go by.
No personal data: residents appear only as their pseudonymous ``resident_ref``.
"""

from services.common import clock
from services.common.contracts import contract_of
from services.reporting.domain.events import trace_links


def _ms(iso_time):
    return clock.to_ms(clock.parse_iso(iso_time))


def _order(record):
    """Position of an event in its stream: its sequence, else its instant."""
    return (record.get("sequence") or 0, record["time_ms"], record["_id"])


def _latest(fact, name, value, record):
    """Set ``name`` from the event latest in the stream that has one."""
    order = list(_order(record))
    if fact.get(name + "_at_order") is None or order >= fact[name + "_at_order"]:
        fact[name], fact[name + "_at_order"] = value, order


def _earliest(fact, name, value, record):
    order = list(_order(record))
    if fact.get(name + "_at_order") is None or order <= fact[name + "_at_order"]:
        fact[name], fact[name + "_at_order"] = value, order


def _once(fact, name, record, value):
    """Add an occurrence of a repeatable thing, keyed by event id (repeats ignored)."""
    items = [item for item in fact.get(name, []) if item[0] != record["_id"]]
    items.append([record["_id"], *value])
    fact[name] = sorted(items)


def fact_key(record):
    """``(kind, key)`` of the fact an event changes; None for events with no fact."""
    contract = contract_of(record["type"])
    data, kind, name = record["data"], contract.aggregate, contract.name
    if kind == "request":
        return "request", data["request_id"]
    if kind == "case":
        return "case", data["case_id"]
    if kind == "message":
        return "message", data["message_id"]
    if kind == "program" and name == "record_corrected":
        # a correction changes the fact of the record it corrects
        return fact_key({"type": CORRECTED_TYPES[data["kind"]], "data": data["original"]})
    if kind == "program":
        key_field = {
            "volunteer_team_formed": ("team", "team_id"),
            "social_organisation_cultivated": ("organisation", "organisation_id"),
            "donation_received": ("donation", "donation_id"),
            "aid_distributed": ("aid", "aid_id"),
            "activity_held": ("activity", "activity_id"),
        }.get(name)
        if name == "volunteer_joined":
            return "volunteer", f"{data['team_id']}/{data['member_ref']}"
        if key_field:
            return key_field[0], data[key_field[1]]
    if kind == "station" and name == "roster_published":
        return "roster", data["station"]
    return None  # resident.registry_updated: kept in the event store only


def fact_id(record):
    """The ``_id`` of the fact an event changes (``kind:key``), or None."""
    key = fact_key(record)
    return None if key is None else f"{key[0]}:{key[1]}"


def with_batch(fact, batch_id):
    """The fact recording that ``batch_id`` (an event store batch) holds one of its
    events: the request timeline finds the batch through it (a set, kept sorted)."""
    batches = fact.get("batches") or []
    if batch_id in batches:
        return fact
    return {**fact, "batches": sorted([*batches, batch_id])}


def touched(record):
    """The ids of the facts ``fold`` may change for ``record``."""
    home = fact_id(record)
    links = trace_links(record, home) if record.get("batch") else []
    return ([home] if home else []) + links


def fold(facts, record, rules=True):
    """Apply ``record`` to ``facts`` (``{id: fact}``, changed in place): its fact by the
    rules (unless ``rules`` is false: a repeat already applied), and the id of the batch
    holding it (``record["batch"]``, if it came from one) recorded in its fact and in
    the request facts its timeline is found through (``trace_links``). Idempotent."""
    home = fact_id(record)
    if home and rules:
        facts[home] = apply(facts.get(home) or {"_id": home}, record)
    batch = record.get("batch")
    if batch:
        for key in ([home] if home else []) + trace_links(record, home):
            facts[key] = with_batch(facts.get(key) or {"_id": key}, batch)


def _request(fact, record):
    data = record["data"]
    fact.update(
        {
            "station": data["station"],
            "channel": data["channel"],
            "need_type": data["need"]["type"],
            "resident_ref": data["resident_ref"],
            "received_ms": _ms(data["received_at"]),
            "repeat_of": data.get("repeat_of"),
            "origin": (data.get("source") or {}).get("kind"),
        }
    )


def _case(fact, record):
    data, name = record["data"], contract_of(record["type"]).name
    fact["station"], fact["request_id"] = data["station"], data["request_id"]
    _latest(fact, "status", data["status"], record)
    if "priority" in data:
        _latest(fact, "priority", data["priority"], record)
    if name == "opened":
        fact.update(
            {
                "need_type": data["need_type"],
                "resident_ref": data["resident_ref"],
                "channel": data.get("channel"),
                "origin": data.get("origin"),
                "request_received_ms": _ms(data["request_received_at"]),
                "opened_ms": _ms(data["opened_at"]),
            }
        )
    elif name == "assigned":
        _earliest(fact, "assigned_ms", _ms(data["assigned_at"]), record)
        fact.setdefault("need_type", data["need_type"])
    elif name == "accepted":
        _earliest(fact, "accepted_ms", _ms(data["accepted_at"]), record)
    elif name == "resolved":
        _latest(fact, "resolved_ms", _ms(data["resolved_at"]), record)
    elif name == "closed":
        _earliest(fact, "closed_ms", _ms(data["closed_at"]), record)
    elif name == "cancelled":
        _earliest(fact, "cancelled_ms", _ms(data["cancelled_at"]), record)
    elif name == "sla_breached":
        _earliest(fact, f"sla_{data['kind']}_ms", _ms(data["breached_at"]), record)
    elif name == "escalated":
        _once(fact, "escalations", record, [_ms(data["escalated_at"]), data["reason"]])
    elif name == "referred":
        _once(fact, "referrals", record, [_ms(data["referred_at"]), data["agency"]])
    elif name == "reopened":
        _once(fact, "reopenings", record, [_ms(data["reopened_at"])])
    elif name == "action_recorded":
        _once(fact, "actions", record, [_ms(data["recorded_at"]), data["action_type"]])
    elif name == "request_linked":
        _once(fact, "linked_requests", record, [_ms(data["linked_at"]), data["linked_request_id"]])


MESSAGE_TIMES = {"sent": "sent_at", "delivered": "delivered_at", "failed": "failed_at"}


def _message(fact, record):
    data, name = record["data"], contract_of(record["type"]).name
    fact.update(
        {
            "station": data.get("station"),
            "recipient_role": data["recipient_role"],
            "channel": data["channel"],
            "template": data["template"],
            "case_id": data.get("case_id"),
            "request_id": data.get("request_id"),
        }
    )
    _earliest(fact, f"{name}_ms", _ms(data[MESSAGE_TIMES[name]]), record)
    if name == "failed":
        fact["failure"] = data["status"]


def _roster(fact, record):
    """A station's roster as its latest publication says (a whole roster each time)."""
    data = record["data"]
    fact["station"] = data["station"]
    staff = data["staff"]
    _latest(
        fact,
        "staff",
        {
            "total": len(staff),
            "workers": sum(1 for s in staff if s["role"] == "worker"),
            "station_heads": sum(1 for s in staff if s["role"] == "station_head"),
        },
        record,
    )


# the event type of each program record kind (what a correction's ``original`` is)
CORRECTED_TYPES = {
    "volunteer_team": "shegong.program.volunteer_team_formed.v1",
    "volunteer": "shegong.program.volunteer_joined.v1",
    "social_organisation": "shegong.program.social_organisation_cultivated.v1",
    "donation": "shegong.program.donation_received.v1",
    "aid": "shegong.program.aid_distributed.v1",
    "activity": "shegong.program.activity_held.v1",
}

PROGRAM_FIELDS = {
    "team": ("team_id", "name"),
    "volunteer": ("team_id", "member_ref"),
    "organisation": ("organisation_id", "name"),
    "donation": ("donation_kind", "amount_fen", "goods", "quantity"),
    "aid": ("household_ref", "items", "value_fen"),
    "activity": ("activity_type", "participants"),
}


def apply(fact, record):
    """The fact after ``record``: a new dict, ``fact`` is left as it was."""
    kind, _ = fact_key(record)
    changed = dict(fact, kind=kind)
    if kind == "request":
        _request(changed, record)
    elif kind == "case":
        _case(changed, record)
    elif kind == "message":
        _message(changed, record)
    elif kind == "roster":
        _roster(changed, record)
    else:
        _program(changed, kind, record)
    return changed


def _program(fact, kind, record):
    """A program record's fact: what its latest revision says (the original is revision
    0, each correction the next); voided, it counts for nothing."""
    data = record["data"]
    corrected = contract_of(record["type"]).name == "record_corrected"
    revision = data["revision"] if corrected else 0
    if revision < fact.get("revision", 0) or (
        not corrected and "revision" in fact and fact["revision"] > 0
    ):
        return  # a later revision is applied already (events may arrive in any order)
    fact["revision"] = revision
    if corrected and data["void"]:
        fact["void"] = True
        return
    values = data["corrected"] if corrected else data
    fact.update({"station": values["station"], "on": str(values["on"]), "void": False})
    values = dict(values, donation_kind=values.get("kind"))  # "kind" names the fact's kind
    fact.update({field: values.get(field) for field in PROGRAM_FIELDS[kind]})
