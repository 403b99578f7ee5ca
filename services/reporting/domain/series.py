"""A figure over time (pure): one value per day, ISO week or month of a period."""

from datetime import date, timedelta

INTERVALS = ("day", "week", "month")


def period_start(day, interval):
    """The first day of the day/ISO week (Monday)/month that ``day`` (YYYY-MM-DD) is in."""
    moment = date.fromisoformat(day)
    if interval == "week":
        moment -= timedelta(days=moment.weekday())
    elif interval == "month":
        moment = moment.replace(day=1)
    return moment.isoformat()


def _next(start, interval):
    moment = date.fromisoformat(start)
    if interval == "day":
        return (moment + timedelta(days=1)).isoformat()
    if interval == "week":
        return (moment + timedelta(days=7)).isoformat()
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1).isoformat()


MAX_POINTS = 3660  # ten years of days: a series is for looking at, not for scraping


def _back(start, interval, periods):
    """The first day of the period ``periods`` periods before the one starting ``start``."""
    moment = date.fromisoformat(start)
    if interval == "day":
        return (moment - timedelta(days=periods)).isoformat()
    if interval == "week":
        return (moment - timedelta(days=7 * periods)).isoformat()
    months = moment.year * 12 + moment.month - 1 - periods
    return date(months // 12, months % 12 + 1, 1).isoformat()


def series_of(days, value, interval, date_from=None, date_to=None, today=None):
    """The periods of a figure: ``{"points": [{"period": first day, "value": ...}],
    "truncated": bool, "first_kept": first period shown or None}``. ``days``: the days
    with data (sorted); ``value(first, last)``: the figure over those days (inclusive).

    The series ends at ``date_to``, else ``today`` (the district's; without it, the last
    day with data), and never before ``date_from``. It starts at ``date_from``, else at
    the first day with data among the newest MAX_POINTS periods (a record dated years
    back does not move it). Empty periods are included; of more than MAX_POINTS periods
    the NEWEST are kept and ``truncated`` says that older ones were left out (data outside
    the newest MAX_POINTS periods, without ``date_from``, counts as left out too). A
    period's value is over its days within ``date_from`` .. ``date_to``."""
    starts, truncated = series_periods(days, interval, date_from, date_to, today)
    points = [
        {"period": start, "value": value(*period_days(start, interval, date_from, date_to))}
        for start in starts
    ]
    return {
        "points": points,
        "truncated": truncated,
        "first_kept": points[0]["period"] if points else None,
    }


def period_days(start, interval, date_from=None, date_to=None):
    """(first, last) day of the period starting ``start``, within the asked dates."""
    last = (date.fromisoformat(_next(start, interval)) - timedelta(days=1)).isoformat()
    return max(start, date_from or start), min(last, date_to or last)


def series_periods(days, interval, date_from=None, date_to=None, today=None):
    """``(first days of the periods, truncated)`` of a series (``series_of``)."""
    last = date_to or today or (days[-1] if days else None)
    if date_from and not date_to:
        last = max(last or date_from, date_from)  # a period after all data: that one
    if last is None or (date_from is None and not days):
        return [], False
    oldest_kept = _back(period_start(last, interval), interval, MAX_POINTS - 1)
    first, truncated = date_from, False
    if first is None:
        shown = [day for day in days if oldest_kept <= period_start(day, interval) <= last]
        truncated = days[0] < oldest_kept
        first = shown[0] if shown else (oldest_kept if truncated else days[0])
    start = period_start(first, interval)
    if start < oldest_kept:
        start, truncated = oldest_kept, True
    starts: list[str] = []
    while start <= last and len(starts) < MAX_POINTS:
        starts.append(start)
        start = _next(start, interval)
    return starts, truncated
