"""marshmallow schemas of the intake HTTP API (the public contract of POST /v1/requests)."""
from marshmallow import Schema, fields, validate

from services.common.contracts import Instant, NeedSchema, ResidentSchema, StationId, Strict
from services.common.vocabulary import CHANNELS


class RequestIn(Strict):
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
    station = StationId(required=True)
    resident = fields.Nested(ResidentSchema, required=True)
    need = fields.Nested(NeedSchema, required=True)
    received_at = Instant(load_default=None)


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
