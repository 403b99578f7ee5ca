"""The month and all-time rollups (domain_rollups): what a period reads, histograms,
distinct counts and rows, and that figures read from rollups equal those read from the
daily figures they roll up."""

import random
from datetime import date, timedelta

import pytest

from services.reporting.domain import figures as domain_figures
from services.reporting.domain import rollups as domain_rollups
from services.reporting.domain import sketches
from services.reporting.domain.rollups import cover


@pytest.mark.parametrize(
    ("date_from", "date_to", "months", "days"),
    [
        ("2023-05-10", "2023-05-20", None, [("2023-05-10", "2023-05-20")]),
        ("2023-05-01", "2023-05-20", None, [("2023-05-01", "2023-05-20")]),
        ("2023-05-01", "2023-05-31", ("2023-05", "2023-05"), []),
        ("2023-05-10", None, ("2023-06", None), [("2023-05-10", "2023-05-31")]),
        (None, "2023-05-20", (None, "2023-04"), [("2023-05-01", "2023-05-20")]),
        (None, "2023-05-31", (None, "2023-05"), []),
        (
            "2023-04-10",
            "2023-05-20",
            None,
            [("2023-04-10", "2023-04-30"), ("2023-05-01", "2023-05-20")],
        ),
        (
            "2023-01-10",
            "2025-02-20",
            ("2023-02", "2025-01"),
            [("2023-01-10", "2023-01-31"), ("2025-02-01", "2025-02-20")],
        ),
        ("2024-02-01", "2024-02-29", ("2024-02", "2024-02"), []),  # a leap February
        ("2023-12-15", "2024-01-31", ("2024-01", "2024-01"), [("2023-12-15", "2023-12-31")]),
    ],
)
def test_a_period_is_read_from_whole_months_and_the_days_left_over(
    date_from, date_to, months, days
):
    assert cover(date_from, date_to) == {"all": False, "months": months, "days": days}


def test_no_dates_is_read_from_the_all_time_rollup():
    assert cover(None, None) == {"all": True, "months": None, "days": []}


def _days_of_month(month):
    first = date.fromisoformat(month + "-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return domain_rollups.days_between(
        first.isoformat(), (following - timedelta(days=1)).isoformat()
    )


def test_every_day_of_a_period_is_read_once():
    rng = random.Random(3)
    for _ in range(300):
        first = date(2023, 1, 1) + timedelta(days=rng.randrange(900))
        last = first + timedelta(days=rng.randrange(500))
        read = cover(first.isoformat(), last.isoformat())
        covered = [d for span in read["days"] for d in domain_rollups.days_between(*span)]
        if read["months"]:
            for month in domain_rollups.months_between(*read["months"]):
                covered += _days_of_month(month)
        wanted = domain_rollups.days_between(first.isoformat(), last.isoformat())
        assert sorted(covered) == wanted, (first, last)


def test_a_histogram_gives_the_exact_percentiles_while_it_is_small():
    values = [60000, 1200, 1200, 300000, 45, 7_200_000]
    histogram = sketches.histogram_of(values)
    assert not histogram["coarse"]
    for fraction in (0.1, 0.5, 0.9, 1.0):
        assert sketches.histogram_percentile(histogram, fraction) == (
            domain_figures.percentile(values, fraction)
        )
    assert sketches.unpack_histogram(sketches.pack_histogram(histogram)) == histogram


