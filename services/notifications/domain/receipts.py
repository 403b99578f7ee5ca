"""The providers' delivery reports, read into one shape. Pure.

A receipt: ``provider``, ``provider_message_id`` (the id the provider answered the
send with), ``message_id`` (ours, when the provider echoes it), ``status``
(``delivered`` or ``failed``), ``reason`` and ``at`` (when the provider says it
happened).
"""

from services.notifications.schemas import AliyunReceipt, GatewayReceipt, TencentReceipt

SCHEMAS = {"aliyun": AliyunReceipt, "tencent": TencentReceipt, "http": GatewayReceipt}

# What each provider expects back, so it stops re-sending the callback.
ACKNOWLEDGEMENTS = {
    "aliyun": {"code": 0, "msg": "成功"},
    "tencent": {"result": 0, "errmsg": "OK"},
    "http": {},
}


def _aliyun(item):
    return {
        "provider": "aliyun",
        "provider_message_id": item["biz_id"],
        "message_id": item["out_id"],
        "status": "delivered" if item["success"] else "failed",
        "reason": None if item["success"] else (item["err_code"] or "failed"),
        "at": item["report_time"],
    }


def _tencent(item):
    ok = item["report_status"] == "SUCCESS"
    return {
        "provider": "tencent",
        "provider_message_id": item["sid"],
        "message_id": None,
        "status": "delivered" if ok else "failed",
        "reason": None if ok else (item["errmsg"] or "FAIL"),
        "at": item["user_receive_time"],
    }


def _gateway(item):
    return {
        "provider": "http",
        "provider_message_id": item["id"],
        "message_id": item["client_ref"],
        "status": item["status"],
        "reason": item["reason"],
        "at": item["at"],
    }


READERS = {"aliyun": _aliyun, "tencent": _tencent, "http": _gateway}


def read_receipts(provider, payload):
    """Validate a callback body (marshmallow raises ValidationError) and normalise it."""
    items = payload if isinstance(payload, list) else [payload]
    loaded = SCHEMAS[provider](many=True).load(items)
    return [READERS[provider](item) for item in loaded]
