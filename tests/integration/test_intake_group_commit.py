"""Intake's group commit: the requests the API's threads handle at the same time share
one insert per collection, on the real gunicorn (gthread), broker and store. Each
request is answered 202 only once its own documents are written, Idempotency-Keys and
(source, id) still deduplicate, and a failed write fails only its own batch's
requests (503), with nothing of theirs recorded."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from pymongo.errors import AutoReconnect
from werkzeug.test import Client

from services.common import auth
from services.intake import api as intake_api
from tests.inbound_support import KEYS, key_person_update
from tests.support import free_port, story_request, wait_until

ROOT = Path(__file__).resolve().parents[2]
BATCH = "application/cloudevents-batch+json"


@pytest.fixture
def gunicorn_intake(settings, topology, database):
    database("intake").requests.find_one()
    port = free_port()
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "services.intake.api:create_app()",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "16",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30, message="the intake API")
        yield base
    finally:
        api.terminate()
        api.wait(30)


def test_concurrent_requests_are_answered_after_their_write_and_still_deduplicated(
    gunicorn_intake, settings, database
):
    token = auth.issue_token(settings.token_secret, "district-admin", "district_admin")
    stored = database("intake")
    session = threading.local()

    def post(number):
        client = getattr(session, "client", None) or requests.Session()
        session.client = client
        headers = {"Authorization": f"Bearer {token}"}
        if number % 5 == 0:  # 4 concurrent sends of each of these keys
            headers["Idempotency-Key"] = f"key-{number // 20}"
        body = story_request(resident={"name": "邹书兰", "phone": f"138{number // 20:08d}"})
        if number % 5 != 0:
            body = story_request(resident={"name": "邹书兰", "phone": f"139{number:08d}"})
        answer = client.post(
            gunicorn_intake + "/v1/requests", json=body, headers=headers, timeout=60
        )
        # answered 202 only once written: the store has it at the moment of the answer
        found = (
            stored.requests.find_one({"_id": answer.json()["request_id"]})
            if answer.status_code == 202
            else None
        )
        return number, answer.status_code, answer.headers, answer.json(), found

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(post, range(400)))
    assert all(status == 202 for _, status, _, _, _ in outcomes), outcomes[:3]
    assert all(found is not None for *_, found in outcomes)
    keyed = {}
    for number, _, headers, answer, _ in outcomes:
        if number % 5 == 0:
            keyed.setdefault(number // 20, []).append((answer["request_id"], headers))
    # each key names one request; every other send of it is a replay of that one
    for sends in keyed.values():
        assert len({request_id for request_id, _ in sends}) == 1
        assert sum(h.get("Idempotent-Replayed") == "true" for _, h in sends) == len(sends) - 1
    assert stored.requests.count_documents({}) == 320 + len(keyed)
    # each key held by its request alone (issue 24: no key claim document of its own)
    assert len(list(stored.requests.find({"key_claim": {"$exists": True}}))) == len(keyed)
    assert "idempotency_keys" not in stored.list_collection_names()


def test_registry_batches_sent_at_once_are_recorded_once(gunicorn_intake, database):
    batches = [[key_person_update(name=f"居民{b}-{i}") for i in range(100)] for b in range(6)]

    def send(batch):
        answer = requests.post(
            gunicorn_intake + "/v1/events",
            data=json.dumps(batch, ensure_ascii=False),
            headers={"X-Api-Key": KEYS["civil-affairs"], "Content-Type": BATCH},
            timeout=60,
        )
        return answer.status_code, [r["status"] for r in answer.json()["results"]]

    with ThreadPoolExecutor(6) as pool:
        first = list(pool.map(send, batches))
        again = list(pool.map(send, batches + batches[:2]))
    assert first == [(200, ["accepted"] * 100)] * 6
    assert again == [(200, ["duplicate"] * 100)] * 8
    assert database("intake").registry_updates.count_documents({}) == 600


def test_a_failed_batch_fails_only_its_own_requests_and_records_nothing_of_them(
    settings, topology, database, monkeypatch
):
    stored = database("intake")
    client = Client(intake_api.create_app(settings))
    token = auth.issue_token(settings.token_secret, "district-admin", "district_admin")
    failing = {"phone": "13800000666"}
    real = type(stored.requests).insert_many

    def down_for_one(collection, documents, *args, **kwargs):
        if collection.name == "requests" and any(
            d.get("resident", {}).get("phone") == "138****0666" for d in documents
        ):
            raise AutoReconnect("the store went away")
        return real(collection, documents, *args, **kwargs)

    monkeypatch.setattr(type(stored.requests), "insert_many", down_for_one)

    def post(phone, key):
        return client.post(
            "/v1/requests",
            json=story_request(resident={"name": "邹书兰", "phone": phone}),
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )

    phones = [f"1390000{n:04d}" for n in range(40)] + [failing["phone"]]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda p: (p, post(p, f"k-{p}")), phones))
    failed = [p for p, a in answers if a.status_code == 503]
    assert failing["phone"] in failed
    assert all(a.status_code in (202, 503) for _, a in answers)
    # what was answered 202 is stored; what was answered 503 is not
    assert stored.requests.count_documents({}) == sum(a.status_code == 202 for _, a in answers)
    for _phone, answer in answers:
        if answer.status_code == 202:
            assert stored.requests.find_one({"_id": answer.json["request_id"]}) is not None
    assert stored.requests.count_documents({"resident.phone": "138****0666"}) == 0
    monkeypatch.setattr(type(stored.requests), "insert_many", real)
    # the store is back: a retry with the same key records it, once
    retried = [post(p, f"k-{p}") for p in failed]
    assert all(a.status_code == 202 for a in retried)
    assert stored.requests.count_documents({}) == len(phones)
