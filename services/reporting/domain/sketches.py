"""What the rollups keep of the samples (pure): durations as histograms, references
as hashed multisets; both merge, and take a value out exactly.

Durations are histograms: exact values while a histogram holds at most
``HISTOGRAM_EXACT`` distinct values, else each value in a bucket 2 % wide (values under
``COARSE_FROM_MS`` stay exact), so a percentile read from a coarse histogram is within
1 % of the exact one. Distinct counts are exact: each reference is kept as a 64-bit hash
with how many times it was counted (removals are exact too).
"""

import base64
import hashlib
import math
import sys
from array import array

HISTOGRAM_EXACT = 500
COARSE_FROM_MS = 100
_STEP = math.log(1.02)


# -- histograms ----------------------------------------------------------------------


def coarse(value):
    """The representative of ``value``'s 2 %-wide bucket (values under COARSE_FROM_MS:
    themselves). Idempotent: a representative is its own bucket's."""
    if value < COARSE_FROM_MS:
        return value
    index = math.floor(math.log(value / COARSE_FROM_MS) / _STEP)
    return round(COARSE_FROM_MS * math.exp((index + 0.5) * _STEP))


def new_histogram():
    return {"coarse": False, "counts": {}}


def histogram_of(values):
    histogram = new_histogram()
    histogram_add(histogram, values, 1)
    return histogram


def _coarsen(histogram):
    counts: dict[int, int] = {}
    for value, count in histogram["counts"].items():
        counts[coarse(value)] = counts.get(coarse(value), 0) + count
    histogram["coarse"], histogram["counts"] = True, counts


def histogram_add(histogram, values, sign):
    """Add (``sign`` 1) or take out (-1) ``values``; a value not held is not taken out."""
    counts = histogram["counts"]
    for value in values:
        key = coarse(value) if histogram["coarse"] else value
        if sign > 0:
            counts[key] = counts.get(key, 0) + 1
        elif counts.get(key):
            counts[key] -= 1
            if not counts[key]:
                del counts[key]
    if not histogram["coarse"] and len(counts) > HISTOGRAM_EXACT:
        _coarsen(histogram)


def histograms_merged(histograms):
    """One histogram of several (coarse if any of them is)."""
    merged = new_histogram()
    histograms = list(histograms)
    if any(h["coarse"] for h in histograms):
        merged["coarse"] = True
    for histogram in histograms:
        for value, count in histogram["counts"].items():
            key = coarse(value) if merged["coarse"] else value
            merged["counts"][key] = merged["counts"].get(key, 0) + count
    return merged


def histogram_percentile(histogram, fraction):
    """Nearest-rank percentile (as domain_figures.percentile of the values held)."""
    total = sum(histogram["counts"].values())
    if not total:
        return None
    rank = max(1, -(-int(fraction * 1000) * total // 1000))
    seen = 0
    for value in sorted(histogram["counts"]):
        seen += histogram["counts"][value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - the ranks above always reach ``total``


def pack_histogram(histogram):
    text = ",".join(f"{v}:{c}" for v, c in sorted(histogram["counts"].items()))
    return ("~" if histogram["coarse"] else "=") + text


def unpack_histogram(text):
    histogram = {"coarse": text.startswith("~"), "counts": {}}
    for item in filter(None, text[1:].split(",")):
        value, count = item.split(":")
        histogram["counts"][int(value)] = int(count)
    return histogram


# -- distinct references ---------------------------------------------------------------


def ref_hash(ref):
    """A 64-bit hash of a reference: distinct counts of tens of thousands of residents
    without keeping their references (a collision among 10^5: ~3 in 10^10)."""
    return int.from_bytes(hashlib.blake2b(str(ref).encode(), digest_size=8).digest(), "big")


def distinct_add(multiset, refs, sign):
    for ref in refs:
        key = ref_hash(ref)
        if sign > 0:
            multiset[key] = multiset.get(key, 0) + 1
        elif multiset.get(key):
            multiset[key] -= 1
            if not multiset[key]:
                del multiset[key]


# Packed as base64 text of little-endian machine integers: the embedded store keeps
# documents as JSON (no binary), and text of 12 bytes a reference is still small.
def _array(kind, text):
    found = array(kind)
    found.frombytes(base64.b64decode(text or ""))
    if sys.byteorder != "little":
        found.byteswap()
    return found


def _text(found):
    if sys.byteorder != "little":
        found = array(found.typecode, found)
        found.byteswap()
    return base64.b64encode(found.tobytes()).decode("ascii")


def pack_distinct(multiset):
    keys = sorted(multiset)
    return {
        "hashes": _text(array("Q", keys)),
        "counts": _text(array("I", [multiset[k] for k in keys])),
    }


def unpack_distinct(packed):
    return dict(
        zip(_array("Q", packed.get("hashes")), _array("I", packed.get("counts")), strict=True)
    )


def distinct_keys(packed):
    """The hashes of a packed multiset, without their counts (for unions)."""
    return _array("Q", packed.get("hashes"))


def pack_counts(counts):
    """``{integer: how many}`` as text ("value:count,...", sorted)."""
    return ",".join(f"{v}:{c}" for v, c in sorted(counts.items()))


def unpack_counts(text):
    found = {}
    for item in filter(None, (text or "").split(",")):
        value, count = item.split(":")
        found[int(value)] = int(count)
    return found
