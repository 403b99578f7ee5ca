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
    EVENT_STORE,
    MESSAGE_SENT,
    EventContract,
    consumed_by,
    contract_of,
    define_contract,
)
from services.common.envelope import load_event
from services.common.messaging import consumers_of
from services.common.service_classes import SERVICE_CLASSES, service_class
from services.common.topology import entrypoint_queue
from services.reporting.service import keeping_entrypoint

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
    assert contract.type == f"shegong.{contract.aggregate}.{contract.name}.v{contract.version}"
    assert contract.short_type == f"{contract.aggregate}.{contract.name}"
    assert contract_of(contract.type) is contract


def test_a_later_version_has_its_own_type_handler_and_queue_beside_the_first():
    """During an upgrade (docs/operations.md, section 8) a service handles v1 and v2 side
    by side: two methods, two queues. Version 1 keeps the names deployed queues have."""
    second = dataclasses.replace(CASE_OPENED, version=2)
    assert (CASE_OPENED.type, CASE_OPENED.entrypoint_name) == (
        "shegong.case.opened.v1",
        "case_opened",
    )
    assert (second.type, second.entrypoint_name) == ("shegong.case.opened.v2", "case_opened_v2")
    assert second.short_type == CASE_OPENED.short_type
    first_queue = entrypoint_queue(CASE_OPENED, "reporting", CASE_OPENED.entrypoint_name)
    second_queue = entrypoint_queue(second, "reporting", second.entrypoint_name)
    assert first_queue.name == "evt-casework-shegong.case.opened.v1--reporting.case_opened"
    assert second_queue.name == "evt-casework-shegong.case.opened.v2--reporting.case_opened_v2"
    assert (first_queue.routing_key, second_queue.routing_key) == (CASE_OPENED.type, second.type)
    assert define_contract("case.opened", "casework", CASE_OPENED.schema, (), "", version=2) == (
        dataclasses.replace(second, consumers=(), description="")
    )
    with pytest.raises(ValueError):
        define_contract("case.opened", "casework", CASE_OPENED.schema, (), "", version=0)


def test_the_event_store_consumes_every_type():
    """reporting keeps every event (EVENT_STORE), and its entrypoints are made from the
    catalogue: a type it consumes has its handler without an edit of the service."""
    assert all(set(EVENT_STORE) <= set(c.consumers) for c in CONTRACTS)
    assert consumed_by("reporting") == tuple(CONTRACTS)
    assert consumed_by("intake") == tuple(c for c in CONTRACTS if "intake" in c.consumers)
    reporting = dict(consumers_of(service_class("reporting")))
    assert {method: c.type for method, c in reporting.items()} == {
        c.entrypoint_name: c.type for c in CONTRACTS
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_handler_is_named_after_the_event_it_handles(service):
    """One naming rule in every service (its queue is named after the handler)."""
    misnamed = [
        f"{service}.{method} handles {contract.type}: call it {contract.entrypoint_name}"
        for method, contract in consumers_of(service_class(service))
        if method != contract.entrypoint_name
    ]
    assert misnamed == []


def test_reporting_makes_the_entrypoint_of_a_later_version_from_its_contract():
    """A v2 in the catalogue gets its reporting handler (and queue) beside v1's."""
    second = dataclasses.replace(CASE_OPENED, version=2)
    entrypoint = keeping_entrypoint(second)
    assert entrypoint.__name__ == "case_opened_v2"
    (handler,) = entrypoint.nameko_entrypoints
    assert handler.contract is second
    assert "case.opened (v2)" in entrypoint.__doc__
