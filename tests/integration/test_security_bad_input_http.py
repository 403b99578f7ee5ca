"""Bad input over real HTTP on every route of every API (enumerated from the route tables
and the OpenAPI documents, so new routes are covered without editing this file): no 5xx,
every answer JSON, a refused write changes nothing in the service's store and publishes
nothing; bodies over 1 MiB get 413, other content types 415, and MongoDB operators in
bodies, query strings and paths never reach a query."""

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from services.common.http import MAX_BODY_BYTES
from tests.security_support import EventTap, endpoints, settled_snapshot, snapshot

FUZZ = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
EXAMPLES = 6  # per operation and mode: the whole suite must stay a few minutes
OPERATORS = [
    {"$gt": ""},
    {"$ne": None},
    {"$where": "sleep(1000) || true"},
    {"$regex": ".*"},
    ["$in", "daxing"],
]
WRONG_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; b=x",
    "application/xml",
    None,
]
PRODUCERS = ("intake", "casework", "notifications")


# answers that are documents by design: Prometheus text, the dashboard page and
# assets, CSV exports
DOCUMENTS = {
    "text/plain",
    "text/html",
    "text/csv",
    "text/css",
    "application/javascript",
    "text/javascript",
    "image/svg+xml",
}


def _content_type(response):
    value = response.headers.get("content-type") or response.headers.get("Content-Type") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.split(";")[0].strip().lower()


@pytest.fixture
def apis(apis_with):
    return apis_with()


@pytest.fixture
def taps(apis):
    taps = {name: EventTap(apis.settings.amqp_uri, name) for name in PRODUCERS}
    yield taps


def credentials(apis):
    return {
        "Authorization": f"Bearer {apis.tokens['admin']}",
        "X-Api-Key": "dev-civil-affairs-key",
        "X-Receipt-Token": "unused",
    }


class Unchanged:
    """A refused call must leave the service's store as it was and publish nothing."""

    def __init__(self, apis, taps, service):
        self.apis, self.taps, self.service = apis, taps, service
        for tap in taps.values():
            tap.drain()
        self.before = settled_snapshot(apis.settings, service)

    def check(self, what):
        assert snapshot(self.apis.settings, self.service) == self.before, f"{what} wrote"
        published = {name: tap.drain() for name, tap in self.taps.items()}
        assert not any(published.values()), f"{what} published {published}"


def writes(apis):
    return [e for e in endpoints(apis.apps, public=True) if e.writes]


def test_oversized_bodies_get_413_on_every_write_route(apis, taps):
    big = b'{"note": "' + b"x" * MAX_BODY_BYTES + b'"}'
    for endpoint in writes(apis):
        unchanged = Unchanged(apis, taps, endpoint.service)
        for mimetype in ("application/json", "application/cloudevents+json"):
            answer = apis.call(
                endpoint, headers={**credentials(apis), "Content-Type": mimetype}, data=big
            )
            # (receipts authenticate first: a wrong receipt token is 401 before the body)
            assert answer.status_code in (413, 415, 401), (str(endpoint), answer.text)
            if endpoint.rule != "/v1/receipts/<provider>":
                assert answer.status_code in (413, 415), str(endpoint)
            if mimetype == "application/json" and endpoint.rule != "/v1/receipts/<provider>":
                assert answer.status_code == 413, (str(endpoint), answer.text)
            assert answer.json()["error"]["code"]
        unchanged.check(str(endpoint))


def test_other_content_types_get_415_on_every_write_route(apis, taps):
    for endpoint in writes(apis):
        if endpoint.rule == "/v1/receipts/<provider>":
            continue  # checked with a valid receipt token below
        unchanged = Unchanged(apis, taps, endpoint.service)
        body = json.dumps(apis.body(endpoint) or {}, ensure_ascii=False).encode()
        for mimetype in WRONG_TYPES:
            headers = credentials(apis)
            if mimetype:
                headers["Content-Type"] = mimetype
            answer = apis.call(endpoint, headers=headers, data=body)
            assert answer.status_code == 415, (str(endpoint), mimetype, answer.text)
            assert answer.json()["error"]["code"] == "unsupported_media_type"
        unchanged.check(str(endpoint))


def test_receipts_check_size_and_type_once_authenticated(apis_with, monkeypatch, tmp_path):
    monkeypatch.setenv("SHEGONG_SMS_RECEIPT_TOKEN", "receipts-" + "r" * 20)
    apis = apis_with()
    [endpoint] = [
        e for e in endpoints(apis.apps, public=True) if e.rule == "/v1/receipts/<provider>"
    ]
    headers = {"X-Receipt-Token": "receipts-" + "r" * 20}
    too_big = apis.call(
        endpoint,
        headers={**headers, "Content-Type": "application/json"},
        data=b"[" + b" " * MAX_BODY_BYTES + b"]",
    )
    assert too_big.status_code == 413, too_big.text
    for mimetype in WRONG_TYPES:
        answer = apis.call(
            endpoint,
            headers={**headers, **({"Content-Type": mimetype} if mimetype else {})},
            data=b"[]",
        )
        assert answer.status_code == 415, (mimetype, answer.text)


