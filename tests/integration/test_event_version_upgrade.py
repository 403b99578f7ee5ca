"""The upgrade of an event type from v1 to v2 with events in flight, on the real broker,
step by step as docs/operations.md (section 8, "Breaking change") tells the operator:

1. consumers of v1 run; producers publish v1;
2. the init step declares the v2 queues; consumers that handle v1 and v2 side by side
   replace the v1-only ones (a rolling update: for a while both run), while v1 events
   are still queued and still published (the outbox's late ones);
3. producers publish v2; the v1 queue drains;
4. the v1 handlers go, the empty v1 queue is deleted; only v2 is published.

Every event is handled once, each by the handler of its version: nothing is lost,
nothing dead-lettered, and a publish no queue is bound for is refused, never dropped.
"""

import pytest
from amqp.exceptions import NotFound
from kombu import Connection
from marshmallow import fields
from nameko.amqp.publish import UndeliverableMessage

from services.common import messaging
from services.common.contracts import CASE_ACCEPTED, CATALOGUE, define_contract
from services.common.envelope import load_event, new_event
from services.common.events import CaseRef
from services.common.fields import Instant, Line, Strict
from services.common.messaging import EventPublisher, consumers_of, handles
from tests.support import wait_until

SERVICE = "upgraded"


class AcceptedBy(Strict):
    id = Line(required=True)
    name = Line(required=True)


class CaseAcceptedV2(CaseRef):
    """The breaking change: who accepted is one object, no longer two fields (a v1
    consumer refuses it: an unknown field, a missing one)."""

    accepted_by = fields.Nested(AcceptedBy, required=True)
    accepted_at = Instant(required=True)


V1 = CASE_ACCEPTED
V2 = define_contract(
    "case.accepted",
    "casework",
    CaseAcceptedV2,
    (SERVICE,),
    "The assigned social worker accepted the case (who: one object).",
    version=2,
)

HANDLED = []  # (the service version that handled it, the event's type, its id)


def handled_by(release, contract, body):
    envelope, _ = load_event(body, contract)  # refuses any other version's event
    HANDLED.append((release, envelope["type"], envelope["id"]))


class BeforeUpgrade:
    name = SERVICE

    @handles(V1)
    def case_accepted(self, body):
        handled_by("before", V1, body)


class DuringUpgrade:
    """The release that consumes both versions: one handler each, each its own queue."""

    name = SERVICE

    @handles(V1)
    def case_accepted(self, body):
        handled_by("during", V1, body)

    @handles(V2)
    def case_accepted_v2(self, body):
        handled_by("during", V2, body)


class AfterUpgrade:
    name = SERVICE

    @handles(V2)
    def case_accepted_v2(self, body):
        handled_by("after", V2, body)


def accepted(contract, number):
    case_id = f"case-{number}"
    who = (
        {"accepted_by": {"id": "dx-01", "name": "王晨光"}}
        if contract.version == 2
        else {"accepted_by": "dx-01", "assignee_name": "王晨光"}
    )
    return new_event(
        contract,
        {
            "case_id": case_id,
            "request_id": f"r-{number}",
            "station": "daxing",
            "status": "accepted",
            "accepted_at": "2023-05-29T08:05:00+08:00",
            **who,
        },
        subject=case_id,
        correlation_id=f"r-{number}",
        sequence=3,
    )


def queued(amqp_uri, contract, method):
    """How many messages wait in a handler's queue (None: there is no such queue)."""
    name = messaging.entrypoint_queue(contract, SERVICE, method).name
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(name, passive=True).message_count
        except NotFound:
            return None


def ids(release, contract):
    return {event_id for r, t, event_id in HANDLED if (r, t) == (release, contract.type)}


@pytest.fixture
def publisher(settings, monkeypatch):
    """The producer's publisher, with v2 in the catalogue as the upgrade adds it."""
    monkeypatch.setitem(CATALOGUE, V2.type, V2)
    HANDLED.clear()
    return EventPublisher(settings.amqp_uri)


