"""Figures rolled up by month and for all time (pure), so that a report reads a few
documents whatever the history holds.

The daily figures (domain_daily) stay the record: one document per station and day,
with every sample. Beside them, each projection write keeps

- a **month** document per station (and the district) and month: the month's counts,
  its durations as histograms, its distinct residents and households as hashed
  multisets, and one *row* per day (the value of every time-series metric that day);
- an **all-time** document per station (and the district): counts, durations and
  households, for the undated stations table.

A report over a period reads the whole months in it from month documents and the days
left over at its two ends from daily documents (``cover``): at most ~60 daily and one
month document per month asked for, or the all-time document.

Durations are kept as histograms and distinct references as hashed multisets
(domain/sketches.py).
"""

import json
from datetime import date, timedelta

from services.common.vocabulary import OPEN_CASE_STATUSES
from services.reporting.domain.sketches import (
    distinct_add,
    histogram_add,
    new_histogram,
)

DURATIONS = ("accept_ms", "resolve_ms")
DISTINCT = ("residents", "households")
MONTH, ALL = "M", "A"
OPEN = "O"  # a station's cases open now: {opened_ms: how many}, for their ages
ALL_TIME_DISTINCT = ("households",)  # residents over all time: the months' union


# -- month and all-time documents ------------------------------------------------------


def month_of(day):
    return day[:7]


def rollup_id(level, station, period=None):
    return f"{level}|{station}" + (f"|{period}" if period else "")


def new_rollup(level, station, period=None):
    return {
        "_id": rollup_id(level, station, period),
        "level": level,
        "station": station,
        "period": period,
        "counts": {},
        "durations": {},
        "distinct": {},
        "rows": {},
        "opened": {},
    }


def open_case_of(fact):
    """``(station, opened_ms)`` of a case fact whose status now is an open one (the
    stations table's open cases by age), else None."""
    if not fact or fact.get("kind") != "case" or fact.get("status") not in OPEN_CASE_STATUSES:
        return None
    opened = fact.get("opened_ms") or fact.get("request_received_ms")
    if opened is None or not fact.get("station"):
        return None
    return fact["station"], opened


def open_apply(rollup, opened_ms, sign):
    """One open case more (``sign`` 1) or fewer (-1), opened at ``opened_ms``."""
    opened = rollup["opened"]
    opened[opened_ms] = opened.get(opened_ms, 0) + sign
    if opened[opened_ms] <= 0:
        del opened[opened_ms]


def rollup_apply(rollup, old, new):
    """A fact's contribution to one day going from ``old`` to ``new`` (each
    ``{"counts", "samples"}`` or None), applied to a month or all-time rollup."""
    kept_distinct = DISTINCT if rollup["level"] == MONTH else ALL_TIME_DISTINCT
    for part, sign in ((old, -1), (new, 1)):
        if not part:
            continue
        counts = rollup["counts"]
        for figure, amount in part["counts"].items():
            counts[figure] = counts.get(figure, 0) + sign * amount
            if not counts[figure]:
                del counts[figure]
        for name, values in part["samples"].items():
            if name in DURATIONS:
                histogram_add(rollup["durations"].setdefault(name, new_histogram()), values, sign)
            elif name in kept_distinct:
                distinct_add(rollup["distinct"].setdefault(name, {}), values, sign)


def rollups_of(dailies, row_of, facts=()):
    """The month and all-time rollups of a set of daily figures documents (a rebuild,
    a migration, a generated history), and the open cases of ``facts`` (those open among
    them count); ``row_of(daily)``: a day's row."""
    rollups: dict[str, dict] = {}
    for fact in facts:
        found = open_case_of(fact)
        if found:
            rid = rollup_id(OPEN, found[0])
            open_apply(rollups.setdefault(rid, new_rollup(OPEN, found[0])), found[1], 1)
    for daily in dailies:
        station, day = daily["station"], daily["day"]
        part = {"counts": daily.get("counts") or {}, "samples": daily.get("samples") or {}}
        for level, period in ((MONTH, month_of(day)), (ALL, None)):
            rid = rollup_id(level, station, period)
            rollup = rollups.setdefault(rid, new_rollup(level, station, period))
            rollup_apply(rollup, None, part)
        row = row_of(daily)
        if row:
            rollups[rollup_id(MONTH, station, month_of(day))]["rows"][day[8:]] = row
    return list(rollups.values())


def pack_row(row):
    """A day's row as compact JSON text (parsed in C when read) of the values that are
    not None or a count of 0 (a median of 0.0 s is kept: absent means none)."""
    return json.dumps(
        {
            name: value
            for name, value in sorted(row.items())
            if value is not None and (value or isinstance(value, float))
        },
        separators=(",", ":"),
    )


def unpack_row(text):
    return json.loads(text) if text else {}


# -- which documents a period reads -----------------------------------------------------


def _first_of_next(day):
    moment = date.fromisoformat(day)
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_end(day):
    return (_first_of_next(day) - timedelta(days=1)).isoformat()


def _next_month(month):
    return _first_of_next(month + "-01").isoformat()[:7]


def _previous_month(month):
    return (date.fromisoformat(month + "-01") - timedelta(days=1)).isoformat()[:7]


def cover(date_from, date_to):
    """What a period (inclusive days, None: unbounded) is read from:
    ``{"all": bool, "months": (first, last) or None, "days": [(first, last)]}``:
    the all-time rollup (no dates), else whole months (None bounds: open) and the
    days at either end that do not fill a month."""
    if date_from is None and date_to is None:
        return {"all": True, "months": None, "days": []}
    starts_month = date_from is None or date_from[8:] == "01"
    ends_month = date_to is None or date_to == _month_end(date_to)
    if date_from and date_to and month_of(date_from) == month_of(date_to):
        if starts_month and ends_month:
            return {"all": False, "months": (month_of(date_from),) * 2, "days": []}
        return {"all": False, "months": None, "days": [(date_from, date_to)]}
    days = []
    first_month = None if date_from is None else month_of(date_from)
    last_month = None if date_to is None else month_of(date_to)
    if date_from is not None and not starts_month:
        days.append((date_from, _month_end(date_from)))
        first_month = _next_month(month_of(date_from))
    if date_to is not None and not ends_month:
        days.append((month_of(date_to) + "-01", date_to))
        last_month = _previous_month(month_of(date_to))
    empty = first_month and last_month and first_month > last_month
    return {"all": False, "months": None if empty else (first_month, last_month), "days": days}


def months_between(first, last):
    """Every month from ``first`` to ``last`` (YYYY-MM, inclusive)."""
    found = []
    while first <= last:
        found.append(first)
        first = _next_month(first)
    return found


def days_between(first, last):
    """Every day from ``first`` to ``last`` (YYYY-MM-DD, inclusive)."""
    moment, end = date.fromisoformat(first), date.fromisoformat(last)
    found = []
    while moment <= end:
        found.append(moment.isoformat())
        moment += timedelta(days=1)
    return found


def in_period(day, date_from, date_to):
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)
