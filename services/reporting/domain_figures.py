"""The district's figures from the daily figures (pure): summary, time series, CSV."""

import csv
import io
from datetime import date, timedelta

from services.common.vocabulary import (
    ACTION_TYPES,
    ACTIVITY_TYPES,
    CASE_STATUSES,
    CHANNELS,
    NEED_TYPES,
    PRIORITIES,
    stations,
)
from services.reporting import domain_rollups


def percentile(values, fraction):
    """Nearest-rank percentile of a list of numbers (None for an empty list)."""
    return domain_rollups.histogram_percentile(domain_rollups.histogram_of(values), fraction)


def durations(histogram):
    """Count, median and p90 in seconds of a histogram of milliseconds."""
    median = domain_rollups.histogram_percentile(histogram, 0.5)
    p90 = domain_rollups.histogram_percentile(histogram, 0.9)
    return {
        "count": sum(histogram["counts"].values()),
        "median": None if median is None else median / 1000,
        "p90": None if p90 is None else p90 / 1000,
    }


def totals_of(dailies=(), rollups=()):
    """The counts summed, the durations' histograms merged and the distinct references
    counted of daily figures documents and month or all-time rollups (domain_rollups)
    together: ``{"counts", "durations": {name: histogram}, "distinct": {name: n}}``."""
    counts: dict[str, int] = {}
    histograms: dict[str, list] = {name: [] for name in domain_rollups.DURATIONS}
    distinct: dict[str, set] = {name: set() for name in domain_rollups.DISTINCT}
    for daily in dailies:
        for figure, amount in (daily.get("counts") or {}).items():
            counts[figure] = counts.get(figure, 0) + amount
        samples = daily.get("samples") or {}
        for name in domain_rollups.DURATIONS:
            if samples.get(name):
                histograms[name].append(domain_rollups.histogram_of(samples[name]))
        for name in domain_rollups.DISTINCT:
            distinct[name].update(map(domain_rollups.ref_hash, samples.get(name) or ()))
    for rollup in rollups:
        for figure, amount in (rollup.get("counts") or {}).items():
            counts[figure] = counts.get(figure, 0) + amount
        for name, histogram in (rollup.get("durations") or {}).items():
            histograms.setdefault(name, []).append(histogram)
        for name, packed in (rollup.get("distinct") or {}).items():
            distinct.setdefault(name, set()).update(domain_rollups.distinct_keys(packed))
    return {
        "counts": counts,
        "durations": {
            name: domain_rollups.histograms_merged(found) for name, found in histograms.items()
        },
        "distinct": {name: len(found) for name, found in distinct.items()},
    }


def _tally(counts, prefix, names):
    found = {name: counts.get(f"{prefix}:{name}", 0) for name in names}
    found.update(
        {
            key.split(":", 1)[1]: amount
            for key, amount in counts.items()
            if key.startswith(prefix + ":") and key.split(":", 1)[1] not in found
        }
    )
    return found


DAILY_FIGURES = (
    "requests_received",
    "cases_opened",
    "cases_accepted",
    "cases_resolved",
    "cases_closed",
    "cases_cancelled",
    "sla_breaches",
    "messages_sent",
    "messages_delivered",
    "messages_failed",
)


STATUS = "cases_by_status:"  # a row's count of the day's cases by their status now


def by_day(rows):
    """Counts per district calendar day, for the days that have any; with the cases
    opened that day by their status now. ``rows``: {day: the day's row (row_of)}."""
    found = []
    for day in sorted(rows):
        row = rows[day]
        counts = {figure: row.get(figure, 0) for figure in DAILY_FIGURES}
        if not any(counts.values()):
            continue
        statuses = dict.fromkeys(CASE_STATUSES, 0)
        statuses.update({k[len(STATUS) :]: v for k, v in row.items() if k.startswith(STATUS)})
        found.append({"day": day, **counts, "cases_by_status": statuses})
    return found


