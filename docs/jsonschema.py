"""marshmallow schemas -> JSON Schema (draft 7), for the AsyncAPI document and the
events catalogue. Covers the fields and validators this repository uses; a field type
it does not know is an error, not a silent gap."""

from datetime import date

from marshmallow import RAISE, fields, missing, validate

from services.common.envelope import EnvelopeSchema
from services.common.fields import StationDates

# Plain-function validators of this repository, described in words. Any other callable
# validator becomes "checked by <module>.<name>".
KNOWN_CHECKS = {
    "services.common.fields._instant_validator": (
        "an ISO 8601 time with a UTC offset, e.g. 2023-05-29T08:00:00+08:00"
    ),
    "services.common.envelope.json_media_type": (
        "a JSON media type, compared by type: application/json (parameters such as "
        "charset=utf-8 allowed) or a +json type"
    ),
    "services.common.envelope.EnvelopeSchema._time_has_offset": (
        "an ISO 8601 time with a UTC offset, e.g. 2023-05-29T08:00:00+08:00"
    ),
}


def _check_text(function):
    name = f"{function.__module__}.{function.__qualname__}"
    return KNOWN_CHECKS.get(name, f"checked by {name}")


def _add_description(schema, text):
    schema["description"] = f"{schema['description']}; {text}" if "description" in schema else text


def _apply_validator(schema, validator, is_array):
    if isinstance(validator, validate.OneOf):
        schema["enum"] = list(validator.choices)
    elif isinstance(validator, validate.Equal):
        schema["const"] = validator.comparable
    elif isinstance(validator, validate.Regexp):
        schema["pattern"] = validator.regex.pattern
    elif isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
        if validator.equal is not None:
            schema[low] = schema[high] = validator.equal
        if validator.min is not None:
            schema[low] = validator.min
        if validator.max is not None:
            schema[high] = validator.max
    elif isinstance(validator, validate.Range) and isinstance(validator.min, date):
        # JSON Schema has no bounds for date strings: say it in words
        _add_description(schema, f"from {validator.min.isoformat()} to {validator.max.isoformat()}")
    elif isinstance(validator, validate.Range):
        if validator.min is not None:
            schema["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            schema["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
    elif isinstance(validator, StationDates):
        _add_description(schema, StationDates.DESCRIPTION)
    elif callable(validator) and hasattr(validator, "__qualname__"):
        _add_description(schema, _check_text(validator))
    else:
        _add_description(schema, f"checked by {type(validator).__name__}({validator!r})")


def _base_schema(field):
    if isinstance(field, fields.Nested):
        schema = object_schema(type(field.schema))
        return {"type": "array", "items": schema} if field.many else schema
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_schema(field.inner)}
    if isinstance(field, fields.Dict):
        schema = {"type": "object"}
        if field.value_field is not None:
            schema["additionalProperties"] = field_schema(field.value_field)
        return schema
    if isinstance(field, fields.Date):
        return {"type": "string", "format": "date"}
    if isinstance(field, fields.Boolean):
        return {"type": "boolean"}
    if isinstance(field, fields.Integer):
        return {"type": "integer"}
    if isinstance(field, fields.String):
        return {"type": "string"}
    raise TypeError(f"docs.generate cannot convert {type(field).__name__}; teach _base_schema")


def field_schema(field, extra_checks=()):
    """The JSON Schema of one marshmallow field (without its own ``required``)."""
    schema = _base_schema(field)
    is_array = schema.get("type") == "array"
    for validator in field.validators:
        _apply_validator(schema, validator, is_array)
    for check in extra_checks:
        _add_description(schema, _check_text(check))
    if field.allow_none:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = schema["enum"] + [None]
    if field.load_default is not missing:
        default = field.load_default() if callable(field.load_default) else field.load_default
        schema["default"] = default
    if field.metadata.get("description"):
        _add_description(schema, field.metadata["description"])
    return schema


def _field_checks(schema_cls):
    """Field name -> the schema's ``@validates`` methods for it."""
    checks = {}
    for attr_name, _, kwargs in schema_cls._hooks.get("validates", ()):
        for field_name in kwargs.get("field_names", ()):
            checks.setdefault(field_name, []).append(getattr(schema_cls, attr_name))
    return checks


def object_schema(schema_cls):
    """The JSON Schema of a marshmallow Schema class, fields in declaration order."""
    checks = _field_checks(schema_cls)
    properties, required = {}, []
    for name, field in schema_cls._declared_fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        properties[key] = field_schema(field, checks.get(name, ()))
        if field.required:
            required.append(key)
    schema = {
        "type": "object",
        "title": schema_cls.__name__,
        "properties": properties,
        "additionalProperties": schema_cls().unknown != RAISE,
    }
    if required:
        schema["required"] = required
    if schema_cls.__doc__:
        schema["description"] = " ".join(schema_cls.__doc__.split())
    return schema


def envelope_schema(contract=None):
    """The envelope's JSON Schema; for a contract, ``data`` is that type's data schema."""
    schema = object_schema(EnvelopeSchema)
    schema["title"] = "CloudEvents envelope"
    if contract is not None:
        properties = dict(schema["properties"])
        properties["type"] = {**properties["type"], "const": contract.type}
        properties["data"] = object_schema(contract.schema)
        schema = {**schema, "title": f"{contract.type} envelope", "properties": properties}
    return schema
