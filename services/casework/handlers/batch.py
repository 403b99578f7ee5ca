"""casework's handling of request.received in batches (the hot path of a request).

One bulk read of what the batch needs (which requests already have a case, the
residents' open cases, their registry records, the workload counters), the domain's
decisions per request in memory (the counters moving as cases are assigned), one
bulk write of the registry, one of the cases with their outboxes, one of the
counters, and one confirmed publish of the events.

A request that is not plain (a repeat, a resident with an open case for the need,
or one whose resident appears twice in the batch) takes the per-request path of
handlers/__init__.py after the batch is written, in its order: that path reads what the batch
wrote. Idempotency is by request id, as there: a redelivered request finds its case.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from services.casework import domain, handlers
from services.casework.domain import residents as domain_residents
from services.casework.store import batch as store_batch
from services.common import clock
from services.common.envelope import InvalidEvent

log = logging.getLogger(__name__)


def open_cases_for_requests(store, relay, items: list, now=None, settings=None) -> dict:
    """Open (and assign) the cases of ``items`` [(position, envelope, request)].

    Returns ``{position: exception}`` for the requests that could not be handled now
    (each then takes the per-message retry/dead-letter path); every other one is done.
    """
    now = now or clock.now()
    done = store_batch.handled_requests(store, [request["request_id"] for _, _, request in items])
    fresh = [item for item in items if item[2]["request_id"] not in done]
    if len(fresh) < len(items):
        log.info("%d request(s) of the batch already have a case", len(items) - len(fresh))
    keys = {item[0]: _lookup_key(item[2]) for item in fresh}
    found = store_batch.resident_records(store, list(keys.values())) if fresh else {}
    plain, special = _split(store, fresh, {position: found[key] for position, key in keys.items()})
    failures: dict = {}
    if plain:
        special = _open_plain(store, relay, plain, found, keys, now, settings) + special
        special.sort(key=lambda item: item[0])
    for position, envelope, request in special:
        try:
            handlers.open_case_for_request(store, relay, envelope, request, now=now,
                                           settings=settings)
        except InvalidEvent as exc:
            failures[position] = exc
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failures[position] = exc
    return failures


def _lookup_key(request: dict) -> tuple:
    resident = request["resident"]
    return request["resident_ref"], resident.get("id_number"), resident.get("phone")


def _split(store, items: list, records: dict) -> tuple[list, list]:
    """(plain requests, the others): a plain one is no repeat, its resident has no open
    case for the need (the cases her record notes, checked by ``_id``), and no other
    request of the batch names the same resident."""
    if not items:
        return [], []
    wanted = [(request["resident_ref"], request["need"]["type"], case_id)
              for position, _, request in items
              for need, case_id in domain_residents.hinted_cases(records[position]).items()
              if need == request["need"]["type"]]
    open_needs = store_batch.open_cases(store, wanted)
    seen: Counter[str] = Counter()
    for _, _, request in items:
        seen.update(k for k in _resident_keys(request) if k[1])
    plain, special = [], []
    for item in items:
        request = item[2]
        if (request.get("repeat_of")
                or (request["resident_ref"], request["need"]["type"]) in open_needs
                or any(seen[k] > 1 for k in _resident_keys(request) if k[1])):
            special.append(item)
        else:
            plain.append(item)
    return plain, special


def _resident_keys(request: dict) -> list:
    resident = request["resident"]
    return [("ref", request["resident_ref"]), ("id", resident.get("id_number")),
            ("phone", resident.get("phone"))]


def _open_plain(store, relay, items: list, found: dict, keys: dict, now, settings) -> list:
    """Open the plain requests' cases together; returns those a concurrent twin beat
    (handled again on the per-request path, which finds their case)."""
    at = clock.iso(now)
    records, aliases, flags = [], [], []
    for position, _, request in items:
        case_id = domain.case_id_for(request["request_id"])
        record = domain_residents.from_request(found[keys[position]], request, at)
        record = {**record, "_id": record.get("_id") or record["resident_ref"]}
        records.append(domain_residents.with_open_case(record, request["need"]["type"], case_id))
        if request["resident_ref"] != record["_id"]:
            aliases.append((request["resident_ref"], record["_id"]))
        flags.append(domain_residents.flags(record))
    store_batch.save_residents(store, records, aliases)
    levels = handlers.service_levels(settings) if settings else domain.DEFAULT_LEVELS
    stations = sorted({request["station"] for _, _, request in items})
    rosters = {station: store.roster(station) for station in stations}
    counts = store_batch.workload(store, [w.id for roster in rosters.values() for w in roster])
    calendar = store.calendar()
    opened: list[tuple[Any, list]] = []
    for (_position, envelope, request), categories in zip(items, flags, strict=True):
        case, events = domain.open_case(domain.case_id_for(request["request_id"]), request,
                                        rosters[request["station"]], counts, now, calendar,
                                        levels, categories)
        if case.assignee:  # the next request of the batch sees this one's load
            counts[case.assignee["id"]] = counts.get(case.assignee["id"], 0) + 1
        opened.append((case, handlers.to_envelopes(case, events, None, envelope["id"])))
    written, twins = store_batch.add_cases(store, opened)
    log.info("%d case(s) opened in one batch", len(written))
    relay.publish_now_many("cases", written)
    beaten = {case.request_id for case in twins}
    return [item for item in items if item[2]["request_id"] in beaten]


def apply_registry_updates(store, items: list, now=None) -> dict:
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
    keys = [(u["resident_ref"], u["person"]["id_number"], u["person"].get("phone"))
            for _, _, u in items]
    found = store_batch.resident_records(store, keys)
    records, aliases = [], []
    for key, (_, _, update) in zip(keys, items, strict=True):
        record = domain_residents.from_registry(found[key], update, at)
        record = {**record, "_id": record.get("_id") or record["resident_ref"]}
        records.append(record)
        if update["resident_ref"] != record["_id"]:
            aliases.append((update["resident_ref"], record["_id"]))
    store_batch.save_residents(store, records, aliases)
    store_batch.mark_applied(store, [envelope["id"] for _, envelope, _ in items], at)


def rounds(items: list, keys_of) -> list:
    """``items`` [(position, envelope, data)] in rounds where no key of ``keys_of(data)``
    (a resident's ref, ID number, phone) appears twice, each item in the round after the
    last earlier item it shares a key with: the batch's order per resident is kept, and
    a batch without repeated residents is one round."""
    latest: dict = {}
    placed: list = []
    for item in items:
        keys = [key for key in keys_of(item[2]) if key[1]]
        number = max((latest[key] + 1 for key in keys if key in latest), default=0)
        for key in keys:
            latest[key] = number
        if number == len(placed):
            placed.append([])
        placed[number].append(item)
    return placed


def _person_keys(update: dict) -> list:
    person = update["person"]
    return [("ref", update["resident_ref"]), ("id", person["id_number"]),
            ("phone", person.get("phone"))]