def row_of(dailies):
    """A day's row: the value of every metric (METRICS) and the day's cases by status
    now, of the daily figures of that day (of one station, or several summed)."""
    found = figures(totals_of(dailies), {})
    row = {metric: read(found) for metric, read in METRICS.items()}
    row.update({STATUS + status: n for status, n in found["cases_by_status"].items()})
    return row


def rows_of(dailies):
    """``{day: row}`` of daily figures documents."""
    days: dict[str, list] = {}
    for daily in dailies:
        days.setdefault(daily["day"], []).append(daily)
    return {day: row_of(group) for day, group in days.items()}


def programs(counts, distinct):
    fen = counts.get("donations_fen", 0)
    return {
        "volunteer_teams_formed": counts.get("volunteer_teams_formed", 0),
        "volunteers_joined": counts.get("volunteers_joined", 0),
        "social_organisations_cultivated": counts.get("social_organisations_cultivated", 0),
        "donations": counts.get("donations", 0),
        "donations_by_kind": _tally(counts, "donations", ("money", "goods")),
        "donations_fen": fen,
        "donations_yuan": fen / 100,
        "goods_quantity": counts.get("goods_quantity", 0),
        "aid_distributions": counts.get("aid_distributions", 0),
        "households_aided": distinct.get("households", 0),
        "aid_value_fen": counts.get("aid_value_fen", 0),
        "activities": counts.get("activities", 0),
        "activities_by_type": _tally(counts, "activities", ACTIVITY_TYPES),
        "trainings": counts.get("activities:training", 0),
        "activity_participants": counts.get("activity_participants", 0),
    }


def summary(dailies, station=None, staffing=None):
    """The figures of a station (or the district) from the daily figures of the period."""
    dailies = list(dailies)
    return figures(totals_of(dailies), rows_of(dailies), station, staffing)


def figures(totals, rows, station=None, staffing=None):
    """The figures of a station (or the district) from a period's totals (totals_of) and
    its days' rows (for ``by_day``)."""
    counts = totals["counts"]
    program = programs(counts, totals["distinct"])
    figures = {
        "requests_received": counts.get("requests_received", 0),
        "requests_by_channel": _tally(counts, "requests_by_channel", CHANNELS),
        "requests_by_need_type": _tally(counts, "requests_by_need", NEED_TYPES),
        "repeat_requests": counts.get("repeat_requests", 0),
        "residents_served": totals["distinct"].get("residents", 0),
        "cases_by_need_type": _tally(counts, "cases_by_need", NEED_TYPES),
        "cases_by_status": _tally(counts, "cases_by_status", CASE_STATUSES),
        "urgent_cases_resolved": counts.get("cases_resolved:urgent", 0),
        "time_to_accept_seconds": durations(totals["durations"]["accept_ms"]),
        "time_to_resolve_seconds": durations(totals["durations"]["resolve_ms"]),
        "sla_breaches": counts.get("sla_breaches", 0),
        "sla_breaches_by_kind": _tally(counts, "sla_breaches", ("acceptance", "resolution")),
        "escalations": counts.get("escalations", 0),
        "referrals": counts.get("referrals", 0),
        "cases_reopened": counts.get("cases_reopened", 0),
        "actions_by_type": _tally(counts, "actions", ACTION_TYPES),
        "messages_sent": counts.get("messages_sent", 0),
        "messages_delivered": counts.get("messages_delivered", 0),
        "messages_failed": counts.get("messages_failed", 0),
        "programs": program,
        "by_day": by_day(rows),
    }
    for figure in ("opened", "accepted", "resolved", "closed", "cancelled"):
        figures[f"cases_{figure}"] = counts.get(f"cases_{figure}", 0)
        tally = _tally(counts, f"cases_{figure}", PRIORITIES)
        tally_key = "cases_by_priority" if figure == "opened" else f"cases_{figure}_by_priority"
        figures[tally_key] = tally
    figures["table"] = table(figures, station, staffing or {})
    return figures


