"""Alibaba Cloud SMS and Tencent Cloud SMS, each through its official SDK.

Both answer business outcomes in the body: success, throttling (temporary: retry,
or another provider) and an invalid number (permanent). Each provider is told the
message id (Aliyun ``OutId``, Tencent ``SessionContext``): it comes back in receipts
and in the providers' consoles, tying an SMS to its message. The endpoint (host and
scheme) is configuration, so tests point the SDKs at local fakes.
"""

import json

from services.notifications.providers import PermanentFailure, TemporaryFailure

# Alibaba Cloud SMS error codes (SendSms Code) that no retry fixes.
ALIYUN_PERMANENT = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_PARAMETERS",
}
# Tencent Cloud SMS per-number codes (SendStatus.Code) that no retry fixes.
TENCENT_PERMANENT_PREFIXES = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "UnsupportedOperation",
)


class AliyunSmsProvider:
    """Alibaba Cloud SMS (dysmsapi 2017-05-25, ``SendSms``), signed ACS3-HMAC-SHA256 by the SDK."""

    name = "aliyun"

    def __init__(self, policy):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.models import Config

        self.timeout_ms = int(policy.timeout_s * 1000)
        self.client = Client(
            Config(
                access_key_id=policy.aliyun_access_key_id,
                access_key_secret=policy.aliyun_access_key_secret,
                endpoint=policy.aliyun_endpoint,
                protocol=policy.aliyun_protocol,
                read_timeout=self.timeout_ms,
                connect_timeout=self.timeout_ms,
            )
        )

    def send(self, message):
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from darabonba.runtime import RuntimeOptions

        request = SendSmsRequest(
            phone_numbers=message["phone"],
            sign_name=message["signature"],
            template_code=message["provider_code"],
            template_param=json.dumps(message.get("params", {}), ensure_ascii=False),
            out_id=message["_id"],
        )
        runtime = RuntimeOptions(
            read_timeout=self.timeout_ms,
            connect_timeout=self.timeout_ms,
            autoretry=False,
            max_attempts=1,
        )
        try:
            body = self.client.send_sms_with_options(request, runtime).body
        except Exception as exc:  # the SDK's errors: unreachable, 4xx, 5xx
            code = getattr(exc, "code", None) or type(exc).__name__
            raise TemporaryFailure(f"aliyun: {code}") from exc
        if body.code == "OK":
            return body.biz_id
        if body.code in ALIYUN_PERMANENT:
            raise PermanentFailure(f"aliyun: {body.code}")
        raise TemporaryFailure(f"aliyun: {body.code}")

    def find_sent(self, message, send_day):
        """Whether Aliyun already took this message (a claim whose outcome was lost): looks
        for our ``OutId`` among the number's SMS of ``send_day`` (YYYY-MM-DD). None when
        not found or when Aliyun cannot tell (then the message is sent again)."""
        from alibabacloud_dysmsapi20170525.models import QuerySendDetailsRequest
        from darabonba.runtime import RuntimeOptions

        request = QuerySendDetailsRequest(
            phone_number=message["phone"],
            send_date=send_day.replace("-", ""),
            page_size=50,
            current_page=1,
        )
        runtime = RuntimeOptions(
            read_timeout=self.timeout_ms,
            connect_timeout=self.timeout_ms,
            autoretry=False,
            max_attempts=1,
        )
        try:
            body = self.client.query_send_details_with_options(request, runtime).body
        except Exception:  # noqa: BLE001 - cannot tell: send
            return None
        details = (
            (body.sms_send_detail_dtos.sms_send_detail_dto or [])
            if body.code == "OK" and body.sms_send_detail_dtos
            else []
        )
        for detail in details:
            if detail.out_id == message["_id"]:
                return f"outid:{message['_id']}"
        return None


class TencentSmsProvider:
    """Tencent Cloud SMS (sms 2021-01-11, ``SendSms``), signed TC3-HMAC-SHA256 by the SDK."""

    name = "tencent"

    def __init__(self, policy):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        http = HttpProfile(
            protocol=policy.tencent_scheme,
            endpoint=policy.tencent_endpoint,
            reqTimeout=max(1, int(policy.timeout_s)),
        )
        self.app_id = policy.tencent_app_id
        self.client = SmsClient(
            credential.Credential(policy.tencent_secret_id, policy.tencent_secret_key),
            policy.tencent_region,
            ClientProfile(httpProfile=http),
        )

    def send(self, message):
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + message["phone"]]
        request.SmsSdkAppId = self.app_id
        request.SignName = message["signature"]
        request.TemplateId = message.get("tencent_template_id") or message["provider_code"]
        request.TemplateParamSet = list(message.get("params", {}).values())
        request.SessionContext = message["_id"]
        try:
            answer = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise TemporaryFailure(f"tencent: {exc.code}") from exc
        except Exception as exc:  # unreachable, timed out
            raise TemporaryFailure(f"tencent: {type(exc).__name__}") from exc
        status = (answer.SendStatusSet or [None])[0]
        if status is None:
            raise TemporaryFailure("tencent: no send status")
        if status.Code == "Ok":
            return status.SerialNo
        if status.Code.startswith(TENCENT_PERMANENT_PREFIXES):
            raise PermanentFailure(f"tencent: {status.Code}")
        raise TemporaryFailure(f"tencent: {status.Code}")

    def find_sent(self, message, send_day):
        """Whether Tencent already took this message (a claim whose outcome was lost): looks
        for our ``SessionContext`` among the number's status reports from ``send_day`` on.
        Only SMS whose report came back are listed, so None may still mean "sent"."""
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        from tencentcloud.sms.v20210111 import models

        begin = datetime.fromisoformat(send_day).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        request = models.PullSmsSendStatusByPhoneNumberRequest()
        request.PhoneNumber = "+86" + message["phone"]
        request.SmsSdkAppId = self.app_id
        request.BeginTime = int(begin.timestamp())
        request.EndTime = int((begin + timedelta(days=2)).timestamp())
        request.Offset, request.Limit = 0, 100
        try:
            answer = self.client.PullSmsSendStatusByPhoneNumber(request)
        except Exception:  # noqa: BLE001 - cannot tell: send
            return None
        for status in answer.PullSmsSendStatusSet or []:
            if status.SessionContext == message["_id"]:
                return status.SerialNo
        return None
