"""Operating the running system: every service as its own OS process (deploy/local.py, as
``make run`` starts them), with quorum queues as the containers run them. The metrics
of each API and each worker, scraped while the story runs, show the events it handled;
``make status`` reports every service ready, the queues and their consumers; a poison
event is dead-lettered, counted, shown by ``make status`` and by the dead-letter tool."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import pytest
import requests
from kombu import Connection, Exchange
from prometheus_client.parser import text_string_to_metric_families

from services.common import clock
from services.common.contracts import CASE_ASSIGNED, CASE_OPENED, REQUEST_RECEIVED
from tests.support import free_port, launched, story_request, wait_until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "casework", "notifications", "reporting")
pytestmark = pytest.mark.e2e


class System:
    def __init__(self, process, env, output):
        self.process, self.env, self.output = process, env, output

    def api(self, service, path):
        return f"http://127.0.0.1:{self.env[f'{service.upper()}_PORT']}{path}"

    def worker(self, service, path):
        return f"http://127.0.0.1:{self.env[f'{service.upper()}_METRICS_PORT']}{path}"

    def credentials(self):
        return json.loads((Path(self.env["SHEGONG_VAR_DIR"]) / "dev-credentials.json").read_text())

    def cli(self, *argv):
        """A command-line tool run as an operator would, with the system's environment."""
        env = dict(
            self.env, MONGO_URI=f"mongodb://127.0.0.1:{self.env['SHEGONG_EMBEDDED_MONGO_PORT']}/"
        )
        return subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def system(tmp_path_factory, rabbit):
    vhost = f"shegong-ops-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHEGONG_")}
    for name in SERVICES:
        env[f"{name.upper()}_PORT"] = str(free_port())
        env[f"{name.upper()}_METRICS_PORT"] = str(free_port())
    env.update(
        {
            "AMQP_URI": urlunparse(base._replace(path="/" + quote(vhost, safe=""))),
            "RABBIT_API_URI": os.environ.get(
                "RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"
            ),
            "SHEGONG_VAR_DIR": str(tmp_path_factory.mktemp("var")),
            "SHEGONG_EMBEDDED_MONGO_PORT": str(free_port()),
            "SHEGONG_DB_PREFIX": f"ops{uuid.uuid4().hex[:6]}",
            "SHEGONG_RETRY_DELAYS_MS": "200,500",
            "SHEGONG_RELAY_INTERVAL_S": "0.5",
            "SHEGONG_RELAY_GRACE_S": "1",
            "SHEGONG_QUEUE_TYPE": "quorum",
        }
    )
    try:
        with launched(env) as (process, output):
            yield System(process, env, output)
    finally:
        rabbit.delete_vhost(vhost)


def scrape(url):
    """{(metric sample name, frozenset of labels): value} of a /metrics endpoint."""
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(samples, name, **labels):
    """The sum of a metric's samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and wanted <= sample_labels
    )


def play_the_story(system):
    """Zou Shulan's request, taken, accepted and resolved; returns the case id."""
    credentials = system.credentials()
    admin = {"Authorization": f"Bearer {credentials['district_admin']}"}
    answer = requests.post(
        system.api("intake", "/v1/requests"),
        timeout=10,
        headers=admin,
        json=story_request(received_at=clock.iso(clock.now())),
    )
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["request_id"]

    def the_case():
        cases = requests.get(
            system.api("casework", f"/v1/cases?request_id={request_id}"), headers=admin, timeout=5
        ).json()["cases"]
        return cases[0] if cases else None

    case = wait_until(the_case, 15, message="the case to be opened")
    worker = {"Authorization": f"Bearer {credentials['workers'][case['assignee']['id']]}"}
    for step, payload in (("accept", {}), ("resolve", {"summary": "代购药品并送达"})):
        done = requests.post(
            system.api("casework", f"/v1/cases/{case['case_id']}/{step}"),
            json=payload,
            headers=worker,
            timeout=10,
        )
        assert done.status_code == 200, done.text
    return case["case_id"]


def test_each_worker_answers_its_probes_on_its_metrics_port(system):
    for name in SERVICES:
        assert requests.get(system.worker(name, "/healthz"), timeout=5).json()["service"] == name
        ready = requests.get(system.worker(name, "/readyz"), timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "store": True,
            "broker": True,
        }


