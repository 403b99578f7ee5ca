"""Reporting rules: what each event contributes to the projections, and the figures.

Pure. Projections are *facts* per request, case and message, written as plain field
sets: each event type sets its own fields (and the station, which all agree on), so
applying events twice or in any order gives the same facts, and every figure is
derived from the facts.
No personal data: residents appear only as their pseudonymous ``resident_ref``.
"""
from services.common import clock
from services.common.contracts import (
    CASE_ACCEPTED, CASE_ACTION_RECORDED, CASE_ASSIGNED, CASE_OPENED, CASE_RESOLVED,
    MESSAGE_SENT, REQUEST_RECEIVED,
)
from services.common.vocabulary import CHANNELS, NEED_TYPES, PRIORITIES


def _at(iso_time):
    moment = clock.parse_iso(iso_time)
    return clock.to_ms(moment), clock.local_day(moment)


def facts(event_type, data):
    """``(projection, key, fields)`` that an event sets; None for events not projected."""
    if event_type == REQUEST_RECEIVED.type:
        ms, day = _at(data["received_at"])
        return "requests", data["request_id"], {
            "station": data["station"], "channel": data["channel"],
            "need_type": data["need"]["type"], "resident_ref": data["resident_ref"],
            "received_ms": ms, "received_day": day}
    if event_type == CASE_OPENED.type:
        ms, day = _at(data["opened_at"])
        received_ms, _ = _at(data["request_received_at"])
        return "cases", data["case_id"], {
            "station": data["station"], "request_id": data["request_id"],
            "priority": data["priority"], "need_type": data["need_type"],
            "resident_ref": data["resident_ref"], "request_received_ms": received_ms,
            "opened_ms": ms, "opened_day": day}
    if event_type == CASE_ASSIGNED.type:
        ms, _ = _at(data["assigned_at"])
        return "cases", data["case_id"], {"station": data["station"], "assigned_ms": ms}
    if event_type == CASE_ACCEPTED.type:
        ms, day = _at(data["accepted_at"])
        return "cases", data["case_id"], {"station": data["station"], "accepted_ms": ms,
                                          "accepted_day": day}
    if event_type == CASE_ACTION_RECORDED.type:
        return None  # actions are counted from the case log in a later projection
    if event_type == CASE_RESOLVED.type:
        ms, day = _at(data["resolved_at"])
        return "cases", data["case_id"], {"station": data["station"], "resolved_ms": ms,
                                          "resolved_day": day}
    if event_type == MESSAGE_SENT.type:
        ms, day = _at(data["sent_at"])
        return "messages", data["message_id"], {
            "station": data["station"], "recipient_role": data["recipient_role"],
            "channel": data["channel"], "status": data["status"], "sent_ms": ms, "sent_day": day}
    return None


def percentile(values, fraction):
    """Nearest-rank percentile of a list of numbers (None for an empty list)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))  # ceil without floats
    return ordered[min(rank, len(ordered)) - 1]


def durations(cases, start_field, end_field):
    seconds = [(case[end_field] - case[start_field]) / 1000 for case in cases
               if case.get(end_field) is not None and case.get(start_field) is not None]
    return {"count": len(seconds), "median": percentile(seconds, 0.5),
            "p90": percentile(seconds, 0.9)}


def _tally(rows, field, names):
    counts = {name: 0 for name in names}
    for row in rows:
        counts[row[field]] = counts.get(row[field], 0) + 1
    return counts


DAILY_FIGURES = ("requests_received", "cases_opened", "cases_accepted", "cases_resolved")


def by_day(requests, opened, accepted, resolved):
    """The same counts per district calendar day, for the days that have any."""
    days = {}
    for rows, day_field, figure in ((requests, "received_day", "requests_received"),
                                    (opened, "opened_day", "cases_opened"),
                                    (accepted, "accepted_day", "cases_accepted"),
                                    (resolved, "resolved_day", "cases_resolved")):
        for row in rows:
            counts = days.setdefault(row[day_field], dict.fromkeys(DAILY_FIGURES, 0))
            counts[figure] += 1
    return [{"day": day, **days[day]} for day in sorted(days)]


def summary(requests, opened, accepted, resolved, messages):
    """The figures of a station or the district for a period, from the facts in it.

    ``requests``: requests received in the period; ``opened``/``accepted``/``resolved``:
    cases opened/accepted/resolved in it; ``messages``: messages sent in it.
    """
    return {
        "requests_received": len(requests),
        "requests_by_channel": _tally(requests, "channel", CHANNELS),
        "requests_by_need_type": _tally(requests, "need_type", NEED_TYPES),
        "residents_served": len({row["resident_ref"] for row in requests}),
        "cases_opened": len(opened),
        "cases_by_priority": _tally(opened, "priority", PRIORITIES),
        "cases_by_need_type": _tally(opened, "need_type", NEED_TYPES),
        "cases_accepted": len(accepted),
        "cases_resolved": len(resolved),
        "urgent_cases_resolved": sum(1 for case in resolved if case.get("priority") == "urgent"),
        "time_to_accept_seconds": durations(accepted, "request_received_ms", "accepted_ms"),
        "time_to_resolve_seconds": durations(resolved, "request_received_ms", "resolved_ms"),
        "messages_sent": len(messages),
        "by_day": by_day(requests, opened, accepted, resolved),
    }
