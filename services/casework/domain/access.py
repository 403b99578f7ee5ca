"""The case access log as a hash chain (pure, no I/O).

Every read of a case's personal data is an entry; each entry carries the hash of the
one before it, and its own hash is sha256(previous hash + the entry's canonical
JSON). Changing, removing or reordering any stored entry breaks the chain at that
entry, which ``verify`` reports.
"""

import hashlib
import json

GENESIS = "0" * 64
CHAINED_FIELDS = ("seq", "case_id", "actor", "role", "station", "purpose", "at", "at_ms")
# chained only when present: entries written before these fields existed keep their hash
OPTIONAL_CHAINED_FIELDS = ("resident_ref",)


def canonical(entry):
    """The entry's chained fields as canonical JSON: sorted keys, no spaces, UTF-8."""
    fields = {key: entry.get(key) for key in CHAINED_FIELDS}
    fields.update(
        {key: entry[key] for key in OPTIONAL_CHAINED_FIELDS if entry.get(key) is not None}
    )
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(previous_hash, entry):
    return hashlib.sha256((previous_hash + canonical(entry)).encode("utf-8")).hexdigest()


def chain(previous, entry):
    """The entry that follows ``previous`` (None for the first): numbered and hashed."""
    prev_hash = previous["hash"] if previous else GENESIS
    entry = {**entry, "seq": (previous["seq"] + 1) if previous else 1, "prev_hash": prev_hash}
    return {**entry, "hash": entry_hash(prev_hash, entry)}


def verify(entries, previous=None):
    """Check entries in ``seq`` order, continuing from ``previous`` (None: from the start).

    Returns ``{"valid", "checked", "first_invalid_seq", "reason"}``.
    """
    prev_hash = previous["hash"] if previous else GENESIS
    expected_seq = (previous["seq"] + 1) if previous else 1
    checked = 0
    for entry in entries:
        problem = None
        if entry.get("seq") != expected_seq:
            problem = f"expected entry {expected_seq}, found {entry.get('seq')} (missing or moved)"
        elif entry.get("prev_hash") != prev_hash:
            problem = "does not link to the previous entry's hash"
        elif entry.get("hash") != entry_hash(prev_hash, entry):
            problem = "its content does not match its hash (changed after it was written)"
        if problem:
            return {
                "valid": False,
                "checked": checked,
                "first_invalid_seq": expected_seq,
                "reason": problem,
            }
        checked += 1
        prev_hash, expected_seq = entry["hash"], expected_seq + 1
    return {"valid": True, "checked": checked, "first_invalid_seq": None, "reason": None}
