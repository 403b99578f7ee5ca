"""The story of DOMAIN.md end to end: every service as its own OS process, started the
way ``make run`` starts them (deploy/local.py), on the real broker and the MongoDB
wire protocol, driven over real HTTP through gunicorn."""

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests

from services.casework import seed
from services.casework.domain import roster as domain_roster
from services.common import clock
from tests.inbound_support import (
    ID_NUMBER,
    KEYS,
    checkin_missed,
    key_person_update,
    petition,
    publish_inbound,
    referral,
)
from tests.support import conforms, free_port, launched, story_request, wait_until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "casework", "notifications", "reporting")
pytestmark = pytest.mark.e2e
SYSTEM_OF = {
    "/suyu/civil-affairs": "civil-affairs",
    "/suyu/petition-office": "petition-office",
    "/suyu/elderly-care": "elderly-care",
}


class System:
    def __init__(self, process, var_dir, ports, output, amqp_uri=None):
        self.process, self.var_dir, self.ports, self.output = process, var_dir, ports, output
        self.amqp_uri = amqp_uri  # its own virtual host, for tests that publish directly

    def url(self, service, path):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def credentials(self):
        return json.loads((self.var_dir / "dev-credentials.json").read_text())

    def logs(self):
        return {
            path.name: path.read_text(errors="replace")
            for path in (self.var_dir / "log").glob("*.log")
        }


@pytest.fixture(scope="module")
def system(tmp_path_factory, rabbit):
    vhost = f"shegong-e2e-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    var_dir = tmp_path_factory.mktemp("var")
    ports = {name: free_port() for name in SERVICES}
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHEGONG_")}
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        {
            "AMQP_URI": urlunparse(base._replace(path="/" + quote(vhost, safe=""))),
            "SHEGONG_VAR_DIR": str(var_dir),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            "SHEGONG_DB_PREFIX": f"e2e{uuid.uuid4().hex[:6]}",
            "SHEGONG_RETRY_DELAYS_MS": "200,500",
            "SHEGONG_RELAY_INTERVAL_S": "0.5",
            "SHEGONG_RELAY_GRACE_S": "1",
            "LOG_LEVEL": "DEBUG",
        }
    )
    try:
        with launched(env) as (process, output):
            yield System(process, var_dir, ports, output, env["AMQP_URI"])
    finally:
        rabbit.delete_vhost(vhost)


