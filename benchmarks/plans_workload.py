"""The workload whose store commands the query-plan check collects: the whole system as
``make run`` starts it (deploy/local.py: every service its own processes, on the real
broker and a file-backed nx-27017), each process logging its store commands
(SHEGONG_COMMAND_LOG_DIR), driven through the story and every list and report, its
timers let run (and the slow ones called once more, as their timers would).
"""

import json
import os
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pymongo
import requests

from services.casework import seed
from services.common import clock
from services.common.command_log import CommandLog
from tests.support import free_port, launched, story_request, wait_until

SERVICES = ("intake", "casework", "notifications", "reporting")


class Workload:
    def __init__(self, var_dir: Path, ports: dict, env: dict) -> None:
        self.var_dir, self.ports, self.env = var_dir, ports, env
        self.log_dir = var_dir / "commands"
        self.credentials = json.loads((var_dir / "dev-credentials.json").read_text())
        self.admin = self.bearer(self.credentials["district_admin"])

    @staticmethod
    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def call(self, method, service, path, headers=None, **kwargs):
        answer = requests.request(
            method,
            f"http://127.0.0.1:{self.ports[service]}{path}",
            headers=headers or self.admin,
            timeout=15,
            **kwargs,
        )
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text)
        return answer

    def get(self, service, path, headers=None):
        return self.call("GET", service, path, headers)

    def story(self) -> dict:
        """DOMAIN.md's story: recorded, opened and assigned, accepted, worked, resolved,
        closed, the resident told, the district's figures projected."""
        body = story_request(received_at=clock.iso(clock.now()))
        keyed = {**self.admin, "Idempotency-Key": f"plans-{uuid.uuid4()}"}
        answer = self.call("POST", "intake", "/v1/requests", json=body, headers=keyed)
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        # the claims a request holds, met: its key replayed, and used with another body
        # (409), and her need again under another key while it is open (a repeat)
        again = self.call("POST", "intake", "/v1/requests", json=body, headers=keyed)
        assert again.json()["request_id"] == request_id, again.text
        other = {**body, "need": {**body["need"], "type": "home_visit"}}
        conflict = self.call("POST", "intake", "/v1/requests", json=other, headers=keyed)
        assert conflict.status_code == 409, conflict.text
        repeat = self.call(
            "POST",
            "intake",
            "/v1/requests",
            json=body,
            headers={**self.admin, "Idempotency-Key": f"plans-{uuid.uuid4()}"},
        )
        assert repeat.json()["repeat_of"] == request_id, repeat.text
        case = wait_until(
            lambda: self.get("casework", f"/v1/cases?request_id={request_id}").json()["cases"],
            30,
            message="the case",
        )[0]
        worker = self.bearer(self.credentials["workers"][case["assignee"]["id"]])
        url = f"/v1/cases/{case['case_id']}"
        for path, payload in (
            (f"{url}/accept", {}),
            (f"{url}/actions", {"type": "visit", "note": "上门"}),
            (f"{url}/resolve", {"summary": "代购药品并送达"}),
            (f"{url}/close", {}),
        ):
            done = self.call("POST", "casework", path, json=payload, headers=worker)
            assert done.status_code == 200, (path, done.text)
        wait_until(
            lambda: (
                len(
                    self.get("notifications", f"/v1/messages?case_id={case['case_id']}").json()[
                        "messages"
                    ]
                )
                >= 3
            ),
            30,
            message="the worker's and the resident's SMS",
        )
        wait_until(
            lambda: (
                self.get("reporting", "/v1/reports/summary?station=daxing").json()["cases_resolved"]
                >= 1
            ),
            30,
            message="the figures",
        )
        return {"request_id": request_id, "case": case, "worker": worker}

    def lists(self, story: dict) -> None:
        """Every list and report of the four APIs, with the filters they offer."""
        case, worker = story["case"], story["worker"]
        worker_id = case["assignee"]["id"]
        head = next(
            w["id"]
            for w in seed.roster()
            if w["station"] == "daxing" and w["role"] == "station_head"
        )
        head_token = self.bearer(self.credentials["workers"][head])
        today = clock.local_day(clock.now())
        # the first day of last month: a period of whole months and days
        last_month = (date.fromisoformat(today).replace(day=1) - timedelta(days=1)).replace(day=1)
        last_month = last_month.isoformat()
        for path in (
            "/v1/cases?station=daxing",
            "/v1/cases?station=daxing&status=assigned",
            "/v1/cases?station=daxing&status=closed&sort=opened",
            "/v1/cases?station=daxing&priority=urgent",
            f"/v1/cases?assignee={worker_id}",
            "/v1/cases?overdue=true",
            "/v1/cases?status=assigned&limit=5",
            f"/v1/cases/{case['case_id']}",
            "/v1/residents?station=daxing",
            "/v1/residents?q=邹",
            f"/v1/access-log?case_id={case['case_id']}",
            "/v1/access-log",
            "/v1/referrals?station=daxing",
            "/v1/stations/daxing/programs",
            f"/v1/stations/daxing/roster?day={today}",
            f"/v1/cases/export?station=daxing&from={last_month}&to={today}",
            f"/v1/cases/export?from={today}&to={today}&personal=full",
        ):
            # each read answered: a refused one would leave its store commands unsent
            exporter = head_token if "export?station" in path else None
            answer = self.get("casework", path, exporter)
            assert answer.status_code == 200, (path, answer.status_code, answer.text)
        self.get("casework", f"/v1/cases?assignee={worker_id}&status=closed", worker)
        resident = self.get("casework", "/v1/residents?station=daxing").json()
        for found in resident.get("residents", [])[:1]:
            self.get("casework", f"/v1/residents/{found['resident_ref']}")
        messages = self.get("notifications", f"/v1/messages?case_id={case['case_id']}").json()
        for path in (
            "/v1/messages?station=daxing",
            "/v1/messages?status=sent",
            "/v1/messages?recipient_role=resident&channel=sms",
            f"/v1/messages?since={today}T00:00:00%2B08:00",
            "/v1/messages?inbox=true",
            "/v1/messages?inbox=true&unread=true",
            "/v1/webhook-deliveries",
        ):
            self.get("notifications", path)
        self.get("notifications", "/v1/messages?inbox=true&unread=true", head_token)
        for message in messages.get("messages", [])[:1]:
            self.get("notifications", f"/v1/messages/{message['message_id']}")
            self.call("POST", "notifications", f"/v1/messages/{message['message_id']}/read")
        for path in (
            "/v1/reports/summary",
            "/v1/reports/summary?station=daxing",
            f"/v1/reports/summary?from={today}&to={today}",
            f"/v1/reports/summary?from={last_month}&to={today}",
            "/v1/reports/stations",
            f"/v1/reports/stations?from={last_month}&to={today}",
            "/v1/reports/timeseries?station=daxing",
            "/v1/reports/timeseries?metric=cases_opened&interval=week",
            "/v1/reports/timeseries?metric=time_to_accept_median&interval=month",
            f"/v1/reports/timeseries?metric=residents_served&interval=week&from={last_month}",
            f"/v1/trace/{story['request_id']}",
        ):
            self.get("reporting", path)
        self.get("intake", f"/v1/requests/{story['request_id']}")

    def timers(self) -> None:
        """The timers that run too seldom for the workload to see them (the key purge,
        the workload reconcile), and the SLA check once more now that cases exist; the
        others (relays, notification sweep, reporting passes) ran in their processes."""
        from services.casework import handlers as casework_handlers
        from services.casework.store import CaseStore
        from services.common import config
        from services.intake import handlers as intake_handlers
        from services.intake.store import RequestStore
        from tests.fakes.relay import RecordingRelay

        settings = config.settings(self.env)
        client = pymongo.MongoClient(
            settings.mongo_uri, event_listeners=[CommandLog(str(self.log_dir))]
        )
        try:
            intake_handlers.purge_expired_keys(
                RequestStore(client[settings.database_name("intake")])
            )
            cases = CaseStore(client[settings.database_name("casework")])
            casework_handlers.reconcile_workload(cases)
            casework_handlers.enforce_service_levels(cases, RecordingRelay())
        finally:
            client.close()


