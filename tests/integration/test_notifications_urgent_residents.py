"""A message about an urgent case is what the resident (or her family) is waiting for:
never held by the per-number hourly limit, still sent once (issue 26, item 6). On the
real broker and store with the default limit (10 an hour), and on the batch path
(notify_many, deliver_many) with the delivery fixtures' limit of 3."""

from services.common.contracts import CASE_ACCEPTED, CASE_ASSIGNED, REQUEST_RECEIVED
from services.common.envelope import new_event
from services.common.messaging import EventPublisher
from services.notifications.handlers import batch as handlers_batch
from tests import notifications_support
from tests.integration import test_notifications_urgent_staff as urgent_staff
from tests.integration.test_notifications_rules import (
    CASE,
    RESIDENT,
    assigned,
    publish,
    received,
    sms_to,
)
from tests.support import find_messages, wait_until

fakes, world = notifications_support.fakes, notifications_support.world
# the notifications service on the real broker with the default limits, a fake gateway
gateway, service = urgent_staff.gateway, urgent_staff.service


def accepted(case_id):
    return {
        **CASE,
        "case_id": case_id,
        "status": "accepted",
        "accepted_by": "dx-01",
        "assignee_name": "王晨光",
        "accepted_at": "2023-05-29T08:05:00+08:00",
    }


def test_the_accepted_sms_of_an_urgent_case_is_not_held_by_the_residents_limit(
    service, settings, gateway
):
    publish(settings, REQUEST_RECEIVED, received())
    wait_until(lambda: service.contact("r-1"), 15, message="the contact")
    for number in range(10):  # ten SMS this hour about her ordinary cases: the limit
        case_id = f"case-{number:04d}-ordinary"
        publish(settings, CASE_ACCEPTED, accepted(case_id), 3)
        wait_until(
            lambda: [
                m for m in find_messages(service, {"case_id": case_id}) if m["status"] == "sent"
            ],
            15,
            message=f"{case_id} sent",
        )
    # her urgent medicine request: assigned (the worker is told), then accepted
    urgent = "case-9999-urgent01"
    publish(settings, CASE_ASSIGNED, {**assigned(), "case_id": urgent}, 2)
    sms_to(gateway, "13900000101")
    event = publish(settings, CASE_ACCEPTED, accepted(urgent), 3)
    assert len(sms_to(gateway, RESIDENT["phone"], 11)) == 11  # the 11th of the hour
    [message] = [
        m for m in find_messages(service, {"case_id": urgent}) if m["recipient_role"] == "resident"
    ]
    assert message["urgent"] and message["status"] == "sent"
    assert not [h for h in message["history"] if h["kind"] == "held"]
    # the same event again: no second SMS
    EventPublisher(settings.amqp_uri).publish(event)
    one_more = "case-0010-ordinary"  # an ordinary one after it is still held, in order
    publish(settings, CASE_ACCEPTED, accepted(one_more), 3)
    [waiting] = wait_until(
        lambda: find_messages(service, {"case_id": one_more, "status": "created"}),
        15,
        message="the ordinary 11th held",
    )
    assert [h["reason"] for h in waiting["history"] if h["kind"] == "held"] == ["rate_limited"]
    assert len([s for s in gateway.accepted if s["to"] == RESIDENT["phone"]]) == 11


def checkin_missed(number):
    data = {
        **received("checkin_missed"),
        "request_id": f"r-alert-{number}",
        "source": {"system": "grid", "kind": "checkin_missed", "event_id": f"g-{number}"},
    }
    return new_event(
        REQUEST_RECEIVED,
        data,
        subject=data["request_id"],
        correlation_id=data["request_id"],
        sequence=1,
    )


def test_a_batch_of_missed_check_ins_reaches_the_family_past_the_limit_once_each(world):
    """The batch path: four alerts for one family's number in one batch, the limit 3."""
    events = [checkin_missed(number) for number in range(4)]
    items = [(position, envelope, envelope["data"]) for position, envelope in enumerate(events)]
    handlers_batch.remember_contacts(world.store, items)
    assert (
        handlers_batch.notify_many(world.store, world.relay, world.chain, world.settings, items)
        == {}
    )
    family = RESIDENT["emergency_contact"]["phone"]
    assert world.phones() == [family] * 4
    messages = find_messages(world.store, {"recipient_role": "emergency_contact"})
    assert len(messages) == 4 and {m["status"] for m in messages} == {"sent"}
    assert not [h for m in messages for h in m["history"] if h["kind"] == "held"]
    # redelivered, and the sweep: nothing twice
    assert (
        handlers_batch.notify_many(world.store, world.relay, world.chain, world.settings, items)
        == {}
    )
    world.sweep()
    assert world.phones() == [family] * 4
