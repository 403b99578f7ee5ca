"""marshmallow schemas of the intake HTTP API (the public contract of POST /v1/requests)."""

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.common import clock
from services.common.events import NeedSchema, ResidentSchema
from services.common.fields import Instant, StationId, Strict

# Channels station staff and the web record on; alert and petition arrive from other
# government systems (POST /v1/events or the inbound exchange).
STAFF_CHANNELS = ("phone", "walk_in", "online", "hotline", "referral")

CLOCK_SKEW = timedelta(minutes=5)


class RequestIn(Strict):
    """A request as station staff or the web record it. ``received_at``: default now."""

    channel = fields.String(required=True, validate=validate.OneOf(STAFF_CHANNELS))
    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    need = fields.Nested(NeedSchema, required=True)
    received_at = Instant(load_default=None)

    @validates("received_at")
    def _not_in_the_future(self, value, **_):
        if value and clock.parse_iso(value) > clock.now() + CLOCK_SKEW:
            raise ValidationError("must not be in the future")


class AcceptedOut(Schema):
    request_id = fields.String()
    status_url = fields.String()
    status = fields.String()
    repeat_of = fields.String(
        allow_none=True,
        metadata={
            "description": "the open request of the same resident for the same need that this "
            "one repeats (casework adds it to that case); null if none"
        },
    )


class SourceOut(Schema):
    system = fields.String()
    kind = fields.String()
    event_id = fields.String()


class RequestOut(Schema):
    """A request as its status page shows it: the resident masked."""

    request_id = fields.String(attribute="_id")
    status = fields.String()
    case_id = fields.String(allow_none=True)
    channel = fields.String()
    station = fields.String()
    need_type = fields.String()
    resident = fields.Dict(
        metadata={"description": "masked: name, phone, id_number, emergency_contact"}
    )
    received_at = fields.String()
    recorded_at = fields.String()
    repeat_of = fields.String(allow_none=True)
    source = fields.Nested(
        SourceOut,
        allow_none=True,
        metadata={
            "description": "the government system and event it came from; null if staff or web"
        },
    )
