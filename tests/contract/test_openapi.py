"""The HTTP APIs are written down as OpenAPI from the schemas they are served with."""

import importlib
import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from werkzeug.test import Client

from services.common import config
from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def app(service):
    return importlib.import_module(f"services.{service}.api").create_app(config.settings({}))


def committed(service):
    return json.loads((ROOT / f"docs/openapi/{service}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service):
    validate(committed(service))


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_serves_the_committed_document(service):
    answer = Client(app(service)).get("/v1/openapi.json")
    assert answer.status_code == 200 and answer.json == committed(service)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_and_method_is_documented(service):
    paths = committed(service)["paths"]
    for route in app(service).routes:
        path = route.path.replace("<", "{").replace(">", "}")
        for method in route.methods:
            operation = paths[path][method.lower()]
            assert operation["summary"], (path, method)
            if not route.public:
                assert "401" in operation["responses"] and "503" in operation["responses"]
            if route.body:
                assert operation["requestBody"]["required"] is True
                assert {"400", "413", "415", "422"} <= set(operation["responses"])


def test_the_public_contract_of_the_foundation_is_there():
    documents = {service: committed(service) for service in SERVICES}
    expected = {
        "intake": {("/v1/requests", "post"), ("/v1/requests/{request_id}", "get")},
        "casework": {
            ("/v1/cases", "get"),
            ("/v1/cases/{case_id}", "get"),
            ("/v1/cases/{case_id}/accept", "post"),
            ("/v1/cases/{case_id}/actions", "post"),
            ("/v1/cases/{case_id}/resolve", "post"),
        },
        "notifications": {("/v1/messages", "get")},
        "reporting": {("/v1/reports/summary", "get")},
    }
    for service, operations in expected.items():
        documented = {
            (path, method) for path, item in documents[service]["paths"].items() for method in item
        }
        assert operations <= documented, service
    request_in = documents["intake"]["components"]["schemas"]["RequestIn"]
    assert set(request_in["required"]) == {"channel", "station", "resident", "need"}
    assert set(request_in["properties"]) == {
        "channel",
        "station",
        "resident",
        "need",
        "received_at",
    }
    summary = documents["reporting"]["components"]["schemas"]["SummaryOut"]["properties"]
    assert {"requests_received", "cases_opened", "cases_resolved", "from", "to"} <= set(summary)
