"""casework's handling of request.received, in batches: the only path (a single event
is a batch of one). Updates of the key-persons list are applied the same way, in rounds
(``rounds``), by residents.py.

A batch of requests: one read of which requests already have a case (idempotency by
request id: a redelivered request finds its case), then rounds (``rounds``) in which no
resident appears twice, in the batch's order. A round is one read of its residents'
registry records, one of the open cases those records note for the needs asked
(domain.residents.with_open_case) and, for repeats, one of the cases they name; the
decisions in memory (a repeat, or a request whose resident has an open case for the
need, joins that case; any other opens one, assigned with the workload counters moving
as cases are assigned); one bulk write of the registry, one of the new cases with their
outboxes, one of the counters, and one confirmed publish of the events. A request's
joining a case is a command on that case (handlers.run_command), one each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.casework import domain, handlers
from services.casework.domain import lifecycle as domain_lifecycle
from services.casework.domain import opening as domain_opening
from services.casework.domain import residents as domain_residents
from services.casework.store import CaseStore
from services.casework.store import batch as store_batch
from services.common import clock
from services.common.config import Settings
from services.common.outbox import FastPath

log = logging.getLogger(__name__)


@dataclass
class Received:
    """A request of a round, with what the round decided for it."""

    position: int
    envelope: dict
    request: dict
    record: dict  # the resident's registry record as the request leaves it
    joins: str | None  # the open case it joins (a repeat), or None: it opens its own

    @property
    def case_id(self) -> str:
        return domain_opening.case_id_for(self.request["request_id"])

    def opening(self) -> "Received":
        """This request opening its own case: its record notes the case."""
        need = self.request["need"]["type"]
        return Received(
            self.position,
            self.envelope,
            self.request,
            domain_residents.with_open_case(self.record, need, self.case_id),
            None,
        )


def open_cases_for_requests(
    store: CaseStore,
    relay: FastPath,
    items: list,
    settings: Settings,
    now: datetime | None = None,
) -> dict:
    """Open (and assign) the cases of ``items`` [(position, envelope, request)], once per
    request, with the service levels of ``settings``; a repeat joins the resident's open
    case (case.request_linked) instead.

    Returns ``{position: exception}`` for the requests that could not be handled now
    (each then takes the per-message retry/dead-letter path; RepeatNotYetOpened while a
    repeat's first request has no case yet); every other one is done. A failed round's
    requests and every later round's (which may depend on them) are returned too.
    """
    if not items:
        return {}
    now = now or clock.now()
    done = store_batch.handled_requests(store, [request["request_id"] for _, _, request in items])
    fresh = [item for item in items if item[2]["request_id"] not in done]
    if len(fresh) < len(items):
        log.info("%d request(s) of the batch already have a case", len(items) - len(fresh))
    levels = handlers.service_levels(settings)
    failures: dict = {}
    failed = None
    for round_ in rounds(fresh, _request_keys):
        # a request twice in the batch: the first has its case by now
        round_ = [item for item in round_ if item[2]["request_id"] not in done]
        if not round_:
            continue
        if failed is not None:
            failures.update({position: failed for position, _, _ in round_})
            continue
        try:
            failures.update(_open_round(store, relay, round_, now, levels))
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failed = exc
            failures.update({position: exc for position, _, _ in round_})
        done |= {
            request["request_id"] for position, _, request in round_ if position not in failures
        }
    return failures


def _request_keys(request: dict) -> list:
    """What makes two requests of a batch wait for each other: their resident (ref, ID
    number, phone), and a repeat for the request it repeats."""
    resident = request["resident"]
    return [
        ("ref", request["resident_ref"]),
        ("id", resident.get("id_number")),
        ("phone", resident.get("phone")),
        ("request", request["request_id"]),
        ("request", request.get("repeat_of")),
    ]


def _open_round(store, relay, items: list, now, levels) -> dict:
    """One round: no resident twice. Returns ``{position: exception}``."""
    at = clock.iso(now)
    keys = [lookup_key(request) for _, _, request in items]
    found = store_batch.resident_records(store, keys)
    joins, failures = _cases_joined(store, items, [found[key] for key in keys])
    decided = []
    for (position, envelope, request), key in zip(items, keys, strict=True):
        if position in failures:  # a repeat that must wait writes nothing
            continue
        received = Received(
            position,
            envelope,
            request,
            registry_record(found[key], request, at),
            joins.get(position),
        )
        decided.append(received if received.joins else received.opening())
    before = {record["_id"]: record for record in found.values() if record}
    store_batch.save_residents(store, [r.record for r in decided], _aliases(decided), before)
    opening = [r for r in decided if r.joins is None]
    closed_meanwhile = []
    for received in decided:
        if received.joins is None:
            continue
        try:
            handlers.link_repeat(
                store, relay, received.joins, received.request, received.envelope["id"], now
            )
        except domain.IllegalTransition:
            log.info(
                "case %s closed meanwhile; request %s opens its own",
                received.joins,
                received.request["request_id"],
            )
            closed_meanwhile.append(received.opening())
        except Exception as exc:  # noqa: BLE001 - retried alone (retry/dead-letter path)
            failures[received.position] = exc
    if closed_meanwhile:
        store_batch.save_residents(store, [r.record for r in closed_meanwhile], [], before)
        opening = sorted(opening + closed_meanwhile, key=lambda r: r.position)
    _open(store, relay, opening, now, levels)
    return failures


def registry_record(found: dict | None, request: dict, at: str) -> dict:
    """The registry's record of a request's resident (``found``: hers or None), as the
    request leaves it (domain.residents.from_request), with its ``_id``."""
    record = domain_residents.from_request(found, request, at)
    return {**record, "_id": record.get("_id") or record["resident_ref"]}


def lookup_key(request: dict) -> tuple:
    """What finds a request's resident in the registry (store.batch.resident_records)."""
    resident = request["resident"]
    return request["resident_ref"], resident.get("id_number"), resident.get("phone")


def _aliases(decided: list) -> list:
    return [
        (r.request["resident_ref"], r.record["_id"])
        for r in decided
        if r.request["resident_ref"] != r.record["_id"]
    ]


def _cases_joined(store, items: list, records: list) -> tuple[dict, dict]:
    """``({position: case id}, {position: RepeatNotYetOpened})``: the open case each
    request joins: the one its ``repeat_of`` names (a request or a case id), else its
    resident's open case for the need (as her record notes it); none: it opens its own.

    A ``repeat_of`` naming nothing casework knows, with no open case for the need
    either, must wait: the first request's request.received has not been handled yet
    (handled concurrently, or delivered after the repeat). Opening a case now would give
    the resident two cases for one need; the retry joins the first request's case."""
    wanted = [
        (request["resident_ref"], request["need"]["type"], case_id)
        for (_, _, request), record in zip(items, records, strict=True)
        for need, case_id in domain_residents.hinted_cases(record).items()
        if need == request["need"]["type"]
    ]
    open_for_need = store_batch.open_cases(store, wanted)
    named = store_batch.named_cases(
        store, [request["repeat_of"] for _, _, request in items if request.get("repeat_of")]
    )
    joins, waiting = {}, {}
    for position, _, request in items:
        first = request.get("repeat_of")
        case = named.get(first) if first else None
        if case is not None and case.is_open:
            joins[position] = case.case_id
            continue
        hinted = open_for_need.get((request["resident_ref"], request["need"]["type"]))
        if hinted is not None:
            joins[position] = hinted
        elif first and case is None:
            waiting[position] = domain_lifecycle.RepeatNotYetOpened(request["request_id"], first)
        # a closed first case: the repeat is a new need of its own
    return joins, waiting


def _open(store, relay, opening: list, now, levels) -> None:
    """Open the cases of ``opening`` [Received] together: assigned one after the other
    (the next request of the batch sees this one's load), inserted in one bulk, their
    events published together. A case a concurrent twin already inserted is left be."""
    if not opening:
        return
    stations = sorted({r.request["station"] for r in opening})
    rosters = {station: store.roster(station) for station in stations}
    counts = store_batch.workload(store, [w.id for roster in rosters.values() for w in roster])
    calendar = store.calendar()
    opened = []
    for received in opening:
        case, events = domain_opening.open_case(
            received.case_id,
            received.request,
            rosters[received.request["station"]],
            counts,
            now,
            calendar,
            levels,
            domain_residents.flags(received.record),
        )
        if case.assignee:
            counts[case.assignee["id"]] = counts.get(case.assignee["id"], 0) + 1
        opened.append((case, handlers.to_envelopes(case, events, None, received.envelope["id"])))
    written, twins = store_batch.add_cases(store, opened)
    for case in twins:
        log.info(
            "request %s already has case %s (a concurrent delivery won)",
            case.request_id,
            case.case_id,
        )
    log.info("%d case(s) opened", len(written))
    relay.publish_now_many("cases", written)


def rounds(items: list, keys_of: Callable[[dict], list[tuple]]) -> list[list]:
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