def table(figures, station, staffing):
    """The DOMAIN.md table: the figures a district reports, labelled in Chinese."""
    program = figures["programs"]
    workers = staffing.get("social_workers", {})
    rows = [
        ("volunteer_teams_formed", "志愿服务队", program["volunteer_teams_formed"], "支"),
        (
            "social_organisations_cultivated",
            "培育社会组织",
            program["social_organisations_cultivated"],
            "个",
        ),
        ("professional_cases", "专业个案", figures["cases_opened"], "个"),
        ("donations_yuan", "募集善款", program["donations_yuan"], "元"),
        ("households_aided", "困难家庭发放慰问物资", program["households_aided"], "户"),
    ]
    # social workers: everyone on the station's roster now (social workers and the
    # station head), as the station's latest published roster says
    if station:
        if station in workers:
            rows.append(("social_workers", "驻站社工（在册，含站长）", workers[station], "人"))
    else:
        if workers:
            rows.append(
                ("social_workers", "社工总数（各站在册，含站长）", sum(workers.values()), "人")
            )
        rows.append(("stations", "覆盖乡镇/街道", len(stations()), "个"))
        if staffing.get("project_funds_fen") is not None:
            rows.append(
                (
                    "project_funds_yuan",
                    "区级筹集项目资金",
                    staffing["project_funds_fen"] / 100,
                    "元",
                )
            )
    return [
        {"figure": f, "label": label, "value": value, "unit": unit}
        for f, label, value, unit in rows
    ]


# -- time series -------------------------------------------------------------------


def _metric(path):
    def read(figures):
        value = figures
        for part in path.split("."):
            value = value[part]
        return value

    return read


METRICS = {
    name: _metric(name)
    for name in (
        "requests_received",
        "residents_served",
        "cases_opened",
        "cases_accepted",
        "cases_resolved",
        "cases_closed",
        "cases_cancelled",
        "urgent_cases_resolved",
        "sla_breaches",
        "escalations",
        "referrals",
        "messages_sent",
        "messages_delivered",
        "messages_failed",
    )
}
METRICS.update(
    {
        f"time_to_{what}_{stat}": _metric(f"time_to_{what}_seconds.{stat}")
        for what in ("accept", "resolve")
        for stat in ("median", "p90")
    }
)
METRICS.update(
    {
        name: _metric(f"programs.{name}")
        for name in (
            "volunteer_teams_formed",
            "volunteers_joined",
            "social_organisations_cultivated",
            "donations",
            "donations_fen",
            "goods_quantity",
            "aid_distributions",
            "households_aided",
            "activities",
            "trainings",
            "activity_participants",
        )
    }
)

# the metrics whose value over several days is the sum of each day's (not a median or
# a distinct count)
SUMMED = frozenset(METRICS) - {
    "residents_served",
    "households_aided",
    *(f"time_to_{what}_{stat}" for what in ("accept", "resolve") for stat in ("median", "p90")),
}

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


def series(dailies, metric, interval, date_from=None, date_to=None, today=None):
    """The periods of a figure from daily figures documents (``series_of``)."""
    dailies = list(dailies)

    def value(first, last):
        return METRICS[metric](summary(d for d in dailies if first <= d["day"] <= last))

    days = sorted({d["day"] for d in dailies})
    return series_of(days, value, interval, date_from, date_to, today)


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


def timeseries(dailies, metric, interval, date_from=None, date_to=None, today=None):
    """The points of ``series`` (same arguments)."""
    return series(dailies, metric, interval, date_from, date_to, today)["points"]


# -- CSV -----------------------------------------------------------------------------


def flatten(value, prefix=""):
    """Nested figures as ``[(dotted name, value)]``; lists of rows are left out."""
    rows = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            rows += flatten(item, name + ".")
        elif not isinstance(item, list):
            rows.append((name, item))
    return rows


def to_csv(header, rows):
    """UTF-8 CSV text (with a BOM so that spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return "\ufeff" + out.getvalue()
