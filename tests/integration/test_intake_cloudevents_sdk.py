"""The official CloudEvents SDK talks to intake as a third-party system would: binary and
structured mode over HTTP (POST /v1/events served by gunicorn) and over AMQP (the
shegong.inbound exchange, application properties as the AMQP binding sets them), on the
real broker and store. One event id is one request, whichever mode and transport
brings it and however often."""

import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from cloudevents.core.bindings import amqp as ce_amqp
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from services.common.contracts import REQUEST_RECEIVED
from services.common.service_classes import WSGI_APPS
from tests.inbound_support import (
    KEYS,
    Observer,
    checkin_missed,
    dead_letters,
    drained,
    petition,
    publish_raw,
    referral,
)
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def intake_api(env, settings, topology, database):
    """intake's API under gunicorn, as make run serves it."""
    database("intake")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            WSGI_APPS["intake"],
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--workers",
            "1",
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return process.poll() is not None

    wait_until(healthy, 30, message="gunicorn serving intake")
    assert process.poll() is None, "gunicorn exited"
    yield base
    process.terminate()
    process.wait(20)


def sdk_event(event):
    """The SDK's CloudEvent for one of our test events."""
    attributes = {k: v for k, v in event.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    return CloudEvent(attributes, event["data"])


def post(base, message, system):
    """POST /v1/events with the SDK's HTTP message; (status, answer)."""
    request = urllib.request.Request(
        f"{base}/v1/events",
        data=message.body,
        method="POST",
        headers={**message.headers, "X-Api-Key": KEYS[system]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # http://
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def publish(amqp_uri, message, system):
    """Publish the SDK's AMQP message: its content-type property and application
    properties (AMQP 0-9-1 headers, as RabbitMQ maps AMQP 1.0 application properties)."""
    publish_raw(
        amqp_uri,
        message.application_data,
        message.properties.get("content-type"),
        message.application_properties,
        system=system,
        routing_key="sdk",
    )


def test_binary_and_structured_events_from_the_sdk_are_one_request_per_id(
    intake_api, intake_worker, settings, database
):
    observer = Observer(settings.amqp_uri)
    first, second, third = referral(), checkin_missed(), petition()
    requests = database("intake")["requests"]

    # HTTP, binary mode (the SDK's default), then the same id structured
    binary = ce_http.to_binary_event(sdk_event(first))
    assert "ce-id" in binary.headers
    status, answer = post(intake_api, binary, "civil-affairs")
    assert status == 202, answer
    request_id = answer["results"][0]["request_id"]
    status, answer = post(
        intake_api, ce_http.to_structured_event(sdk_event(first)), "civil-affairs"
    )
    assert (status, answer["results"][0]["status"]) == (200, "duplicate")
    assert answer["results"][0]["request_id"] == request_id

    # AMQP: the same id again, in both modes; a new one in binary mode, then structured
    publish(settings.amqp_uri, ce_amqp.to_binary_event(sdk_event(first)), "civil-affairs")
    publish(settings.amqp_uri, ce_amqp.to_structured_event(sdk_event(first)), "civil-affairs")
    amqp_binary = ce_amqp.to_binary_event(sdk_event(second))
    assert "cloudEvents_id" in amqp_binary.application_properties
    publish(settings.amqp_uri, amqp_binary, "elderly-care")
    publish(settings.amqp_uri, ce_amqp.to_structured_event(sdk_event(third)), "petition-office")
    published = wait_until(
        lambda: len(seen := observer.of_type(REQUEST_RECEIVED.type)) >= 3 and seen,
        30,
        message="three request.received",
    )
    by_id = {e["data"]["source"]["event_id"]: e["data"] for e in published}
    assert sorted(by_id) == sorted([first["id"], second["id"], third["id"]])
    assert by_id[first["id"]]["request_id"] == request_id
    assert by_id[second["id"]]["received_at"] == "2023-05-28T23:55:00+00:00"  # same instant

    # back over HTTP: what came by AMQP is a duplicate there too, in either mode
    for event, system, to_message in (
        (second, "elderly-care", ce_http.to_structured_event),
        (third, "petition-office", ce_http.to_binary_event),
    ):
        status, answer = post(intake_api, to_message(sdk_event(event)), system)
        assert (status, answer["results"][0]["status"]) == (200, "duplicate"), answer
    drained(settings.amqp_uri)  # the AMQP duplicates handled too, whenever they were
    assert requests.count_documents({}) == 3
    assert dead_letters(settings.amqp_uri) == []
    assert len(observer.of_type(REQUEST_RECEIVED.type)) == 3


def test_media_types_with_parameters_and_an_empty_batch_over_gunicorn(intake_api, database):
    event = {**referral(), "datacontenttype": "application/json; charset=utf-8"}
    message = ce_http.to_structured_event(sdk_event(event))
    message.headers["content-type"] = "application/cloudevents+json; charset=utf-8"
    status, answer = post(intake_api, message, "civil-affairs")
    assert status == 202, answer
    empty = ce_http.HTTPMessage({"content-type": "application/cloudevents-batch+json"}, b"[]")
    assert post(intake_api, empty, "civil-affairs") == (200, {"results": []})
    assert database("intake")["requests"].count_documents({}) == 1


def test_binary_mode_bodies_go_through_the_shared_guards_over_gunicorn(intake_api, database):
    """A binary-mode body is read by the shared body reader (a chunked one over 1 MiB is
    413) and decoded by the depth-guarded JSON reader (deep nesting is 400), like every
    other JSON body."""
    event = referral()
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": KEYS["civil-affairs"],
        "ce-specversion": "1.0",
        "ce-id": event["id"],
        "ce-source": event["source"],
        "ce-type": event["type"],
    }
    host, port = intake_api.removeprefix("http://").split(":")

    def send(body, chunked=False):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            if chunked:
                chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
                connection.request(
                    "POST", "/v1/events", body=chunks, headers=headers, encode_chunked=True
                )
            else:
                connection.request("POST", "/v1/events", body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()

    large = json.dumps({**event["data"], "pad": "x" * (1024 * 1024)}).encode()
    status, answer = send(large, chunked=True)
    assert status == 413 and answer["error"]["code"] == "body_too_large"
    status, answer = send(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert status == 400 and "deeper than 64 levels" in answer["error"]["message"], answer
    status, answer = send(json.dumps(event["data"]).encode(), chunked=True)
    assert status == 202, answer  # chunked and small: read whole
    assert database("intake")["requests"].count_documents({}) == 1
