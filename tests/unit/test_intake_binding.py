"""The CloudEvents bindings of intake's inbound events, without a broker or a server:
media types with parameters, binary and structured mode on HTTP and AMQP (messages made
by the official SDK) giving the same event, and every refusal naming its cause."""

import json
import re
from datetime import datetime

import pytest
from cloudevents.core.bindings import amqp as ce_amqp
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common import mediatypes
from services.intake.api.events import http_status
from services.intake.domain import inbound
from services.intake.inbound_binding import (
    NO_CONTENT_TYPE,
    AmqpDelivery,
    from_amqp,
    from_http,
)
from tests.inbound_support import referral


@pytest.mark.parametrize(
    "text, essence, params",
    [
        ("application/cloudevents+json", "application/cloudevents+json", {}),
        (
            "application/cloudevents+json; charset=utf-8",
            "application/cloudevents+json",
            {"charset": "utf-8"},
        ),
        ("Application/JSON;Charset=UTF-8", "application/json", {"charset": "UTF-8"}),
        (
            'application/json ; charset="utf-8" ; q=1',
            "application/json",
            {"charset": "utf-8", "q": "1"},
        ),
        ("text/plain;", "text/plain", {}),
    ],
)
def test_media_types_are_parsed_with_their_parameters(text, essence, params):
    media = mediatypes.parse(text)
    assert media.essence == essence and media.params == params
    assert mediatypes.same_type(text, essence + "; charset=utf-16")


@pytest.mark.parametrize(
    "text",
    [
        "json",
        "application/",
        "/json",
        "application/json x",
        "application/json; charset",
        'a/b; c="unterminated',
    ],
)
def test_what_is_no_media_type_is_refused(text):
    with pytest.raises(mediatypes.MediaTypeError):
        mediatypes.parse(text)


def test_json_is_known_by_its_type_or_suffix_and_text_by_its_charset():
    assert all(
        mediatypes.parse(t).is_json()
        for t in ("application/json; charset=utf-8", "application/vnd.suyu+json", "text/json")
    )
    assert not mediatypes.parse("text/plain").is_json()
    assert (
        mediatypes.decode_text(
            "王".encode("gb18030"), mediatypes.parse("application/json; charset=GB18030")
        )
        == "王"
    )
    for charset in ("nonsense", "base64"):
        with pytest.raises(ValueError, match="unknown charset"):
            mediatypes.decode_text(b"{}", mediatypes.parse(f"a/b; charset={charset}"))


def sdk_event(event):
    attributes = {k: v for k, v in event.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    return CloudEvent(attributes, event["data"])


def same_event(decoded, sent):
    """What the binding gives is the event sent (time may be re-encoded, not moved)."""
    assert {k: decoded[k] for k in ("id", "source", "type", "specversion", "data")} == {
        k: sent[k] for k in ("id", "source", "type", "specversion", "data")
    }
    loaded = inbound.parse_envelope(decoded)
    assert loaded["datacontenttype"].startswith("application/json")
    return loaded


def test_http_binary_and_structured_mode_give_the_same_event():
    sent = {**referral(), "subject": "邹 100%"}
    binary = ce_http.to_binary_event(sdk_event(sent))
    assert "ce-id" in binary.headers and "application/json" in binary.headers["content-type"]
    [from_binary], batch = from_http(binary.headers, binary.body)
    assert not batch and from_binary["subject"] == "邹 100%"  # percent-decoded
    structured = ce_http.to_structured_event(sdk_event(sent))
    [from_structured], _ = from_http(structured.headers, structured.body)
    assert same_event(from_binary, sent)["time"] == same_event(from_structured, sent)["time"]


def test_amqp_binary_and_structured_mode_give_the_same_event():
    sent = referral()
    for message in (
        ce_amqp.to_binary_event(sdk_event(sent)),
        ce_amqp.to_structured_event(sdk_event(sent)),
    ):
        delivery = AmqpDelivery(
            message.application_data,
            message.properties["content-type"],
            headers=message.application_properties,
        )
        same_event(from_amqp(delivery), sent)
    # the binding's older "cloudEvents:" prefix and a timestamp in milliseconds
    colon = {
        "cloudEvents:" + k: v
        for k, v in sent.items()
        if k not in ("data", "time", "datacontenttype")
    }
    decoded = from_amqp(
        AmqpDelivery(
            json.dumps(sent["data"]).encode(),
            None,
            headers={**colon, "cloudEvents:time": 1685318100000},
        )
    )
    assert same_event(decoded, sent)["time"].startswith("2023-05-28T23:55:00")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/cloudevents+json; charset=utf-8",
        "application/cloudevents+json;charset=UTF-8",
        "application/json; charset=utf-8",
        "APPLICATION/CLOUDEVENTS+JSON",
    ],
)
def test_parameters_and_case_do_not_change_the_mode(content_type):
    sent = {**referral(), "datacontenttype": "application/json; charset=utf-8"}
    body = json.dumps(sent, ensure_ascii=False).encode()
    [event], _ = from_http({"Content-Type": content_type}, body)
    assert same_event(event, sent)
    assert same_event(from_amqp(AmqpDelivery(body, content_type)), sent)


