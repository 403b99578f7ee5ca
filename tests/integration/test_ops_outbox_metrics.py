"""The outbox relay's metrics on the real store and broker: the backlog and the age of
its oldest document while the broker refuses, back to zero once published."""

from prometheus_client import REGISTRY

from services.common import clock, outbox
from services.common.messaging import BrokerUnavailable, EventPublisher
from services.common.outbox import OutboxRelay
from tests.integration.test_outbox_relay import events, listening_queue, write


class Refusing:
    def publish(self, envelope):
        raise BrokerUnavailable("down")


def gauge(name):
    return REGISTRY.get_sample_value(name, {"service": "casework", "collection": "cases"})


def published():
    return (
        REGISTRY.get_sample_value(
            "shegong_events_published_total",
            {"service": "casework", "event_type": "shegong.case.accepted.v1"},
        )
        or 0
    )


def test_backlog_and_age_while_the_broker_is_away_then_published(settings, database):
    collection = database("casework")["cases"]
    listening_queue(settings)
    stale_ms = clock.to_ms(clock.now()) - 60_000
    write(collection, "case-1", events("case-1", 1, 2), stale_ms)
    write(collection, "case-2", events("case-2", 1, 1), stale_ms + 30_000)
    assert OutboxRelay(Refusing(), {"cases": collection}, grace_s=0.0).sweep() == 0
    assert gauge("shegong_outbox_backlog") == 2
    assert 59 <= gauge("shegong_outbox_oldest_age_seconds") < 120
    before = published()
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"cases": collection}, grace_s=0.0)
    assert relay.sweep() == 3
    assert published() - before == 3
    relay.sweep()  # measures before publishing: the next sweep sees it empty
    assert gauge("shegong_outbox_backlog") == 0 and gauge("shegong_outbox_oldest_age_seconds") == 0
    assert outbox.service_of(collection) == "casework"
