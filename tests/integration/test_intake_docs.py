"""The two examples of docs/intake.md work as written: one event by AMQP (the Python
block) and one by HTTP (the curl block), each ending as a request.received."""

import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from services.common.contracts import REQUEST_RECEIVED
from services.intake import api as intake_api
from services.intake.service import IntakeService
from tests.inbound_support import Observer
from tests.support import free_port, wait_until

DOC = (Path(__file__).resolve().parents[2] / "docs" / "intake.md").read_text(encoding="utf-8")


def block(language):
    return re.search(
        rf"```{language}\n(.*?)```",
        DOC.split("### Sending one event by")[1 if language == "python" else 2],
        re.S,
    ).group(1)


def test_the_amqp_example_sends_an_alert(container_factory, settings, topology, database):
    database("intake")
    observer = Observer(settings.amqp_uri)
    container_factory(IntakeService, settings.nameko_config()).start()
    code = block("python").replace("amqp://guest:guest@127.0.0.1:5672/shegong", settings.amqp_uri)
    exec(compile(code, "docs/intake.md", "exec"), {})  # noqa: S102 - our own documentation
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    assert event["data"]["channel"] == "alert" and event["data"]["need"]["type"] == "home_visit"


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_the_http_example_sends_a_petition(settings, topology, database):
    database("intake")
    observer = Observer(settings.amqp_uri)
    server = make_server("127.0.0.1", free_port(), intake_api.create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        command = block("sh").replace(
            "http://127.0.0.1:8001", f"http://127.0.0.1:{server.server_port}"
        )
        answer = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert '"status": "accepted"' in answer.stdout, answer.stdout + answer.stderr
    finally:
        server.shutdown()
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    assert event["data"]["channel"] == "petition"


def test_the_readme_shows_the_same_two_examples():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert block("python") in readme
    assert block("sh") in readme


def binary_block(transport, language):
    section = DOC.split(f"### Binary mode by {transport}")[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_the_binary_mode_amqp_example_sends_an_alert(
    container_factory, settings, topology, database
):
    database("intake")
    observer = Observer(settings.amqp_uri)
    container_factory(IntakeService, settings.nameko_config()).start()
    code = binary_block("AMQP", "python").replace(
        "amqp://guest:guest@127.0.0.1:5672/shegong", settings.amqp_uri
    )
    exec(compile(code, "docs/intake.md", "exec"), {})  # noqa: S102 - our own documentation
    [event] = wait_until(
        lambda: observer.of_type(REQUEST_RECEIVED.type), 20, message="request.received"
    )
    assert event["data"]["channel"] == "alert"
    assert event["data"]["received_at"] == "2023-05-29T07:55:00+08:00"


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_the_binary_mode_http_example_sends_a_petition_also_shown_in_the_readme(
    settings, topology, database
):
    database("intake")
    command = binary_block("HTTP", "sh")
    assert command in (Path(__file__).resolve().parents[2] / "README.md").read_text(
        encoding="utf-8"
    )
    server = make_server("127.0.0.1", free_port(), intake_api.create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        command = command.replace("http://127.0.0.1:8001", f"http://127.0.0.1:{server.server_port}")
        answer = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert '"status": "accepted"' in answer.stdout, answer.stdout + answer.stderr
    finally:
        server.shutdown()
    [request] = database("intake")["requests"].find({})
    assert request["source"]["event_id"] == "XF-2023-0113"
