"""The inbound exchange reads CloudEvents in structured and binary content mode (the
AMQP binding's cloudEvents_ / cloudEvents: application properties), with media types
compared by type (parameters understood), on the real broker and store; a message it
cannot read is dead-lettered with its real cause."""

import json
import logging
import re

import pytest

from services.common.contracts import REQUEST_RECEIVED
from services.intake.inbound_binding import NO_CONTENT_TYPE
from tests.inbound_support import (
    Observer,
    checkin_missed,
    dead_letters,
    drained,
    publish_raw,
    referral,
)
from tests.support import wait_until

STRUCTURED = "application/cloudevents+json"


@pytest.fixture
def observer(settings, topology):
    return Observer(settings.amqp_uri)


def received_ids(observer, count):
    """The event ids of the first ``count`` request.received, in no particular order (the
    worker handles several messages at once)."""
    found = wait_until(
        lambda: len(events := observer.of_type(REQUEST_RECEIVED.type)) >= count and events,
        20,
        message=f"{count} request.received",
    )
    return sorted(event["data"]["source"]["event_id"] for event in found)


def binary_properties(event, prefix="cloudEvents_"):
    return {
        prefix + name: value
        for name, value in event.items()
        if name not in ("data", "datacontenttype")
    }


def test_structured_events_with_media_type_parameters_are_taken(
    intake_worker, observer, settings, database
):
    first = {**referral(), "datacontenttype": "application/json; charset=utf-8"}
    second = checkin_missed()
    publish_raw(
        settings.amqp_uri,
        json.dumps(first, ensure_ascii=False).encode(),
        STRUCTURED + "; charset=utf-8",
        system="civil-affairs",
    )
    publish_raw(
        settings.amqp_uri,
        json.dumps(second).encode("utf-16"),
        "Application/CloudEvents+JSON; Charset=UTF-16",
        system="elderly-care",
    )
    assert received_ids(observer, 2) == sorted([first["id"], second["id"]])
    assert dead_letters(settings.amqp_uri) == []


@pytest.mark.parametrize("prefix", ["cloudEvents_", "cloudEvents:"])
def test_binary_mode_is_the_same_event_as_structured_mode(
    intake_worker, observer, settings, database, prefix
):
    event = referral()
    publish_raw(
        settings.amqp_uri,
        json.dumps(event["data"], ensure_ascii=False).encode(),
        "application/json; charset=utf-8",
        binary_properties(event, prefix),
        system="civil-affairs",
    )
    # the same source and id, structured: a duplicate, ignored
    publish_raw(
        settings.amqp_uri,
        json.dumps(event, ensure_ascii=False).encode(),
        STRUCTURED,
        system="civil-affairs",
    )
    marker = checkin_missed()
    publish_raw(
        settings.amqp_uri,
        json.dumps(marker["data"]).encode(),
        None,
        binary_properties(marker),
        system="elderly-care",
    )  # no content type: JSON
    assert received_ids(observer, 2) == sorted([event["id"], marker["id"]])
    drained(settings.amqp_uri)
    assert len(observer.of_type(REQUEST_RECEIVED.type)) == 2  # the duplicate made none
    assert database("intake")["requests"].count_documents({}) == 2
    assert dead_letters(settings.amqp_uri) == []


@pytest.mark.parametrize(
    "content_type, properties, body, reason",
    [
        (None, {}, b"{}", "unsupported_media_type: " + NO_CONTENT_TYPE),
        ("text/plain", {}, b"{}", "unsupported_media_type: content type text/plain: expected"),
        ("application/cloudevents+json; charset", {}, b"{}", "malformed parameters"),
        ("text/plain", {"cloudEvents_id": "x"}, b"hi", "binary-mode data must be JSON"),
        (STRUCTURED + "; charset=utf-8", {}, b"\xff{", "could not be decoded"),
        ("application/json", {"cloudEvents_specversion": "1.0"}, b"{}", "invalid_event: invalid"),
    ],
)
def test_a_message_it_cannot_read_is_dead_lettered_with_its_real_cause(
    intake_worker, observer, settings, database, content_type, properties, body, reason
):
    publish_raw(settings.amqp_uri, body, content_type, properties, system="civil-affairs")
    [(headers, parked)] = wait_until(
        lambda: dead_letters(settings.amqp_uri), 20, message="the dead letter"
    )
    assert re.search(re.escape(reason), headers["x-death-reason"]), headers["x-death-reason"]
    assert "ContentDisallowed" not in headers["x-death-reason"]
    assert headers["x-exception-type"] == "InvalidEvent"
    assert parked == body  # parked as it came, for an operator to read or replay
    assert database("intake")["requests"].count_documents({}) == 0
    good = referral()
    publish_raw(settings.amqp_uri, json.dumps(good).encode(), STRUCTURED, system="civil-affairs")
    assert received_ids(observer, 1) == [good["id"]]


def test_a_refused_event_is_a_warning_with_its_reason_not_an_error_with_a_traceback(
    intake_worker, observer, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    publish_raw(settings.amqp_uri, b"{}", None, {}, system="civil-affairs")
    publish_raw(
        settings.amqp_uri,
        json.dumps({**referral(), "type": "gov.suyu.nothing.v1"}).encode(),
        STRUCTURED,
        system="civil-affairs",
    )
    parked = []
    wait_until(
        lambda: parked.extend(dead_letters(settings.amqp_uri)) or len(parked) == 2,
        20,
        message="two dead letters",
    )
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "services.common.messaging"
    ]
    assert any(NO_CONTENT_TYPE in text for text in warnings), warnings
    assert any("unknown_type" in text for text in warnings), warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("nameko")]
