"""``envelope.dumped`` skips a schema's dump only where the dump would give back what
its load made: every catalogue example comes out of ``new_event`` exactly as the old
``schema.dump(schema.load(data))`` and ``ENVELOPE.dump(ENVELOPE.load(envelope))`` made
it (issue 24: one marshmallow pass per schema at each boundary)."""

import json
from pathlib import Path

import pytest
from marshmallow import INCLUDE, Schema, fields, post_load

from docs import generate
from services.common.contracts import CATALOGUE
from services.common.envelope import (
    ENVELOPE,
    data_schema,
    dumped,
    new_event,
    schema_dumps_as_loaded,
)
from services.common.fields import Day, Line, Phone

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = list(CATALOGUE.values())


@pytest.fixture(scope="module")
def examples():
    asyncapi = json.loads((ROOT / generate.ASYNCAPI_JSON).read_text(encoding="utf-8"))
    return {
        kind: [example["payload"] for example in message["examples"]]
        for kind, message in asyncapi["components"]["messages"].items()
    }


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c.type for c in CONTRACTS])
def test_new_event_builds_what_load_then_dump_built(examples, contract):
    assert examples[contract.type], "every contract has an example"
    schema = data_schema(contract.schema)
    for example in examples[contract.type]:
        loaded = schema.load(example["data"])
        assert dumped(schema, loaded) == schema.dump(loaded)
        event = new_event(
            contract,
            example["data"],
            subject=example.get("subject"),
            correlation_id=example["correlationid"],
            causation_id=example.get("causationid"),
            sequence=example.get("sequence"),
            event_id=example["id"],
        )
        assert event["data"] == schema.dump(loaded)
        assert event == ENVELOPE.dump(ENVELOPE.load(event))
        assert json.dumps(event, ensure_ascii=False) == json.dumps(
            ENVELOPE.dump(ENVELOPE.load(event)), ensure_ascii=False
        ), "same keys in the same order"


class _Nested(Schema):
    phone = Phone(required=True)
    names = fields.List(Line())


class _Plain(Schema):
    name = Line(required=True)
    count = fields.Integer()
    flag = fields.Boolean()
    extra = fields.Dict()
    inner = fields.Nested(_Nested, many=True)


class _WithDay(_Plain):
    day = Day()


class _Renamed(_Plain):
    other = fields.String(data_key="Other")


class _Hooked(_Plain):
    @post_load
    def _made(self, data, **_):
        return data


class _Uuid(_Plain):
    ref = fields.UUID()


class _CountAsText(_Plain):
    total = fields.Integer(as_string=True)


class _KeepsUnknown(_Plain):
    class Meta:
        unknown = INCLUDE


class _NestedKeepsUnknown(_Plain):
    more = fields.Nested(_Nested, unknown=INCLUDE)


def test_only_schemas_whose_dump_gives_back_their_load_are_skipped():
    assert schema_dumps_as_loaded(_Plain())
    refused = (_WithDay(), _Renamed(), _Hooked(), _Uuid(), _CountAsText(), _KeepsUnknown())
    for schema in (*refused, _NestedKeepsUnknown()):
        assert not schema_dumps_as_loaded(schema), type(schema).__name__
    with_day = _WithDay()
    loaded = with_day.load({"name": "王晨光", "day": "2024-03-01"})
    assert dumped(with_day, loaded) == {"name": "王晨光", "day": "2024-03-01"}
    keeps = _KeepsUnknown()
    loaded = keeps.load({"name": "a", "note": "kept by load, not by dump"})
    assert dumped(keeps, loaded) == {"name": "a"} == keeps.dump(loaded)
    plain = _Plain()
    loaded = plain.load({"name": "a", "inner": [{"phone": "+8613812345678", "names": ["b"]}]})
    assert dumped(plain, loaded) is loaded == plain.dump(loaded)
