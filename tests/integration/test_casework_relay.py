"""Every event a case emits reaches the broker even when the writer dies between
publishing and marking its events sent; the duplicates this makes on the wire carry
the same id, and casework's consumers apply an event id once (real broker, real
store, the service in a nameko container)."""

import pytest
from kombu import Connection

from services.casework import domain, handlers
from services.casework.service import CaseworkService
from services.common import clock, messaging
from services.common.auth import Principal
from services.common.contracts import REQUEST_RECEIVED, RESIDENT_REGISTRY_UPDATED
from services.common.envelope import new_event
from services.common.messaging import EventPublisher
from services.common.outbox import OutboxRelay
from tests.support import find_cases, open_case_for_request, seeded_case_store, tap, wait_until


class Killed(BaseException):
    """The process died (not an exception the code could catch and carry on from)."""


class DiesAfterPublishing:
    """A real publisher whose process dies right after its n-th confirmed publish."""

    def __init__(self, publisher, deaths_after):
        self.publisher, self.deaths_after, self.count = publisher, deaths_after, 0

    def publish(self, envelope):
        self.publisher.publish(envelope)
        self.count += 1
        if self.count == self.deaths_after:
            raise Killed()


@pytest.fixture
def store(database):
    return seeded_case_store(database)


def wire(settings):
    return tap(settings.amqp_uri, "casework", "test-wire")


def request(request_id="r-1"):
    return {
        "request_id": request_id,
        "channel": "phone",
        "station": "daxing",
        "resident": {
            "name": "邹书兰",
            "phone": "13812345678",
            "categories": ["elderly", "living_alone", "key_concern"],
        },
        "resident_ref": "p_1",
        "need": {"type": "medicine_purchase", "description": "药"},
        "received_at": "2023-05-29T08:00:00+08:00",
    }


def test_a_relay_killed_between_publishing_and_marking_loses_nothing(store, settings, topology):
    drain = wire(settings)
    publisher = EventPublisher(settings.amqp_uri)

    def dying_relay(after):
        return OutboxRelay(DiesAfterPublishing(publisher, after), {"cases": store.cases}, 0.0)

    with pytest.raises(Killed):  # opened and assigned written; dies after publishing "opened"
        open_case_for_request(store, dying_relay(1), {"id": "e-1"}, request())
    case, _ = store.for_request("r-1")
    owner = Principal(case.assignee["id"], "worker", "daxing")
    with pytest.raises(Killed):  # accepted written; dies after re-publishing 1 and 2
        handlers.run_command(
            store, dying_relay(2), case.case_id, lambda c: domain.accept(c, owner, clock.now())
        )
    stored = store.cases.find_one({"_id": case.case_id})
    assert stored.get("published_seq", 0) == 0 and stored["outbox_pending"]

    assert OutboxRelay(publisher, {"cases": store.cases}, 0.0).sweep() == 3  # a new process
    stored = store.cases.find_one({"_id": case.case_id})
    assert stored["published_seq"] == stored["last_seq"] == 3 and stored["outbox"] == []

    arrived = drain()
    by_sequence = {}
    for event in arrived:
        by_sequence.setdefault(event["sequence"], set()).add(event["id"])
    assert sorted(by_sequence) == [1, 2, 3]  # every event reached the broker
    assert all(len(ids) == 1 for ids in by_sequence.values())  # a duplicate is the same event
    assert len(arrived) > 3  # and duplicates did happen
    assert OutboxRelay(publisher, {"cases": store.cases}, 0.0).sweep() == 0


@pytest.fixture
def running_casework(container_factory, settings, store):
    messaging.declare_topology(settings, [CaseworkService])
    container = container_factory(CaseworkService, settings.nameko_config())
    container.start()
    return container


def test_duplicates_on_the_wire_change_nothing_in_casework(running_casework, store, settings):
    publisher = EventPublisher(settings.amqp_uri)
    received = new_event(
        REQUEST_RECEIVED, request(), subject="r-1", correlation_id="r-1", sequence=1
    )
    update = new_event(
        RESIDENT_REGISTRY_UPDATED,
        {
            "change": "added",
            "resident_ref": "p_2",
            "person": {
                "id_number": "11010519491231002X",
                "name": "王五",
                "phone": "13700002222",
                "categories": ["elderly"],
            },
            "source": {"system": "mca", "kind": "key_person_update", "event_id": "mca-1"},
            "updated_at": "2023-05-28T08:00:00+08:00",
        },
        subject="p_2",
        correlation_id="mca-1",
    )
    for _ in range(3):
        publisher.publish(received)
        publisher.publish(update)
    wait_until(lambda: store.residents.get("p_2"), 20, message="the registry update")
    wait_until(lambda: store.for_request("r-1")[0], 20, message="the case")
    # a later event with the same id (a replay with other data) is recognised and skipped
    replayed = {**update, "data": {**update["data"], "change": "removed"}}
    publisher.publish(replayed)
    sentinel = new_event(
        RESIDENT_REGISTRY_UPDATED,
        {
            **update["data"],
            "resident_ref": "p_3",
            "person": {
                **update["data"]["person"],
                "id_number": "321302195001010014",
                "phone": "13700003333",
            },
        },
        subject="p_3",
        correlation_id="mca-2",
    )
    publisher.publish(sentinel)  # handled after the replay (one queue, in order)
    wait_until(
        lambda: store.residents.get("p_3") and _queues_empty(settings),
        20,
        message="the queues to drain",
    )
    assert len(find_cases(store)) == 1
    assert "key_concern" in store.residents.get("p_2")["categories"]
    assert store.residents.applied.count_documents({"_id": update["id"]}) == 1


def _queues_empty(settings):
    with Connection(settings.amqp_uri) as connection:
        channel = connection.default_channel
        for method, contract in messaging.consumers_of(CaseworkService):
            queue = messaging.entrypoint_queue(contract, "casework", method)
            if channel.queue_declare(queue.name, passive=True).message_count:
                return False
    return True