def bearer(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


def test_every_service_is_alive_and_ready(system):
    for name in SERVICES:
        assert requests.get(system.url(name, "/healthz"), timeout=5).json()["service"] == name
        ready = requests.get(system.url(name, "/readyz"), timeout=5)
        assert ready.status_code == 200, ready.text


def test_the_medicine_request_story(system):
    credentials = system.credentials()
    admin = bearer(credentials["district_admin"])
    body = story_request(received_at=clock.iso(clock.now()))
    key = {"Idempotency-Key": f"zou-shulan-{uuid.uuid4()}"}

    # 08:00 - the phone call is recorded by the Daxing station
    answer = requests.post(
        system.url("intake", "/v1/requests"), json=body, headers={**admin, **key}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    request_id = conforms("intake", "AcceptedOut", answer.json())["request_id"]

    # a case of her township's station, urgent, owned by an on-duty social worker
    def the_case():
        listing = requests.get(
            system.url("casework", f"/v1/cases?request_id={request_id}"), headers=admin, timeout=5
        ).json()
        cases = conforms("casework", "CaseList", listing)["cases"]
        return cases[0] if cases else None

    case = wait_until(the_case, 10, message="the case to be opened")
    assert (case["station"], case["priority"], case["status"]) == ("daxing", "urgent", "assigned")
    roster = [
        domain_roster.Worker(**{**w, "duty_days": tuple(w["duty_days"])}) for w in seed.roster()
    ]
    calendar = domain_roster.Calendar(
        tuple(seed.calendar()["holidays"]), seed.calendar()["holiday_rota"]
    )
    on_duty = {
        w.id
        for w in domain_roster.on_duty_workers(
            roster, "daxing", clock.local_day(clock.now()), calendar
        )
    }
    assert case["assignee"]["id"] in on_duty
    worker = bearer(credentials["workers"][case["assignee"]["id"]])
    case_url = f"/v1/cases/{case['case_id']}"

    # the worker is told at once, by SMS, with the resident masked
    def messages(role):
        found = conforms(
            "notifications",
            "MessageList",
            requests.get(
                system.url("notifications", f"/v1/messages?case_id={case['case_id']}"),
                headers=worker,
                timeout=5,
            ).json(),
        )["messages"]
        return [m for m in found if m["recipient_role"] == role and m["status"] == "sent"]

    to_worker = wait_until(lambda: messages("worker"), 10, message="the worker's SMS")
    assert len(to_worker) == 1 and "邹**（138****5678）" in to_worker[0]["body"]
    sms_file = [
        json.loads(line)
        for line in (system.var_dir / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [m["recipient_role"] for m in sms_file if m["case_id"] == case["case_id"]] == ["worker"]

    # he accepts, goes to her home, buys the medicine, brings it, and resolves the case
    for path, payload in (
        (f"{case_url}/accept", {}),
        (f"{case_url}/actions", {"type": "visit", "note": "上门取空药瓶"}),
        (f"{case_url}/actions", {"type": "purchase", "note": "社区卫生所购药"}),
        (f"{case_url}/actions", {"type": "delivery", "note": "药已送到"}),
        (f"{case_url}/resolve", {"summary": "代购药品并送达"}),
    ):
        done = requests.post(system.url("casework", path), json=payload, headers=worker, timeout=10)
        assert done.status_code == 200, done.text
    resolved = conforms(
        "casework",
        "CaseOut",
        requests.get(system.url("casework", case_url), headers=worker, timeout=5).json(),
    )
    assert resolved["status"] == "resolved"
    assert [a["type"] for a in resolved["actions"]] == ["visit", "purchase", "delivery"]

    # the resident is told
    told = wait_until(
        lambda: len(messages("resident")) == 2 and messages("resident"),
        10,
        message="the resident's SMS",
    )
    assert any("已办结" in m["body"] for m in told)

    # the district sees it in its figures
    def figures():
        summary = conforms(
            "reporting",
            "SummaryOut",
            requests.get(
                system.url("reporting", "/v1/reports/summary?station=daxing"),
                headers=admin,
                timeout=5,
            ).json(),
        )
        return summary if summary["cases_resolved"] == 1 and summary["messages_sent"] == 3 else None

    summary = wait_until(figures, 10, message="the station's figures")
    assert summary["requests_received"] == 1 and summary["cases_opened"] == 1
    assert summary["cases_by_priority"]["urgent"] == 1
    for measure in ("time_to_accept_seconds", "time_to_resolve_seconds"):
        assert summary[measure]["count"] == 1 and 0 <= summary[measure]["median"] < 120

    # her request's whole story, across the services, in order
    def trace():
        answer = requests.get(
            system.url("reporting", f"/v1/trace/{request_id}"), headers=admin, timeout=5
        )
        events = conforms("reporting", "TraceOut", answer.json())["events"] if answer.ok else []
        return events if sum(e["step"] == "message.sent" for e in events) == 3 else None

    events = wait_until(trace, 10, message="the request's trace")
    steps = [e["step"] for e in events]
    assert [s for s in steps if not s.startswith("message.")] == [
        "request.received",
        "case.opened",
        "case.assigned",
        "case.accepted",
        "case.action_recorded",
        "case.action_recorded",
        "case.action_recorded",
        "case.resolved",
    ]
    assert [e["data"]["action_type"] for e in events if e["step"] == "case.action_recorded"] == [
        "visit",
        "purchase",
        "delivery",
    ]
    position = {e["id"]: n for n, e in enumerate(events)}
    for n, event in enumerate(events):
        assert event["correlationid"] == request_id
        if event["causationid"] in position:
            assert position[event["causationid"]] < n, steps
    sent_cause = events[steps.index("message.sent")]["causationid"]
    assert position[sent_cause] == steps.index("case.assigned")
    assert "13812345678" not in json.dumps(events) and "邹书兰" not in json.dumps(events)

    # her request's status page follows the case
    status_url = system.url("intake", f"/v1/requests/{request_id}")
    status = wait_until(
        lambda: (
            (s := requests.get(status_url, headers=admin, timeout=5).json())["status"] == "resolved"
            and s
        ),
        10,
        message="the request to show resolved",
    )
    assert conforms("intake", "RequestOut", status)["case_id"] == case["case_id"]

    # a retried POST with the same Idempotency-Key creates nothing new
    again = requests.post(
        system.url("intake", "/v1/requests"), json=body, headers={**admin, **key}, timeout=10
    )
    assert again.status_code == 202 and again.json()["request_id"] == request_id
    assert wait_until(figures, 5, message="figures unchanged")["requests_received"] == 1
    cases = requests.get(
        system.url("casework", f"/v1/cases?request_id={request_id}"), headers=admin, timeout=5
    ).json()["cases"]
    assert len(cases) == 1


def readme_story():
    """The shell block of the README's "Play the story by hand"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Play the story by hand") :]
    return section[section.index("```sh\n") + 6 : section.index("\n```\n")]


def test_the_readme_story_works_as_written(system):
    urls = {name.upper(): f"http://127.0.0.1:{port}" for name, port in system.ports.items()}
    played = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_story()],
        cwd=ROOT,
        env={**os.environ, **urls, "CREDENTIALS": str(system.var_dir / "dev-credentials.json")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert played.returncode == 0, played.stderr
    lines = played.stdout.splitlines()
    assert lines[-8:-3] == ["accepted", "in_progress", "in_progress", "in_progress", "resolved"]
    messages, request, summary = (json.loads(line) for line in lines[-3:])
    assert {m["recipient_role"] for m in messages["messages"]} == {"worker", "resident"}
    assert request["status"] == "resolved" and summary["cases_resolved"] >= 1


# personal data of every kind that goes through the system in this module's tests
ANOTHER_RESIDENT = {
    "name": "钱桂英",
    "phone": "13566667777",
    "id_number": "321322195001010028",
    "categories": ["elderly", "disabled"],
    "emergency_contact": {"name": "钱建军", "relation": "儿子", "phone": "13611112222"},
}
PERSONAL = (
    "13812345678",
    "邹书兰",
    "药吃完了",  # the story
    "钱桂英",
    "13566667777",
    "321322195001010028",
    "钱建军",
    "13611112222",
    "腿脚不便需要代办",  # a request with an ID number and an emergency contact
    ID_NUMBER,
    "邹丽",
    "13987654321",
    "李建国",
    "13700001111",
    "邻里排水纠纷",
)  # inbound


def test_personal_data_of_every_kind_flows_through(system):
    """ID numbers and emergency contacts, by staff and by other government systems over
    HTTP and AMQP, each ending in a case (for the log check that follows)."""
    admin = bearer(system.credentials()["district_admin"])
    answer = requests.post(
        system.url("intake", "/v1/requests"),
        headers=admin,
        timeout=10,
        json={
            "channel": "walk_in",
            "station": "daxing",
            "resident": ANOTHER_RESIDENT,
            "need": {"type": "daily_living_help", "description": "腿脚不便需要代办"},
        },
    )
    assert answer.status_code == 202, answer.text
    request_ids = [answer.json()["request_id"]]
    for event in (referral(), petition(), key_person_update()):
        sent = requests.post(
            system.url("intake", "/v1/events"),
            timeout=10,
            data=json.dumps(event, ensure_ascii=False).encode("utf-8"),
            headers={
                "Content-Type": "application/cloudevents+json",
                "X-Api-Key": KEYS[SYSTEM_OF[event["source"]]],
            },
        )
        assert sent.status_code == 202, sent.text
        request_ids += [r["request_id"] for r in sent.json()["results"] if r["request_id"]]
    publish_inbound(system.amqp_uri, checkin_missed(), system="elderly-care")
    for request_id in request_ids:
        wait_until(
            lambda: requests.get(
                system.url("casework", f"/v1/cases?request_id={request_id}"),
                headers=admin,
                timeout=5,
            ).json()["cases"],
            30,
            message=f"the case of {request_id}",
        )
    wait_until(
        lambda: sum(
            c.get("need_type") == "home_visit"
            for c in requests.get(
                system.url("casework", "/v1/cases?station=daxing"), headers=admin, timeout=5
            ).json()["cases"]
        ),
        30,
        message="the missed check-in's case",
    )


def test_no_personal_data_in_any_log(system):
    logs = system.logs()
    assert set(logs) >= {f"{name}-{kind}.log" for name in SERVICES for kind in ("worker", "api")}
    assert any("DEBUG" in text for text in logs.values())  # the most verbose level was on
    for name, text in logs.items():
        for value in PERSONAL:
            assert value not in text, (name, value)


def test_sigterm_stops_every_process_cleanly(system):
    system.process.send_signal(signal.SIGTERM)
    assert system.process.wait(60) == 0, "".join(system.output)
    assert any("[shegong] stopped" in line for line in system.output)
    for name in SERVICES:
        with pytest.raises(requests.ConnectionError):
            requests.get(system.url(name, "/healthz"), timeout=2)
