"""marshmallow schemas of the notifications HTTP API."""
from marshmallow import Schema, fields, validate

from services.common.fields import Strict
from services.common.privacy import mask_phone
from services.common.vocabulary import MESSAGE_STATUSES, RECIPIENT_ROLES


class MessageQuery(Strict):
    case_id = fields.String(validate=validate.Length(max=200))
    recipient_role = fields.String(validate=validate.OneOf(RECIPIENT_ROLES))
    status = fields.String(validate=validate.OneOf(MESSAGE_STATUSES))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class HistoryOut(Schema):
    status = fields.String()
    at = fields.String()
    provider = fields.String()


class MessageOut(Schema):
    message_id = fields.String(attribute="_id")
    case_id = fields.String(allow_none=True)
    station = fields.String(allow_none=True)
    event_type = fields.String()
    recipient_role = fields.String()
    recipient = fields.Function(lambda message: mask_phone(message["phone"]))
    channel = fields.String()
    template = fields.String()
    body = fields.String()
    status = fields.String()
    provider = fields.String(allow_none=True)
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    history = fields.List(fields.Nested(HistoryOut))


class MessageList(Schema):
    messages = fields.List(fields.Nested(MessageOut))
