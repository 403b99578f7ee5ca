"""make run on one machine: two casework workers, one leading the batch queues and the
other taking over when it is killed, and kill -9 of each worker and of an API under a
steady load: the process comes back (restarted by make run), the other APIs answer
throughout, and every accepted request becomes exactly one case, one worker SMS and
one fact in reporting."""

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests
from pymongo import MongoClient

from services.common.contracts import REQUEST_RECEIVED
from tests.chaos.load import chaos_request
from tests.support import free_port, launched, wait_until

SERVICES = ("intake", "casework", "notifications", "reporting")
pytestmark = pytest.mark.e2e


class System:
    def __init__(self, env, output):
        self.env, self.var_dir, self.output = env, Path(env["SHEGONG_VAR_DIR"]), output
        self.admin = json.loads((self.var_dir / "dev-credentials.json").read_text())[
            "district_admin"
        ]
        self.accepted = {}  # index -> request_id
        self.unanswered = []  # (api, time, what was being killed)
        self.killing = None

    def url(self, service, path):
        return f"http://127.0.0.1:{self.env[f'{service.upper()}_PORT']}{path}"

    def processes(self):
        return {
            p["name"]: p
            for p in json.loads((self.var_dir / "processes.json").read_text())["processes"]
        }

    def database(self, service):
        client = MongoClient(f"mongodb://127.0.0.1:{self.env['SHEGONG_EMBEDDED_MONGO_PORT']}/")
        return client[f"{self.env['SHEGONG_DB_PREFIX']}_{service}"]

    def post(self, index):
        """One request, retried with its Idempotency-Key until accepted (as a client would)."""
        headers = {
            "Authorization": f"Bearer {self.admin}",
            "Idempotency-Key": f"sup-{self.env['SHEGONG_DB_PREFIX']}-{index}",
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = requests.post(
                    self.url("intake", "/v1/requests"),
                    headers=headers,
                    json=chaos_request(index),
                    timeout=10,
                )
                if answer.status_code == 202:
                    self.accepted[index] = answer.json()["request_id"]
                    return
                assert answer.status_code >= 500, answer.text
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"request {index} was never accepted")


@pytest.fixture(scope="module")
def system(tmp_path_factory, rabbit):
    vhost = f"shegong-sup-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHEGONG_") and key != "MONGO_URI"
    }
    for name in SERVICES:
        env[f"{name.upper()}_PORT"] = str(free_port())
        env[f"{name.upper()}_METRICS_PORT"] = str(free_port())
    env.update(
        {
            "AMQP_URI": urlunparse(base._replace(path="/" + quote(vhost, safe=""))),
            "SHEGONG_VAR_DIR": str(tmp_path_factory.mktemp("var")),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            "SHEGONG_DB_PREFIX": f"sup{uuid.uuid4().hex[:6]}",
            "SHEGONG_RETRY_DELAYS_MS": "200,500",
            "SHEGONG_RELAY_INTERVAL_S": "0.5",
            "SHEGONG_RELAY_GRACE_S": "1",
            "SHEGONG_REPLICAS": "casework-worker=2,intake-api=2",
        }
    )
    try:
        with launched(env) as (_, output):
            yield System(env, output)
    finally:
        rabbit.delete_vhost(vhost)


def answers(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def consumed(system, port):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("shegong_events_consumed_total{")
        and f'event_type="{REQUEST_RECEIVED.type}"' in line
    )


def exactly_once(system):
    """Every accepted request: one stored request, one case, one worker SMS, one fact."""
    accepted = set(system.accepted.values())
    sms_file = system.var_dir / "sms.jsonl"

    def settled():
        cases = Counter(
            doc["request_id"]
            for doc in system.database("casework")["cases"].find({}, {"request_id": 1})
        )
        sms = (
            Counter(
                line["case_id"]
                for line in map(json.loads, sms_file.read_text(encoding="utf-8").splitlines())
                if line["recipient_role"] == "worker"
            )
            if sms_file.exists()
            else Counter()
        )
        summary = requests.get(
            system.url("reporting", "/v1/reports/summary"),
            timeout=10,
            headers={"Authorization": f"Bearer {system.admin}"},
        ).json()
        case_ids = [doc["_id"] for doc in system.database("casework")["cases"].find({}, {"_id": 1})]
        short["without a case"] = sorted(accepted - set(cases))
        short["cases without a worker SMS"] = [c for c in case_ids if not sms[c]]
        short["summary"] = {k: summary[k] for k in ("requests_received", "cases_opened")}
        done = (
            set(cases) >= accepted
            and all(sms[c] for c in case_ids)
            and summary["requests_received"] >= len(accepted)
            and summary["cases_opened"] >= len(accepted)
        )
        return done and (cases, sms, summary, case_ids)

    short = {"accepted": len(accepted)}  # what is still missing, for the failure message
    try:
        cases, sms, summary, case_ids = wait_until(
            settled, 120, interval=1, message="every effect of every request"
        )
    except AssertionError as timeout:
        complaints = [
            line for line in system.output if any(w in line for w in ("ERROR", "WARNING", "Error"))
        ]
        raise AssertionError(
            f"{timeout}: {short}; {system.processes()}; what make run said: {complaints[-40:]}"
        ) from None
    time.sleep(2)  # a duplicate would come now, if it were coming
    cases, sms, summary, case_ids = settled()
    stored = Counter(
        doc["_id"] for doc in system.database("intake")["requests"].find({}, {"_id": 1})
    )
    assert set(stored) == accepted and set(stored.values()) == {1}
    assert set(cases) == accepted and set(cases.values()) == {1}
    assert set(sms) == set(case_ids) and set(sms.values()) == {1}
    assert summary["requests_received"] == len(accepted)
    assert summary["cases_opened"] == len(accepted)


