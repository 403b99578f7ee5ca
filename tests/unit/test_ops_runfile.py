"""Where make run runs (var/run.json) and how the operations commands read it: the
environment first, then the run's record, then the defaults; no password written.
And the pure decisions of making make run's virtual host without the management API."""

import json
import os
import stat

import pytest

from services.common import config, runfile
from services.ops import vhost


@pytest.mark.parametrize(
    "uri, kept",
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest@127.0.0.1:5672/"),
        ("amqp://shegong:fake%40pw@rabbit:5672/town", "amqp://shegong@rabbit:5672/town"),
        (
            "mongodb://admin:fake-pw@db1:27017,db2:27017/?replicaSet=rs0",
            "mongodb://admin@db1:27017,db2:27017/?replicaSet=rs0",
        ),
        ("mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/"),
        ("http://guest@127.0.0.1:15672", "http://guest@127.0.0.1:15672"),
    ],
)
def test_uris_are_recorded_without_their_password(uri, kept):
    assert runfile.without_password(uri) == kept


def run_settings(tmp_path, **env):
    return config.settings(
        {
            "SHEGONG_VAR_DIR": str(tmp_path),
            "SHEGONG_AMQP_VHOST": "copy2",
            "AMQP_URI": "amqp://shegong:fake-pw@127.0.0.1:5672/",
            "RABBIT_API_URI": "http://shegong:fake-pw@127.0.0.1:15672",
            "MONGO_URI": "mongodb://127.0.0.1:28017/",
            "SHEGONG_DB_PREFIX": "c2",
            "INTAKE_PORT": "9001",
            "CASEWORK_PORT": "9002",
            "NOTIFICATIONS_PORT": "9003",
            "REPORTING_PORT": "9004",
            "CASEWORK_METRICS_PORT": "9302",
            **env,
        }
    )


def test_the_record_says_every_port_the_store_and_the_virtual_host(tmp_path):
    content = runfile.record(run_settings(tmp_path), embedded_port=28017)
    assert content["state"] == "running" and content["pid"] == os.getpid()
    assert content["env"] == {
        "AMQP_URI": "amqp://shegong@127.0.0.1:5672/",
        "SHEGONG_AMQP_VHOST": "copy2",
        "RABBIT_API_URI": "http://shegong@127.0.0.1:15672",
        "MONGO_URI": "mongodb://127.0.0.1:28017/",
        "SHEGONG_DB_PREFIX": "c2",
        "SHEGONG_QUEUE_TYPE": "classic",
        "SHEGONG_EMBEDDED_MONGO_PORT": "28017",
        "INTAKE_PORT": "9001",
        "CASEWORK_PORT": "9002",
        "NOTIFICATIONS_PORT": "9003",
        "REPORTING_PORT": "9004",
        "INTAKE_METRICS_PORT": "9101",  # make run's: port + 100
        "CASEWORK_METRICS_PORT": "9302",
        "NOTIFICATIONS_METRICS_PORT": "9103",
        "REPORTING_METRICS_PORT": "9104",
    }
    assert "fake" not in json.dumps(content)


def test_it_is_written_whole_for_its_owner_and_marked_stopped_by_its_run(tmp_path):
    path = runfile.write(tmp_path, runfile.record(run_settings(tmp_path)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))
    assert runfile.running(runfile.read(tmp_path))
    runfile.mark_stopped(tmp_path)
    stopped = runfile.read(tmp_path)
    assert stopped["state"] == "stopped" and not runfile.running(stopped)
    assert stopped["env"]["INTAKE_PORT"] == "9001"  # still says where its queues are


def test_another_runs_record_is_left_as_it_is(tmp_path):
    runfile.write(tmp_path, {"state": "running", "pid": os.getpid() + 1, "env": {}})
    runfile.mark_stopped(tmp_path)
    assert runfile.read(tmp_path)["state"] == "running"


def test_the_operations_commands_follow_the_run_unless_the_environment_says(tmp_path):
    runfile.write(tmp_path, runfile.record(run_settings(tmp_path), embedded_port=28017))
    followed = config.operations_settings({"SHEGONG_VAR_DIR": str(tmp_path)})
    assert followed.amqp_uri == "amqp://shegong@127.0.0.1:5672/copy2"
    assert followed.amqp_vhost == "copy2" and followed.db_prefix == "c2"
    assert followed.mongo_uri == "mongodb://127.0.0.1:28017/"
    assert followed.port("intake") == 9001 and followed.local_metrics_port("casework") == 9302

    told = config.operations_settings(
        {
            "SHEGONG_VAR_DIR": str(tmp_path),
            "INTAKE_PORT": "7001",
            "SHEGONG_AMQP_VHOST": "other",
            "MONGO_URI": "mongodb://db:27017/",
        }
    )
    assert told.port("intake") == 7001 and told.port("casework") == 9002
    assert told.amqp_vhost == "other" and told.mongo_uri == "mongodb://db:27017/"
    named = config.operations_settings(
        {"SHEGONG_VAR_DIR": str(tmp_path), "AMQP_URI": "amqp://u:fake-p@rabbit:5672/mine"}
    )
    assert named.amqp_uri == "amqp://u:fake-p@rabbit:5672/mine"


@pytest.mark.parametrize("content", [None, "", "{torn", "[1, 2]"])
def test_without_a_record_the_defaults_and_make_runs_virtual_host(tmp_path, content):
    if content is not None:
        (tmp_path / runfile.NAME).write_text(content)
    settings = config.operations_settings({"SHEGONG_VAR_DIR": str(tmp_path)})
    assert settings.amqp_vhost == "shegong" and settings.port("intake") == 8001
    assert settings.mongo_uri == "mongodb://127.0.0.1:27017/"


@pytest.mark.parametrize(
    "uri, local",
    [
        ("amqp://guest:guest@127.0.0.1:5672/", True),
        ("amqp://guest:guest@localhost/", True),
        ("amqp://guest:guest@[::1]:5672/", True),
        ("amqp://u:fake-p@rabbit.example:5672/", False),
        ("amqp://u:fake-p@10.0.0.5:5672/", False),
    ],
)
def test_rabbitmqctl_is_used_only_for_a_broker_on_this_machine(uri, local):
    assert vhost.is_local(uri) is local


def test_the_command_that_makes_the_virtual_host_names_it_and_the_amqp_user():
    settings = config.settings(
        {"AMQP_URI": "amqp://town:fake-pw@127.0.0.1:5672/", "SHEGONG_AMQP_VHOST": "town a"}
    )
    assert vhost.fix_command(settings) == (
        "sudo rabbitmqctl add_vhost 'town a' && sudo rabbitmqctl set_permissions "
        "-p 'town a' town '.*' '.*' '.*'"
    )
