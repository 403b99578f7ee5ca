"""Every date or time a command or an event carries is checked against the dates a
station could mean (fields.StationDates), so that a typo (2000 for 2026) is refused with
its reason instead of moving the district's figures (issue 26). The test walks every
HTTP body schema of every API, the correction values of every program kind, every event
of the catalogue with its envelope, and everything other systems send in."""

import importlib
import re
from datetime import date, timedelta

import pytest
from marshmallow import Schema, ValidationError, fields

from services.casework.schemas.programs import KIND_COMMANDS
from services.common import clock, config
from services.common.config import SERVICES
from services.common.contracts import CATALOGUE
from services.common.envelope import EnvelopeSchema
from services.common.fields import STATION_DATES, Day, Instant
from services.intake.domain.inbound import INBOUND_TYPES
from services.intake.schemas.inbound import InboundEnvelope

# a field of this name holds a date or a time, whatever its type says
DATE_NAME = re.compile(r"(^|_)(at|on|date|day|time|since|until|from|to)$")


def _body_schemas():
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.api").create_app(config.settings({}))
        for route in app.routes:
            if route.body is not None:
                yield f"{service} {route.path} body", route.body
    for kind, schema in KIND_COMMANDS.items():
        yield f"casework correction values of {kind}", schema
    for contract in CATALOGUE.values():
        yield f"event {contract.type}", contract.schema
    yield "event envelope", EnvelopeSchema
    yield "inbound envelope", InboundEnvelope
    for inbound in INBOUND_TYPES.values():
        yield f"inbound {inbound.type}", inbound.schema


def _fields(schema, path=""):
    instance = schema() if isinstance(schema, type) else schema
    for name, field in instance.fields.items():
        yield from _field(field, f"{path}{field.data_key or name}")


def _field(field, path):
    if isinstance(field, fields.Nested):
        nested = (
            field.nested()
            if callable(field.nested) and not isinstance(field.nested, type)
            else field.nested
        )
        yield from _fields(nested, path + ".")
    elif isinstance(field, fields.List):
        yield from _field(field.inner, path + "[]")
    else:
        yield path, field


def _is_date(path, field):
    name = path.rsplit(".", 1)[-1].rstrip("[]")
    return isinstance(
        field, (fields.Date, fields.DateTime, fields.NaiveDateTime, fields.AwareDateTime)
    ) or bool(DATE_NAME.search(name))


SCHEMAS = list(_body_schemas())


def test_the_walk_finds_the_date_fields_it_must():
    found = {
        (where, path)
        for where, schema in SCHEMAS
        for path, field in _fields(schema)
        if _is_date(path, field)
    }
    assert {
        ("intake /v1/requests body", "received_at"),
        ("casework /v1/stations/<station>/donations body", "on"),
        ("casework /v1/stations/<station>/aid body", "on"),
        ("inbound gov.suyu.elderly_care.checkin_missed.v1", "due_at"),
        ("inbound envelope", "time"),
        ("event envelope", "time"),
        ("event shegong.request.received.v1", "received_at"),
    } <= found


@pytest.mark.parametrize("where, schema", SCHEMAS, ids=[where for where, _ in SCHEMAS])
def test_no_date_field_escapes_the_station_dates(where, schema):
    unchecked = [
        path
        for path, field in _fields(schema)
        if _is_date(path, field) and not any(v is STATION_DATES for v in field.validators)
    ]
    assert unchecked == [], f"{where}: date fields without fields.StationDates: {unchecked}"


def test_the_range_is_from_the_first_day_to_tomorrow_and_says_so():
    class Probe(Schema):
        on = Day()
        at = Instant()

    today = date.fromisoformat(clock.local_day(clock.now()))
    first, ahead = config.accepted_dates()
    assert first == date(2023, 1, 1) and ahead == 1
    for good in (first, today, today + timedelta(days=1)):
        Probe().load({"on": good.isoformat(), "at": f"{good.isoformat()}T08:00:00+08:00"})
    for bad in (
        date(2000, 1, 1),
        first - timedelta(days=1),
        today + timedelta(days=2),
        date(2062, 11, 30),
    ):
        with pytest.raises(ValidationError) as refused:
            Probe().load({"on": bad.isoformat(), "at": f"{bad.isoformat()}T08:00:00+08:00"})
        assert set(refused.value.messages) == {"on", "at"}
        assert "2023-01-01" in refused.value.messages["on"][0]


def test_the_range_is_configurable(monkeypatch):
    monkeypatch.setenv("SHEGONG_FIRST_DAY", "2020-01-01")
    monkeypatch.setenv("SHEGONG_DAYS_AHEAD", "0")
    with pytest.raises(ValidationError):  # read once, by the process's entry point
        Day().deserialize("2021-06-01")
    # what an entry point does with its settings (undone after the test)
    monkeypatch.setattr(config, "_ACCEPTED", list(config._ACCEPTED))
    config.accept_dates(config.settings())
    assert Day().deserialize("2021-06-01") == date(2021, 6, 1)
    tomorrow = date.fromisoformat(clock.local_day(clock.now())) + timedelta(days=1)
    with pytest.raises(ValidationError):
        Day().deserialize(tomorrow.isoformat())