def with_operator(body, operator):
    """Each field of a body replaced, one at a time, by a MongoDB operator."""
    for key in body:
        yield key, {**body, key: operator}
    yield "$where", {**body, "$where": "sleep(1000)"}


def test_mongodb_operators_in_bodies_are_refused_and_reach_no_query(apis, taps):
    for endpoint in writes(apis):
        if endpoint.route.body is None:
            continue
        unchanged = Unchanged(apis, taps, endpoint.service)
        for operator in OPERATORS:
            for key, body in with_operator(apis.body(endpoint), operator):
                answer = apis.call(endpoint, who="admin", json=body)
                assert answer.status_code == 422, (str(endpoint), key, operator, answer.text)
                assert key in answer.json()["error"]["fields"] or key == "resident"
        unchanged.check(str(endpoint))


def test_mongodb_operators_in_query_strings_and_paths_reach_no_query(apis, taps):
    markers = apis.daxing_markers()
    ids = [value for key, value in apis.ids.items() if key not in ("station", "provider")]
    for endpoint in endpoints(apis.apps):
        if endpoint.method != "GET":
            continue
        if endpoint.route.query is None:  # a route without a query string ignores it
            plain = apis.call(endpoint, who="admin", params={})
            ignored = apis.call(endpoint, who="admin", params={"$where": "1", "a[$ne]": ""})
            assert ignored.status_code == plain.status_code, str(endpoint)
            continue
        for params in (
            {"station[$ne]": "x"},
            {"$where": "1"},
            {"case_id[$gt]": ""},
            {"station": '{"$ne": null}'},
            {"request_id": '{"$gt": ""}'},
            {"case_id": '{"$gt": ""}'},
            {"status": '{"$ne": "x"}'},
        ):
            # the district sees everything: an operator that reached a query would match
            answer = apis.call(endpoint, who="admin", params=params)
            assert answer.status_code in (200, 400, 404, 422), (str(endpoint), params, answer.text)
            if answer.status_code == 200:  # a literal string, matching nothing
                assert not [i for i in ids if i in answer.text], (str(endpoint), params)
        if "<" in endpoint.rule:
            for value in ('{"$ne": null}', "$gt", '{"$regex": ".*"}'):
                url = apis.url(endpoint, **{k: value for k in apis.ids})
                answer = requests.get(
                    url,
                    timeout=20,
                    headers={"Authorization": f"Bearer {apis.tokens['other_worker']}"},
                )
                assert answer.status_code in (403, 404), (url, answer.text)
                assert not [m for m in markers if m in answer.text]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_api_fuzzed_from_its_openapi_document(apis, taps, mode):
    """schemathesis over real HTTP, from each service's own /v1/openapi.json."""
    answered, write_outcomes = set(), set()
    for service, base in apis.base.items():
        schema = schemathesis.openapi.from_url(base + "/v1/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(max_examples=EXAMPLES, **FUZZ)
            def fuzz(case):
                writing = case.method.upper() in ("POST", "PUT", "PATCH", "DELETE")
                unchanged = Unchanged(apis, taps, service) if writing else None
                response = case.call(base_url=base, headers=credentials(apis))
                answered.add((service, case.method.upper(), operation.path))
                assert response.status_code < 500, (service, case.path, case.body, response.text)
                kind = _content_type(response)
                if response.status_code >= 400 or kind not in DOCUMENTS:
                    json.loads(response.text)  # every error, and every data answer, is JSON
                if writing:
                    write_outcomes.add(response.status_code // 100)
                if writing and response.status_code >= 400:
                    unchanged.check(
                        f"{service} {case.method} {case.path} -> {response.status_code}"
                    )

            try:
                fuzz()
            except Unsatisfiable:  # nothing to make invalid (e.g. GET /healthz)
                assert mode is GenerationMode.NEGATIVE
    documented = {
        (e.service, e.method, e.rule.replace("<", "{").replace(">", "}"))
        for e in endpoints(apis.apps, public=True)
        if e.rule != "/v1/openapi.json"
    }
    assert 4 in write_outcomes  # refused writes were checked for what they left
    if mode is GenerationMode.POSITIVE:
        assert documented <= answered, documented - answered
        assert 2 in write_outcomes, "no fuzzed write got past validation"
