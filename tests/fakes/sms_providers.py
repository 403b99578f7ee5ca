"""Fake SMS carriers: local HTTP servers that speak each provider's real API.

Each checks the request's signature exactly as the provider does (Alibaba Cloud
ACS3-HMAC-SHA256, Tencent Cloud TC3-HMAC-SHA256, the gateway's bearer token), answers
with the provider's real response shapes, and records what it accepted. ``mode`` sets
the answer: ``ok``, ``throttled``, ``invalid_number``, ``down`` (HTTP 503) or ``slow``
(answers after ``delay_s``). The gateway honours ``Idempotency-Key`` as its protocol says.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from urllib.parse import quote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support import free_port


class FakeServer:
    name = "fake"

    def __init__(self):
        self.port = free_port()
        self.mode = "ok"
        self.delay_s = 0.0
        self.accepted = []  # the SMS the carrier took: what phones would receive
        self.refused = []  # (reason, request) of refused calls
        self.calls = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.calls += 1
        if self.mode == "slow":
            time.sleep(self.delay_s)
        response = self.handle(request)
        return response(environ, start_response)

    content_type = "application/json;charset=utf-8"

    def json(self, body, status=200):
        return Response(
            json.dumps(body, ensure_ascii=False), status=status, content_type=self.content_type
        )


class FakeAliyunSms(FakeServer):
    """Alibaba Cloud SMS ``SendSms`` (RPC style, ACS3-HMAC-SHA256 signatures)."""

    name = "aliyun"

    def __init__(self, access_key_id="LTAI-test", secret="aliyun-secret"):
        super().__init__()
        self.access_key_id, self.secret = access_key_id, secret
        # the carrier's calendar day (YYYYMMDD, China time) that SMS are filed under
        self.today = time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600))

    def signature_ok(self, request):
        auth = request.headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        parts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        if algorithm != "ACS3-HMAC-SHA256" or parts.get("Credential") != self.access_key_id:
            return False
        body = request.get_data()
        payload_hash = hashlib.sha256(body).hexdigest()
        if request.headers.get("x-acs-content-sha256") != payload_hash:
            return False
        query = request.args.to_dict()
        canonical_query = "&".join(f"{key}={quote(query[key], safe='~')}" for key in sorted(query))
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(
            f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed
        )
        canonical = "\n".join(
            [
                request.method,
                request.path or "/",
                canonical_query,
                canonical_headers,
                ";".join(signed),
                payload_hash,
            ]
        )
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(self.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    def handle(self, request):
        request_id = str(uuid.uuid4()).upper()
        if self.mode == "down":
            return self.json(
                {
                    "RequestId": request_id,
                    "Code": "ServiceUnavailable",
                    "Message": "The request has failed due to a temporary failure of the server.",
                },
                503,
            )
        if not self.signature_ok(request):
            self.refused.append(("signature", request.args.to_dict()))
            return self.json(
                {
                    "RequestId": request_id,
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature is not matched with our calculation.",
                    "HostId": "dysmsapi.aliyuncs.com",
                },
                400,
            )
        params = {**request.args.to_dict(), **request.form.to_dict()}
        if request.headers.get("x-acs-action") == "QuerySendDetails":
            return self.query_send_details(params, request_id)
        if request.headers.get("x-acs-action") != "SendSms":
            return self.json({"RequestId": request_id, "Code": "InvalidAction.NotFound"}, 404)
        if self.mode == "throttled":
            return self.json(
                {
                    "RequestId": request_id,
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": "触发小时级流控Permits:5",
                }
            )
        if self.mode == "invalid_number":
            return self.json(
                {
                    "RequestId": request_id,
                    "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                    "Message": "非法手机号",
                }
            )
        biz_id = f"{int(time.time() * 1000)}^{len(self.accepted)}"
        self.accepted.append(
            {
                "to": params["PhoneNumbers"],
                "sign_name": params["SignName"],
                "template_code": params["TemplateCode"],
                "params": json.loads(params.get("TemplateParam") or "{}"),
                "out_id": params.get("OutId"),
                "biz_id": biz_id,
                "send_date": self.today,
            }
        )
        return self.json({"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id})

    def query_send_details(self, params, request_id):
        """``QuerySendDetails``: the SMS sent to one number on one day."""
        found = [
            {
                "PhoneNum": sms["to"],
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "TemplateCode": sms["template_code"],
                "Content": "",
                "OutId": sms["out_id"],
                "SendDate": sms["send_date"],
                "ReceiveDate": sms["send_date"],
            }
            for sms in self.accepted
            if sms["to"] == params.get("PhoneNumber") and sms["send_date"] == params.get("SendDate")
        ]
        return self.json(
            {
                "RequestId": request_id,
                "Code": "OK",
                "Message": "OK",
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": found},
            }
        )


class FakeTencentSms(FakeServer):
    """Tencent Cloud SMS ``SendSms`` 2021-01-11 (TC3-HMAC-SHA256 signatures)."""

    name = "tencent"
    content_type = "application/json"  # exactly: the SDK reads errors only from this type

    def __init__(self, secret_id="AKID-test", secret_key="tencent-secret"):
        super().__init__()
        self.secret_id, self.secret_key = secret_id, secret_key

    def signature_ok(self, request):
        auth = request.headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        credential = parts.get("Credential", "").split("/")
        if (
            algorithm != "TC3-HMAC-SHA256"
            or len(credential) != 4
            or credential[0] != self.secret_id
            or credential[2] != "sms"
        ):
            return False
        date, service = credential[1], credential[2]
        timestamp = request.headers.get("X-TC-Timestamp", "0")
        if abs(time.time() - int(timestamp)) > 300:  # Tencent refuses stale requests
            return False
        signed = parts.get("SignedHeaders", "").split(";")
        canonical_headers = "".join(f"{name}:{request.headers.get(name, '')}\n" for name in signed)
        canonical = "\n".join(
            [
                request.method,
                request.path or "/",
                "",
                canonical_headers,
                ";".join(signed),
                hashlib.sha256(request.get_data()).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                timestamp,
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )

        def sign(key, text):
            return hmac.new(key, text.encode(), hashlib.sha256).digest()

        key = sign(sign(sign(("TC3" + self.secret_key).encode(), date), service), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("Signature", ""))

    def handle(self, request):
        request_id = str(uuid.uuid4())
        if self.mode == "down":
            return Response("Service Unavailable", status=503)
        if not self.signature_ok(request):
            self.refused.append(("signature", request.get_data(as_text=True)))
            return self.json(
                {
                    "Response": {
                        "Error": {
                            "Code": "AuthFailure.SignatureFailure",
                            "Message": "The provided credentials could not be validated. "
                            "Please check your signature is correct.",
                        },
                        "RequestId": request_id,
                    }
                }
            )
        body = json.loads(request.get_data())
        if request.headers.get("X-TC-Action") == "PullSmsSendStatusByPhoneNumber":
            found = [
                {
                    "UserReceiveTime": None,
                    "CountryCode": "86",
                    "SubscriberNumber": sms["to"][3:],
                    "PhoneNumber": sms["to"],
                    "SerialNo": sms["serial"],
                    "ReportStatus": "SUCCESS",
                    "Description": "用户短信送达成功",
                    "SessionContext": sms["session_context"],
                }
                for sms in self.accepted
                if sms["to"] == body["PhoneNumber"]
            ]
            return self.json({"Response": {"PullSmsSendStatusSet": found, "RequestId": request_id}})
        phone = body["PhoneNumberSet"][0]
        status = {
            "SerialNo": "",
            "PhoneNumber": phone,
            "Fee": 0,
            "SessionContext": body.get("SessionContext", ""),
            "IsoCode": "CN",
        }
        if self.mode == "throttled":
            status.update(
                Code="LimitExceeded.PhoneNumberThirtySecondLimit",
                Message="the number of SMS messages sent from a single mobile "
                "number within 30 seconds exceeds the upper limit",
            )
        elif self.mode == "invalid_number":
            status.update(
                Code="InvalidParameterValue.IncorrectPhoneNumber",
                Message="incorrect phone number",
                IsoCode="",
            )
        else:
            serial = f"2433:{uuid.uuid4().int % 10**20}"
            status.update(SerialNo=serial, Fee=1, Code="Ok", Message="send success")
            self.accepted.append(
                {
                    "to": phone,
                    "sign_name": body["SignName"],
                    "template_id": body["TemplateId"],
                    "params": body.get("TemplateParamSet", []),
                    "session_context": body.get("SessionContext"),
                    "app_id": body["SmsSdkAppId"],
                    "serial": serial,
                }
            )
        return self.json({"Response": {"SendStatusSet": [status], "RequestId": request_id}})


class FakeSmsGateway(FakeServer):
    """The generic HTTP gateway protocol (providers.HttpGatewayProvider)."""

    name = "http"

    def __init__(self, token="gateway-token"):
        super().__init__()
        self.token = token
        self.by_key = {}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/sms"

    def handle(self, request):
        if self.mode == "down":
            return self.json({"code": "unavailable"}, 503)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.json({"code": "unauthorized"}, 401)
        if self.mode == "throttled":
            return self.json({"code": "throttled"}, 429)
        if self.mode == "invalid_number":
            return self.json({"code": "invalid_number"}, 422)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self.by_key:
                return self.json({"id": self.by_key[key], "replayed": True})
            body = json.loads(request.get_data())
            sms_id = f"gw-{uuid.uuid4().hex[:12]}"
            self.accepted.append({**body, "id": sms_id})
            if key:
                self.by_key[key] = sms_id
        return self.json({"id": sms_id}, 201)
