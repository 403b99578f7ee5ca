"""The intake adapter over its own MongoDB database.

- ``requests``: one document per request: what intake recorded (the resident masked),
  the idempotency fingerprint, whether it repeats an open request, the request's status
  as its case moves, and its outbox; and the two claims its insert makes, each under a
  unique sparse index: ``key_claim`` (the caller's Idempotency-Key names this request
  until ``key_expires_ms``; unset by the purge after that) and ``open_need`` (the
  resident's first open request for the need; unset when its case ends for good);
- ``registry_updates``: one document per key-persons-list change received from another
  system (the person masked) with its outbox;
- ``referrals``: one document per referral casework made to a registered agency (which
  agency may answer it), with the agency's answers and their outbox.

(``idempotency_keys`` and ``open_needs`` held those claims until issue 24: moved onto
their requests once, by the migration ``requests_hold_claims``, then dropped.)

New documents (requests, registry updates) are inserted by a
group insert per collection (services/common/group_commit.py): the requests that the
API's threads handle at the same time share one ``insert_many`` per collection, and each
returns only once its own documents are written.
"""

import threading
from collections.abc import Iterable

from pymongo import UpdateOne

from services.common import clock, group_commit, migrations, mongo, outbox
from services.intake.domain import FINAL_REQUEST_STATUSES, open_need

# the unique sparse fields a request's insert claims (besides its _id)
CLAIMS = ("key_claim", "open_need")

# the collections whose documents carry an outbox: one list for the worker and the API
OUTBOX_COLLECTIONS = ("requests", "registry_updates", "referrals")


def _following(change, on_case):
    """The writes that make a case's requests follow one of its events: each request by
    ``_id``, only where this event is newer than the last one it followed."""
    case_id, status, case_seq, request_id, first_request_id = change
    update: dict = {"$set": {"status": status, "case_id": case_id, "case_seq": case_seq}}
    if status in FINAL_REQUEST_STATUSES:  # the case ended for good: the need is free
        update["$unset"] = {"open_need": ""}
    operations = [
        UpdateOne({"_id": rid, "case_seq": {"$lt": case_seq}}, update)
        for rid in dict.fromkeys([request_id, *on_case])
    ]
    if request_id != first_request_id:  # a repeat joined: it follows the case from now on
        operations.append(
            UpdateOne({"_id": first_request_id}, {"$push": {"linked_requests": request_id}})
        )
    return operations


def _chunks(cursor, size):
    part: list = []
    for document in cursor:
        part.append(document)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def _moved(collection, claim, request):
    """A claim of a pre-issue-24 collection as its request holds it: ``(field, update)``,
    or None if it no longer binds (the request's case ended for good)."""
    if collection == "idempotency_keys":
        return "key_claim", {
            "$set": {"key_claim": claim["_id"], "key_expires_ms": claim["expires_ms"]}
        }
    if request.get("status") in FINAL_REQUEST_STATUSES or not request.get("resident_ref"):
        return None
    need = open_need(request["resident_ref"], request["need_type"])
    return "open_need", {"$set": {"open_need": need}}


_indexed: set = set()  # the (servers, database) whose indexes this process made sure of
_indexing = threading.Lock()


def _place(database) -> tuple:
    """Which store and database: its servers as configured (no round trip) and its name."""
    servers = database.client.topology_description.server_descriptions()
    return (frozenset(servers), database.name)


