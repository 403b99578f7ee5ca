"""The inbound contract written down: an AsyncAPI document generated from the schemas
intake validates inbound events with, one channel per type, whose payload schemas
accept what intake accepts and refuse what it refuses; and the systems registry."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from services.intake.domain.inbound import INBOUND_TYPES
from services.intake.systems import DEFAULT_FILE, ExternalSystems, key_digest
from tests.inbound_support import (
    KEYS,
    SOURCES,
    checkin_missed,
    key_person_update,
    petition,
    referral,
    referral_answer,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "gov.suyu.civil_affairs.referral.v1": referral,
    "gov.suyu.civil_affairs.key_person_update.v1": key_person_update,
    "gov.suyu.elderly_care.checkin_missed.v1": checkin_missed,
    "gov.suyu.petition.forwarded.v1": petition,
    "gov.suyu.agency.referral_answered.v1": lambda: referral_answer(
        answer="rejected", reason="不在服务范围"
    ),
}


@pytest.fixture(scope="module")
def document():
    return json.loads((ROOT / "docs/inbound-asyncapi.json").read_text(encoding="utf-8"))


def test_one_channel_per_inbound_type_on_the_inbound_exchange(document):
    assert sorted(document["channels"]) == sorted(INBOUND_TYPES) == sorted(EXAMPLES)
    for channel in document["channels"].values():
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "shegong.inbound"


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_the_payload_schema_accepts_the_example_and_refuses_an_operator(document, event_type):
    validator = Draft7Validator(document["components"]["messages"][event_type]["payload"])
    example = EXAMPLES[event_type]()
    validator.validate(example)
    smuggled = json.loads(json.dumps(example))
    target = smuggled["data"].get("resident") or smuggled["data"].get("person")
    if target is None:  # an agency's answer: no person in it
        smuggled["data"]["reason"] = {"$gt": ""}
    else:
        target["name"] = {"$gt": ""}
    assert not validator.is_valid(smuggled)


def test_the_development_registry_knows_each_system_by_its_key_and_source():
    registry = ExternalSystems.from_json(DEFAULT_FILE.read_text(encoding="utf-8"))
    for system_id, key in KEYS.items():
        system = registry.for_key(key)
        assert system.id == system_id and registry.for_source(SOURCES[system_id]) is system
        assert key not in DEFAULT_FILE.read_text(encoding="utf-8")  # stored hashed only
        assert system.key_sha256 == key_digest(key)
    assert registry.for_key("") is None and registry.for_key("guess") is None
    allowed = {t for system in registry.systems.values() for t in system.event_types}
    assert allowed == set(INBOUND_TYPES)


def test_two_systems_may_not_share_a_source():
    entry = {"source": "/same", "key_sha256": "0" * 64, "event_types": []}
    with pytest.raises(ValueError):
        ExternalSystems.from_json(
            json.dumps({"systems": [{"id": "a", **entry}, {"id": "b", **entry}]})
        )
