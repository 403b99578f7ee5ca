"""The notifications worker refuses to start with a template its event cannot fill, or
with an SMS provider configuration it does not know (the start fails, not the send)."""

import pytest

from services.common import config
from services.notifications import domain
from services.notifications.dependencies import SmsProvider
from services.notifications.service import NotificationsService


def test_a_template_naming_a_missing_variable_fails_the_start(
    env, monkeypatch, container_factory, settings
):
    broken = domain.Rule(
        "shegong.case.escalated.v1", "station_head", "sms", "case_resolved_emergency_contact"
    )
    monkeypatch.setattr(domain, "RULES", domain.RULES + (broken,))
    container = container_factory(NotificationsService, settings.nameko_config())
    with pytest.raises(domain.TemplateError, match="resident_name"):
        container.start()


def test_an_unknown_provider_fails_the_start(env, monkeypatch, container_factory):
    monkeypatch.setenv("SHEGONG_SMS_PROVIDERS", "file,carrier-pigeon")
    container = container_factory(NotificationsService, config.settings().nameko_config())
    with pytest.raises(ValueError, match="carrier-pigeon"):
        container.start()


def test_the_configured_chain_is_what_the_worker_sends_with(
    env, monkeypatch, container_factory, tmp_path
):
    monkeypatch.setenv("SHEGONG_SMS_PROVIDERS", "http,file")
    monkeypatch.setenv("SHEGONG_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    container = container_factory(NotificationsService, config.settings().nameko_config())
    container.start()
    [provider] = [d for d in container.dependencies if isinstance(d, SmsProvider)]
    assert [p.name for p in provider.provider.providers] == ["http", "dev_file"]
