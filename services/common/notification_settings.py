"""How notifications sends SMS (providers, limits, retries, quiet hours), read from the
environment by ``settings()``.

Its own module, since it is the one part of the configuration only one service reads;
``config`` builds it into ``Settings.notifications`` and re-exports both names, so
``services.common.config`` stays the one import path for settings.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class NotificationSettings:
    """How notifications sends: providers in order of preference, limits, retries.

    ``providers``: names from ``SHEGONG_SMS_PROVIDERS`` (aliyun, tencent, http, file),
    tried in that order; ``SHEGONG_SMS_PROVIDER`` (one name, ``dev_file``) is the older
    spelling of the development default.
    """

    providers: tuple
    timeout_s: float
    retry_delays_s: tuple
    lease_s: float
    sweep_interval_s: float
    rate_limit_per_hour: int
    staff_rate_limit_per_hour: int
    keep_number_h: float
    quiet_start: str
    quiet_end: str
    receipt_token: str
    duty_officer_phone: str
    aliyun_access_key_id: str
    aliyun_access_key_secret: str
    aliyun_endpoint: str
    aliyun_protocol: str
    tencent_secret_id: str
    tencent_secret_key: str
    tencent_endpoint: str
    tencent_scheme: str
    tencent_region: str
    tencent_app_id: str
    http_gateway_url: str
    http_gateway_token: str


def notification_settings(env):
    legacy = env.get("SHEGONG_SMS_PROVIDER", "dev_file")
    names = env.get("SHEGONG_SMS_PROVIDERS", "file" if legacy == "dev_file" else legacy)
    return NotificationSettings(
        providers=tuple(name.strip() for name in names.split(",") if name.strip()),
        timeout_s=float(env.get("SHEGONG_SMS_TIMEOUT_S", "5")),
        retry_delays_s=tuple(
            float(part)
            for part in env.get("SHEGONG_SMS_RETRY_DELAYS_S", "30,120,600,1800").split(",")
            if part.strip()
        ),
        lease_s=float(env.get("SHEGONG_SMS_LEASE_S", "60")),
        sweep_interval_s=float(env.get("SHEGONG_SMS_SWEEP_INTERVAL_S", "1.0")),
        rate_limit_per_hour=int(env.get("SHEGONG_SMS_RATE_LIMIT_PER_HOUR", "10")),
        # staff SMS (urgent work): per number and message kind, never the residents' limit
        staff_rate_limit_per_hour=int(env.get("SHEGONG_SMS_STAFF_RATE_LIMIT_PER_HOUR", "120")),
        # a sent SMS whose receipt never comes: its number is erased after this long
        keep_number_h=float(env.get("SHEGONG_SMS_KEEP_NUMBER_H", "72")),
        quiet_start=env.get("SHEGONG_QUIET_HOURS_START", "22:00"),
        quiet_end=env.get("SHEGONG_QUIET_HOURS_END", "07:00"),
        # Empty: every receipt callback is refused (401), as with the token secret.
        receipt_token=env.get("SHEGONG_SMS_RECEIPT_TOKEN", ""),
        duty_officer_phone=env.get("SHEGONG_DUTY_OFFICER_PHONE", ""),
        aliyun_access_key_id=env.get("ALIYUN_SMS_ACCESS_KEY_ID", ""),
        aliyun_access_key_secret=env.get("ALIYUN_SMS_ACCESS_KEY_SECRET", ""),
        aliyun_endpoint=env.get("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com"),
        aliyun_protocol=env.get("ALIYUN_SMS_PROTOCOL", "https"),
        tencent_secret_id=env.get("TENCENT_SMS_SECRET_ID", ""),
        tencent_secret_key=env.get("TENCENT_SMS_SECRET_KEY", ""),
        tencent_endpoint=env.get("TENCENT_SMS_ENDPOINT", "sms.tencentcloudapi.com"),
        tencent_scheme=env.get("TENCENT_SMS_SCHEME", "https"),
        tencent_region=env.get("TENCENT_SMS_REGION", "ap-guangzhou"),
        tencent_app_id=env.get("TENCENT_SMS_APP_ID", ""),
        http_gateway_url=env.get("SHEGONG_SMS_GATEWAY_URL", ""),
        http_gateway_token=env.get("SHEGONG_SMS_GATEWAY_TOKEN", ""),
    )
