"""Every string field of every schema the services load (HTTP bodies and query strings
of the four APIs, the providers' receipts, the event catalogue, the inbound events and
their envelopes) refuses control characters and keeps what it accepts NFC-normalised.

Checked by behaviour, field by field: a field passes when loading a value with a
control character fails (whatever refuses it: ``fields.Text``, an enumeration, a
pattern) and loading a decomposed or compatibility form either fails or gives the
composed one. A plain ``fields.String`` taking any text fails here: use
``fields.Line`` (single line: names, phones, addresses, ids) or ``fields.Notes``
(multi-line: notes, descriptions, summaries, reasons in words). No exceptions.
No broker, no store.
"""

import importlib
import pkgutil

import pytest
from marshmallow import Schema, ValidationError, fields

import services
from services.common.contracts import CATALOGUE
from services.common.envelope import EnvelopeSchema
from services.common.fields import Text
from services.common.http import Route
from services.intake.domain.inbound import INBOUND_TYPES
from services.intake.schemas.inbound import InboundEnvelope

C0 = [chr(c) for c in range(0x20)]
LINE_FEED_AND_TAB = {"\n", "\t"}
ALWAYS_REFUSED = (
    [c for c in C0 if c not in LINE_FEED_AND_TAB]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + ["\u2028", "\u2029"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)
# decomposed é, and a CJK compatibility ideograph (U+F900 is U+8C48 豈 by NFC)
NOT_NFC = {"e\u0301": "\u00e9", "\uf900": "\u8c48"}


def _modules():
    for info in pkgutil.walk_packages(services.__path__, "services."):
        if ".seed" in info.name or info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


def loaded_schemas():
    """(where, schema class) of everything the services load."""
    found = {}
    for module in _modules():
        for item in getattr(module, "routes", None) or ():
            if isinstance(item, Route):
                for kind in ("body", "query"):
                    schema = getattr(item, kind)
                    if schema is not None:
                        found[f"{module.__name__} {item.path} {kind}"] = schema
    for contract in CATALOGUE.values():
        found[f"event {contract.type}"] = contract.schema
    for inbound in INBOUND_TYPES.values():
        found[f"inbound {inbound.type}"] = inbound.schema
    found["envelope"] = EnvelopeSchema
    found["inbound envelope"] = InboundEnvelope
    from services.casework.schemas.programs import KIND_COMMANDS
    from services.notifications.domain.receipts import SCHEMAS

    for kind, schema in KIND_COMMANDS.items():
        found[f"correction values of {kind}"] = schema
    for provider, schema in SCHEMAS.items():
        found[f"receipt of {provider}"] = schema
    return found


def string_fields(schema, path):
    """(path, field) of every string field a schema loads, nested ones included."""
    instance = schema() if isinstance(schema, type) else schema
    for name, field in instance.fields.items():
        if not field.dump_only:
            yield from _strings(field, f"{path}.{field.data_key or name}")


def _strings(field, path):
    if isinstance(field, fields.String):
        yield path, field
    elif isinstance(field, fields.Nested):
        yield from string_fields(field.schema, path)
    elif isinstance(field, fields.List):
        yield from _strings(field.inner, path + "[]")
    elif isinstance(field, fields.Dict):
        for part in (field.key_field, field.value_field):
            if part is not None:
                yield from _strings(part, path + "{}")


def every_field():
    seen, found = set(), []
    for where, schema in loaded_schemas().items():
        for path, field in string_fields(schema, where):
            if id(field) not in seen:
                seen.add(id(field))
                found.append((path, field))
    return found


FIELDS = every_field()


def refuses(field, value):
    try:
        field.deserialize(value)
    except ValidationError:
        return True
    return False


def test_the_walk_finds_the_free_text_of_each_transport():
    paths = {path for path, _ in FIELDS}
    assert any(p.endswith("/v1/requests body.resident.name") for p in paths)
    assert any(
        p.startswith("event shegong.case.referred.v1") and p.endswith(".agency") for p in paths
    )
    assert any(p.startswith("inbound gov.suyu.petition.forwarded.v1") for p in paths)
    assert any(p.startswith("receipt of tencent") for p in paths)
    assert len(FIELDS) > 100


def test_every_loaded_string_field_refuses_control_characters():
    accepting = []
    for path, field in FIELDS:
        single_line = not getattr(field, "multiline", False)
        bad = ALWAYS_REFUSED + (sorted(LINE_FEED_AND_TAB) if single_line else [])
        let_in = [f"U+{ord(c):04X}" for c in bad if not refuses(field, f"甲{c}乙")]
        if let_in:
            accepting.append(f"{path} ({type(field).__name__}) takes {', '.join(let_in[:4])}")
    assert not accepting, "use fields.Line or fields.Notes:\n" + "\n".join(accepting)


def test_every_loaded_string_field_keeps_text_nfc():
    not_normalised = []
    for path, field in FIELDS:
        for given, composed in NOT_NFC.items():
            if not refuses(field, given) and field.deserialize(given) != composed:
                not_normalised.append(f"{path} keeps {given!r}")
    assert not not_normalised, "\n".join(not_normalised)


def test_multi_line_fields_are_the_prose_ones():
    """Line feeds and tabs only where people write sentences: a note, a description, a
    summary, a reason in words, a provider's error text."""
    prose = ("note", "description", "need_description", "summary", "reason", "err_msg", "errmsg")
    multiline = [path for path, field in FIELDS if isinstance(field, Text) and field.multiline]
    assert multiline
    assert all(path.rsplit(".", 1)[-1] in prose for path in multiline), multiline


@pytest.mark.parametrize("value", ["走\x07查\x1b[31m", "a\x06", "b\x1c", "c\x85", "d\u202e"])
def test_a_resident_name_with_control_characters_is_refused(value):
    from services.intake.schemas import RequestIn

    body = {
        "channel": "phone",
        "station": "daxing",
        "resident": {"name": value, "phone": "13812345678"},
        "need": {"type": "home_visit", "description": ""},
    }
    with pytest.raises(ValidationError) as refused:
        RequestIn().load(body)
    assert "name" in refused.value.messages["resident"]


def test_schema_classes_checked_are_schemas():
    assert all(
        isinstance(schema, type) and issubclass(schema, Schema)
        for schema in loaded_schemas().values()
    )
