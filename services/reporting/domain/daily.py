"""Daily figures per station and day, derived from the facts (pure).

``contributions(fact)`` says what a fact adds to the daily figures of each (station, day):
counts, and *samples* (durations, pseudonymous refs) for the figures that cannot be
summed (medians, distinct residents). When a fact changes, its old contributions are
taken out and its new ones put in; a fact that an event leaves unchanged (a repeat)
changes nothing. So every daily figures always equals what its facts say.
"""

from collections import Counter

from services.common import clock

NO_STATION = "_"  # messages not about a station: in the district's figures only
DISTRICT = "*"  # the whole district's daily figures of a day: the sum of its stations' ones


def day_of(ms):
    return clock.local_day(clock.from_ms(ms))


def daily_id(station, day):
    return f"{station or NO_STATION}|{day}"


def _case(fact, add):
    priority = fact.get("priority") or "unknown"
    for figure, field in (
        ("cases_opened", "opened_ms"),
        ("cases_accepted", "accepted_ms"),
        ("cases_resolved", "resolved_ms"),
        ("cases_closed", "closed_ms"),
        ("cases_cancelled", "cancelled_ms"),
    ):
        if fact.get(field) is not None:
            add(fact[field], figure)
            add(fact[field], f"{figure}:{priority}")
    if fact.get("opened_ms") is not None:
        add(fact["opened_ms"], f"cases_by_need:{fact.get('need_type')}")
        # the case's status now, on the day it was opened: moves as the case moves on
        add(fact["opened_ms"], f"cases_by_status:{fact.get('status') or 'received'}")
    received = fact.get("request_received_ms")
    if received is not None:
        for field, sample in (("accepted_ms", "accept_ms"), ("resolved_ms", "resolve_ms")):
            if fact.get(field) is not None:
                add(fact[field], sample, fact[field] - received)
    for kind in ("acceptance", "resolution"):
        if fact.get(f"sla_{kind}_ms") is not None:
            add(fact[f"sla_{kind}_ms"], "sla_breaches")
            add(fact[f"sla_{kind}_ms"], f"sla_breaches:{kind}")
    for _, ms, _reason in fact.get("escalations", []):
        add(ms, "escalations")
    for _, ms, _agency in fact.get("referrals", []):
        add(ms, "referrals")
    for _, ms in fact.get("reopenings", []):
        add(ms, "cases_reopened")
    for _, ms, action_type in fact.get("actions", []):
        add(ms, f"actions:{action_type}")


def _program(fact, add):
    kind, day = fact["kind"], fact["on"]
    if kind == "team":
        add(day, "volunteer_teams_formed")
    elif kind == "volunteer":
        add(day, "volunteers_joined")
    elif kind == "organisation":
        add(day, "social_organisations_cultivated")
    elif kind == "aid":
        add(day, "aid_distributions")
        add(day, "aid_value_fen", None, fact.get("value_fen") or 0)
        add(day, "households", fact["household_ref"])
    elif kind == "activity":
        add(day, "activities")
        add(day, f"activities:{fact['activity_type']}")
        add(day, "activity_participants", None, fact.get("participants") or 0)


def contributions(fact):
    """``{(station, day): {"counts": {figure: n}, "samples": {name: [values]}}}``."""
    if not fact or fact.get("void"):
        return {}  # a voided program record counts for nothing
    out: dict[tuple[str, str], dict] = {}
    station = fact.get("station")

    def add(when, figure, sample=None, amount=1):
        day = when if isinstance(when, str) else day_of(when)
        slot = out.setdefault((station, day), {"counts": {}, "samples": {}})
        if sample is not None:
            slot["samples"].setdefault(figure, []).append(sample)
        else:
            slot["counts"][figure] = slot["counts"].get(figure, 0) + amount

    kind = fact.get("kind")
    if kind == "request" and fact.get("received_ms") is not None:
        add(fact["received_ms"], "requests_received")
        add(fact["received_ms"], f"requests_by_channel:{fact['channel']}")
        add(fact["received_ms"], f"requests_by_need:{fact['need_type']}")
        add(fact["received_ms"], "residents", fact["resident_ref"])
        if fact.get("repeat_of"):
            add(fact["received_ms"], "repeat_requests")
    elif kind == "case":
        _case(fact, add)
    elif kind == "message":
        for status in ("sent", "delivered", "failed"):
            if fact.get(f"{status}_ms") is not None:
                add(fact[f"{status}_ms"], f"messages_{status}")
    elif kind == "donation":
        add(fact["on"], "donations")
        add(fact["on"], f"donations:{fact.get('donation_kind')}")
        add(fact["on"], "donations_fen", None, fact.get("amount_fen") or 0)
        add(fact["on"], "goods_quantity", None, fact.get("quantity") or 0)
    elif kind == "roster":
        pass  # a roster is a state, not something that happened on a day: no daily figures
    elif kind:
        _program(fact, add)
    return out


def with_district(deltas):
    """Each ``((station, day), old, new)`` change, and the same change to the district's day."""
    return list(deltas) + [((DISTRICT, day), old, new) for (_, day), old, new in deltas]


def merge(daily, changes, station, day):
    """The daily figures document of (station, day) after facts went from ``old`` to
    ``new`` contributions, for each ``(old, new)`` of ``changes`` (each part
    ``{"counts", "samples"}`` or None). The document is copied once and its samples
    sorted once whatever the number of changes: a pass of a burst changes one day's
    figures hundreds of times, and the day can hold thousands of samples."""
    counts = dict(daily.get("counts") or {})
    samples = {name: list(values) for name, values in (daily.get("samples") or {}).items()}
    removed: dict[str, Counter] = {}
    for old, new in changes:
        for part, sign in ((old, -1), (new, 1)):
            if not part:
                continue
            for figure, amount in part["counts"].items():
                counts[figure] = counts.get(figure, 0) + sign * amount
            for name, values in part["samples"].items():
                if sign > 0:
                    samples.setdefault(name, []).extend(values)
                else:
                    removed.setdefault(name, Counter()).update(values)
    for name, taken in removed.items():
        # a multiset difference: an old contribution was added when its fact was, so
        # each value taken out is there (an absent one is ignored, as it always was)
        kept = []
        for value in samples.get(name, []):
            if taken.get(value):
                taken[value] -= 1
            else:
                kept.append(value)
        samples[name] = kept
    return {
        "_id": daily_id(station, day),
        "station": station or NO_STATION,
        "day": day,
        "counts": {k: v for k, v in sorted(counts.items()) if v},
        "samples": {k: sorted(v) for k, v in sorted(samples.items()) if v},
    }


def dailies(facts):
    """The daily figures documents of a set of facts, built at once (a rebuild)."""
    return dailies_of(item for fact in facts for item in contributions(fact).items())


def dailies_of(parts):
    """The daily figures documents of contributions ``[((station, day), part)]``, each
    counted for its station and for the district."""
    slots: dict[tuple[str, str], dict] = {}
    for (station, day), part in parts:
        for slot in ((station, day), (DISTRICT, day)):
            into = slots.setdefault(slot, {"counts": {}, "samples": {}})
            for figure, amount in part["counts"].items():
                into["counts"][figure] = into["counts"].get(figure, 0) + amount
            for name, values in part["samples"].items():
                into["samples"].setdefault(name, []).extend(values)
    return [merge({}, [(None, part)], station, day) for (station, day), part in slots.items()]
