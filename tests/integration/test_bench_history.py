"""The benchmark's history (benchmarks/history) is representative, and leaves a store
the services work on.

1. The real system (every service its own process, the real broker and store) takes a
   mix of requests: plain ones over HTTP with an Idempotency-Key, repeats of open
   requests, and missed check-ins from elderly-care on the inbound exchange. Every
   collection of every service database is counted once the system is quiet.
2. A history with the same mix is built into a fresh store by the builder, before the
   services start on it: every collection the system wrote must be in it, with the same
   documents per request within TOLERANCE.
3. On that store a new request completes end to end (case assigned, worker SMS,
   projection), and the counters the services continue from held (the access chain,
   the workload counters, the outboxes).
"""

import json
import os
import time
import uuid
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests
from pymongo import MongoClient

from benchmarks import history
from benchmarks.load import request_body
from benchmarks.system import BenchSystem
from services.casework.store import CaseStore
from services.common import config
from tests.inbound_support import checkin_missed, publish_inbound
from tests.support import wait_until

pytestmark = pytest.mark.e2e
PLAIN, REPEATS, ALERTS = 24, 3, 3
TOLERANCE = 0.3
# Counted per request; the others (rosters, counters per worker, daily figures per day
# and their rollups per month, the projection pointer) are required to exist, not to
# scale with the requests.
NOT_PER_REQUEST = {
    "casework.workers",
    "casework.calendar",
    "casework.rosters",
    "casework.workload",
    "reporting.meta",
    "reporting.daily_v1",
    "reporting.rollup_v1",  # per station and month, and per station
    # one per group commit: how many events share one depends on the load (the history
    # keeps a request's events as one)
    "reporting.event_batches",
    # one document per migration run (services/common/migrations.py)
    "intake.migrations",
    "casework.migrations",
    "reporting.migrations",
    "notifications.migrations",
}
# Leases of the moment (services/common/sweep_lease.py: taken only while an outbox holds
# stale documents), not history: a run may leave one, a history has none.
OF_THE_MOMENT = {f"{service}.outbox_sweeps" for service in ("intake", "casework", "notifications")}
# One document per request (or per case) exactly, in the system and in the history.
ONE_EACH = {"intake.requests", "notifications.contacts"}


def counts(client, prefix):
    found = {}
    for service in config.SERVICES:
        database = client[f"{prefix}_{service}"]
        for name in database.list_collection_names():
            found[f"{service}.{name}"] = database[name].count_documents({})
    return {name: count for name, count in found.items() if count}


def start(tmp_path, rabbit, name, before=None):
    vhost = f"shegong-hist-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    system = BenchSystem(
        tmp_path / name,
        urlunparse(base._replace(path="/" + quote(vhost, safe=""))),
        f"hist{uuid.uuid4().hex[:6]}",
    )
    system.vhost = vhost
    system.before_services = before and (lambda: before(system))
    system.up()
    return system


