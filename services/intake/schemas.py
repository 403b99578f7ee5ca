"""marshmallow schemas of the intake HTTP API (the public contract of POST /v1/requests)."""
from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.common import clock
from services.common.events import NeedSchema, ResidentSchema
from services.common.fields import Instant, StationId, Strict
from services.common.vocabulary import CHANNELS

CLOCK_SKEW = timedelta(minutes=5)


class RequestIn(Strict):
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
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


class RequestOut(Schema):
    """A request as its status page shows it: the resident masked."""
    request_id = fields.String(attribute="_id")
    status = fields.String()
    case_id = fields.String(allow_none=True)
    channel = fields.String()
    station = fields.String()
    need_type = fields.String()
    resident = fields.Dict()
    received_at = fields.String()
    recorded_at = fields.String()
