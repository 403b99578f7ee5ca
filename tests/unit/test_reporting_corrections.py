"""Reporting projects program.record_corrected: figures use the corrected value, none once
voided, whatever order the original and its corrections arrive in (pure)."""

import itertools

from services.common import clock
from services.common.contracts import DONATION_RECEIVED, PROGRAM_RECORD_CORRECTED
from services.reporting import domain
from services.reporting.domain import daily as domain_daily

PROGRAM = {"station": "daxing", "recorded_by": "dx-01", "on": "2023-05-20"}
DONATION = {
    **PROGRAM,
    "donation_id": "don-1",
    "kind": "money",
    "amount_fen": 500_000,
    "goods": "",
    "quantity": 0,
}


def corrected(revision, amount_fen=None, on="2023-05-20"):
    return (
        PROGRAM_RECORD_CORRECTED.type,
        1,
        {
            **PROGRAM,
            "recorded_by": "dx-02",
            "record_id": f"don-1~r{revision}",
            "corrects": "don-1",
            "kind": "donation",
            "revision": revision,
            "void": amount_fen is None,
            "reason": "录入有误",
            "original": DONATION,
            "corrected": None
            if amount_fen is None
            else {**DONATION, "amount_fen": amount_fen, "on": on},
        },
    )


def records(events):
    return [
        {
            "_id": f"e-{n}",
            "type": t,
            "sequence": seq,
            "data": data,
            "time_ms": clock.to_ms(clock.parse_iso("2023-05-29T08:00:00+08:00")),
        }
        for n, (t, seq, data) in enumerate(events)
    ]


def counts(recs):
    """The station's daily figures counts per day after projecting ``recs`` as the
    projector does."""
    facts, dailies = {}, {}
    for record in recs:
        kind, key = domain.fact_key(record)
        before = facts.get(f"{kind}:{key}")
        after = domain.apply(before or {"_id": f"{kind}:{key}"}, record)
        facts[f"{kind}:{key}"] = after
        old, new = domain_daily.contributions(before), domain_daily.contributions(after)
        for slot in set(old) | set(new):
            rid = domain_daily.daily_id(*slot)
            dailies[rid] = domain_daily.merge(
                dailies.get(rid, {}), [(old.get(slot), new.get(slot))], *slot
            )
    return {
        r["day"]: r["counts"] for r in dailies.values() if r["station"] == "daxing" and r["counts"]
    }


def test_the_figures_use_the_latest_correction_in_any_order():
    events = [
        (DONATION_RECEIVED.type, None, DONATION),
        corrected(1, 50_000),
        corrected(2, 60_000, on="2023-05-21"),
    ]
    expected = {"2023-05-21": {"donations": 1, "donations:money": 1, "donations_fen": 60_000}}
    for order in itertools.permutations(records(events)):
        assert counts(list(order) + [order[0]]) == expected


def test_a_voided_record_counts_for_nothing():
    events = [(DONATION_RECEIVED.type, None, DONATION), corrected(1, 50_000), corrected(2)]
    for order in itertools.permutations(records(events)):
        assert counts(order) == {}
    assert counts(records(events[:2])) == {
        "2023-05-20": {"donations": 1, "donations:money": 1, "donations_fen": 50_000}
    }
