"""make run's settings: its own virtual host, and the replicas it starts (parsed strictly)."""
import pytest

from services.common import config


@pytest.mark.parametrize("uri, vhost, expected, named", [
    ("amqp://guest:guest@127.0.0.1:5672/", "shegong", "amqp://guest:guest@127.0.0.1:5672/shegong",
     "shegong"),
    ("amqp://guest:guest@127.0.0.1:5672", "shegong", "amqp://guest:guest@127.0.0.1:5672/shegong",
     "shegong"),
    ("amqp://guest:guest@127.0.0.1:5672/", "town a", "amqp://guest:guest@127.0.0.1:5672/town%20a",
     "town a"),
    ("amqp://user:fake-password@rabbit:5672/mine", "shegong",  # kept
     "amqp://user:fake-password@rabbit:5672/mine", "mine"),
    ("amqp://user:fake-password@rabbit:5672/%2F", "shegong",  # explicitly
     "amqp://user:fake-password@rabbit:5672/%2F", "/"),
    ("amqp://user:fake-password@rabbit:5672/", "",  # containers: as given
     "amqp://user:fake-password@rabbit:5672/", "/"),
])
def test_the_amqp_uri_gets_the_virtual_host_when_it_names_none(uri, vhost, expected, named):
    settings = config.settings({"AMQP_URI": uri, "SHEGONG_AMQP_VHOST": vhost})
    assert settings.amqp_uri == expected
    assert settings.amqp_vhost == named


def test_replicas_are_parsed_per_worker_and_api():
    assert config.parse_replicas("") == {}
    assert config.parse_replicas(" casework-worker=2, intake-api=3 ,") == {
        "casework-worker": 2, "intake-api": 3}


@pytest.mark.parametrize("text, says", [
    ("casework=2", "unknown process 'casework'"),
    ("casework-wroker=2", "unknown process 'casework-wroker'"),
    ("casework-worker", "is not <process>=<count>"),
    ("casework-worker=two", "must be a whole number from 1 to 16"),
    ("casework-worker=0", "must be a whole number from 1 to 16"),
    ("casework-worker=-1", "must be a whole number from 1 to 16"),
    ("casework-worker=17", "must be a whole number from 1 to 16"),
    ("casework-worker=2,casework-worker=3", "casework-worker is given twice"),
])
def test_bad_replicas_are_refused_with_what_is_wrong(text, says):
    with pytest.raises(ValueError, match="SHEGONG_REPLICAS") as refused:
        config.parse_replicas(text)
    assert says in str(refused.value)