def test_two_casework_workers_one_leads_the_other_takes_over_and_each_effect_happens_once(
    system,
):
    """The batch queues are led by one instance (the higher consumer priority,
    services/common/batching.py): it consumes every request.received while the other
    stands by; killed, the other consumes what comes next (and what it held unacked)."""
    processes = system.processes()
    assert {"casework-worker#1", "casework-worker#2", "intake-api#1"} <= set(processes)
    assert processes["intake-api#1"]["http_workers"] == 2
    ports = [processes[f"casework-worker#{n}"]["port"] for n in (1, 2)]
    assert ports[1] == ports[0] + 100
    for index in range(30):
        system.post(index)
    wait_until(
        lambda: sum(consumed(system, port) for port in ports) >= 30,
        30,
        message="the casework workers to consume every request",
    )
    counts = [consumed(system, port) for port in ports]
    assert sorted(counts) == [0, 30], counts  # one leads, the batches stay whole
    leader, standby = (1, 2) if counts[0] else (2, 1)
    os.kill(processes[f"casework-worker#{leader}"]["pid"], signal.SIGKILL)
    for index in range(30, 40):  # while make run restarts it
        system.post(index)
    wait_until(
        lambda: consumed(system, ports[standby - 1]) > 0,
        30,
        message="the standby to take over",
    )
    exactly_once(system)


def test_kill_9_of_each_worker_and_an_api_under_load(system):
    stop, counter = threading.Event(), iter(range(1000, 10000))
    # the replicas this test does not kill (the takeover test may have killed either
    # casework worker before: whichever led)
    spared = {name: p["restarts"] for name, p in system.processes().items() if name.endswith("#2")}

    def load():
        while not stop.is_set():
            system.post(next(counter))
            time.sleep(0.25)

    def probe():
        while not stop.is_set():
            for name in SERVICES:
                try:
                    ok = requests.get(system.url(name, "/healthz"), timeout=2).status_code == 200
                except requests.RequestException:
                    ok = False
                if not ok:
                    system.unanswered.append((name, time.monotonic(), system.killing))
            time.sleep(0.2)

    threads = [threading.Thread(target=f, daemon=True) for f in (load, load, probe)]
    for thread in threads:
        thread.start()
    try:
        for victim in (
            "intake-worker#1",
            "casework-worker#1",
            "notifications-worker#1",
            "reporting-worker#1",
            "intake-api#1",
        ):
            before = system.processes()[victim]
            system.killing = victim
            os.kill(before["pid"], signal.SIGKILL)
            after = wait_until(
                lambda v=victim, b=before: (
                    (p := system.processes()[v])["restarts"] == b["restarts"] + 1
                    and p["state"] == "running"
                    and p
                ),
                30,
                message=f"{victim} to be restarted",
            )
            assert after["pid"] != before["pid"] and after["last_exit"] == "killed by SIGKILL"
            wait_until(
                lambda port=after["port"]: answers(port), 30, message=f"{victim} to answer again"
            )
            system.killing = None
            time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(70)
    others = [u for u in system.unanswered if u[0] != "intake"]
    assert not others, others  # the other APIs answered throughout
    assert all(victim == "intake-api#1" for _, _, victim in system.unanswered), system.unanswered
    assert len(system.accepted) > 60
    restarted = system.processes()
    assert all(p["state"] == "running" for p in restarted.values())
    assert {name: restarted[name]["restarts"] for name in spared} == spared
    exactly_once(system)