def test_the_metrics_of_every_service_show_the_events_it_handled(system):
    play_the_story(system)
    consumed = "shegong_events_consumed_total"

    def handled(service, event_type, at_least=1):
        samples = scrape(system.worker(service, "/metrics"))
        return (
            total(samples, consumed, service=service, event_type=event_type) >= at_least and samples
        )

    casework = wait_until(
        lambda: handled("casework", REQUEST_RECEIVED.type),
        15,
        message="casework's metrics to count request.received",
    )
    assert (
        total(
            casework,
            "shegong_handler_duration_seconds_count",
            service="casework",
            event_type=REQUEST_RECEIVED.type,
        )
        >= 1
    )
    assert (
        total(
            casework,
            "shegong_events_published_total",
            service="casework",
            event_type=CASE_OPENED.type,
        )
        >= 1
    )
    backlog = (
        "shegong_outbox_backlog",
        frozenset({("service", "casework"), ("collection", "cases")}),
    )
    wait_until(
        lambda: backlog in scrape(system.worker("casework", "/metrics")),
        10,
        message="the relay's first sweep to measure the backlog",
    )
    wait_until(lambda: handled("intake", CASE_OPENED.type), 15, message="intake's metrics")
    wait_until(
        lambda: handled("notifications", CASE_ASSIGNED.type), 15, message="notifications' metrics"
    )
    reporting = wait_until(
        lambda: handled("reporting", REQUEST_RECEIVED.type), 15, message="reporting's metrics"
    )
    assert total(reporting, "shegong_events_dead_lettered_total") == 0

    intake_api = scrape(system.api("intake", "/metrics"))
    assert (
        total(
            intake_api,
            "shegong_http_requests_total",
            service="intake",
            route="/v1/requests",
            method="POST",
            status="202",
        )
        == 1
    )
    assert (
        total(
            intake_api,
            "shegong_events_published_total",
            service="intake",
            event_type=REQUEST_RECEIVED.type,
        )
        >= 1
    )
    casework_api = scrape(system.api("casework", "/metrics"))
    accepts = [
        value
        for (name, labels), value in casework_api.items()
        if name == "shegong_http_requests_total"
        and ("status", "200") in labels
        and dict(labels)["route"].startswith("/v1/cases/<")
        and dict(labels)["route"].endswith(">/accept")
    ]
    assert accepts == [1]  # counted under the route's template, not the case's path
    assert (
        total(casework_api, "shegong_http_request_duration_seconds_count", service="casework") >= 3
    )
    for name in ("notifications", "reporting"):  # a scrape is counted, under its own route
        scrapes = [
            total(
                scrape(system.api(name, "/metrics")),
                "shegong_http_requests_total",
                service=name,
                route="/metrics",
            )
            for _ in range(2)
        ]
        assert scrapes[1] >= scrapes[0] + 1
    # no personal data in any series
    for name in SERVICES:
        for url in (system.api(name, "/metrics"), system.worker(name, "/metrics")):
            text = requests.get(url, timeout=5).text
            assert "13812345678" not in text and "邹书兰" not in text


def status(system):
    done = system.cli("services.ops.status", "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_make_status_shows_health_queues_consumers_and_then_a_dead_letter(system):
    open_case = f"evt-intake-{REQUEST_RECEIVED.type}--casework.request_received"

    def ready_and_consuming():
        code, report = status(system)
        consumers = {q["queue"]: q["consumers"] for q in report["queues"] or []}
        every_handler_consuming = all(
            n == 1 for name, n in consumers.items() if name.startswith("evt-")
        )
        return (
            code == 0
            and consumers.get(open_case) == 1
            and every_handler_consuming
            and (code, report)
        )

    # the management API refreshes its statistics every few seconds
    code, report = wait_until(
        ready_and_consuming,
        90,
        interval=1,
        message="make status to report everything ready and consuming",
    )
    by_service = {row["service"]: row for row in report["services"]}
    assert all(
        row["api"] == "ready" and row["worker"] == "ready" and row["dead_letters"] == 0
        for row in by_service.values()
    )
    assert [by_service[name]["outbox_backlog"] for name in SERVICES[:3]] == [0, 0, 0]
    assert by_service["reporting"]["outbox_backlog"] in (0, "-")  # "-": it keeps no outbox
    queues = {q["queue"]: q for q in report["queues"]}
    assert all(
        q["consumers"] == 1 and q["type"] == "quorum"
        for name, q in queues.items()
        if name.startswith("evt-")
    )
    assert {f"shegong.dead-letter.{name}" for name in SERVICES} <= set(queues)
    table = system.cli("services.ops.status").stdout
    assert table.splitlines()[0].split() == [
        "SERVICE",
        "API",
        "WORKER",
        "OUTBOX_BACKLOG",
        "OLDEST_PENDING_S",
        "DEAD_LETTERS",
    ]
    assert "QUEUE" in table and "CONSUMERS" in table

    # a poison event: every consumer of request.received parks it at once
    with Connection(system.env["AMQP_URI"]) as connection:
        connection.Producer().publish(
            b'{"type": "shegong.request.received.v1", "note": "13812345678"}',
            exchange=Exchange("intake.events", type="topic", durable=True),
            routing_key=REQUEST_RECEIVED.type,
            content_type="application/json",
            content_encoding="utf-8",
            message_id="poison-1",
            delivery_mode=2,
        )
    code, report = wait_until(
        lambda: (s := status(system))[1]["services"][1]["dead_letters"] == 1 and s,
        30,
        interval=1,
        message="make status to count the dead letter",
    )
    assert code == 1
    assert {row["service"]: row["dead_letters"] for row in report["services"]}["casework"] == 1
    listed = system.cli("services.ops.deadletters", "list", "--service", "casework")
    assert listed.returncode == 0 and "poison-1" in listed.stdout
    assert "InvalidEvent" in listed.stdout and "13812345678" not in listed.stdout
    dead = scrape(system.worker("casework", "/metrics"))
    assert (
        total(
            dead,
            "shegong_events_dead_lettered_total",
            service="casework",
            event_type=REQUEST_RECEIVED.type,
        )
        == 1
    )
