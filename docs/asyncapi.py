"""docs/asyncapi.json: the events as an AsyncAPI 2.6.0 document."""

import json
import tomllib
from pathlib import Path

from docs.catalogue import (
    contract_names,
    entrypoints_by_type,
    example_envelope,
    exchange_name,
    queue_name,
    routing_key,
)
from docs.jsonschema import envelope_schema
from services.common import envelope
from services.common.contracts import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"


def _project_version():
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def render_asyncapi():
    names = contract_names()
    entrypoints = entrypoints_by_type()
    channels, messages = {}, {}
    for contract in CATALOGUE.values():
        operation = names[contract.type].lower()
        messages[contract.type] = {
            "name": contract.type,
            "title": names[contract.type],
            "summary": contract.description,
            "contentType": envelope.CONTENT_TYPE,
            "correlationId": {
                "description": "The request that started the chain.",
                "location": "$message.payload#/correlationid",
            },
            "payload": envelope_schema(contract),
            "examples": [{"name": "daxing-story", "payload": example_envelope(contract)}],
            "bindings": {
                "amqp": {"messageType": contract.type, "bindingVersion": AMQP_BINDING_VERSION}
            },
        }
        channels[contract.type] = {
            "description": f"Routing key {routing_key(contract)} on exchange "
            f"{exchange_name(contract)}. {contract.description}",
            "subscribe": {
                "operationId": operation,
                "summary": contract.description,
                "message": {"$ref": f"#/components/messages/{contract.type}"},
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": True,
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                },
            },
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": exchange_name(contract),
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-producer": contract.producer,
            "x-consumers": [
                {
                    "service": service,
                    "method": method,
                    "queue": queue_name(contract, service, method),
                }
                for service, method in entrypoints[contract.type]
            ],
        }
    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:suyu:shegong:events",
        "info": {
            "title": "shegong events",
            "version": _project_version(),
            "description": "The events the services of Suyu District's township social work "
            "stations publish to one another. Generated from "
            "services/common/contracts.py by `make docs`; see "
            "docs/events.md.",
        },
        "defaultContentType": envelope.CONTENT_TYPE,
        "servers": {
            "development": {
                "url": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The local RabbitMQ of `make run` (AMQP_URI sets the real one).",
            }
        },
        "channels": channels,
        "components": {"messages": messages},
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
