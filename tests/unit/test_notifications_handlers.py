"""notifications' service layer on its store in memory (tests/fakes/stores.py), an SMS
provider that records what it is given and a recording relay: an event's messages are
recorded once and sent once, a resident's waits for her contact, a batch's events are
handled each on its own, and a temporary failure is retried, not lost. The same paths
on the real store with carriers over HTTP: tests/integration/test_notifications_*."""

import pytest

from services.common import config
from services.notifications import handlers
from services.notifications.handlers import batch as handlers_batch
from services.notifications.providers import TemporaryFailure
from tests.fakes.stores import notification_store
from tests.notifications_support import DAY, Clock, Relay, accepted, assigned, received


class Carrier:
    """An SMS provider in process: the messages it took, or a failure while ``down``."""

    name = "carrier"

    def __init__(self):
        self.sent: list[dict] = []
        self.down = False

    def send(self, message):
        if self.down:
            raise TemporaryFailure("carrier unreachable")
        self.sent.append(message)
        return f"carrier-{len(self.sent)}"

    def phones(self):
        return [message["phone"] for message in self.sent]


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("SHEGONG_SMS_RETRY_DELAYS_S", "10,60")
    Clock(monkeypatch, DAY)  # 10:00 in the district: outside quiet hours
    return notification_store(), Relay(), Carrier(), config.settings()


def notify(world, envelope):
    store, relay, carrier, settings = world
    handlers.notify(store, relay, carrier, settings, envelope, envelope["data"])


def remember(world, envelope):
    handlers_batch.remember_contacts(world[0], [(0, envelope, envelope["data"])])


def test_the_assigned_worker_is_texted_once_however_often_the_event_comes(world):
    store, relay, carrier, _ = world
    event = assigned()
    notify(world, event)
    notify(world, event)  # redelivered
    assert carrier.phones() == ["13900000101"]
    [message] = store.messages.find({})
    assert message["status"] == "sent" and message["recipient_role"] == "worker"
    assert "邹**" in message["body"] and "13812345678" not in message["body"]
    assert relay.types() == [("shegong.message.sent.v1", "sent")]


def test_a_residents_message_waits_for_her_contact_then_is_sent(world):
    store, relay, carrier, _ = world
    with pytest.raises(handlers.RecipientUnknown):
        notify(world, accepted("case-1"))
    assert store.messages.find({}) == [] and carrier.sent == []  # nothing recorded
    remember(world, received())
    notify(world, accepted("case-1"))  # the retry, once request.received has come
    assert carrier.phones() == ["13812345678"]
    assert store.contact("r-1")["name"] == "邹书兰"


def test_each_event_of_a_batch_is_done_or_returned_on_its_own(world):
    store, relay, carrier, settings = world
    to_resident, to_worker = accepted("case-1"), assigned()
    items = [(0, to_resident, to_resident["data"]), (1, to_worker, to_worker["data"])]
    failures = handlers_batch.notify_many(store, relay, carrier, settings, items)
    assert list(failures) == [0]  # the resident's contact is not known yet
    assert isinstance(failures[0], handlers.RecipientUnknown)
    assert carrier.phones() == ["13900000101"]  # the worker's SMS went all the same
    assert len(relay.batches) == 1  # the batch's status events, published together


def test_a_temporary_failure_is_retried_by_the_sweep_not_lost(world, monkeypatch):
    store, relay, carrier, settings = world
    carrier.down = True
    notify(world, assigned())
    [message] = store.messages.find({})
    assert carrier.sent == [] and message["status"] == "sending"  # claimed, due again later
    assert message["history"][-1]["kind"] == "retry"
    carrier.down = False
    assert handlers_batch.deliver_due(store, relay, carrier, settings) == 0  # not yet due
    Clock(monkeypatch, DAY).advance(seconds=11)
    assert handlers_batch.deliver_due(store, relay, carrier, settings) == 1
    assert carrier.phones() == ["13900000101"]
    assert store.get(message["_id"])["status"] == "sent"
