"""Helpers the tests share (fixtures live in conftest.py)."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, timeout=10.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class Rabbit:
    """The management API, for per-test virtual hosts and for looking into queues."""

    def __init__(self, api_uri):
        parsed = urlparse(api_uri)
        self.auth = (parsed.username or "guest", parsed.password or "guest")
        self.base = urlunparse(parsed._replace(netloc=f"{parsed.hostname}:{parsed.port or 15672}"))

    def call(self, method, path, **kwargs):
        answer = requests.request(
            method, f"{self.base}/api/{path}", auth=self.auth, timeout=10, **kwargs
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def add_vhost(self, vhost):
        self.call("PUT", f"vhosts/{quote(vhost, safe='')}")
        self.call(
            "PUT",
            f"permissions/{quote(vhost, safe='')}/{self.auth[0]}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )

    def delete_vhost(self, vhost):
        requests.delete(
            f"{self.base}/api/vhosts/{quote(vhost, safe='')}", auth=self.auth, timeout=10
        )


def story_request(**overrides):
    """The resident of DOMAIN.md's story, as the intake API receives her request."""
    body = {
        "channel": "phone",
        "station": "daxing",
        "resident": {
            "name": "邹书兰",
            "phone": "13812345678",
            "categories": ["elderly", "living_alone", "key_concern"],
        },
        "need": {"type": "medicine_purchase", "description": "药吃完了，下雨出不了门"},
    }
    body.update(overrides)
    return body


def conforms(service, schema_name, instance):
    """Validate an API answer against the committed OpenAPI document's schema."""
    import json
    from pathlib import Path

    from openapi_schema_validator import OAS30Validator

    document = json.loads(
        (Path(__file__).resolve().parents[1] / "docs" / "openapi" / f"{service}.json").read_text(
            encoding="utf-8"
        )
    )
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS30Validator(schema).validate(instance)
    return instance


@contextmanager
def launched(env, ready_timeout=90):
    """``deploy/local.py`` (what ``make run`` runs) as its own process, until it says
    ready; yields (process, the lines it printed). SIGTERM on the way out."""
    process = subprocess.Popen(
        [sys.executable, "deploy/local.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    try:
        wait_until(
            lambda: any("[shegong] ready" in line for line in output) or process.poll() is not None,
            ready_timeout,
            message="make run's 'ready'",
        )
        assert process.poll() is None, "".join(output)
        yield process, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def tap(amqp_uri, producer, name, routing_key="shegong.#"):
    """A queue of the test's own on ``producer``'s exchange; returns ``drain()``, which
    gives every event that reached it since the last call (bodies as dicts)."""
    from kombu import Connection, Queue

    from services.common.messaging import event_exchange

    queue = Queue(name, exchange=event_exchange(producer), routing_key=routing_key, durable=True)
    with Connection(amqp_uri) as connection:
        queue.bind(connection.default_channel).declare()

    def drain():
        found = []
        with Connection(amqp_uri) as connection:
            simple = connection.SimpleQueue(queue.name, no_ack=True)
            while True:
                try:
                    found.append(json.loads(simple.get(timeout=0.3).body))
                except simple.Empty:
                    return found

    return drain


def seeded_case_store(database):
    """casework's store on the test's database, indexed, with the pilot stations' rosters."""
    from services.casework import seed
    from services.casework.store import CaseStore

    store = CaseStore(database("casework"))
    store.ensure_indexes()
    store.seed_roster(seed.roster(), seed.calendar())
    return store


def register_resident(store, request, now):
    """The registry's record of a request's resident, written as casework's request path
    writes it (for tests that build their cases by hand); returns it."""
    from services.casework.handlers import batch as handlers_batch
    from services.casework.store import batch as store_batch
    from services.common import clock

    key = handlers_batch.lookup_key(request)
    record = handlers_batch.registry_record(
        store_batch.resident_records(store, [key])[key], request, clock.iso(now)
    )
    aliases = (
        [(request["resident_ref"], record["_id"])]
        if request["resident_ref"] != record["_id"]
        else []
    )
    store_batch.save_residents(store, [record], aliases)
    return record


def add_case(store, case, envelopes):
    """Insert a case built by hand with its events as casework's request path inserts
    its new cases (store.batch.add_cases of one): the document written, or None if its
    request already has a case."""
    from services.casework.store import batch as store_batch

    written, _ = store_batch.add_cases(store, [(case, envelopes)])
    return written[0] if written else None


def open_counts(store, station):
    """The workload counters of a station's workers, as assignment reads them."""
    from services.casework.store import batch as store_batch

    return store_batch.workload(store, [worker.id for worker in store.roster(station)])


def open_case_for_request(store, relay, envelope, request, now=None):
    """casework's request path for one request (a batch of one), with the default
    service levels (the Settings of no environment): the case it opened or joined;
    raises what the batch returned for it (RepeatNotYetOpened...)."""
    from services.casework.handlers import batch as handlers_batch
    from services.common import config

    failures = handlers_batch.open_cases_for_requests(
        store,
        relay,
        [(0, envelope, request)],
        config.settings({}),
        now=now,
    )
    if failures:
        raise failures[0]
    return store.for_request(request["request_id"])[0]


def find_cases(store, station=None, status=None, request_id=None, limit=100, assignee=None):
    """casework's cases matching every criterion given, newest first: what a test looks
    up (the services list cases through store.page)."""
    from pymongo import DESCENDING

    from services.casework.store import as_case

    query = {
        key: value
        for key, value in (
            ("station", station),
            ("status", status),
            ("request_id", request_id),
            ("assignee.id", assignee),
        )
        if value
    }
    cursor = store.cases.find(query, sort=[("opened_at", DESCENDING)], limit=limit)
    return [as_case(document) for document in cursor]


def find_messages(store, filters, limit=200):
    """notifications' messages whose fields equal ``filters`` (falsy values ignored),
    newest first: what a test looks up (the services list messages through store.page)."""
    from pymongo import DESCENDING

    query = {key: value for key, value in filters.items() if value}
    return list(store.messages.find(query, sort=[("created_ms", DESCENDING)], limit=limit))


def access_entries(store):
    """casework's access log in ``seq`` order (the API pages it with store.access_log.page)."""
    from pymongo import ASCENDING

    return list(store.access_log.entries.find({}, {"_id": 0}, sort=[("seq", ASCENDING)]))
