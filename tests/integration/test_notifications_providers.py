"""Each SMS provider through its real client (the official SDKs, requests for the gateway)
against a local fake that speaks the provider's HTTP API and checks the signature."""

import pytest

from services.common import config
from services.notifications.providers import (
    DevFileProvider,
    HttpGatewayProvider,
    PermanentFailure,
    ProviderChain,
    TemporaryFailure,
    provider_chain,
)
from services.notifications.providers.cloud import AliyunSmsProvider, TencentSmsProvider
from tests.fakes.sms_providers import FakeAliyunSms, FakeSmsGateway, FakeTencentSms


def message(message_id="e-1:resident:case_accepted_resident"):
    return {
        "_id": message_id,
        "phone": "13812345678",
        "signature": "宿豫社工",
        "provider_code": "SMS_SHEGONG_002",
        "tencent_template_id": "1800002",
        "params": {"station_name": "大兴镇社会工作服务站", "worker_name": "王晨光"},
        "body": "【宿豫社工】您好，您的求助已由大兴镇社会工作服务站社工王晨光受理。",
        "recipient_role": "resident",
        "case_id": "case-1",
    }


def policy(**env):
    return config.notification_settings({"SHEGONG_SMS_TIMEOUT_S": "2", **env})


@pytest.fixture
def aliyun():
    fake = FakeAliyunSms().start()
    yield fake
    fake.stop()


@pytest.fixture
def tencent():
    fake = FakeTencentSms().start()
    yield fake
    fake.stop()


@pytest.fixture
def gateway():
    fake = FakeSmsGateway().start()
    yield fake
    fake.stop()


def aliyun_provider(fake, secret=None):
    return AliyunSmsProvider(
        policy(
            ALIYUN_SMS_ACCESS_KEY_ID=fake.access_key_id,
            ALIYUN_SMS_ACCESS_KEY_SECRET=secret or fake.secret,
            ALIYUN_SMS_ENDPOINT=fake.endpoint,
            ALIYUN_SMS_PROTOCOL="http",
        )
    )


def tencent_provider(fake, secret=None):
    return TencentSmsProvider(
        policy(
            TENCENT_SMS_SECRET_ID=fake.secret_id,
            TENCENT_SMS_SECRET_KEY=secret or fake.secret_key,
            TENCENT_SMS_ENDPOINT=fake.endpoint,
            TENCENT_SMS_SCHEME="http",
            TENCENT_SMS_APP_ID="1400000001",
        )
    )


def test_aliyun_sdk_sends_a_signed_request_with_our_out_id(aliyun):
    biz_id = aliyun_provider(aliyun).send(message())
    assert aliyun.refused == []
    [sms] = aliyun.accepted
    assert sms["biz_id"] == biz_id
    assert (sms["to"], sms["sign_name"], sms["template_code"], sms["out_id"]) == (
        "13812345678",
        "宿豫社工",
        "SMS_SHEGONG_002",
        "e-1:resident:case_accepted_resident",
    )
    assert sms["params"] == {"station_name": "大兴镇社会工作服务站", "worker_name": "王晨光"}


def test_aliyun_refuses_a_wrong_signature(aliyun):
    with pytest.raises(TemporaryFailure, match="SignatureDoesNotMatch"):
        aliyun_provider(aliyun, secret="not-the-secret").send(message())
    assert aliyun.accepted == [] and aliyun.refused


def test_aliyun_throttling_is_temporary_and_an_invalid_number_permanent(aliyun):
    provider = aliyun_provider(aliyun)
    aliyun.mode = "throttled"
    with pytest.raises(TemporaryFailure, match="isv.BUSINESS_LIMIT_CONTROL"):
        provider.send(message())
    aliyun.mode = "invalid_number"
    with pytest.raises(PermanentFailure, match="isv.MOBILE_NUMBER_ILLEGAL"):
        provider.send(message())
    aliyun.mode = "down"
    with pytest.raises(TemporaryFailure):
        provider.send(message())
    assert aliyun.accepted == []


def test_tencent_sdk_sends_a_signed_request_with_our_session_context(tencent):
    serial = tencent_provider(tencent).send(message())
    assert tencent.refused == []
    [sms] = tencent.accepted
    assert sms["serial"] == serial
    assert (sms["to"], sms["sign_name"], sms["template_id"], sms["app_id"]) == (
        "+8613812345678",
        "宿豫社工",
        "1800002",
        "1400000001",
    )
    assert sms["session_context"] == "e-1:resident:case_accepted_resident"
    assert sms["params"] == ["大兴镇社会工作服务站", "王晨光"]  # in the template's order


