"""The events catalogue is complete, agrees with the code both ways, and its docs are current.

No broker, no store: these read the catalogue, the service classes and the source text.
"""

import dataclasses
import json
import re
from pathlib import Path

import jsonschema
import pytest
from marshmallow import Schema

from docs import generate
from services.common import contracts
from services.common.contracts import (
    CASE_OPENED,
    CATALOGUE,
    MESSAGE_SENT,
    EventContract,
    contract_of,
)
from services.common.envelope import load_event
from services.common.messaging import consumers_of
from services.common.service_classes import SERVICE_CLASSES, service_class

ROOT = Path(__file__).resolve().parents[2]
SERVICES = tuple(SERVICE_CLASSES)
CONTRACTS = list(CATALOGUE.values())
PYTHON_NAMES = {
    value.type: name for name, value in vars(contracts).items() if isinstance(value, EventContract)
}


def by_type(params):
    return pytest.mark.parametrize("contract", params, ids=[c.type for c in params])


def handling_services():
    """Event type -> the set of services whose nameko class has a handler for it."""
    found = {}
    for service in SERVICES:
        for _, contract in consumers_of(service_class(service)):
            found.setdefault(contract.type, set()).add(service)
    return found


def consumer_mismatches(declared_contracts, handled):
    """Every difference between the declared ``consumers`` and the handlers, both ways."""
    problems = []
    declared_types = set()
    for contract in declared_contracts:
        declared_types.add(contract.type)
        declared, actual = set(contract.consumers), handled.get(contract.type, set())
        if len(declared) != len(contract.consumers):
            problems.append(f"{contract.type}: a consumer is declared twice")
        problems += [
            f"{contract.type}: declares consumer {service}, which has no handler for it"
            for service in sorted(declared - actual)
        ]
        problems += [
            f"{contract.type}: {service} handles it but is not a declared consumer"
            for service in sorted(actual - declared)
        ]
    problems += [
        f"{event_type}: handled but not in the catalogue"
        for event_type in sorted(set(handled) - declared_types)
    ]
    return problems


# -- (a) the generated docs are current -----------------------------------------------


def test_the_generated_docs_equal_what_the_code_renders_now():
    for path, text in generate.render().items():
        on_disk = ROOT / path
        assert on_disk.exists(), f"{path} is missing: run make docs"
        assert on_disk.read_text(encoding="utf-8") == text, f"{path} is out of date: run make docs"


def test_rendering_is_deterministic():
    assert generate.render() == generate.render()


# -- (b) every type has a schema, a producer and consumers that really handle it --------


def test_the_catalogue_is_keyed_by_type_and_holds_every_contract_defined():
    assert all(key == contract.type for key, contract in CATALOGUE.items())
    assert set(PYTHON_NAMES) == set(CATALOGUE), "a contract is defined but not catalogued"


@by_type(CONTRACTS)
def test_each_type_has_a_schema_a_known_producer_and_consumers(contract):
    assert isinstance(contract.schema, type) and issubclass(contract.schema, Schema)
    assert contract.schema._declared_fields, "the data schema has no fields"
    assert contract.producer in SERVICES
    assert contract.consumers, "nobody consumes it"
    assert set(contract.consumers) <= set(SERVICES)
    assert contract.description.strip()


def test_declared_consumers_are_exactly_the_services_that_handle_each_type():
    assert consumer_mismatches(CONTRACTS, handling_services()) == []


def test_the_consumer_comparison_reports_a_mismatch_in_either_direction():
    handled = handling_services()
    wrong = dataclasses.replace(CASE_OPENED, consumers=("intake", "notifications"))
    others = [contract for contract in CONTRACTS if contract.type != CASE_OPENED.type]
    assert consumer_mismatches(others + [wrong], handled) == [
        "shegong.case.opened.v1: declares consumer notifications, which has no handler for it",
        "shegong.case.opened.v1: reporting handles it but is not a declared consumer",
    ]
    assert consumer_mismatches(others, handled) == [
        "shegong.case.opened.v1: handled but not in the catalogue"
    ]
    twice = dataclasses.replace(MESSAGE_SENT, consumers=("reporting", "reporting"))
    assert consumer_mismatches([twice], {MESSAGE_SENT.type: {"reporting"}}) == [
        "shegong.message.sent.v1: a consumer is declared twice"
    ]


