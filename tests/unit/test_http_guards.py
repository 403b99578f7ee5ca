"""The shared guards every API's input passes (issue 14): JSON nesting depth, body size
whatever the transfer encoding, correlation ids, the metrics' method label."""

import io
import json
import logging

import pytest
from marshmallow import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common import jsontext, logs, metrics
from services.common.envelope import decode_json
from services.common.events import ResidentSchema
from services.common.fields import (
    MAX_AMOUNT_FEN,
    MAX_SEQUENCE,
    BoundedInteger,
    IdCardNumber,
    normalise_phone,
)
from services.common.http import MAX_BODY_BYTES, ApiError, correlation_id_for, json_body, read_body
from tests.reporting_events import series_of_dailies


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ('"[[[["', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "]]]}}}", "b": [[["\\"[["]]]}', 4),
        ('["\\\\", [[]]]', 3),
        ("[" * 5000, 5000),
        ('{"a":' * 100 + "1" + "}" * 100, 100),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text, depth):
    assert jsontext.nesting_depth(text) == depth
    assert jsontext.nesting_depth(text.encode()) == depth


def test_deep_json_is_refused_before_it_is_parsed():
    assert jsontext.loads("[" * 64 + "]" * 64) is not None
    for deep in ("[" * 65 + "]" * 65, '{"a":' * 10000 + "1" + "}" * 10000, "[" * 1_000_000):
        with pytest.raises(jsontext.TooDeep):
            jsontext.loads(deep)
    # strings full of brackets are data, not nesting
    assert jsontext.loads(json.dumps({"note": "[" * 10000})) == {"note": "[" * 10000}
    with pytest.raises(ValueError):
        jsontext.loads(b"\xff")


def request_with(body, chunked=False, **extra):
    builder = EnvironBuilder(method="POST", data=body, content_type="application/json")
    environ = builder.get_environ()
    if chunked:  # as gunicorn passes a chunked body: no length, a de-chunked stream
        del environ["CONTENT_LENGTH"]
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
    environ.update(extra)
    return Request(environ)


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_over_the_limit_are_413_whatever_the_transfer_encoding(chunked):
    fits = b'{"a": "' + b"x" * (MAX_BODY_BYTES - 9) + b'"}'
    assert len(fits) == MAX_BODY_BYTES
    assert read_body(request_with(fits, chunked)) == fits
    request = request_with(fits + b" ", chunked)
    with pytest.raises(ApiError) as refused:
        read_body(request)
    assert refused.value.status == 413 and refused.value.code == "body_too_large"
    if chunked:  # one byte past the limit was read, nothing more
        assert request.environ["wsgi.input"].tell() == MAX_BODY_BYTES + 1


def test_json_bodies_too_deep_or_malformed_are_400():
    assert json_body(request_with(b'{"a": [1]}', chunked=True)) == {"a": [1]}
    for body in (b"[" * 100_000, b'{"a":' * 65 + b"1" + b"}" * 65, b"{", b"\xff\xfe"):
        with pytest.raises(ApiError) as refused:
            json_body(request_with(body))
        assert refused.value.status == 400 and refused.value.code == "malformed_json"
    with pytest.raises(ApiError) as deep:
        json_body(request_with(b"[" * 100_000))
    assert "nests too deeply" in deep.value.message


@pytest.mark.parametrize(
    "given",
    [
        "call-0800.1",
        "0b7e4f8a-5b1c-4d2e-9f3a-1c2d3e4f5a6b",
        "12345678-1234-1234-1234-123456789012",
        "r-2023-05-29-0001",
        "http:trace.abc:42",
    ],
)
def test_correlation_ids_of_the_documented_shape_are_kept(given):
    assert correlation_id_for(given) == given


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "short",
        "x" * 65,
        "13812345678",
        "call-13812345678",
        "320102199001011234",
        "id 12345678",
        "中文中文中文中文",
        "a\nb-cdefgh",
        "abc1234567",
    ],
)
def test_other_correlation_ids_are_replaced_by_a_fresh_uuid(given):
    replaced = correlation_id_for(given)
    assert replaced != given and len(replaced) == 36


def test_logged_correlation_ids_are_masked(capsys):
    logs.configure("INFO")
    logs.set_correlation_id("13812345678")  # e.g. an event's correlationid from elsewhere
    try:
        logging.getLogger("test").info("hello")
    finally:
        logs.set_correlation_id(None)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["correlation_id"] == "138****5678"


def test_the_method_label_comes_from_a_closed_set():
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        assert metrics.method_label(method) == method
    for method in ("get", "PROPFIND", "X" * 100, "BREW", ""):
        assert metrics.method_label(method) == "other"


def test_a_timeseries_from_a_day_after_all_data_has_that_day_only():
    assert series_of_dailies([], "cases_opened", "day", "2030-01-01")["points"] == [
        {"period": "2030-01-01", "value": 0}
    ]
    assert series_of_dailies([], "cases_opened", "week", "2030-01-01")["points"] == [
        {"period": "2029-12-31", "value": 0}
    ]
    assert series_of_dailies([], "cases_opened", "day", None, "2030-01-01")["points"] == []


@pytest.mark.parametrize(
    "given, stored",
    [
        ("13812345678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("19912345678", "19912345678"),
    ],
)
def test_phones_are_stored_in_the_national_form(given, stored):
    assert normalise_phone(given) == stored
    assert ResidentSchema().load({"name": "邹书兰", "phone": given})["phone"] == stored


@pytest.mark.parametrize(
    "given",
    [
        "１３８１２３４５６７８",
        "١٣٨١٢٣٤٥٦٧٨",
        "۱۳۸۱۲۳۴۵۶۷۸",
        " 13812345678",
        "13812345678\n",
        "138 1234 5678",
        "138-1234-5678",
        "14012345678",
        "11012345678",
        "+85213812345678",
        "1381234567",
        "138123456789",
        "",
        None,
        13812345678,
    ],
)
def test_look_alike_digits_whitespace_and_numbers_not_in_use_are_refused(given):
    with pytest.raises(ValidationError):
        normalise_phone(given)
    with pytest.raises(ValidationError) as refused:
        ResidentSchema().load({"name": "邹书兰", "phone": given})
    assert "phone" in refused.value.messages


def test_id_numbers_in_look_alike_digits_are_refused():
    IdCardNumber().deserialize("11010519491231002X")
    for given in ("１１０１０５１９４９１２３１００２X", "11010519491231002X\n"):
        with pytest.raises(ValidationError):
            IdCardNumber().deserialize(given)


def test_bounded_integers_refuse_what_lies_outside_their_range():
    amount = BoundedInteger(0, MAX_AMOUNT_FEN)
    assert amount.deserialize(MAX_AMOUNT_FEN) == MAX_AMOUNT_FEN
    for value in (MAX_AMOUNT_FEN + 1, -1, 2**64, 1.5, "5", True):
        with pytest.raises(ValidationError):
            amount.deserialize(value)
    cursor = BoundedInteger(0, MAX_SEQUENCE, strict=False)
    assert cursor.deserialize("42") == 42
    for value in (str(2**64), "9" * 5000, "1e3", "-1"):
        with pytest.raises(ValidationError):
            cursor.deserialize(value)
    with pytest.raises(ValueError):
        BoundedInteger(0, 2**63)


def test_amqp_bodies_nested_too_deeply_are_refused_by_the_decoder():
    """kombu hands a decoder's ValueError to the consumer, which dead-letters the message
    with the reason (services/common/messaging.py) instead of recursing into it."""
    assert decode_json(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(jsontext.TooDeep, match="nested too deeply"):
        decode_json(b'{"a":' * 100_000)