def test_v1_and_v2_side_by_side_then_v2_alone_nothing_lost(container_factory, settings, publisher):
    amqp_uri, config = settings.amqp_uri, settings.nameko_config()
    assert [method for method, _ in consumers_of(DuringUpgrade)] == [
        V1.entrypoint_name,
        V2.entrypoint_name,
    ]

    # 1. the v1 release runs
    messaging.declare_topology(settings, [BeforeUpgrade])
    before = container_factory(BeforeUpgrade, config)
    before.start()
    first = [accepted(V1, n) for n in range(3)]
    for envelope in first:
        publisher.publish(envelope)
    wait_until(lambda: len(HANDLED) == 3, 10, message="v1 handled by the v1 release")
    # a producer that published v2 before the init step would be refused, not lost
    with pytest.raises(UndeliverableMessage):
        publisher.publish(accepted(V2, 99))

    # 2. the init step declares the v2 queue; the new release starts beside the old one
    messaging.declare_topology(settings, [DuringUpgrade])
    assert queued(amqp_uri, V2, V2.entrypoint_name) == 0
    during = container_factory(DuringUpgrade, config)
    during.start()
    overlap = [accepted(V1, n) for n in range(3, 13)]
    for envelope in overlap:  # both releases consume the v1 queue: each event once
        publisher.publish(envelope)
    wait_until(lambda: len(HANDLED) == 13, 10, message="v1 handled during the rollout")
    before.stop()  # the rollout ends
    during.stop()  # ... and, for the test, events wait in both queues meanwhile
    in_flight = [accepted(V1, n) for n in range(13, 18)]  # the outbox's late v1 events
    second = [accepted(V2, n) for n in range(18, 25)]  # 3. producers publish v2
    for number, envelope in enumerate(second):  # interleaved: both queues fill
        publisher.publish(envelope)
        if number < len(in_flight):
            publisher.publish(in_flight[number])
    assert queued(amqp_uri, V1, V1.entrypoint_name) == 5
    assert queued(amqp_uri, V2, V2.entrypoint_name) == 7
    during = container_factory(DuringUpgrade, config)
    during.start()
    wait_until(lambda: len(HANDLED) == 25, 10, message="v1 and v2 handled side by side")
    wait_until(lambda: queued(amqp_uri, V1, V1.entrypoint_name) == 0, 5, message="v1 drained")

    # 4. the v1 handlers go; the empty v1 queue is deleted (if empty, if unused)
    during.stop()
    v1_queue = messaging.entrypoint_queue(V1, SERVICE, V1.entrypoint_name).name
    with Connection(amqp_uri) as connection:
        connection.channel().queue_delete(v1_queue, if_unused=True, if_empty=True)
    messaging.declare_topology(settings, [AfterUpgrade])
    assert queued(amqp_uri, V1, V1.entrypoint_name) is None
    after = container_factory(AfterUpgrade, config)
    after.start()
    last = [accepted(V2, n) for n in range(25, 28)]
    for envelope in last:
        publisher.publish(envelope)
    wait_until(lambda: len(HANDLED) == 28, 10, message="v2 handled by the v2 release")
    with pytest.raises(UndeliverableMessage):  # a stray v1 now: refused, not dropped
        publisher.publish(accepted(V1, 98))

    # every event once, each by a handler of its own version
    v1_ids = {e["id"] for e in first + overlap + in_flight}
    v2_ids = {e["id"] for e in second + last}
    assert len(HANDLED) == len({event_id for _, _, event_id in HANDLED}) == 28
    assert ids("before", V1) | ids("during", V1) == v1_ids
    assert ids("before", V1) >= {e["id"] for e in first}
    assert ids("during", V1) >= {e["id"] for e in in_flight}
    assert ids("during", V2) == {e["id"] for e in second}
    assert ids("after", V2) == {e["id"] for e in last}
    assert v1_ids | v2_ids == {event_id for _, _, event_id in HANDLED}
    with Connection(amqp_uri) as connection:
        dead = messaging.dead_letter_queue(SERVICE)(connection.channel())
        assert dead.get(no_ack=True) is None, "nothing was dead-lettered"