# -- (c) the producer really publishes it -----------------------------------------------


@by_type(CONTRACTS)
def test_the_producer_code_references_the_contract(contract):
    name = PYTHON_NAMES[contract.type]
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    modules = sorted((ROOT / "services" / contract.producer).rglob("*.py"))
    assert modules, f"no modules under services/{contract.producer}/"
    referencing = [
        path.name for path in modules if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert referencing, f"nothing under services/{contract.producer}/ mentions {name}"


# -- (d) every type carries its version ---------------------------------------------------


@by_type(CONTRACTS)
def test_each_type_is_namespaced_and_ends_with_its_version(contract):
    assert re.fullmatch(r"shegong\.[a-z_]+(\.[a-z_]+)*\.v[1-9][0-9]*", contract.type)


# -- (e) the AsyncAPI document ------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi():
    return json.loads((ROOT / generate.ASYNCAPI_JSON).read_text(encoding="utf-8"))


def test_the_asyncapi_document_has_one_channel_per_type(asyncapi):
    assert asyncapi["asyncapi"] == "2.6.0"
    assert sorted(asyncapi["channels"]) == sorted(CATALOGUE)
    assert sorted(asyncapi["components"]["messages"]) == sorted(CATALOGUE)


@by_type(CONTRACTS)
def test_each_channel_names_its_exchange_and_a_payload_that_accepts_the_example(asyncapi, contract):
    channel = asyncapi["channels"][contract.type]
    # its producer's exchange, unless it leaves for partner agencies (routed by agency)
    expected = "shegong.outbound" if contract.routing_field else f"{contract.producer}.events"
    assert channel["bindings"]["amqp"]["exchange"] == {
        "name": expected,
        "type": "topic",
        "durable": True,
        "autoDelete": False,
    }
    reference = channel["subscribe"]["message"]["$ref"]
    assert reference == f"#/components/messages/{contract.type}"
    message = asyncapi["components"]["messages"][contract.type]
    payload = message["payload"]
    jsonschema.Draft7Validator.check_schema(payload)
    assert sorted(payload["properties"]["data"]["properties"]) == sorted(
        field.data_key or name for name, field in contract.schema._declared_fields.items()
    )
    for example in message["examples"]:
        jsonschema.validate(example["payload"], payload)
        load_event(example["payload"], contract)  # what a consumer accepts, too


def test_the_payload_schemas_refuse_what_the_marshmallow_schemas_refuse(asyncapi):
    """The converter keeps the validation: bad values fail the JSON Schema as well."""
    payload = asyncapi["components"]["messages"][CASE_OPENED.type]["payload"]
    good = asyncapi["components"]["messages"][CASE_OPENED.type]["examples"][0]["payload"]
    validator = jsonschema.Draft7Validator(payload)
    assert not list(validator.iter_errors(good))
    for path, value in (
        (("data", "station"), "nowhere"),
        (("data", "priority"), "high"),
        (("specversion",), "0.3"),
        (("sequence",), 0),
        (("data", "unexpected"), "field"),
    ):
        broken = json.loads(json.dumps(good))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert list(validator.iter_errors(broken)), f"{'.'.join(path)}={value!r} was accepted"
    sent = asyncapi["components"]["messages"][MESSAGE_SENT.type]
    example = json.loads(json.dumps(sent["examples"][0]["payload"]))
    example["data"]["station"] = None  # allow_none: null is allowed, enum or not
    jsonschema.validate(example, sent["payload"])


@by_type(CONTRACTS)
def test_each_type_names_its_aggregate_and_what_happened_to_it(contract):
    assert contract.type == f"shegong.{contract.aggregate}.{contract.name}.v1"
    assert contract.short_type == f"{contract.aggregate}.{contract.name}"
    assert contract_of(contract.type) is contract


@pytest.mark.parametrize("service", SERVICES)
def test_every_handler_is_named_after_the_event_it_handles(service):
    """One naming rule in every service (its queue is named after the handler)."""
    misnamed = [
        f"{service}.{method} handles {contract.type}: call it {contract.handler_name}"
        for method, contract in consumers_of(service_class(service))
        if method != contract.handler_name
    ]
    assert misnamed == []
