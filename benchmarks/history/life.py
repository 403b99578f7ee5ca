"""One request's whole life as the services record it, made by their own code: intake's
``domain.receive`` (or, for an alert, its inbound parsing of a CloudEvent), casework's
``open_case`` and lifecycle commands with the service-level breaches its timer would
have reported, the residents registry's ``from_request``, the access log's hash chain.
Each returns documents exactly as the stores write them (``store.as_document``,
``outbox.new_document``/``stage``), their outboxes published, and the envelopes the
other services consume (benchmarks/history/downstream.py).
"""

import heapq
import random
import uuid
from datetime import timedelta

from benchmarks.history.clockwork import published
from services.casework import domain as casework
from services.casework.domain import access as access_chain
from services.casework.domain import lifecycle, opening
from services.casework.domain import residents as registry
from services.casework.domain.roster import station_head
from services.casework.handlers import to_envelopes
from services.casework.store import as_document
from services.common import clock, outbox
from services.common.auth import Principal
from services.common.envelope import new_event
from services.common.vocabulary import NEED_TYPES
from services.intake import domain as intake
from services.intake.domain import inbound

CATEGORIES = (
    "elderly",
    "living_alone",
    "key_concern",
    "disabled",
    "child",
    "hardship",
    "no_family_nearby",
)
CALLER = "history-operator"
ELDERLY_CARE = "/suyu/elderly-care"