def quiet(client, prefix, settle_s=4.0, timeout=120):
    """The counts once nothing changed for ``settle_s`` (every event handled)."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = counts(client, prefix)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            return now
        time.sleep(0.5)
    raise AssertionError(f"the system did not settle: {last}")


def post(system, body):
    answer = requests.post(
        system.url("intake", "/v1/requests"),
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {system.token()}", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["request_id"]


def drive(system):
    """The mix: plain requests, repeats of open ones, missed check-ins (inbound)."""
    for number in range(PLAIN):
        post(system, request_body(7, number))
    for number in range(REPEATS):  # the same resident and need again: a repeat
        post(system, request_body(7, number))
    for number in range(ALERTS):
        resident = {
            "name": f"独居老人{number}",
            "phone": f"1350000{number:04d}",
            "categories": ["elderly", "living_alone"],
        }
        publish_inbound(
            system.env["AMQP_URI"],
            checkin_missed(station="xiaxiang", resident=resident),
            system="elderly-care",
        )


def test_history_is_representative_and_the_system_works_on_it(tmp_path, rabbit):
    total = PLAIN + REPEATS + ALERTS
    real = start(tmp_path, rabbit, "real")
    try:
        client = MongoClient(real.env["MONGO_URI"])
        drive(real)
        wait_until(
            lambda: (
                CaseStore(real.database(client, "casework")).cases.count_documents({})
                == PLAIN + ALERTS
            ),
            90,
            message="every case",
        )
        system_counts = quiet(client, real.db_prefix)
    finally:
        real.down()
        rabbit.delete_vhost(real.vhost)

    built = {}
    size = 300
    # every case as the request path leaves it (assigned, minutes old: no deadline passed),
    # no returning residents: the
    # mix of drive()
    mix = history.Mix(
        span_days=0.005,
        alerts=ALERTS / total,
        repeats=REPEATS / (total - REPEATS),
        returning=0.0,
        emergency_contact=0.0,
        keyed=1.0,
        recent_statuses=(("assigned", 1.0),),
    )

    def build(system):
        client = MongoClient(system.env["MONGO_URI"])
        built["report"] = history.build(
            client,
            system.db_prefix,
            size,
            settings=config.settings(system.env),
            mix=mix,
            say=lambda text: None,
            files=str(system.var_dir / "mongo"),
        )
        built["counts"] = counts(client, system.db_prefix)

    after = start(tmp_path, rabbit, "history", before=build)
    try:
        client = MongoClient(after.env["MONGO_URI"])
        history_counts = built["counts"]
        missing = sorted(set(system_counts) - set(history_counts) - OF_THE_MOMENT)
        assert not missing, f"collections the system writes but the history lacks: {missing}"
        requests_real = system_counts["intake.requests"]
        requests_history = history_counts["intake.requests"]
        off = {}
        for name, count in system_counts.items():
            if name in NOT_PER_REQUEST or name in OF_THE_MOMENT:
                continue
            real_ratio = count / requests_real
            history_ratio = history_counts[name] / requests_history
            allowed = 0.0 if name in ONE_EACH else TOLERANCE
            if abs(history_ratio - real_ratio) > allowed * real_ratio + 1e-9:
                off[name] = (round(real_ratio, 3), round(history_ratio, 3))
        assert not off, (
            f"documents per request (system, history) differ by more than {TOLERANCE:.0%}: {off}"
        )

        # the services start on it, and a new request completes end to end
        request_id = post(after, request_body(8, 1))
        casework = after.database(client, "casework")
        wait_until(
            lambda: (
                (casework["cases"].find_one({"request_id": request_id}) or {}).get("status")
                == "assigned"
            ),
            60,
            message="the new request's case",
        )
        case = casework["cases"].find_one({"request_id": request_id})

        def sms_sent():
            if not (after.var_dir / "sms.jsonl").exists():  # no SMS written yet
                return False
            with open(after.var_dir / "sms.jsonl", encoding="utf-8") as sink:
                return any(json.loads(line).get("case_id") == case["_id"] for line in sink)

        wait_until(sms_sent, 60, message="the worker's SMS")
        reporting = after.database(client, "reporting")
        wait_until(
            lambda: reporting["facts_v1"].find_one({"_id": f"case:{case['_id']}"}),
            60,
            message="the new case's fact",
        )
        # nothing the history left pending was published again or stuck
        for service, name in (
            ("intake", "requests"),
            ("casework", "cases"),
            ("notifications", "messages"),
        ):
            wait_until(
                lambda s=service, n=name: (
                    after.database(client, s)[n].find_one({"outbox_pending": True}) is None
                ),
                30,
                message=f"{service}.{name} published",
            )
        workload = {d["_id"]: d["open"] for d in casework["workload"].find()}
        assert workload[case["assignee"]["id"]] >= 1
        assert CaseStore(casework).access_log.verify()["valid"]
    finally:
        after.down()
        rabbit.delete_vhost(after.vhost)
