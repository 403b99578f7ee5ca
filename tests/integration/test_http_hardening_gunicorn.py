"""Issue 14's classes of bad HTTP input, on every route of the four APIs served by
gunicorn: deep JSON is 400, a chunked body over 1 MiB is 413 like an announced one,
integers out of their documented range are 422 naming the field, correlation ids of
another shape are replaced (and never logged), the metrics' method label is a closed set,
a time series from a day with no data after it is an answer, not a 500, and
schemathesis over each API's OpenAPI document finds no 5xx."""

import json
import re

import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from marshmallow import fields
from schemathesis import GenerationMode

from services.common.http import MAX_BODY_BYTES
from tests.security_support import endpoints, minimal_body
from tests.support import story_request

TOO_BIG = 2**64  # past what MongoDB stores, and past every documented range


def credentials(apis, mimetype="application/json"):
    return {
        "Authorization": f"Bearer {apis.tokens['admin']}",
        "Content-Type": mimetype,
        "X-Api-Key": "dev-civil-affairs-key",
        "X-Receipt-Token": apis.receipt_token,
    }


def json_routes(apis):
    """Every write route that reads a JSON body, with the media type it takes."""
    found = []
    for endpoint in endpoints(apis.apps, public=True):
        if not endpoint.writes:
            continue
        if endpoint.rule == "/v1/events":
            found.append((endpoint, "application/cloudevents+json"))
        elif endpoint.route.body is not None or endpoint.rule == "/v1/receipts/<provider>":
            found.append((endpoint, "application/json"))
    assert {e.service for e, _ in found} == {"intake", "casework", "notifications"}
    return found