class RequestStore:
    def __init__(self, database, commit_wait_s: float = 0.002):
        self.requests = database["requests"]
        self.registry_updates = database["registry_updates"]
        self.commit_wait_s = commit_wait_s
        self.referrals = database["referrals"]

    def _insert(self, collection, documents):
        """Per document: True if inserted, False if its _id (or a unique key) existed."""
        return group_commit.inserter(collection, self.commit_wait_s).insert(documents)

    def ensure_indexes(self) -> None:
        self.requests.create_index("station")
        self.requests.create_index("case_id")
        migrations.run_once(self.requests.database, "requests_case_seq", self._number_cases)
        # sparse: only the requests holding a claim are in these indexes (never store
        # the fields as null: MongoDB indexes a null, and two would collide)
        self.requests.create_index("key_claim", unique=True, sparse=True)
        self.requests.create_index("open_need", unique=True, sparse=True)
        self.requests.create_index("key_expires_ms", sparse=True)
        migrations.run_once(self.requests.database, "requests_hold_claims", self._hold_claims)
        outbox.ensure_indexes(self.requests)
        outbox.ensure_indexes(self.registry_updates)
        outbox.ensure_indexes(self.referrals)
        _indexed.add(_place(self.requests.database))

    def _number_cases(self):
        """``case_seq`` 0 on the requests recorded before every request had it, so that
        following a case is a condition on that field alone; their repeats listed on the
        first request (``linked_requests``)."""
        changed = 0
        for document in self.requests.find({}, {"case_seq": 1, "repeat_of": 1, "case_id": 1}):
            if "case_seq" not in document:
                self.requests.update_one({"_id": document["_id"]}, {"$set": {"case_seq": 0}})
                changed += 1
            if document.get("repeat_of") and document.get("case_id"):
                self.requests.update_one(
                    {"_id": document["repeat_of"]}, {"$push": {"linked_requests": document["_id"]}}
                )
                changed += 1
        return changed

    def get(self, request_id: str) -> dict | None:
        return self.requests.find_one({"_id": request_id})

    def get_many(
        self, request_ids: Iterable[str], projection: dict | None = None
    ) -> dict[str, dict]:
        """The stored requests among ``request_ids`` (never empty: an empty ``$in`` reads
        the whole collection on the embedded store), by id."""
        return {
            d["_id"]: d for d in self.requests.find({"_id": {"$in": list(request_ids)}}, projection)
        }

    def insert_requests(self, documents: list[dict]) -> list[str | None]:
        """Insert requests (with their events and claims) with one write; per request
        None if inserted, else the field whose unique index refused it: ``_id`` (the
        same request stored already), ``key_claim`` or ``open_need`` (a claim held by
        another request)."""
        if _place(self.requests.database) not in _indexed:
            # the claims are only as unique as their indexes: an API may take its first
            # POSTs before any worker has started; its threads wait for them
            with _indexing:
                if _place(self.requests.database) not in _indexed:
                    self.ensure_indexes()
        refused = group_commit.inserter(self.requests, self.commit_wait_s).insert_reporting(
            documents
        )
        return [None if e is None else mongo.duplicate_field(e, CLAIMS) for e in refused]

    def holding(self, field: str, value: str) -> dict | None:
        """The request holding claim ``field`` (``key_claim``, ``open_need``): one
        equality read on its unique index."""
        return self.requests.find_one({field: value})

    def release(self, request_id: str, field: str, value: str) -> bool:
        """Take claim ``field`` off a request if it still holds ``value`` (compare-and-set:
        of two releasing it, one does); an expired key takes its expiry along."""
        unset = {field: "", **({"key_expires_ms": ""} if field == "key_claim" else {})}
        done = self.requests.update_one({"_id": request_id, field: value}, {"$unset": unset})
        return done.modified_count == 1

    def purge_expired_keys(self, now_ms: int, batch: int = 500) -> int:
        """Free the keys that expired (unset on their requests), a batch at a time (an
        index range, then by ``_id``): the store is never held for more than one batch."""
        freed = 0
        while True:
            expired = [
                doc["_id"]
                for doc in self.requests.find(
                    {"key_expires_ms": {"$lt": now_ms}}, {"_id": 1}, limit=batch
                )
            ]
            if not expired:
                return freed
            freed += self.requests.update_many(
                {"_id": {"$in": expired}, "key_expires_ms": {"$lt": now_ms}},
                {"$unset": {"key_claim": "", "key_expires_ms": ""}},
            ).modified_count
            if len(expired) < batch:
                return freed

    def _hold_claims(self, chunk: int = 500):
        """Move the claims of the collections written before issue 24 onto their
        requests, ``chunk`` at a time (their requests read by ``_id``, the fields set
        with one bulk write): each live key claim whose request is stored (one claimed
        but never recorded left nothing to replay: a retry records anew), each need
        claim whose request is stored and not ended; then drop both collections."""
        database, now_ms, changed = self.requests.database, clock.to_ms(clock.now()), 0
        old = {
            "idempotency_keys": database["idempotency_keys"].find({"expires_ms": {"$gt": now_ms}}),
            "open_needs": database["open_needs"].find(),
        }
        for name, claims in old.items():
            for part in _chunks(claims, chunk):
                requests = self.get_many(
                    {c["request_id"] for c in part},
                    {"resident_ref": 1, "need_type": 1, "status": 1},
                )
                operations = []
                for claim in part:
                    request = requests.get(claim["request_id"])
                    if request is None:
                        continue
                    moved = _moved(name, claim, request)
                    if moved is not None:  # a claim held already is left as it is
                        field, update = moved
                        operations.append(
                            UpdateOne({"_id": request["_id"], field: {"$exists": False}}, update)
                        )
                if operations:
                    changed += self.requests.bulk_write(operations, ordered=False).modified_count
        database.drop_collection("idempotency_keys")
        database.drop_collection("open_needs")
        return changed

    def add_registry_updates(self, changes: list[tuple[dict, list[dict]]]) -> list[dict | None]:
        """Insert registry changes ``[(record, envelopes)]`` with their events, together;
        per change the document, or None if that event was received before."""
        documents = [outbox.new_document(record, envelopes) for record, envelopes in changes]
        inserted = self._insert(self.registry_updates, documents) if documents else []
        return [d if new else None for d, new in zip(documents, inserted, strict=True)]

    def registry_update(self, record_id: str) -> dict | None:
        return self.registry_updates.find_one({"_id": record_id})

    def add_referral(self, record: dict) -> None:
        """Remember a referral (a redelivered case.referred finds it there: no change)."""
        outbox.insert_new(self.referrals, record, [])  # last_seq 0: answers compare on it

    def referral(self, referral_id: str) -> dict | None:
        return self.referrals.find_one({"_id": referral_id})

    def add_answer(self, referral: dict, answer: dict, envelope: dict) -> dict | None:
        """Append an answer with its event, if nobody changed the referral meanwhile
        (compare-and-set on ``last_seq``); the new document, or None: read and retry."""
        staged = outbox.stage(referral, [envelope])
        done = self.referrals.update_one(
            {"_id": referral["_id"], "last_seq": referral.get("last_seq", 0)},
            {
                "$set": {
                    **staged,
                    "answers": [*referral["answers"], answer],
                    "updated_ms": clock.to_ms(clock.now()),
                }
            },
        )
        if done.modified_count != 1:
            return None
        return self.referral(referral["_id"])

    def follow_cases(self, changes: list[tuple]) -> None:
        """Give the requests of cases the status their newest events imply, for many
        ``(case_id, status, case_seq, request_id, first_request_id)`` (a batch of case
        events) in one ordered bulk write.

        ``request_id`` (the case's own request, or a repeat just linked to it) gets the
        case id; every request already on the case (the first one and the repeats it
        lists) follows it. An event older than the last one applied (``case_seq``)
        changes nothing, whatever order they arrive in. A case ended for good (closed,
        cancelled) frees its resident's need in the same write (``open_need`` unset).
        """
        # The case's first event: no repeat can be on it yet, so nothing is read.
        firsts = sorted({change[4] for change in changes if change[2] > 1})
        found = (
            {
                doc["_id"]: doc
                for doc in self.requests.find(
                    {"_id": {"$in": firsts}},
                    {"linked_requests": 1},
                )
            }
            if firsts
            else {}
        )
        operations = [
            operation
            for change in changes
            for operation in _following(
                change,
                [change[4], *(found.get(change[4], {}).get("linked_requests") or [])]
                if change[2] > 1
                else [],
            )
        ]
        if operations:
            self.requests.bulk_write(operations, ordered=True)
