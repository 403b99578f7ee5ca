"""The permanent event store's records, and the timeline of one request (pure).

A record is an event as reporting keeps it for good: the envelope's attributes, the
instant as epoch milliseconds, and the data with every personal field removed. Residents
stay countable through their pseudonymous ``resident_ref``; nothing else of them is kept.
"""

import heapq
from itertools import pairwise

from services.common import clock
from services.common.contracts import CATALOGUE
from services.common.privacy import mask_text

# Paths (dotted) dropped from an event's data before it is stored: residents' names,
# phones, ID numbers, contacts and free text about their needs; staff phones and names.
PERSONAL_FIELDS = (
    "resident",
    "need.description",
    "person.id_number",
    "person.name",
    "person.phone",
    "person.emergency_contacts",
    "assignee.name",
    "assignee.phone",
    "assignee_name",
    "station_head.name",
    "station_head.phone",
)
# Free text that may hold anything: dropped for the types where people write it.
FREE_TEXT = {"shegong.case.reopened.v1": ("reason",)}
MASKED_TEXT = ("reason",)  # providers' failure reasons may quote numbers: masked


def _drop(data, path):
    head, _, rest = path.partition(".")
    if head not in data:
        return
    if not rest:
        del data[head]
    elif isinstance(data[head], dict):
        _drop(data[head], rest)


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def redacted(event_type, data):
    """The event's data without personal fields."""
    kept = _copy(data)
    for path in PERSONAL_FIELDS + FREE_TEXT.get(event_type, ()):
        _drop(kept, path)
    for field in MASKED_TEXT:
        if isinstance(kept.get(field), str):
            kept[field] = mask_text(kept[field])
    return kept


def record(envelope, data, stored_ms):
    """The event store document of a validated event (``_id`` = the event id)."""
    data = redacted(envelope["type"], data)
    return {
        "_id": envelope["id"],
        "type": envelope["type"],
        "source": envelope["source"],
        "time": envelope["time"],
        "time_ms": clock.to_ms(clock.parse_iso(envelope["time"])),
        "subject": envelope.get("subject"),
        "correlationid": envelope["correlationid"],
        "causationid": envelope.get("causationid"),
        "sequence": envelope.get("sequence"),
        "station": data.get("station") or (data.get("person") or {}).get("station"),
        "request_id": data.get("request_id"),
        "linked_request_id": data.get("linked_request_id"),
        "data": data,
        "stored_ms": stored_ms,
    }


def trace_keys(record):
    """The requests whose timeline holds the event: its correlation id, and the
    requests its data names."""
    keys = (record.get("correlationid"), record.get("request_id"), record.get("linked_request_id"))
    return {key for key in keys if key}


# the facts that hold the id of their request (``request_id``, an indexed field)
FACTS_OF_A_REQUEST = ("request", "case", "message")


def trace_links(record, home):
    """The request facts (ids) that must record the batch holding ``record`` so that
    the timeline of each request it belongs to finds it, besides its own fact
    ``home`` (None: it has none). The timeline of request R reads the fact
    ``request:R`` and the facts whose ``request_id`` is R (an index), so an event is
    found through its own fact when that is one of them; otherwise (a repeat request
    linked to another's case, an event of no fact, another correlation id) through
    ``request:<key>``: a request fact, or a stub holding only ``batches``, which no
    figure counts."""
    covered = None
    if home and home.split(":", 1)[0] in FACTS_OF_A_REQUEST:
        covered = record.get("request_id")
    return sorted(
        f"request:{key}"
        for key in trace_keys(record)
        if key != covered and f"request:{key}" != home
    )


# The order of a request's life, used only to break ties between events of the same
# instant that no causation or sequence orders.
TYPE_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "request.received",
            "case.opened",
            "case.request_linked",
            "case.assigned",
            "message.sent",
            "message.delivered",
            "message.failed",
            "case.resident_unreached",
            "case.escalated",
            "case.accepted",
            "case.action_recorded",
            "case.referred",
            "case.referral_answered",
            "case.sla_breached",
            "case.resolved",
            "case.reopened",
            "case.closed",
            "case.cancelled",
        )
    )
}


def short_type(event_type):
    """shegong.case.opened.v1 -> case.opened"""
    contract = CATALOGUE.get(event_type)
    return contract.short_type if contract else event_type


def timeline(records):
    """The records of one request in the order they happened.

    An effect comes after its cause (``causationid``), a case's or a message's events in
    their stream's order (``sequence``, then the message's status order); otherwise the
    earlier instant first, then the usual order of a request's life.
    """
    by_id = {item["_id"]: item for item in records}
    after: dict[str, set[str]] = {
        key: set() for key in by_id
    }  # event -> events that must come first

    def stream(item):
        data = item["data"]
        if item["type"].startswith("shegong.case."):
            return "case:" + data.get("case_id", "")
        if item["type"].startswith("shegong.message."):
            return "message:" + data.get("message_id", "")
        return None

    for item in records:
        if item.get("causationid") in by_id and item["causationid"] != item["_id"]:
            after[item["_id"]].add(item["causationid"])
    streams: dict[str, list[dict]] = {}
    for item in records:
        if stream(item):
            streams.setdefault(stream(item), []).append(item)
    for members in streams.values():
        members.sort(
            key=lambda i: (
                i.get("sequence") or 0,
                TYPE_ORDER.get(short_type(i["type"]), 99),
                i["time_ms"],
            )
        )
        for earlier, later in pairwise(members):
            after[later["_id"]].add(earlier["_id"])

    def rank(item):
        return (
            item["time_ms"],
            TYPE_ORDER.get(short_type(item["type"]), 99),
            item.get("sequence") or 0,
            item["_id"],
        )

    waiting = {key: len(deps) for key, deps in after.items()}
    unlocks: dict[str, list[str]] = {key: [] for key in by_id}
    for key, deps in after.items():
        for dep in deps:
            unlocks[dep].append(key)
    ready = [(rank(by_id[key]), key) for key, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, key = heapq.heappop(ready)
        ordered.append(by_id[key])
        for nxt in unlocks[key]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (rank(by_id[nxt]), nxt))
    if len(ordered) < len(records):  # a causation cycle (never produced): keep them all
        done = {item["_id"] for item in ordered}
        ordered += sorted((i for i in records if i["_id"] not in done), key=rank)
    return ordered
