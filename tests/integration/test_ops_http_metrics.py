"""GET /metrics of an API in-process on the real store and broker: requests counted by
route template (never the path with its ids) and status; public unless a metrics token
is configured, and then only for that token."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from services.common import config
from services.intake import api as intake_api


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_counted(text, route, status):
    return samples(text).get(
        (
            "shegong_http_requests_total",
            (("method", "GET"), ("route", route), ("service", "intake"), ("status", status)),
        ),
        0,
    )


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


def test_metrics_count_requests_by_route_template_and_status(intake):
    before = intake.get("/metrics")
    assert before.status_code == 200 and before.mimetype == "text/plain"
    seen = requests_counted(before.get_data(as_text=True), "/v1/requests/<request_id>", "401")
    unmatched = requests_counted(before.get_data(as_text=True), "unmatched", "404")
    for _ in range(3):
        assert intake.get("/v1/requests/some-id-13812345678").status_code == 401
    for _ in range(2):
        assert intake.get("/no-such-route/13812345678").status_code == 404
    after = intake.get("/metrics").get_data(as_text=True)
    assert requests_counted(after, "/v1/requests/<request_id>", "401") - seen == 3
    assert "some-id" not in after and "13812345678" not in after
    assert requests_counted(after, "unmatched", "404") - unmatched == 2
    latency = samples(after)[
        (
            "shegong_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "/v1/requests/<request_id>"), ("service", "intake")),
        )
    ]
    assert latency >= 3


def test_a_metrics_token_protects_the_endpoint(monkeypatch, env, topology, database):
    monkeypatch.setenv("SHEGONG_METRICS_TOKEN", "scraper-token")
    database("intake")
    client = Client(intake_api.create_app(config.settings()))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer scraper-token"})
    assert answer.status_code == 200 and b"shegong_http_requests_total" in answer.data
    assert client.get("/healthz").status_code == 200  # the probes stay public
