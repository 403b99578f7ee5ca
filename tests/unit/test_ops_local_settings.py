"""make run's settings: its own virtual host, and the replicas it starts (parsed strictly)."""

import pytest

from services.common import config, replicas


@pytest.mark.parametrize(
    "uri, vhost, expected, named",
    [
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            "shegong",
            "amqp://guest:guest@127.0.0.1:5672/shegong",
            "shegong",
        ),
        (
            "amqp://guest:guest@127.0.0.1:5672",
            "shegong",
            "amqp://guest:guest@127.0.0.1:5672/shegong",
            "shegong",
        ),
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            "town a",
            "amqp://guest:guest@127.0.0.1:5672/town%20a",
            "town a",
        ),
        (
            "amqp://user:fake-password@rabbit:5672/mine",
            "shegong",  # kept
            "amqp://user:fake-password@rabbit:5672/mine",
            "mine",
        ),
        (
            "amqp://user:fake-password@rabbit:5672/%2F",
            "shegong",  # explicitly
            "amqp://user:fake-password@rabbit:5672/%2F",
            "/",
        ),
        (
            "amqp://user:fake-password@rabbit:5672/",
            "",  # containers: as given
            "amqp://user:fake-password@rabbit:5672/",
            "/",
        ),
    ],
)
def test_the_amqp_uri_gets_the_virtual_host_when_it_names_none(uri, vhost, expected, named):
    settings = config.settings({"AMQP_URI": uri, "SHEGONG_AMQP_VHOST": vhost})
    assert settings.amqp_uri == expected
    assert settings.amqp_vhost == named


def test_replicas_are_parsed_per_worker_and_api():
    assert replicas.parse_replicas("") == {}
    assert replicas.parse_replicas(" casework-worker=2, intake-api=3 ,") == {
        "casework-worker": 2,
        "intake-api": 3,
    }


@pytest.mark.parametrize(
    "text, says",
    [
        ("casework=2", "unknown process 'casework'"),
        ("casework-wroker=2", "unknown process 'casework-wroker'"),
        ("casework-worker", "is not <process>=<count>"),
        ("casework-worker=two", "must be a whole number from 1 to 16"),
        ("casework-worker=0", "must be a whole number from 1 to 16"),
        ("casework-worker=-1", "must be a whole number from 1 to 16"),
        ("casework-worker=17", "must be a whole number from 1 to 16"),
        ("casework-worker=2,casework-worker=3", "casework-worker is given twice"),
    ],
)
def test_bad_replicas_are_refused_with_what_is_wrong(text, says):
    with pytest.raises(ValueError, match="SHEGONG_REPLICAS") as refused:
        replicas.parse_replicas(text)
    assert says in str(refused.value)


CLUSTER = (
    "amqp://guest:guest@127.0.0.1:5681/;amqp://guest:guest@127.0.0.1:5682/;"
    "amqp://guest:guest@127.0.0.1:5683"
)


def test_a_cluster_uri_gets_the_virtual_host_on_every_node():
    settings = config.settings({"AMQP_URI": CLUSTER, "SHEGONG_AMQP_VHOST": "town a"})
    assert settings.amqp_uri.split(";") == [
        f"amqp://guest:guest@127.0.0.1:{port}/town%20a" for port in (5681, 5682, 5683)
    ]
    assert settings.amqp_vhost == "town a"
    named = "amqp://guest:guest@h1:5672/mine;amqp://guest:guest@h2:5672/mine"
    assert (
        config.settings({"AMQP_URI": named, "SHEGONG_AMQP_VHOST": "shegong"}).amqp_vhost == "mine"
    )


def test_a_new_connection_starts_at_the_node_after_the_one_that_failed():
    from kombu import Connection

    from services.common import brokers

    uri = config.settings({"AMQP_URI": CLUSTER, "SHEGONG_AMQP_VHOST": "v"}).amqp_uri
    nodes = brokers.alternates(uri)
    assert len(nodes) == 3
    assert brokers.rotated(uri, 1).split(";") == nodes[1:] + nodes[:1]
    assert brokers.rotated(uri, 5).split(";") == nodes[2:] + nodes[:2]
    on_second = Connection(brokers.rotated(uri, 1))
    assert brokers.index_of(uri, on_second) == 1
    assert brokers.rotated("amqp://h:5672/v", 7) == "amqp://h:5672/v"


def test_the_heartbeat_reaches_nameko():
    assert config.settings({}).nameko_config()["HEARTBEAT"] == 60
    assert config.settings({"SHEGONG_AMQP_HEARTBEAT_S": "5"}).nameko_config()["HEARTBEAT"] == 5