def test_tencent_refuses_a_wrong_signature(tencent):
    with pytest.raises(TemporaryFailure, match="AuthFailure.SignatureFailure"):
        tencent_provider(tencent, secret="not-the-secret").send(message())
    assert tencent.accepted == [] and tencent.refused


def test_tencent_throttling_is_temporary_and_an_invalid_number_permanent(tencent):
    provider = tencent_provider(tencent)
    tencent.mode = "throttled"
    with pytest.raises(TemporaryFailure, match="LimitExceeded"):
        provider.send(message())
    tencent.mode = "invalid_number"
    with pytest.raises(PermanentFailure, match="IncorrectPhoneNumber"):
        provider.send(message())
    assert tencent.accepted == []


def test_the_gateway_sends_once_per_idempotency_key(gateway):
    provider = HttpGatewayProvider(gateway.url, gateway.token, 2)
    first = provider.send(message())
    again = provider.send(message())
    assert first == again and len(gateway.accepted) == 1
    assert gateway.accepted[0]["client_ref"] == "e-1:resident:case_accepted_resident"
    with pytest.raises(TemporaryFailure):
        HttpGatewayProvider(gateway.url, "wrong-token", 2).send(message("e-2:x:y"))
    gateway.mode = "invalid_number"
    with pytest.raises(PermanentFailure):
        provider.send(message("e-3:x:y"))


def test_the_next_provider_serves_when_one_fails_or_times_out(aliyun, tencent, gateway):
    chain = ProviderChain(
        [
            aliyun_provider(aliyun),
            tencent_provider(tencent),
            HttpGatewayProvider(gateway.url, gateway.token, 1),
        ]
    )
    aliyun.mode = "down"
    sent = chain.send_first(message())
    assert sent.provider == "tencent" and len(tencent.accepted) == 1
    assert [t["outcome"] for t in sent.tries] == ["temporary_failure", "accepted"]
    tencent.mode, tencent.delay_s = "slow", 5  # longer than the 2 s timeout
    sent = chain.send_first(message("e-2:resident:case_accepted_resident"))
    assert sent.provider == "http" and len(gateway.accepted) == 1
    gateway.mode = "down"
    with pytest.raises(TemporaryFailure) as failed:
        chain.send_first(message("e-3:resident:case_accepted_resident"))
    assert [t["provider"] for t in failed.value.tries] == ["aliyun", "tencent", "http"]


def test_an_invalid_number_stops_the_chain(aliyun, tencent):
    chain = ProviderChain([aliyun_provider(aliyun), tencent_provider(tencent)])
    aliyun.mode = "invalid_number"
    with pytest.raises(PermanentFailure):
        chain.send_first(message())
    assert tencent.calls == 0


def test_the_chain_is_configuration(tmp_path, aliyun, gateway):
    settings = config.settings(
        {
            "SHEGONG_VAR_DIR": str(tmp_path),
            "SHEGONG_SMS_PROVIDERS": "aliyun, http,file",
            "ALIYUN_SMS_ENDPOINT": aliyun.endpoint,
            "ALIYUN_SMS_PROTOCOL": "http",
            "SHEGONG_SMS_GATEWAY_URL": gateway.url,
        }
    )
    chain = provider_chain(settings)
    assert [p.name for p in chain.providers] == ["aliyun", "http", "dev_file"]
    assert isinstance(chain.providers[2], DevFileProvider)
    with pytest.raises(ValueError, match="unknown SMS provider"):
        provider_chain(config.settings({"SHEGONG_SMS_PROVIDERS": "carrier-pigeon"}))


def test_each_sdk_can_tell_whether_it_already_took_a_message(aliyun, tencent):
    aliyun_sms, tencent_sms = aliyun_provider(aliyun), tencent_provider(tencent)
    day = f"{aliyun.today[:4]}-{aliyun.today[4:6]}-{aliyun.today[6:]}"
    assert aliyun_sms.find_sent(message(), day) is None
    aliyun_sms.send(message())
    assert aliyun_sms.find_sent(message(), day) == "outid:e-1:resident:case_accepted_resident"
    assert aliyun_sms.find_sent(message("e-9:x:y"), day) is None
    assert tencent_sms.find_sent(message(), day) is None
    serial = tencent_sms.send(message())
    assert tencent_sms.find_sent(message(), day) == serial
    assert aliyun.refused == [] and tencent.refused == []