def test_a_structured_event_in_another_charset_is_read_in_it():
    sent = referral()
    body = json.dumps(sent, ensure_ascii=False).encode("utf-16")
    [event], _ = from_http({"Content-Type": "application/cloudevents+json; charset=utf-16"}, body)
    assert event["data"]["resident"]["name"] == "邹书兰"


def test_an_empty_batch_is_no_events_and_a_batch_is_http_only():
    assert from_http({"Content-Type": "application/cloudevents-batch+json"}, b"[]") == ([], True)
    with pytest.raises(inbound.InboundRejected, match="for HTTP"):
        from_amqp(AmqpDelivery(b"[]", "application/cloudevents-batch+json"))


@pytest.mark.parametrize(
    "headers, body, status, says",
    [
        ({}, b"{}", 415, "Content-Type missing"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "Content-Type text/plain"),
        ({"Content-Type": "application json"}, b"{}", 415, "not a media type"),
        ({"Content-Type": "text/plain", "ce-specversion": "1.0"}, b"hi", 415, "must be JSON"),
        (
            {"Content-Type": "application/cloudevents+json; charset=klingon"},
            b"{}",
            400,
            "unknown charset",
        ),
        ({"Content-Type": "application/cloudevents+json"}, b"\xff{", 400, "could not be decoded"),
        ({"Content-Type": "application/cloudevents+json"}, b"[1]", 400, "JSON object"),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"data": {"n": NaN}}',
            400,
            "NaN is not a JSON value",
        ),
        (
            {"Content-Type": "application/json", "ce-id": "1"},
            b'{"n": -Infinity}',
            400,
            "-Infinity is not a JSON value",
        ),
        ({"Content-Type": "application/cloudevents-batch+json"}, b"{}", 400, "JSON array"),
        (
            {"Content-Type": "application/cloudevents-batch+json"},
            b"[" + b"{}," * 100 + b"{}]",
            400,
            "at most 100",
        ),
    ],
)
def test_http_refusals_name_their_cause(headers, body, status, says):
    with pytest.raises(inbound.InboundRejected, match=says) as refused:
        from_http(headers, body)
    assert http_status(refused.value) == status


@pytest.mark.parametrize(
    "delivery, says",
    [
        (AmqpDelivery(b"{}"), re.escape(NO_CONTENT_TYPE)),
        (AmqpDelivery(b"{}", "text/plain"), "content type text/plain: expected"),
        (AmqpDelivery(b"{}", "application/json", "gzip"), "content encoding 'gzip'"),
        (AmqpDelivery(b"hi", "text/plain", headers={"cloudEvents_id": "1"}), "must be JSON"),
        (AmqpDelivery(b"\xff", "application/cloudevents+json"), "could not be decoded"),
    ],
)
def test_amqp_refusals_name_their_cause(delivery, says):
    with pytest.raises(inbound.InboundRejected, match=says):
        from_amqp(delivery)


def test_a_binary_event_missing_an_attribute_is_left_to_the_envelope_to_name():
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-source": "/suyu/civil-affairs",
        "ce-type": "x",
    }
    [event], _ = from_http(headers, b'{"a": 1}')
    with pytest.raises(inbound.InboundRejected) as refused:
        inbound.parse_envelope(event)
    assert http_status(refused.value) == 422 and "id" in refused.value.fields


def test_a_datacontenttype_that_is_not_json_is_refused_by_the_envelope():
    with pytest.raises(inbound.InboundRejected) as refused:
        inbound.parse_envelope({**referral(), "datacontenttype": "text/plain; charset=utf-8"})
    assert "datacontenttype" in refused.value.fields
    assert inbound.parse_envelope(
        {**referral(), "datacontenttype": "application/json;charset=UTF-8"}
    )


HEADER_NAMES = st.sampled_from(
    [
        "Content-Type",
        "content-type",
        "ce-id",
        "ce-specversion",
        "ce-time",
        "ce-",
        "ce-data",
        "ce-datacontenttype",
        "X-Other",
    ]
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "application/json",
        "text/plain",
        "application/json; charset=latin-1",
        "application/json; charset=base64",
        'a/b; c="d',
        ";",
        "",
        "application/cloudevents+json; charset=utf-32",
    ]
)


@given(
    headers=st.dictionaries(
        HEADER_NAMES, st.one_of(CONTENT_TYPES, st.text(max_size=20)), max_size=5
    ),
    body=st.one_of(
        st.binary(max_size=50),
        st.sampled_from([b"{}", b"[]", b"[{}]", b"1", b'{"a": NaN}', b"[" * 3000]),
    ),
    properties=st.dictionaries(
        st.sampled_from(["cloudEvents_id", "cloudEvents:time", "ce-type", "other"]),
        st.one_of(st.text(max_size=10), st.integers(), st.datetimes(), st.binary(max_size=5)),
        max_size=3,
    ),
)
@settings(max_examples=300, deadline=None, derandomize=True)
def test_whatever_arrives_is_an_event_or_a_refusal_with_a_reason(headers, body, properties):
    for read in (
        lambda: from_http(headers, body),
        lambda: from_amqp(AmqpDelivery(body, headers.get("Content-Type"), headers=properties)),
    ):
        try:
            read()
        except inbound.InboundRejected as refused:
            assert http_status(refused) in (400, 415) and refused.reason
