"""Making the history's documents: each request's life by the services' own code
(``one_request``), kept per collection (``Maker``), the template block's documents
and what its copies need (``Maker.jobs``, ``copied_access``)."""

import json
import uuid
from collections import Counter

from benchmarks.history.clockwork import published
from benchmarks.history.clone import Cloner
from benchmarks.history.life import CALLER, ELDERLY_CARE
from benchmarks.history.writer import Job
from services.casework.domain import residents as registry
from services.common import clock, config
from services.common.vocabulary import OPEN_CASE_STATUSES
from services.intake import domain as intake

# What a copy of the template block repeats (the others are written once, for all).
COPIED = {
    "intake": ("requests", "open_needs"),
    "casework": ("cases", "request_links", "residents", "resident_keys"),
    "notifications": ("contacts", "messages"),
    "reporting": ("event_batches", "facts"),
}


class Maker:
    """Makes requests' lives (one_request) and keeps their documents per collection."""

    def __init__(self, life, notify, project, version):
        self.life, self.notify, self.project, self.version = life, notify, project, version
        self.documents = {}

    def add(self, service, collection, documents):
        self.documents.setdefault((service, collection), []).extend(documents)

    def request(self, number, at, clock_):
        one_request(self.life, self.notify, self.project, self, self.version, number, at, clock_)

    def flush(self, now):
        contacts, messages = self.notify.flush(now)
        batches, facts = self.project.flush()
        self.add("notifications", "contacts", contacts)
        self.add("notifications", "messages", messages)
        self.add("reporting", "event_batches", batches)
        self.add("reporting", "facts", facts)

    def template(self):
        """The block made so far: its documents, as they stand at its end."""
        documents = {key: list(docs) for key, docs in self.documents.items()}
        residents = [dict(record) for record in self.life.residents.values()]
        documents[("casework", "residents")] = residents
        documents[("casework", "resident_keys")] = resident_keys(residents)
        documents[("intake", "open_needs")] = list(self.life.open_needs.values())
        open_cases = Counter(
            case["assignee"]["id"]
            for case in documents[("casework", "cases")]
            if case.get("assignee") and case["status"] in OPEN_CASE_STATUSES
        )
        return {"documents": documents, "access": list(self.life.access), "open": open_cases}

    def jobs(self, template, settings, layout, facts_name):
        """{service: {collection: Job}}: every document made, and the template's to copy."""
        residents = list(self.life.residents.values())
        self.documents[("casework", "residents")] = residents
        self.documents[("casework", "resident_keys")] = resident_keys(residents)
        self.documents[("intake", "open_needs")] = list(self.life.open_needs.values())
        self.documents[("intake", "idempotency_keys")] = self.life.keys
        self.documents[("casework", "case_access")] = []
        jobs = {service: {} for service in config.SERVICES}
        for (service, name), documents in self.documents.items():
            jobs[service].setdefault(_named(name, facts_name), Job()).plain = documents
        cloner = None
        if template is not None:
            made = template["documents"]
            contacts = made[("notifications", "contacts")]
            phones = {c["phone"] for c in contacts} | {
                c["emergency_contact"]["phone"] for c in contacts if c.get("emergency_contact")
            }
            inbound = {
                r["_id"]: (ELDERLY_CARE, r["source"]["event_id"])
                for r in made[("intake", "requests")]
                if r.get("source")
            }
            cloner = Cloner(
                settings.pseudonym_key,
                {c["_id"]: c["request_id"] for c in made[("casework", "cases")]},
                phones,
                layout.block,
                layout.block_days,
                inbound,
            )
            for service, names in COPIED.items():
                for name in names:
                    job = jobs[service].setdefault(_named(name, facts_name), Job())
                    job.templates = made.get((service, name), [])
        return jobs, cloner


def copied_access(template, cloner, copies):
    """The template's access-log entries as each copy has them (chained with the rest)."""
    if template is None:
        return []
    entries = [cloner.compile(json.dumps(e, ensure_ascii=False)) for e in template["access"]]
    keys = {key for _, entry_keys in entries for key in entry_keys}
    copied = []
    for copy in copies:
        table = cloner.table(copy, keys)
        copied += [
            json.loads(fmt % tuple(table[key] for key in entry_keys)) for fmt, entry_keys in entries
        ]
    return copied


def _named(name, facts_name):
    return facts_name if name == "facts" else name


def resident_keys(records):
    """casework's lookup keys of the records (ResidentStore.save_keys)."""
    return [
        {"_id": key, "resident": record["_id"]}
        for record in records
        for key in registry.lookup_keys(record)
    ]


def one_request(life, notify, project, writer, version, number, at, clock_):
    """One request's whole life, its documents handed to the writer."""
    clock_.at(at)
    station = life.stations[number % len(life.stations)]
    person = life.person(number)
    if life.random.random() < life.mix.alerts:
        request_id, body, caller, fingerprint, source = life.alert_body(number, person, station, at)
        key = None
    else:
        request_id, body, source = str(uuid.uuid4()), life.body(number, person, station), None
        caller, fingerprint = f"{CALLER}-{station}", intake.fingerprint(body)
        key = str(uuid.uuid4()) if life.random.random() < life.mix.keyed else None
    request, envelope = life.receive(request_id, body, caller, fingerprint, key, source, at)
    life.claim_need(request)
    requests = [request]
    repeat = None
    if life.random.random() < life.mix.repeats and source is None:

        def repeat(moment):
            again_id = str(uuid.uuid4())
            again_key = str(uuid.uuid4()) if life.random.random() < life.mix.keyed else None
            again, again_envelope = life.receive(
                again_id, body, caller, fingerprint, again_key, None, moment, repeat_of=request_id
            )
            requests.append(again)
            notify.remember(again_envelope["data"])
            return again_envelope["data"], again_envelope

    data = envelope["data"]
    notify.remember(data)
    record = life.register(data, at)
    case, document, envelopes, link = life.case_life(data, record, envelope, clock_, repeat)
    life.note_case(life.residents[record["_id"]], case)
    if link is not None:
        writer.add("casework", "request_links", [link])
        # intake lists the repeats that joined on the case's first request
        requests[0] = {**requests[0], "linked_requests": [link["_id"]]}
    writer.add("casework", "cases", [document])
    for request_document in requests:
        writer.add(
            "intake",
            "requests",
            [
                published(
                    {
                        **request_document,
                        "status": intake.request_status(case.status),
                        "case_id": case.case_id,
                        "case_seq": document["last_seq"],
                    }
                )
            ],
        )
    everything = [envelope]
    for event in sorted(envelopes, key=lambda e: e["time"]):
        everything.append(event)
    for event in list(everything):
        clock_.at(clock.parse_iso(event["time"]))
        everything += notify.notify(event, clock_, life.now)
    everything.sort(key=lambda e: (e["time"], e.get("sequence") or 0))
    project.keep(everything, version)
