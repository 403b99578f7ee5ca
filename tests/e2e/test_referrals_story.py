"""Referrals that leave the building, end to end: every service as its own process
(deploy/local.py) on the real broker and store. A case referred to the disabled
persons' federation reaches it on its own queue, read with its own RabbitMQ user, and
its answers come back on shegong.inbound; a case referred to the health commission is
POSTed, signed, to a local webhook receiver that fails twice first, and the answers
come back on POST /v1/events. An agency answering another agency's referral gets 403."""

import hashlib
import hmac
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlparse, urlunparse

import pytest
import requests
from kombu import Connection

from services.common import agencies, clock
from services.intake import systems
from services.ops import agencies as ops_agencies
from tests.conftest import RABBIT_API_URI
from tests.e2e.test_story import SERVICES, System, bearer
from tests.inbound_support import KEYS, publish_inbound, referral_answer
from tests.support import free_port, launched, story_request, wait_until

pytestmark = pytest.mark.e2e
SECRET = "webhook-secret-" + uuid.uuid4().hex
AGENCY_USER = f"agency-df-{uuid.uuid4().hex[:8]}"
AGENCY_PASSWORD = uuid.uuid4().hex


class Receiver(BaseHTTPRequestHandler):
    """The health commission's webhook: refuses the first two POSTs (503), then takes them."""

    received: list = []
    refused_left = 2

    def do_POST(self):  # http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.refused_left > 0:
            cls.refused_left -= 1
            self.send_response(503)
        else:
            cls.received.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/referrals"
    server.shutdown()


@pytest.fixture(scope="module")
def system(tmp_path_factory, rabbit, receiver):
    registry = json.loads(systems.DEFAULT_FILE.read_text(encoding="utf-8"))
    for entry in registry["systems"]:
        if entry["id"] == "disabled-federation":
            entry["amqp_user"] = AGENCY_USER
    partners = json.loads(agencies.DEFAULT_FILE.read_text(encoding="utf-8"))
    for entry in partners["agencies"]:
        if entry["id"] == "health-commission":
            entry["webhook_url"] = receiver
    var_dir = tmp_path_factory.mktemp("var")
    registry_file = var_dir / "systems.json"
    registry_file.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")
    agencies_file = var_dir / "agencies.json"
    agencies_file.write_text(json.dumps(partners, ensure_ascii=False), encoding="utf-8")
    vhost = f"shegong-e2e-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
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
            "SHEGONG_INBOUND_SYSTEMS_FILE": str(registry_file),
            "SHEGONG_AGENCIES_FILE": str(agencies_file),
            "SHEGONG_WEBHOOK_SECRETS": f"health-commission={SECRET}",
        }
    )
    try:
        with launched(env) as (process, output):
            yield System(process, var_dir, ports, output, env["AMQP_URI"])
    finally:
        rabbit.delete_vhost(vhost)
        requests.delete(f"{rabbit.base}/api/users/{AGENCY_USER}", auth=rabbit.auth, timeout=10)


def accepted_case(system):
    """A new request of the story, its case accepted by its worker; (case, worker headers)."""
    credentials = system.credentials()
    admin = bearer(credentials["district_admin"])
    body = story_request(
        received_at=clock.iso(clock.now()),
        resident={
            "name": "邹书兰",
            "phone": f"138{uuid.uuid4().int % 10**8:08d}",
            "categories": ["elderly", "disabled"],
        },
    )
    answer = requests.post(
        system.url("intake", "/v1/requests"), json=body, headers=admin, timeout=10
    )
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["request_id"]
    case = wait_until(
        lambda: (
            requests.get(
                system.url("casework", f"/v1/cases?request_id={request_id}"),
                headers=admin,
                timeout=5,
            )
            .json()
            .get("cases")
            or [None]
        )[0],
        20,
        message="the case",
    )
    worker = bearer(credentials["workers"][case["assignee"]["id"]])
    done = requests.post(
        system.url("casework", f"/v1/cases/{case['case_id']}/accept"),
        json={},
        headers=worker,
        timeout=10,
    )
    assert done.status_code == 200, done.text
    return case, worker


