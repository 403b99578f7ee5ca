"""Settings are read once per process, at its entry point, and handed down: no module of
services reads them when imported, and a worker's extensions read the ones its
container was built with (config.of_container), never stray keys beside them."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.common import config
from services.common.service_classes import SERVICE_CLASSES, service_class
from services.common.timers import SettingsTimer

ROOT = Path(__file__).resolve().parents[2]

# Imports every module under services/ with the functions that read the environment
# for settings replaced by ones that refuse (and say who called them).
IMPORT_ALL = """
import importlib, pkgutil, sys, traceback

from services.common import config

def refuse(*args, **kwargs):
    stack = "".join(traceback.format_stack(limit=6)[:-1])
    raise RuntimeError("settings read at import:\\n" + stack)

config.settings = config.operations_settings = config.accepted_dates = refuse

import services

failed = []
for module in pkgutil.walk_packages(services.__path__, "services."):
    try:
        importlib.import_module(module.name)
    except RuntimeError as exc:
        failed.append(f"{module.name}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_no_module_of_services_reads_settings_when_imported():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def container(nameko_config, name="casework"):
    return SimpleNamespace(config=nameko_config, service_name=name)


def test_a_container_hands_its_extensions_the_settings_it_was_built_with():
    settings = config.settings({"SHEGONG_BATCH_SIZE": "7"})
    assert config.of_container(container(settings.nameko_config())) is settings


@pytest.mark.parametrize(
    "nameko_config",
    [
        {"AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/"},
        # a setting beside the Settings would never be read (how it used to be given)
        {**config.settings({}).nameko_config(), "SHEGONG_BATCH_WAIT_MS": 200},
    ],
)
def test_a_container_without_its_settings_or_with_a_stray_key_is_refused(nameko_config):
    with pytest.raises(LookupError, match="Settings.nameko_config"):
        config.of_container(container(nameko_config))


def test_every_settings_timer_names_a_setting_with_an_interval():
    timers = [
        (name, method, entrypoint.setting)
        for name in SERVICE_CLASSES
        for method, member in vars(service_class(name)).items()
        for entrypoint in getattr(member, "nameko_entrypoints", ())
        if isinstance(entrypoint, SettingsTimer)
    ]
    assert {setting for _, _, setting in timers} >= {
        "relay_interval_s",
        "sla_interval_s",
        "notifications.sweep_interval_s",
    }
    defaults = config.settings({})
    for name, method, setting in timers:
        interval = SettingsTimer(setting)
        interval.container = container(defaults.nameko_config(), name)
        interval.setup()
        assert interval.interval > 0, (name, method, setting)
