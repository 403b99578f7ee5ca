"""The intake adapter over its own MongoDB database.

- ``requests``: one document per request: what intake recorded (the resident masked),
  the idempotency fingerprint, whether it repeats an open request, the request's status
  as its case moves, and its outbox;
- ``idempotency_keys``: which request a caller's Idempotency-Key names, until it expires;
- ``open_needs``: per resident and need, the first request still open (repeats link to it);
- ``registry_updates``: one document per key-persons-list change received from another
  system (the person masked) with its outbox;
- ``referrals``: one document per referral casework made to a registered agency (which
  agency may answer it), with the agency's answers and their outbox.

New documents (key claims, need claims, requests, registry updates) are inserted by a
group insert per collection (services/common/group_commit.py): the requests that the
API's threads handle at the same time share one ``insert_many`` per collection, and each
returns only once its own documents are written.
"""

from pymongo import DeleteOne, UpdateOne

from services.common import clock, group_commit, migrations, outbox
from services.intake.domain import FINAL_REQUEST_STATUSES, need_claim_id, need_still_open

# the collections whose documents carry an outbox: one list for the worker and the API
OUTBOX_COLLECTIONS = ("requests", "registry_updates", "referrals")


def _following(change, on_case):
    """The writes that make a case's requests follow one of its events: each request by
    ``_id``, only where this event is newer than the last one it followed."""
    case_id, status, case_seq, request_id, first_request_id = change
    update = {"$set": {"status": status, "case_id": case_id, "case_seq": case_seq}}
    operations = [
        UpdateOne({"_id": rid, "case_seq": {"$lt": case_seq}}, update)
        for rid in dict.fromkeys([request_id, *on_case])
    ]
    if request_id != first_request_id:  # a repeat joined: it follows the case from now on
        operations.append(
            UpdateOne({"_id": first_request_id}, {"$push": {"linked_requests": request_id}})
        )
    return operations