def environment(var_dir: Path, amqp_uri: str) -> tuple[dict, dict]:
    ports = {name: free_port() for name in SERVICES}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHEGONG_") and key != "MONGO_URI"
    }
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        {
            "AMQP_URI": amqp_uri,
            "SHEGONG_VAR_DIR": str(var_dir),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            "SHEGONG_DB_PREFIX": f"plans{uuid.uuid4().hex[:6]}",
            "SHEGONG_COMMAND_LOG_DIR": str(var_dir / "commands"),
            "SHEGONG_RETRY_DELAYS_MS": "200,500",
            "SHEGONG_RELAY_INTERVAL_S": "0.5",
            "SHEGONG_RELAY_GRACE_S": "0.5",
            "SHEGONG_SLA_INTERVAL_S": "1",
            "SHEGONG_SMS_SWEEP_INTERVAL_S": "0.5",
            "SHEGONG_QUIET_HOURS_START": "00:00",
            "SHEGONG_QUIET_HOURS_END": "00:00",
        }
    )
    return env, ports


def run(var_dir: Path, amqp_uri: str) -> Path:
    """Run the workload on a fresh system; returns the directory of the command logs
    (the store's files are in ``var_dir/mongo``, the system stopped)."""
    (var_dir / "commands").mkdir(parents=True, exist_ok=True)
    env, ports = environment(var_dir, amqp_uri)
    with launched(env):
        env["MONGO_URI"] = f"mongodb://127.0.0.1:{env['SHEGONG_EMBEDDED_MONGO_PORT']}/"
        workload = Workload(var_dir, ports, env)
        story = workload.story()
        workload.story()  # a second request: the paths that meet history (repeat orders)
        workload.lists(story)
        workload.timers()
        time.sleep(3)  # the relays, the sweep, a reporting pass and the SLA check run again
    return var_dir / "commands"


def vhost_uri(base: str, vhost: str) -> str:
    parsed = urlparse(base)
    return urlunparse(parsed._replace(path="/" + quote(vhost, safe="")))