def chunks(data, size=64 * 1024):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_deeply_nested_json_is_400_on_every_json_route(gunicorn_apis):
    apis = gunicorn_apis
    for endpoint, mimetype in json_routes(apis):
        for deep in (b"[" * 200_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
            answer = apis.call(endpoint, headers=credentials(apis, mimetype), data=deep)
            assert answer.status_code == 400, (str(endpoint), answer.text[:300])
            assert answer.json()["error"]["code"] == "malformed_json"
            assert "too deeply" in answer.json()["error"]["message"]


def test_a_chunked_body_over_1_mib_is_413_like_an_announced_one(gunicorn_apis):
    apis = gunicorn_apis
    big = b'{"note": "' + b"x" * MAX_BODY_BYTES + b'"}'
    for endpoint, mimetype in json_routes(apis):
        answer = apis.call(endpoint, headers=credentials(apis, mimetype), data=chunks(big))
        assert answer.status_code == 413, (str(endpoint), answer.text[:300])
        assert answer.json()["error"]["code"] == "body_too_large"
    # a chunked body within the limit is read whole
    accepted = requests.post(
        apis.base["intake"] + "/v1/requests",
        headers=credentials(apis),
        data=chunks(json.dumps(story_request()).encode(), 50),
        timeout=20,
    )
    assert accepted.status_code == 202, accepted.text


def integer_fields(schema_cls):
    return [
        (field.data_key or name)
        for name, field in schema_cls().fields.items()
        if isinstance(field, fields.Integer)
    ]


def test_integers_out_of_range_are_422_naming_the_field_in_bodies_and_query_strings(gunicorn_apis):
    apis = gunicorn_apis
    checked = set()
    for endpoint in endpoints(apis.apps, public=True):
        route = endpoint.route
        if route.body is not None:
            for name in integer_fields(route.body):
                for value in (TOO_BIG, -TOO_BIG, 10**30):
                    body = {**minimal_body(route.body), name: value}
                    answer = apis.call(endpoint, headers=credentials(apis), json=body)
                    assert answer.status_code == 422, (str(endpoint), name, answer.text)
                    assert name in answer.json()["error"]["fields"], (str(endpoint), answer.text)
                checked.add((endpoint.service, name))
        if route.query is not None and endpoint.method == "GET":
            for name in integer_fields(route.query):
                for value in (str(TOO_BIG), str(-TOO_BIG), "9" * 400):
                    params = {**apis.query(endpoint), name: value}
                    answer = apis.call(endpoint, headers=credentials(apis), params=params)
                    assert answer.status_code == 422, (str(endpoint), name, answer.text)
                    assert name in answer.json()["error"]["fields"], (str(endpoint), answer.text)
                checked.add((endpoint.service, name))
    assert {
        ("casework", "amount_fen"),
        ("casework", "quantity"),
        ("casework", "value_fen"),
        ("casework", "participants"),
        ("casework", "after_seq"),
        ("casework", "limit"),
        ("casework", "version"),
        ("notifications", "limit"),
    } <= checked


def test_correlation_ids_that_look_personal_are_replaced_and_never_logged(gunicorn_apis):
    apis = gunicorn_apis
    for name, base in apis.base.items():
        kept = requests.get(
            base + "/healthz", headers={"X-Correlation-Id": "call-0800.1"}, timeout=10
        )
        assert kept.headers["X-Correlation-Id"] == "call-0800.1"
        for personal in ("13812345678", "id-11010519491231002X", "x" * 65):
            answer = requests.get(
                base + "/v1/openapi.json", timeout=10, headers={"X-Correlation-Id": personal}
            )
            replaced = answer.headers["X-Correlation-Id"]
            assert replaced != personal and len(replaced) == 36, (name, replaced)
    for name, path in apis.logs.items():
        text = path.read_text(errors="replace")
        assert "13812345678" not in text and "11010519491231002X" not in text, name


def test_the_method_label_is_a_closed_set(gunicorn_apis):
    apis = gunicorn_apis
    for name, base in apis.base.items():
        for method in ("BREW", "PROPFIND", "X-EVIL-1"):
            answer = requests.request(method, base + "/v1/openapi.json", timeout=10)
            assert answer.status_code in (400, 405, 501), (name, method, answer.status_code)
        metrics = requests.get(base + "/metrics", timeout=10).text
        methods = set(re.findall(r'shegong_http_requests_total\{[^}]*method="([^"]*)"', metrics))
        assert methods <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"}
        assert "BREW" not in metrics and "PROPFIND" not in metrics, name


def test_a_timeseries_from_a_day_with_no_data_after_it_is_answered(gunicorn_apis):
    apis = gunicorn_apis
    for interval in ("day", "week", "month"):
        answer = requests.get(
            apis.base["reporting"] + "/v1/reports/timeseries",
            timeout=10,
            params={"metric": "cases_opened", "interval": interval, "from": "2099-01-01"},
            headers={"Authorization": f"Bearer {apis.tokens['admin']}"},
        )
        assert answer.status_code == 200, answer.text
        assert [p["value"] for p in answer.json()["points"]] == [0]


FUZZ = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


def test_schemathesis_over_each_api_on_gunicorn_finds_no_5xx(gunicorn_apis):
    """Each API's own OpenAPI document, positive and negative cases (integers past their
    documented ranges among them), against the gunicorn processes."""
    apis = gunicorn_apis
    answered = set()
    for service, base in apis.base.items():
        schema = schemathesis.openapi.from_url(base + "/v1/openapi.json")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for result in schema.get_all_operations():
                operation = result.ok()

                @given(case=operation.as_strategy(generation_mode=mode))
                @hypothesis_settings(max_examples=3, **FUZZ)
                def fuzz(case):
                    response = case.call(base_url=base, headers=credentials(apis))
                    answered.add(service)
                    assert response.status_code < 500, (
                        service,
                        case.method,
                        case.path,
                        case.body,
                        response.text[:300],
                    )

                try:
                    fuzz()
                except Unsatisfiable:  # nothing to make invalid (e.g. GET /healthz)
                    assert mode is GenerationMode.NEGATIVE
    assert answered == set(apis.base)
