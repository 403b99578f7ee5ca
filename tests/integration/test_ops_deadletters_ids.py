"""Every dead letter has an id, whatever its message lacked (no AMQP message id, no
headers, an undecodable, binary or non-JSON body, JSON without an id): it is given one
when it is dead-lettered, on the inbound exchange's path and on an event handler's, and
the dead-letter tool lists it by that id, the same on every listing, shows it and
replays it by it; parked again, it keeps it. Messages published with py-amqp directly;
real broker, real intake worker and a real nameko handler."""

import argparse
import io
import json

import amqp
import pytest
from kombu import Connection

from services.common import dead_letter_ids, messaging
from services.common.contracts import CASE_ACCEPTED
from services.common.envelope import load_event
from services.common.messaging import handles
from services.intake.amqp_inbound import INBOUND_EXCHANGE
from services.ops import deadletters
from tests.support import wait_until

HANDLED = []


class Projection:
    name = "opsdlid"

    @handles(CASE_ACCEPTED)
    def on_accepted(self, body):
        HANDLED.append(load_event(body, CASE_ACCEPTED))  # InvalidEvent: dead-lettered


def tool(settings, service, command, letter_id=None):
    args = argparse.Namespace(
        command=command, service=service, id=letter_id, all=False, to_exchange=False
    )
    out = io.StringIO()
    code = deadletters.run(args, settings, out)
    return code, out.getvalue()


def listed_ids(settings, service):
    """The ID column of the listing (the row's second word), one per dead letter."""
    code, out = tool(settings, service, "list")
    assert code == 0
    lines = out.strip().splitlines()
    if lines == ["no dead letters"]:
        return []
    rows = [line.split("  ") for line in lines[1:]]
    return [[cell for cell in row if cell][1].strip() for row in rows]


def publish_bare(amqp_uri, body, exchange, routing_key, content_type=None):
    """Bytes as given, no message id, no headers, a content type only if named."""
    with Connection(amqp_uri) as connection:
        properties = {"delivery_mode": 2}
        if content_type:
            properties["content_type"] = content_type
        connection.default_channel.basic_publish(
            amqp.Message(body, **properties), exchange=exchange, routing_key=routing_key
        )


def one_id(settings, service):
    ids = wait_until(
        lambda: (found := listed_ids(settings, service)) and found,
        20,
        interval=0.3,
        message="the dead letter listed",
    )
    assert len(ids) == 1
    return ids[0]


def check_listed_shown_and_replayed(settings, service, queue_name):
    letter_id = one_id(settings, service)
    assert letter_id not in ("", "?")
    assert listed_ids(settings, service) == [letter_id]  # the same on every listing
    code, shown = tool(settings, service, "show", letter_id)
    assert code == 0, shown
    [details] = json.loads(shown)
    assert details["id"] == details["dead_letter_id"] == letter_id
    assert details["message_id"] is None
    assert details["headers"][dead_letter_ids.HEADER] == letter_id
    assert details["headers"]["x-original-queue"] == queue_name

    code, out = tool(settings, service, "replay", letter_id)
    assert code == 0 and f"replayed {letter_id}" in out, out
    # still bad: parked again, under the same id, counted as replayed once
    wait_until(
        lambda: (
            (shown := tool(settings, service, "show", letter_id))[0] == 0
            and json.loads(shown[1])[0]["headers"].get("x-shegong-replays") == 1
        ),
        20,
        interval=0.3,
        message="the replayed copy parked again under its id",
    )
    assert listed_ids(settings, service) == [letter_id]


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\xff\xfe\x00 binary \x01", None),
        (b"not json at all", "application/cloudevents+json"),
        (json.dumps({"specversion": "1.0", "type": "gov.suyu.x.v1"}).encode(), "application/json"),
    ],
    ids=["binary-no-content-type", "not-json", "json-without-id"],
)
def test_an_inbound_message_with_no_id_gets_one_when_dead_lettered(
    intake_worker, settings, body, content_type
):
    publish_bare(settings.amqp_uri, body, INBOUND_EXCHANGE, "x", content_type)
    check_listed_shown_and_replayed(settings, "intake", "shegong.inbound.intake")


def test_an_inbound_event_keeps_its_own_cloudevent_id(intake_worker, settings):
    event = {
        "specversion": "1.0",
        "id": "ext-77",
        "source": "/suyu/nowhere",
        "type": "gov.suyu.x.v1",
        "data": {},
    }
    publish_bare(
        settings.amqp_uri,
        json.dumps(event).encode(),
        INBOUND_EXCHANGE,
        "x",
        "application/cloudevents+json",
    )
    assert one_id(settings, "intake") == "ext-77"
    [details] = json.loads(tool(settings, "intake", "show", "ext-77")[1])
    assert details["headers"][dead_letter_ids.HEADER] == "ext-77"


@pytest.fixture
def projection(container_factory, settings):
    HANDLED.clear()
    messaging.declare_topology(settings, [Projection])
    container = container_factory(Projection, settings.nameko_config())
    container.start()
    return container


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\x00\x01\x02 binary", "application/octet-stream"),
        (b"{not json", "application/cloudevents+json"),
        (json.dumps({"hello": "world"}).encode(), "application/cloudevents+json"),
    ],
    ids=["binary", "not-json", "json-without-id"],
)
def test_an_event_handlers_dead_letter_with_no_id_gets_one(
    projection, settings, body, content_type
):
    publish_bare(settings.amqp_uri, body, "casework.events", CASE_ACCEPTED.type, content_type)
    check_listed_shown_and_replayed(
        settings, "opsdlid", f"evt-casework-{CASE_ACCEPTED.type}--opsdlid.on_accepted"
    )
    assert HANDLED == []


def test_a_dead_letter_parked_before_ids_were_given_is_named_stably(settings, topology):
    """One parked by an earlier version, with no id at all: named by its digest."""
    queue_name = f"evt-casework-{CASE_ACCEPTED.type}--opsdlid.on_accepted"
    with Connection(settings.amqp_uri) as connection:
        channel = connection.default_channel
        messaging.dead_letter_queue("opsdlid")(channel).declare()
        for body in (b"\xff old one", b"\xff old two"):
            channel.basic_publish(
                amqp.Message(
                    body,
                    delivery_mode=2,
                    application_headers={
                        "x-original-queue": queue_name,
                        "x-death-reason": "undecodable",
                    },
                ),
                exchange=messaging.DEAD_LETTER_EXCHANGE,
                routing_key="opsdlid",
            )
    ids = wait_until(
        lambda: len(found := listed_ids(settings, "opsdlid")) == 2 and found,
        10,
        interval=0.3,
        message="two old dead letters",
    )
    assert all(i.startswith("dl-") for i in ids) and len(set(ids)) == 2
    assert listed_ids(settings, "opsdlid") == ids
    code, shown = tool(settings, "opsdlid", "show", ids[1])
    assert code == 0 and len(json.loads(shown)) == 1
