"""marshmallow schemas of the notifications HTTP API, and of the providers' receipts."""

from marshmallow import EXCLUDE, Schema, fields, validate

from services.common.fields import AnyInstant, BoundedInteger, Line, Notes, Strict
from services.common.paging import Cursor
from services.common.privacy import mask_phone
from services.common.vocabulary import MESSAGE_CHANNELS, MESSAGE_STATUSES, RECIPIENT_ROLES


class MessageQuery(Strict):
    case_id = Line(validate=validate.Length(max=200))
    recipient_role = fields.String(validate=validate.OneOf(RECIPIENT_ROLES))
    status = fields.String(validate=validate.OneOf(MESSAGE_STATUSES))
    channel = fields.String(validate=validate.OneOf(MESSAGE_CHANNELS))
    station = Line(validate=validate.Length(max=64))
    since = AnyInstant(metadata={"description": "created at or after (ISO 8601 with offset)"})
    until = AnyInstant(metadata={"description": "created before (ISO 8601 with offset)"})
    inbox = fields.Boolean(
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={
            "description": "true: only the caller's in-app messages (to them, or to their role "
            "at their station)"
        },
    )
    unread = fields.Boolean(
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={"description": "true: only in-app messages not yet read; false: only read ones"},
    )
    cursor = Cursor()
    limit = BoundedInteger(1, 1000, strict=False, load_default=200)


class HistoryOut(Schema):
    """One step of a message's life: a status reached, an attempt with one provider and
    its outcome, a hold (quiet hours, rate limit), a scheduled retry, or a receipt."""

    kind = fields.String()
    status = fields.String()
    at = fields.String()
    provider = fields.String()
    attempt = fields.Integer()
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    until = fields.String()
    reported_at = fields.String(allow_none=True)
    provider_message_id = fields.String()
    by = fields.String()


def _recipient(message):
    return message.get("recipient") or mask_phone(message.get("phone"))


class MessageOut(Schema):
    message_id = fields.String(attribute="_id")
    case_id = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    station = fields.String(allow_none=True)
    event_type = fields.String()
    recipient_role = fields.String()
    recipient = fields.Function(
        _recipient, metadata={"description": "masked number, or the staff id of an in-app message"}
    )
    channel = fields.String()
    template = fields.String()
    body = fields.String()
    status = fields.String()
    urgent = fields.Boolean()
    attempts = fields.Integer()
    provider = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    failed_at = fields.String(allow_none=True)
    history = fields.List(fields.Nested(HistoryOut))
    read_at = fields.Function(
        lambda message: message.get("read_at"),
        metadata={
            "type": "string",
            "nullable": True,
            "description": "in-app: when it was read; null while unread",
        },
    )
    read_by = fields.Function(
        lambda message: message.get("read_by"), metadata={"type": "string", "nullable": True}
    )


class MarkReadCommand(Strict):
    """``{}``: marking read takes nothing but the message's id."""


class MessageList(Schema):
    messages = fields.List(fields.Nested(MessageOut))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "pass as ``cursor`` for the next page; null on the last page"},
    )


class ReceiptQuery(Strict):
    token = Line(
        load_default="",
        metadata={
            "description": "the receipt token (SHEGONG_SMS_RECEIPT_TOKEN) in the callback URL"
        },
    )


class ReceiptsOut(Schema):
    """What the provider is answered; each provider expects its own acknowledgement."""

    code = fields.Integer()
    msg = fields.String()
    result = fields.Integer()
    errmsg = fields.String()
    accepted = fields.Integer()
    unmatched = fields.Integer()


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # providers add fields to their callbacks over time


class AliyunReceipt(_Lenient):
    """Alibaba Cloud SMS status report (SmsReport), pushed as a JSON array."""

    phone_number = Line(required=True)
    success = fields.Boolean(required=True)
    biz_id = Line(required=True)
    out_id = Line(load_default=None, allow_none=True)
    err_code = Line(load_default="")
    err_msg = Notes(load_default="")
    report_time = Line(load_default=None, allow_none=True)
    send_time = Line(load_default=None, allow_none=True)


class TencentReceipt(_Lenient):
    """Tencent Cloud SMS status callback, pushed as a JSON array."""

    sid = Line(required=True)
    report_status = fields.String(required=True, validate=validate.OneOf(("SUCCESS", "FAIL")))
    mobile = Line(load_default=None)
    errmsg = Notes(load_default="")
    description = Notes(load_default="")
    user_receive_time = Line(load_default=None, allow_none=True)


class GatewayReceipt(_Lenient):
    """The generic HTTP gateway's report: one object, or an array of them."""

    id = Line(required=True)
    client_ref = Line(load_default=None, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "failed")))
    reason = Notes(load_default=None, allow_none=True)
    at = Line(load_default=None, allow_none=True)


WEBHOOK_STATES = ("pending", "retrying", "delivered", "failed")


class WebhookQuery(Strict):
    state = fields.String(
        validate=validate.OneOf(WEBHOOK_STATES),
        metadata={"description": "failed: retries used up, the referral event dead-lettered"},
    )
    agency = Line(validate=validate.Length(min=1, max=100))
    station = Line(validate=validate.Length(max=64))
    limit = BoundedInteger(1, 1000, strict=False, load_default=100)


class WebhookAttemptOut(Schema):
    attempt = fields.Integer()
    at = fields.String()
    status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class WebhookDeliveryOut(Schema):
    """A referral POSTed to an agency's webhook: where it stands and every attempt."""

    delivery_id = fields.String(attribute="_id", metadata={"description": "the event id"})
    agency = fields.String()
    referral_id = fields.String()
    case_id = fields.String()
    station = fields.String()
    state = fields.String()
    attempts = fields.Integer(metadata={"description": "every POST so far"})
    replays = fields.Integer(
        dump_default=0,
        metadata={
            "description": "times an operator replayed its dead letter (each a new round of "
            "retries)"
        },
    )
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String(allow_none=True)
    history = fields.List(fields.Nested(WebhookAttemptOut))


class WebhookDeliveryList(Schema):
    deliveries = fields.List(fields.Nested(WebhookDeliveryOut))