def test_a_large_histogram_is_within_one_percent_and_takes_values_out_exactly():
    rng = random.Random(7)
    values = [rng.randrange(50, 30 * 86_400_000) for _ in range(5000)]
    histogram = sketches.histogram_of(values)
    assert histogram["coarse"] and len(histogram["counts"]) < 1500
    ordered = sorted(values)
    for fraction in (0.5, 0.9):
        exact = ordered[-(-int(fraction * 1000) * len(values) // 1000) - 1]
        found = sketches.histogram_percentile(histogram, fraction)
        assert abs(found - exact) <= 0.011 * exact
    taken = sketches.histogram_of(values)
    sketches.histogram_add(taken, values[:4000], -1)
    assert (
        taken["counts"]
        == sketches.histograms_merged(
            [sketches.histogram_of(values[4000:]), {"coarse": True, "counts": {}}]
        )["counts"]
    )


def test_coarse_buckets_are_their_own_representatives():
    for value in list(range(0, 3000)) + list(range(3000, 50_000_000, 9973)):
        bucket = sketches.coarse(value)
        assert sketches.coarse(bucket) == bucket
        assert abs(bucket - value) <= 0.0101 * value + 1  # 1 %, and the millisecond


def test_distinct_references_are_counted_with_their_repeats_and_survive_packing():
    multiset: dict = {}
    sketches.distinct_add(multiset, ["p_a", "p_b", "p_a"], 1)
    sketches.distinct_add(multiset, ["p_a"], -1)
    sketches.distinct_add(multiset, ["p_c"], -1)  # not held: nothing taken out
    assert sorted(multiset.values()) == [1, 1]
    packed = sketches.pack_distinct(multiset)
    assert all(isinstance(text, str) for text in packed.values())
    assert sketches.unpack_distinct(packed) == multiset
    sketches.distinct_add(multiset, ["p_a", "p_b"], -1)
    assert multiset == {}


def test_a_row_keeps_what_is_not_zero_and_a_median_of_zero_seconds():
    row = {"cases_opened": 3, "messages_failed": 0, "time_to_accept_median": 0.0, "x": None}
    assert domain_rollups.unpack_row(domain_rollups.pack_row(row)) == {
        "cases_opened": 3,
        "time_to_accept_median": 0.0,
    }


def _daily(station, day, rng):
    counts = {"requests_received": rng.randrange(1, 6), "cases_opened": rng.randrange(0, 4)}
    counts["cases_by_status:closed"] = counts["cases_opened"]
    return {
        "_id": f"{station}|{day}",
        "station": station,
        "day": day,
        "counts": counts,
        "samples": {
            "accept_ms": [rng.randrange(1000, 900_000) for _ in range(counts["cases_opened"])],
            "residents": [f"p_{rng.randrange(40)}" for _ in range(counts["requests_received"])],
            "households": [f"h_{rng.randrange(5)}"] if rng.random() < 0.2 else [],
        },
    }


def test_figures_from_rollups_equal_those_from_the_daily_figures():
    rng = random.Random(11)
    start = date(2024, 1, 20)
    dailies = [
        _daily("daxing", (start + timedelta(days=n)).isoformat(), rng)
        for n in range(120)
        if rng.random() < 0.8
    ]
    made = domain_rollups.rollups_of(dailies, lambda d: domain_figures.row_of([d]))
    months = sorted(
        (r for r in made if r["level"] == domain_rollups.MONTH), key=lambda r: r["period"]
    )
    packed = [  # as a report reads them: distinct counts packed
        {**m, "distinct": {n: sketches.pack_distinct(s) for n, s in m["distinct"].items()}}
        for m in months
    ]
    for date_from, date_to in [("2024-02-10", "2024-04-20"), ("2024-02-01", "2024-03-31")]:
        read = cover(date_from, date_to)
        whole = [m for m in packed if read["months"][0] <= m["period"] <= read["months"][1]]
        edges = [d for d in dailies for s in read["days"] if s[0] <= d["day"] <= s[1]]
        wanted = [d for d in dailies if date_from <= d["day"] <= date_to]
        from_rollups = domain_figures.figures(domain_figures.totals_of(edges, whole), {})
        from_days = domain_figures.figures(domain_figures.totals_of(wanted), {})
        assert from_rollups == from_days
    rows = {f"{m['period']}-{day}": row for m in months for day, row in m["rows"].items()}
    assert domain_figures.by_day(rows) == domain_figures.by_day(domain_figures.rows_of(dailies))


def test_the_open_cases_are_kept_by_their_opening_as_they_open_and_move_on():
    def case(status, opened, station="daxing"):
        return {"kind": "case", "status": status, "station": station, "opened_ms": opened}

    assert domain_rollups.open_case_of(case("assigned", 5)) == ("daxing", 5)
    assert domain_rollups.open_case_of(case("closed", 5)) is None
    assert domain_rollups.open_case_of({"kind": "request", "status": "assigned"}) is None
    assert domain_rollups.open_case_of(
        {"kind": "case", "status": "accepted", "station": "luji", "request_received_ms": 7}
    ) == ("luji", 7)
    made = domain_rollups.rollups_of(
        [], lambda d: {}, [case("assigned", 5), case("in_progress", 5), case("resolved", 9)]
    )
    [opened] = made
    assert opened["_id"] == "O|daxing" and opened["opened"] == {5: 2}
    domain_rollups.open_apply(opened, 5, -1)
    domain_rollups.open_apply(opened, 11, 1)
    assert opened["opened"] == {5: 1, 11: 1}
    assert sketches.unpack_counts(sketches.pack_counts(opened["opened"])) == opened["opened"]