class RequestStore:
    def __init__(self, database, commit_wait_s: float = 0.002):
        self.requests = database["requests"]
        self.idempotency_keys = database["idempotency_keys"]
        self.registry_updates = database["registry_updates"]
        self.open_needs = database["open_needs"]
        self.commit_wait_s = commit_wait_s
        self.referrals = database["referrals"]

    def _insert(self, collection, documents):
        """Per document: True if inserted, False if its _id (or a unique key) existed."""
        return group_commit.inserter(collection, self.commit_wait_s).insert(documents)

    def ensure_indexes(self):
        self.requests.create_index("station")
        self.requests.create_index("case_id")
        migrations.run_once(self.requests.database, "requests_case_seq", self._number_cases)
        self.idempotency_keys.create_index("expires_ms")
        outbox.ensure_indexes(self.requests)
        outbox.ensure_indexes(self.registry_updates)
        outbox.ensure_indexes(self.referrals)

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

    def add_many(self, changes):
        """Insert new requests ``[(record, envelopes)]`` with their events, with one write;
        per request the document, or None if its id exists (a retry or a twin)."""
        documents = [outbox.new_document(record, envelopes) for record, envelopes in changes]
        inserted = self._insert(self.requests, documents) if documents else []
        return [d if new else None for d, new in zip(documents, inserted, strict=True)]

    def get(self, request_id):
        return self.requests.find_one({"_id": request_id})

    def get_many(self, request_ids, projection=None):
        """The stored requests among ``request_ids`` (never empty: an empty ``$in`` reads
        the whole collection on the embedded store), by id."""
        return {
            d["_id"]: d for d in self.requests.find({"_id": {"$in": list(request_ids)}}, projection)
        }

    def claim_needs(self, wanted, now_ms):
        """Per ``(resident_ref, need_type, request_id)`` of a batch, in order: the open
        request it repeats, or None if it comes first.

        One claim document per resident and need names the first open request, so
        concurrent writers agree on which is first (a unique _id decides); a claim whose
        request is no longer open is taken over by compare-and-set. Within the batch the
        first of a resident and need claims it, the later ones repeat it (or what it
        repeats). The claims are inserted with one write, whatever their number; only
        the ones found taken are read (two reads by ``_id``).
        """
        claim_ids = [need_claim_id(ref, need) for ref, need, _ in wanted]
        first: dict = {}
        for position, claim_id in enumerate(claim_ids):
            first.setdefault(claim_id, position)
        pending = {claim_id: wanted[position][2] for claim_id, position in first.items()}
        decided: dict = {}
        for _ in range(5):
            if not pending:
                break
            # Insert first: most requests are a resident's first for a need, and then
            # the claim costs one write instead of a read and a write.
            claims = [
                {"_id": claim_id, "request_id": request_id, "claimed_ms": now_ms}
                for claim_id, request_id in pending.items()
            ]
            lost = {
                claim["_id"]: claim["request_id"]
                for claim, new in zip(claims, self._insert(self.open_needs, claims), strict=True)
                if not new
            }
            decided.update({claim_id: None for claim_id in pending if claim_id not in lost})
            pending = self._contest(lost, now_ms, decided) if lost else {}
        # contended past reason: recorded as first requests
        return [
            decided.get(claim_id)
            if first[claim_id] == position
            else decided.get(claim_id) or wanted[first[claim_id]][2]
            for position, claim_id in enumerate(claim_ids)
        ]

    def _contest(self, lost, now_ms, decided):
        """Settle the claims found taken (``claim_id -> request_id``): a repeat of the
        open request named, or taken over from a request no longer open; returns those
        to try again (released meanwhile, or a twin took them over first)."""
        claims = {c["_id"]: c for c in self.open_needs.find({"_id": {"$in": list(lost)}})}
        named = {c["request_id"] for c in claims.values()} - set(lost.values())
        firsts = self.get_many(sorted(named), {"status": 1}) if named else {}
        again = {}
        for claim_id, request_id in lost.items():
            claim = claims.get(claim_id)
            if claim is None:  # released meanwhile: try again
                again[claim_id] = request_id
            elif claim["request_id"] == request_id:  # this request's own retry
                decided[claim_id] = None
            elif need_still_open(claim, firsts.get(claim["request_id"]), now_ms):
                decided[claim_id] = claim["request_id"]
            elif (
                self.open_needs.update_one(
                    {"_id": claim_id, "request_id": claim["request_id"]},
                    {"$set": {"request_id": request_id, "claimed_ms": now_ms}},
                ).modified_count
                == 1
            ):
                decided[claim_id] = None
            else:
                again[claim_id] = request_id
        return again

    # Idempotency-Key claims: decided from the stored expires_ms, since the development
    # store has no TTL monitor; expired claims are also removed by purge_expired_keys.
    def key_claim(self, key_id):
        return self.idempotency_keys.find_one({"_id": key_id})

    def claim_key(self, claim, previous=None):
        """Take a key that is free (never used, or ``previous``, its claim, expired);
        False if a concurrent twin took it first."""
        if previous is None:
            return self._insert(self.idempotency_keys, [claim])[0]
        done = self.idempotency_keys.update_one(
            {"_id": claim["_id"], "request_id": previous["request_id"]},
            {"$set": {k: v for k, v in claim.items() if k != "_id"}},
        )
        return done.modified_count == 1

    def purge_expired_keys(self, now_ms, batch=500):
        """Remove expired key claims, a batch at a time (an index range, then by ``_id``):
        the store is never held for more than one batch."""
        removed = 0
        while True:
            expired = [
                doc["_id"]
                for doc in self.idempotency_keys.find(
                    {"expires_ms": {"$lt": now_ms}}, {"_id": 1}, limit=batch
                )
            ]
            if not expired:
                return removed
            removed += self.idempotency_keys.delete_many(
                {"_id": {"$in": expired}, "expires_ms": {"$lt": now_ms}}
            ).deleted_count
            if len(expired) < batch:
                return removed

    def add_registry_updates(self, changes):
        """Insert registry changes ``[(record, envelopes)]`` with their events, together;
        per change the document, or None if that event was received before."""
        documents = [outbox.new_document(record, envelopes) for record, envelopes in changes]
        inserted = self._insert(self.registry_updates, documents) if documents else []
        return [d if new else None for d, new in zip(documents, inserted, strict=True)]

    def registry_update(self, record_id):
        return self.registry_updates.find_one({"_id": record_id})

    def add_referral(self, record):
        """Remember a referral (a redelivered case.referred finds it there: no change)."""
        outbox.insert_new(self.referrals, record, [])  # last_seq 0: answers compare on it

    def referral(self, referral_id):
        return self.referrals.find_one({"_id": referral_id})

    def add_answer(self, referral, answer, envelope):
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

    def follow_cases(self, changes):
        """Give the requests of cases the status their newest events imply, for many
        ``(case_id, status, case_seq, request_id, first_request_id)`` (a batch of case
        events) in one ordered bulk write.

        ``request_id`` (the case's own request, or a repeat just linked to it) gets the
        case id; every request already on the case (the first one and the repeats it
        lists) follows it. An event older than the last one applied (``case_seq``)
        changes nothing, whatever order they arrive in.
        """
        # The case's first event: no repeat can be on it yet, so nothing is read.
        firsts = sorted({change[4] for change in changes if change[2] > 1})
        found = (
            {
                doc["_id"]: doc
                for doc in self.requests.find(
                    {"_id": {"$in": firsts}},
                    {"linked_requests": 1, "resident_ref": 1, "need_type": 1},
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
        # A case that ended for good frees its resident's need (the claim is kept only
        # for the repeat rule: retention, issue 23); a claim taken over meanwhile names
        # another request and stays.
        ended = [
            DeleteOne(
                {
                    "_id": need_claim_id(doc["resident_ref"], doc["need_type"]),
                    "request_id": doc["_id"],
                }
            )
            for change in changes
            if change[1] in FINAL_REQUEST_STATUSES
            and (doc := found.get(change[4]))
            and doc.get("resident_ref")
        ]
        if ended:
            self.open_needs.bulk_write(ended, ordered=False)
