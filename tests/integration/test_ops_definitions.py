"""The RabbitMQ definitions file on the real broker: imported into an empty virtual host
it makes the same quorum topology the code declares (a difference would make RabbitMQ
refuse the code's declarations with PRECONDITION_FAILED), and the committed file is the
one the code generates."""

from urllib.parse import unquote, urlparse

from services.ops import definitions
from services.ops.bootstrap import declare


def test_the_committed_file_is_generated_from_the_code():
    assert definitions.DEFINITIONS_FILE.read_text() == definitions.render(
        definitions.definitions(definitions.committed_settings())
    ), "run `make docs` to regenerate deploy/rabbitmq/definitions.json"


def test_imported_definitions_agree_with_the_code_declarations(monkeypatch, env, rabbit):
    monkeypatch.setenv("SHEGONG_QUEUE_TYPE", "quorum")
    from services.common import config

    settings = config.settings()
    vhost = unquote(urlparse(settings.amqp_uri).path[1:])
    document = definitions.definitions(settings, vhost)
    definitions.import_definitions(settings, document)
    queues = {q["name"]: q for q in rabbit.call("GET", f"queues/{vhost}")}
    assert set(queues) == {q["name"] for q in document["queues"]}
    assert {q["type"] for q in queues.values()} == {"quorum"}
    declare(settings)  # PRECONDITION_FAILED here if they differed
    bindings = rabbit.call("GET", f"bindings/{vhost}")
    assert {(b["source"], b["destination"], b["routing_key"]) for b in bindings if b["source"]} == {
        (b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]
    }