class Life:
    """What the history has written so far that later requests depend on: residents,
    need claims, the workload of each worker over time, the access log's chain."""

    def __init__(self, store, settings, mix, now, seed):
        self.store, self.settings, self.mix, self.now = store, settings, mix, now
        self.random = random.Random(seed)
        self.levels = casework.DEFAULT_LEVELS
        self.stations = sorted({doc["station"] for doc in store.workers.find({}, {"station": 1})})
        self.rosters = {s: store.roster(s) for s in self.stations}
        self.calendar = store.calendar()
        self.residents = {}  # resident_ref -> registry record
        self.people = []  # (name, phone, categories, emergency contact) served before
        self.open_needs = {}  # claim id -> claim
        self.keys = []  # live idempotency key claims (as kept before issue 24)
        self.open_until = []  # heap (ms the case stops being open, worker id)
        self.workload = {}  # worker id -> open cases now
        self.access = []  # the access log's entries, chained once all are made
        self.systems = None

    # -- the request ------------------------------------------------------------------
    def person(self, number):
        if self.people and self.random.random() < self.mix.returning:
            return self.random.choice(self.people)
        categories = sorted(self.random.sample(CATEGORIES, self.random.randint(1, 3)))
        contact = (
            {"name": f"家属{number:06d}", "relation": "女儿", "phone": f"137{number % 10**8:08d}"}
            if self.random.random() < self.mix.emergency_contact
            else None
        )
        person = (f"历史居民{number:06d}", f"138{number % 10**8:08d}", categories, contact)
        self.people.append(person)
        return person

    def body(self, number, person, station):
        name, phone, categories, contact = person
        resident = {"name": name, "phone": phone, "categories": list(categories)}
        if contact:
            resident["emergency_contact"] = dict(contact)
        need = self.random.choice(sorted(NEED_TYPES))
        return {
            "channel": self.random.choice(("phone", "walk_in", "online")),
            "station": station,
            "resident": resident,
            "need": {"type": need, "description": f"历史求助{number}"},
        }

    def alert_body(self, number, person, station, now):
        """A missed check-in as elderly-care sends it, through intake's inbound rules."""
        name, phone, categories, contact = person
        resident = {
            "name": name,
            "phone": phone,
            "categories": sorted(set(categories) | {"elderly", "living_alone"}),
        }
        if contact:
            resident["emergency_contact"] = dict(contact)
        event_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        envelope = {
            "specversion": "1.0",
            "id": event_id,
            "source": ELDERLY_CARE,
            "type": "gov.suyu.elderly_care.checkin_missed.v1",
            "time": clock.iso(now),
            "datacontenttype": "application/json",
            "data": {
                "station": station,
                "resident": resident,
                "due_at": clock.iso(now - timedelta(minutes=30)),
            },
        }
        system = self.systems.for_source(ELDERLY_CARE)
        envelope = inbound.parse_envelope(envelope)
        kind = inbound.authorise(system, envelope)
        data = inbound.load_data(kind, envelope)
        record_id = inbound.inbound_id(envelope["source"], envelope["id"])
        return (
            record_id,
            inbound.request_body(kind, envelope, data, now),
            f"system:{system.id}",
            intake.fingerprint(envelope["data"]),
            inbound.source_of(system, kind, envelope),
        )

    def receive(self, request_id, body, caller, fingerprint, key, source, now, repeat_of=None):
        """intake's request document (not yet published) and its request.received."""
        request, (contract, data) = intake.receive(
            request_id,
            body,
            caller,
            fingerprint,
            key,
            self.settings.pseudonym_key,
            now,
            repeat_of=repeat_of,
            source=source,
        )
        envelope = new_event(
            contract, data, subject=request_id, correlation_id=request_id, sequence=1, time=now
        )
        if key is not None:
            # as intake kept a key before issue 24 (its own collection): the store's
            # one-time migration moves the live ones onto their requests when the
            # indexes are built, as it does on a store of that version
            expires_ms = clock.to_ms(now) + int(self.settings.idempotency_ttl_s * 1000)
            if expires_ms > clock.to_ms(self.now):  # older ones were purged
                self.keys.append(
                    {
                        "_id": intake.idempotency_key_id(caller, key),
                        "request_id": request_id,
                        "caller": caller,
                        "fingerprint": fingerprint,
                        "claimed_ms": clock.to_ms(now),
                        "expires_ms": expires_ms,
                    }
                )
        return outbox.new_document(request, [envelope]), envelope

    def claim_need(self, request):
        """intake's claim per resident and need, as kept before issue 24 (moved onto the
        requests, like the keys, by the store's one-time migration)."""
        claim_id = f"{request['resident_ref']}\x1f{request['need_type']}"
        self.open_needs[claim_id] = {
            "_id": claim_id,
            "request_id": request["_id"],
            "claimed_ms": request["received_ms"],
        }

    # -- the case ---------------------------------------------------------------------
    def counts_at(self, now_ms):
        while self.open_until and self.open_until[0][0] <= now_ms:
            _, worker = heapq.heappop(self.open_until)
            self.workload[worker] -= 1
        return dict(self.workload)

    def actor(self, case):
        head = station_head(self.rosters[case.station], case.station)
        role = "station_head" if head and head.id == case.assignee["id"] else "worker"
        return Principal(case.assignee["id"], role, case.station, case.assignee.get("name"))

    def breaches(self, case, document, until, clock_):
        """What casework's service-level timer reported before ``until``."""
        head = station_head(self.rosters[case.station], case.station)
        envelopes = []
        while case.is_open and case.sla_due_ms and case.sla_due_ms <= clock.to_ms(until):
            clock_.at(clock.from_ms(case.sla_due_ms))
            case, events = lifecycle.breach(case, head, clock_.moment)
            if not events:
                break
            case, document, more = self.save(
                case, document, events, f"sla:{clock.iso(clock_.moment)}"
            )
            envelopes += more
        return case, document, envelopes

    @staticmethod
    def save(case, document, events, causation):
        envelopes = to_envelopes(case, events, document, causation)
        changes = {k: v for k, v in as_document(case).items() if k != "_id"}
        document = {
            **document,
            **changes,
            **outbox.stage(document, envelopes),
            "updated_ms": clock.to_ms(clock.now()),
        }
        return case, document, envelopes

    def plan(self, opened):
        """The status the case has reached by ``self.now``: old cases are filed."""
        age_days = (self.now - opened).total_seconds() / 86400
        statuses = (
            self.mix.old_statuses
            if age_days > self.mix.settled_after_days
            else self.mix.recent_statuses
        )
        roll, total = self.random.random(), 0.0
        for status, share in statuses:
            total += share
            if roll < total:
                return status
        return statuses[-1][0]

    STEPS = {
        "assigned": (),
        "accepted": ("accept",),
        "in_progress": ("accept", "act"),
        "resolved": ("accept", "act", "resolve"),
        "closed": ("accept", "act", "resolve", "close"),
        "cancelled": ("cancel",),
    }
    AFTER = {
        "accept": timedelta(minutes=12),
        "act": timedelta(hours=2),
        "resolve": timedelta(hours=5),
        "close": timedelta(days=1),
        "cancel": timedelta(minutes=40),
    }

    def case_life(self, request_data, record, envelope, clock_, repeat):
        """The case of a request from its opening to its status today; returns
        (case document, envelopes in order, the repeat's link or None)."""
        opened = clock_.moment
        case, events = opening.open_case(
            opening.case_id_for(request_data["request_id"]),
            request_data,
            self.rosters[request_data["station"]],
            self.counts_at(clock.to_ms(opened)),
            opened,
            self.calendar,
            self.levels,
            registry.flags(record),
        )
        envelopes = to_envelopes(case, events, None, envelope["id"])
        document = {
            **as_document(case),
            **outbox.stage({}, envelopes),
            "updated_ms": clock.to_ms(opened),
        }
        link = None
        steps = self.STEPS[self.plan(opened)] if case.assignee else ()
        if repeat is not None:  # the resident asks again while the case is open
            linked_at = opened + self.AFTER["accept"] / 2
            case, document, more = self.breaches(case, document, linked_at, clock_)
            envelopes += more
            if case.is_open:
                clock_.at(linked_at)
                repeat_data, repeat_envelope = repeat(clock_.moment)
                case, events = lifecycle.link_request(case, repeat_data, clock_.moment)
                case, document, more = self.save(case, document, events, repeat_envelope["id"])
                envelopes += [repeat_envelope, *more]
                link = {"_id": repeat_data["request_id"], "case_id": case.case_id}
        for step in steps:
            at = opened + sum((self.AFTER[s] for s in steps[: steps.index(step) + 1]), timedelta())
            if at > self.now:
                break
            case, document, more = self.breaches(case, document, at, clock_)
            envelopes += more
            clock_.at(at)
            actor = self.actor(case)
            if step == "accept":
                self.access_entry(case, actor, at)
                case, events = casework.accept(case, actor, at)
            elif step == "act":
                case, events = casework.record_action(case, actor, "visit", "上门探访", at)
            elif step == "resolve":
                case, events = casework.resolve(case, actor, "已办结", at)
            elif step == "close":
                case, events = lifecycle.close(case, actor, at)
            else:
                case, events = lifecycle.cancel(case, actor, "withdrawn", at)
            case, document, more = self.save(case, document, events, None)
            envelopes += more
        case, document, more = self.breaches(case, document, self.now, clock_)
        envelopes += more
        if case.assignee:
            self.workload.setdefault(case.assignee["id"], 0)
            self.workload[case.assignee["id"]] += 1
            ends = document["updated_ms"] if not case.is_open else float("inf")
            heapq.heappush(self.open_until, (ends, case.assignee["id"]))
        return case, published(document), envelopes, link

    def access_entry(self, case, actor, at):
        """The worker opens the case (GET /v1/cases/{id}): one entry of the access log
        (numbered and hash-chained in time order by ``chained``)."""
        self.access.append(
            {
                "case_id": case.case_id,
                "actor": actor.id,
                "role": actor.role,
                "station": case.station,
                "purpose": "view",
                "at": clock.iso(at),
                "at_ms": clock.to_ms(at),
            }
        )

    def register(self, request_data, at):
        """The residents registry's record, as casework keeps it after this request."""
        record = registry.from_request(
            self.residents.get(request_data["resident_ref"]), request_data, clock.iso(at)
        )
        record = {**record, "_id": record.get("_id") or record["resident_ref"]}
        self.residents[record["_id"]] = record
        return record

    def note_case(self, record, case):
        """The record notes the case its request opened (handlers/batch.py's
        ``with_open_case``), as casework writes it with the case."""
        noted = registry.with_open_case(record, case.need_type, case.case_id)
        self.residents[noted["_id"]] = noted
        return noted

    def open_workload(self):
        """casework's counters as its reconciliation would set them today."""
        self.counts_at(clock.to_ms(self.now))
        return [{"_id": worker, "open": count} for worker, count in sorted(self.workload.items())]


def chained(entries):
    """The access log's documents: ``entries`` in time order, numbered and hash-chained
    by casework's own ``access.chain`` (AccessLog stores them under ``seq``)."""
    documents, previous = [], None
    for entry in sorted(entries, key=lambda e: (e["at_ms"], e["case_id"])):
        previous = access_chain.chain(previous, entry)
        documents.append({**previous, "_id": f"{previous['seq']:012d}"})
    return documents