def refer(system, case, worker, agency):
    answer = requests.post(
        system.url("casework", f"/v1/cases/{case['case_id']}/refer"),
        json={"agency": agency, "note": "请协助"},
        headers=worker,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    referral = answer.json()["referral"]
    assert referral["agency"] == agency and referral["referral_id"].startswith("ref-")
    return referral["referral_id"]


def the_case(system, case, worker):
    answer = requests.get(
        system.url("casework", f"/v1/cases/{case['case_id']}"), headers=worker, timeout=5
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def post_answer(system, event, agency):
    return requests.post(
        system.url("intake", "/v1/events"),
        timeout=10,
        data=json.dumps(event, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/cloudevents+json", "X-Api-Key": KEYS[agency]},
    )


def test_an_amqp_agency_reads_its_own_queue_and_answers_on_the_inbound_exchange(system):
    vhost = unquote(urlparse(system.amqp_uri).path[1:])
    federation = agencies.partners_in(system.var_dir / "agencies.json")["disabled-federation"]
    ops_agencies.provision(RABBIT_API_URI, vhost, federation, AGENCY_USER, AGENCY_PASSWORD)
    own = urlunparse(
        urlparse(system.amqp_uri)._replace(
            netloc=f"{AGENCY_USER}:{AGENCY_PASSWORD}@{urlparse(system.amqp_uri).hostname}:"
            f"{urlparse(system.amqp_uri).port or 5672}"
        )
    )
    case, worker = accepted_case(system)
    referral_id = refer(system, case, worker, "disabled-federation")

    def next_referral():
        with Connection(own) as connection:
            message = connection.default_channel.basic_get(federation.queue, no_ack=True)
            return json.loads(message.body) if message else None

    event = wait_until(next_referral, 20, message="the referral on the agency's own queue")
    assert event["type"] == "shegong.referral.sent.v1"
    data = event["data"]
    assert (data["referral_id"], data["case_id"]) == (referral_id, case["case_id"])
    assert data["resident"]["name"] == "邹书兰" and "disabled" in data["resident"]["categories"]
    assert data["resident"]["id_number"] is None  # none given, none sent
    # its user may read nothing else
    with pytest.raises(Exception, match="ACCESS_REFUSED|access|403"):
        with Connection(own) as connection:
            connection.default_channel.basic_get("shegong.inbound.intake", no_ack=True)
    # it answers as itself: accepted, then done
    for kind in ("accepted", "done"):
        publish_inbound(
            own,
            referral_answer("disabled-federation", referral_id, case["case_id"], kind),
            user_id=AGENCY_USER,
        )
        wait_until(
            lambda kind=kind: the_case(system, case, worker)["referral"]["answer"] == kind,
            20,
            message=f"the case to follow '{kind}'",
        )
    final = the_case(system, case, worker)
    assert final["status"] == "resolved"
    assert [a["by"] for a in final["actions"]][-2:] == ["agency:disabled-federation"] * 2
    admin = bearer(system.credentials()["district_admin"])
    trace = wait_until(
        lambda: (
            (
                t := requests.get(
                    system.url("reporting", f"/v1/trace/{case['request_id']}"),
                    headers=admin,
                    timeout=5,
                ).json()
            )
            and sum(e["type"] == "shegong.referral.answered.v1" for e in t.get("events", [])) == 2
            and t
        ),
        20,
        message="the answers in the trace",
    )
    assert "shegong.referral.sent.v1" in [e["type"] for e in trace["events"]]


def test_a_webhook_agency_gets_it_signed_after_two_failures_and_answers_by_http(system):
    case, worker = accepted_case(system)
    referral_id = refer(system, case, worker, "health-commission")
    headers, body = wait_until(
        lambda: Receiver.received and Receiver.received[0], 30, message="the third POST to be taken"
    )
    timestamp = headers["X-Shegong-Timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Shegong-Signature"] == "sha256=" + expected
    event = json.loads(body)
    assert event["data"]["referral_id"] == referral_id
    assert (
        "categories" not in event["data"]["resident"]
        or event["data"]["resident"]["categories"] is None
    )  # not in its purpose
    assert event["data"]["need_description"]  # its purpose names it
    admin = bearer(system.credentials()["district_admin"])

    def delivered():
        found = requests.get(
            system.url("notifications", "/v1/webhook-deliveries"), headers=admin, timeout=5
        ).json()["deliveries"]
        return found if found and found[0]["state"] == "delivered" else None

    [delivery] = wait_until(delivered, 10, message="the delivery recorded")
    assert delivery["attempts"] == 3 and delivery["agency"] == "health-commission"
    assert [a.get("status") for a in delivery["history"]] == [503, 503, 204]
    # the other agency may not answer it; the health commission rejects it with a reason
    other = post_answer(
        system,
        referral_answer("disabled-federation", referral_id, case["case_id"], "done"),
        "disabled-federation",
    )
    assert other.status_code == 403, other.text
    rejected = post_answer(
        system,
        referral_answer(
            "health-commission", referral_id, case["case_id"], "rejected", "不在签约范围"
        ),
        "health-commission",
    )
    assert rejected.status_code == 202, rejected.text
    back = wait_until(
        lambda: (c := the_case(system, case, worker)).get("status") == "in_progress" and c,
        20,
        message="the case back with its worker",
    )
    assert back["referral"]["answer"] == "rejected" and back["referral"]["reason"] == "不在签约范围"
    listed = requests.get(
        system.url("casework", "/v1/referrals?state=rejected"), headers=worker, timeout=5
    ).json()["referrals"]
    assert [r["referral_id"] for r in listed] == [referral_id]
