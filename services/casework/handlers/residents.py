"""casework's residents registry following the key-persons-of-concern list
(resident.registry_updated), in batches: the only path (a single event is a batch of
one). A batch runs in rounds (batch.rounds) in which no person appears twice, so a second
update of a person sees the first.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.casework.domain import residents as domain_residents
from services.casework.handlers.batch import rounds
from services.casework.store import CaseStore
from services.casework.store import batch as store_batch
from services.common import clock

log = logging.getLogger(__name__)


def apply_registry_updates(store: CaseStore, items: list, now: datetime | None = None) -> dict:
    """Apply a batch of key-persons-list changes ``[(position, envelope, update)]``, once
    per event id: one read of the updates already applied, then per round (rounds()) one
    read of the records the round touches, the records decided in memory, one bulk write
    each of records, aliases and applied marks. A person named twice in the batch is
    updated in the batch's order: the second update is in a later round and sees the
    first. Returns ``{position: exception}`` to retry alone (a failed round's updates
    and every later round's)."""
    now = now or clock.now()
    at = clock.iso(now)
    applied = store_batch.applied_updates(store, [envelope["id"] for _, envelope, _ in items])
    fresh = [item for item in items if item[1]["id"] not in applied]
    if len(fresh) < len(items):
        log.info("%d registry update(s) of the batch already applied", len(items) - len(fresh))
    failures: dict = {}
    for round_ in rounds(fresh, lambda update: _person_keys(update)):
        if failures:  # a later update of a person whose earlier one failed waits for it
            failures.update({position: next(iter(failures.values())) for position, _, _ in round_})
            continue
        try:
            _apply_round(store, round_, at)
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failures.update({position: exc for position, _, _ in round_})
    return failures


def _apply_round(store, items: list, at: str) -> None:
    keys = [
        (u["resident_ref"], u["person"]["id_number"], u["person"].get("phone")) for _, _, u in items
    ]
    found = store_batch.resident_records(store, keys)
    records, aliases = [], []
    for key, (_, _, update) in zip(keys, items, strict=True):
        record = domain_residents.from_registry(found[key], update, at)
        record = {**record, "_id": record.get("_id") or record["resident_ref"]}
        records.append(record)
        if update["resident_ref"] != record["_id"]:
            aliases.append((update["resident_ref"], record["_id"]))
    before = {record["_id"]: record for record in found.values() if record}
    store_batch.save_residents(store, records, aliases, before)
    store_batch.mark_applied(store, [envelope["id"] for _, envelope, _ in items], at)


def _person_keys(update: dict) -> list:
    person = update["person"]
    return [
        ("ref", update["resident_ref"]),
        ("id", person["id_number"]),
        ("phone", person.get("phone")),
    ]
