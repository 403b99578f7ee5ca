"""Fixtures shared by every tier: the real broker and the real MongoDB wire protocol.

- The store: the server named by MONGO_URI, or else an nx-27017 server (in memory)
  started for the session. Each test gets its own database prefix.
- The broker: RabbitMQ at AMQP_URI (default 127.0.0.1:5672). Each test gets its own
  virtual host, made and removed through the management API (RABBIT_API_URI).
"""

# isort: off
import services.common  # noqa: F401 - quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()  # nameko's tools hang without it
# isort: on

import os  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import quote, urlparse, urlunparse  # noqa: E402

import pymongo  # noqa: E402
import pytest  # noqa: E402

from deploy.dev import embedded_store  # noqa: E402
from tests.support import Rabbit, free_port  # noqa: E402

# Fixtures kept with the helpers they belong to, available to every test module
# (importing a fixture into a module would shadow it and hide it from the linter).
pytest_plugins = [
    "tests.http_support",
    "tests.notifications_support",
    "tests.security_support",
    "tests.gunicorn_support",
    "tests.inbound_support",
]

ROOT = Path(__file__).resolve().parent.parent
BASE_AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
RABBIT_API_URI = os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672")
FAST_RETRIES = "100,200"


@pytest.fixture(scope="session")
def mongo_server_uri(tmp_path_factory):
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    uri, server = embedded_store.start(free_port(), tmp_path_factory.mktemp("nx"))
    yield uri
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def rabbit():
    return Rabbit(RABBIT_API_URI)


@pytest.fixture
def amqp_uri(rabbit):
    """A fresh virtual host on the real broker for one test."""
    vhost = f"shegong-test-{uuid.uuid4().hex[:10]}"
    rabbit.add_vhost(vhost)
    parsed = urlparse(BASE_AMQP_URI)
    yield urlunparse(parsed._replace(path="/" + quote(vhost, safe="")))
    rabbit.delete_vhost(vhost)


@pytest.fixture
def env(monkeypatch, mongo_server_uri, amqp_uri):
    """The environment a service process would get, isolated for one test."""
    values = {
        "MONGO_URI": mongo_server_uri,
        "AMQP_URI": amqp_uri,
        "SHEGONG_DB_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "SHEGONG_TOKEN_SECRET": "test-secret-" + uuid.uuid4().hex,
        "SHEGONG_RETRY_DELAYS_MS": FAST_RETRIES,
        "SHEGONG_RELAY_GRACE_S": "0.2",
        "SHEGONG_RELAY_INTERVAL_S": "0.2",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    yield values


@pytest.fixture
def settings(env):
    from services.common import config

    return config.settings()


@pytest.fixture
def database(settings):
    """A factory: the database a service owns, under this test's prefix."""
    from services.common import mongo

    created = []

    def open_database(service):
        created.append(service)
        return mongo.database(settings, service)

    yield open_database
    client = pymongo.MongoClient(settings.mongo_uri)
    for service in created:
        client.drop_database(settings.database_name(service))


@pytest.fixture
def topology(settings):
    """The whole topology declared on this test's virtual host."""
    from services.ops.bootstrap import declare

    return declare(settings)
