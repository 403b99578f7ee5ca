"""The district's figures from the daily figures (pure): summary, time series, CSV."""

from services.common.vocabulary import (
    ACTION_TYPES,
    ACTIVITY_TYPES,
    CASE_STATUSES,
    CHANNELS,
    NEED_TYPES,
    PRIORITIES,
    stations,
)
from services.reporting.domain import rollups as domain_rollups
from services.reporting.domain import sketches


def percentile(values, fraction):
    """Nearest-rank percentile of a list of numbers (None for an empty list)."""
    return sketches.histogram_percentile(sketches.histogram_of(values), fraction)


def durations(histogram):
    """Count, median and p90 in seconds of a histogram of milliseconds."""
    median = sketches.histogram_percentile(histogram, 0.5)
    p90 = sketches.histogram_percentile(histogram, 0.9)
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
                histograms[name].append(sketches.histogram_of(samples[name]))
        for name in domain_rollups.DISTINCT:
            distinct[name].update(map(sketches.ref_hash, samples.get(name) or ()))
    for rollup in rollups:
        for figure, amount in (rollup.get("counts") or {}).items():
            counts[figure] = counts.get(figure, 0) + amount
        for name, histogram in (rollup.get("durations") or {}).items():
            histograms.setdefault(name, []).append(histogram)
        for name, packed in (rollup.get("distinct") or {}).items():
            distinct.setdefault(name, set()).update(sketches.distinct_keys(packed))
    return {
        "counts": counts,
        "durations": {
            name: sketches.histograms_merged(found) for name, found in histograms.items()
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
