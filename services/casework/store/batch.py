"""casework's bulk reads and writes for a batch of received requests (handlers/batch.py):
one query per kind of thing the batch needs, one ``bulk_write`` per collection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from services.casework.domain import Case
from services.casework.domain import residents as domain_residents
from services.casework.domain.opening import case_id_for
from services.casework.store import CaseStore, as_case, as_document
from services.common import clock, mongo, outbox
from services.common.vocabulary import OPEN_CASE_STATUSES


def handled_requests(store: CaseStore, request_ids: list[str]) -> set[str]:
    """The request ids that already have a case (opened or joined as a repeat): by
    ``_id`` only (domain.opening.case_id_for), which every store answers from its index."""
    if not request_ids:
        return set()
    case_ids = {case_id_for(request_id): request_id for request_id in request_ids}
    done = {
        case_ids[doc["_id"]]
        for doc in store.cases.find({"_id": {"$in": list(case_ids)}}, {"_id": 1})
    }
    done |= {doc["_id"] for doc in store.links.find({"_id": {"$in": request_ids}}, {"_id": 1})}
    return done


def open_cases(store: CaseStore, wanted: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """``{(resident_ref, need_type): case_id}`` for those of ``wanted`` [(resident_ref,
    need_type, case_id)] (the cases the residents' records note) still open for that
    resident and need: one read by ``_id``."""
    if not wanted:
        return {}
    found = {
        doc["_id"]: doc
        for doc in store.cases.find(
            {"_id": {"$in": sorted({case_id for _, _, case_id in wanted})}},
            {"resident_ref": 1, "need_type": 1, "status": 1},
        )
    }
    return {
        (ref, need): case_id
        for ref, need, case_id in wanted
        if (doc := found.get(case_id))
        and doc["status"] in OPEN_CASE_STATUSES
        and doc["resident_ref"] == ref
        and doc["need_type"] == need
    }


def named_cases(store: CaseStore, names: list[str]) -> dict[str, Case]:
    """``{name: Case}`` for the requests or cases repeats name, as CaseStore.for_request
    and then CaseStore.get find them: by ``_id`` reads (the case a request opened is
    ``case_id_for`` it; a repeat's is in its link); a name not found so (a case of an
    earlier version, whose id was not derived) is looked up by its request id."""
    names = sorted(set(names))
    if not names:
        return {}
    derived = {case_id_for(name): name for name in names}
    documents = {
        doc["_id"]: doc
        for doc in store.cases.find(
            {"_id": {"$in": sorted(set(derived) | set(names))}}, {"outbox": 0}
        )
    }
    linked = {doc["_id"]: doc["case_id"] for doc in store.links.find({"_id": {"$in": names}})}
    targets = sorted(set(linked.values()) - set(documents))
    if targets:
        documents.update(
            {doc["_id"]: doc for doc in store.cases.find({"_id": {"$in": targets}}, {"outbox": 0})}
        )
    found = {}
    for name in names:
        document = (
            documents.get(case_id_for(name))
            or documents.get(linked.get(name))
            or documents.get(name)
        )
        if document is None:
            document = store.for_request(name)[1]
        if document is not None:
            found[name] = as_case(document)
    return found


def resident_records(store: CaseStore, keys: list[tuple]) -> dict[tuple, dict | None]:
    """For each ``(resident_ref, id_number, phone)``: the registry's record or None, as
    the registry finds a resident (ref, an alias of it, the ID number, the phone), by
    ``_id`` reads only (aliases and lookup keys are documents keyed by what they find)."""
    if not keys:
        return {}
    records = store.residents.records
    refs = [ref for ref, _, _ in keys]
    by_id = {doc["_id"]: doc for doc in records.find({"_id": {"$in": refs}})}
    missing = [key for key in keys if key[0] not in by_id]
    pointers: dict = {}
    if missing:
        pointers = {
            doc["_id"]: doc["resident"]
            for doc in store.residents.aliases.find(
                {"_id": {"$in": [ref for ref, _, _ in missing]}}
            )
        }
        wanted = [
            domain_residents.key_of(id_number=number) for _, number, _ in missing if number
        ] + [domain_residents.key_of(phone=phone) for _, _, phone in missing if phone]
        if wanted:
            pointers.update(
                {
                    doc["_id"]: doc["resident"]
                    for doc in store.residents.keys.find({"_id": {"$in": wanted}})
                }
            )
    targets = sorted(set(pointers.values()) - set(by_id))
    if targets:
        by_id.update({doc["_id"]: doc for doc in records.find({"_id": {"$in": targets}})})
    found = {}
    for ref, number, phone in keys:
        candidates = [
            ref,
            pointers.get(ref),
            number and pointers.get(domain_residents.key_of(id_number=number)),
            phone and pointers.get(domain_residents.key_of(phone=phone)),
        ]
        found[(ref, number, phone)] = next(
            (by_id[candidate] for candidate in candidates if candidate in by_id), None
        )
    return found


def save_residents(
    store: CaseStore,
    records: list[dict],
    aliases: list[tuple[str, str]],
    before: Mapping[str, dict] | None = None,
) -> None:
    """Write registry records whole, the aliases of their refs and their lookup keys,
    one bulk each. ``before``: each record as it was read (by ``_id``; missing: new).
    The keys go first: a record in the store has its keys, so a record saved again
    writes only the keys it did not have (most save none)."""
    if records:
        store.residents.save_keys([(r, (before or {}).get(r["_id"])) for r in records])
        store.residents.records.bulk_write(
            [
                ReplaceOne(
                    {"_id": record["_id"]},
                    {**record, **domain_residents.search_fields(record)},
                    upsert=True,
                )
                for record in records
            ],
            ordered=False,
        )
    if aliases:
        store.residents.aliases.bulk_write(
            [
                ReplaceOne({"_id": ref}, {"_id": ref, "resident": record_id}, upsert=True)
                for ref, record_id in aliases
            ],
            ordered=False,
        )


def workload(store: CaseStore, worker_ids: list[str]) -> dict[str, int]:
    """Open cases per worker (the counters), for the workers of the batch's stations."""
    if not worker_ids:
        return {}
    return {row["_id"]: row["open"] for row in store.workload.find({"_id": {"$in": worker_ids}})}


def add_cases(
    store: CaseStore, cases_with_events: list[tuple[Case, list[dict]]]
) -> tuple[list[dict], list[Case]]:
    """Insert new cases with their outboxes in one unordered bulk; returns (documents
    written, cases whose request already had one: a concurrent twin won). Other write
    errors raise. The workload counters of the owners follow, in one bulk."""
    now_ms = clock.to_ms(clock.now())
    documents = [
        {**as_document(case), **outbox.stage({}, envelopes), "updated_ms": now_ms}
        for case, envelopes in cases_with_events
    ]
    if not documents:
        return [], []
    refused = set()
    try:
        store.cases.bulk_write([InsertOne(document) for document in documents], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not mongo.only_duplicates(errors):
            raise
        refused = {error["index"] for error in errors}
    written = [document for index, document in enumerate(documents) if index not in refused]
    twins = [cases_with_events[index][0] for index in sorted(refused)]
    owners = Counter(
        document["assignee"]["id"]
        for document in written
        if document.get("assignee") and as_case(document).is_open
    )
    if owners:
        store.workload.bulk_write(
            [
                UpdateOne({"_id": owner}, {"$inc": {"open": count}}, upsert=True)
                for owner, count in owners.items()
            ],
            ordered=False,
        )
    return written, twins


def applied_updates(store: CaseStore, event_ids: list[str]) -> set[str]:
    """The registry updates of these ids already applied."""
    if not event_ids:
        return set()
    return {
        doc["_id"] for doc in store.residents.applied.find({"_id": {"$in": event_ids}}, {"_id": 1})
    }


def mark_applied(store: CaseStore, event_ids: list[str], at: str) -> None:
    """Registry updates applied (a twin's mark already there is no error)."""
    if not event_ids:
        return
    try:
        store.residents.applied.insert_many(
            [{"_id": event_id, "at": at} for event_id in event_ids], ordered=False
        )
    except BulkWriteError as exc:
        if not mongo.only_duplicates(exc.details.get("writeErrors", [])):
            raise
