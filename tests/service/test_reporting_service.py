"""The reporting service in a nameko container on the real broker and store: it
consumes every event type of the catalogue into the event store, a duplicate
delivery changes nothing, and an invalid event goes to its dead-letter queue."""

import json

import pytest
from kombu import Connection

from services.common import messaging
from services.common.contracts import CATALOGUE
from services.common.messaging import EventPublisher
from services.reporting.handlers import reports
from services.reporting.service import ReportingService
from services.reporting.store import ReportStore
from tests.reporting_events import month, stored_events
from tests.support import wait_until


@pytest.fixture
def reporting(container_factory, settings, database):
    messaging.declare_topology(settings, [ReportingService])
    store = ReportStore(database("reporting"))
    container = container_factory(ReportingService, settings.nameko_config())
    container.start()
    return store


def test_reporting_handles_every_type_of_the_catalogue():
    handled = {contract.type for _, contract in messaging.consumers_of(ReportingService)}
    assert handled == {t for t, c in CATALOGUE.items() if "reporting" in c.consumers}
    assert handled == set(CATALOGUE)


def test_events_from_the_broker_are_kept_once_and_projected(reporting, settings):
    history = month(seed=31, stations=("daxing",), cases_per_day=1)
    events = history.events[:120]
    publisher = EventPublisher(settings.amqp_uri)
    for envelope in events + events[:30]:  # the first 30 are delivered twice
        publisher.publish(envelope)
    wait_until(
        lambda: (
            len(stored_events(reporting, pending=0)) == len(events)
            and not stored_events(reporting, pending=1)
        ),
        60,
        message="every event kept and projected",
    )
    kept_types = {e["type"] for e in stored_events(reporting).values()}
    assert kept_types == {e["type"] for e in events}
    opened = sum(1 for e in events if e["type"].endswith("case.opened.v1"))
    assert reports.summary(reporting)["cases_opened"] == opened > 0


def test_an_invalid_event_is_dead_lettered_with_its_reason(reporting, settings):
    envelope = month(seed=32, stations=("daxing",), cases_per_day=1).events[1]
    broken = json.loads(json.dumps(envelope))
    broken["data"]["station"] = "atlantis"
    EventPublisher(settings.amqp_uri).publish(broken)

    def dead():
        with Connection(settings.amqp_uri) as connection:
            queue = messaging.dead_letter_queue("reporting")(connection.default_channel)
            message = queue.get(no_ack=True)
            return message and message.headers

    headers = wait_until(dead, 20, message="the dead letter")
    assert "invalid data" in headers["x-death-reason"] and "station" in headers["x-death-fields"]
    assert not stored_events(reporting)
