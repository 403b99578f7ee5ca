"""Helpers for intake's inbound tests: events as other government systems send them,
publishing them to the inbound exchange, and watching what intake publishes."""

import time
import uuid

import amqp
import pytest
from kombu import Connection, Exchange, Queue

from services.intake.amqp_inbound import API_KEY_HEADER, INBOUND_EXCHANGE, INBOUND_QUEUE

KEYS = {
    "civil-affairs": "dev-civil-affairs-key",
    "elderly-care": "dev-elderly-care-key",
    "petition-office": "dev-petition-office-key",
    "disabled-federation": "dev-disabled-federation-key",
    "health-commission": "dev-health-commission-key",
}
SOURCES = {
    "civil-affairs": "/suyu/civil-affairs",
    "elderly-care": "/suyu/elderly-care",
    "petition-office": "/suyu/petition-office",
    "disabled-federation": "/suyu/disabled-federation",
    "health-commission": "/suyu/health-commission",
}

ZOU = {
    "name": "邹书兰",
    "phone": "13812345678",
    "categories": ["elderly", "living_alone", "key_concern"],
}
ID_NUMBER = "11010519491231002X"  # a valid GB 11643 check digit
DAUGHTER = {"name": "邹丽", "relation": "女儿", "phone": "13987654321"}


def cloudevent(system, type_, data, event_id=None, **extra):
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": SOURCES[system],
        "type": type_,
        "time": "2023-05-29T07:55:00+08:00",
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }


def referral(**data):
    return cloudevent(
        "civil-affairs",
        "gov.suyu.civil_affairs.referral.v1",
        {
            "station": "daxing",
            "resident": {**ZOU, "id_number": ID_NUMBER},
            "need": {"type": "economic_status_verification", "description": "低保复核"},
            "referral_no": "MZ-2023-0529-01",
            **data,
        },
    )


def key_person_update(change="added", **person):
    return cloudevent(
        "civil-affairs",
        "gov.suyu.civil_affairs.key_person_update.v1",
        {
            "change": change,
            "person": {
                "id_number": ID_NUMBER,
                "name": "邹书兰",
                "phone": "13812345678",
                "station": "daxing",
                "categories": ["elderly", "living_alone", "key_concern"],
                "emergency_contacts": [DAUGHTER],
                **person,
            },
        },
    )


def checkin_missed(**data):
    return cloudevent(
        "elderly-care",
        "gov.suyu.elderly_care.checkin_missed.v1",
        {
            "station": "daxing",
            "resident": {**ZOU, "emergency_contact": DAUGHTER},
            "due_at": "2023-05-29T07:30:00+08:00",
            "last_checkin_at": "2023-05-28T07:31:00+08:00",
            **data,
        },
    )


def petition(**data):
    return cloudevent(
        "petition-office",
        "gov.suyu.petition.forwarded.v1",
        {
            "station": "xiaxiang",
            "resident": {"name": "李建国", "phone": "13700001111"},
            "petition_no": "XF-2023-0112",
            "summary": "邻里排水纠纷，请社工站协助调处",
            **data,
        },
    )


def referral_answer(
    agency="health-commission",
    referral_id="ref-1",
    case_id="case-1",
    answer="accepted",
    reason=None,
):
    """A partner agency's answer to a referral made to it."""
    data = {"referral_id": referral_id, "case_id": case_id, "answer": answer}
    if reason is not None:
        data["reason"] = reason
    return cloudevent(agency, "gov.suyu.agency.referral_answered.v1", data)


def publish_inbound(
    amqp_uri,
    body,
    key=None,
    system=None,
    user_id=None,
    routing_key=None,
    content_type="application/cloudevents+json",
    raw=None,
):
    """Publish as an external system would: to the inbound exchange, with its key."""
    headers = {}
    if key or system:
        headers[API_KEY_HEADER] = key or KEYS[system]
    with Connection(amqp_uri) as connection:
        producer = connection.Producer()
        properties = {"user_id": user_id} if user_id else {}
        if raw is not None:
            producer.publish(
                raw,
                exchange=INBOUND_EXCHANGE,
                routing_key=routing_key or "x",
                content_type=content_type,
                content_encoding="utf-8",
                headers=headers,
                **properties,
            )
        else:
            producer.publish(
                body,
                exchange=INBOUND_EXCHANGE,
                routing_key=routing_key or str(body.get("type", "x")),
                serializer="cloudevents" if content_type.endswith("+json") else "json",
                headers=headers,
                **properties,
            )


class Observer:
    """A queue of this test's own, bound to everything intake publishes."""

    def __init__(self, amqp_uri):
        self.amqp_uri = amqp_uri
        self.queue = Queue(
            f"test-observer-{uuid.uuid4().hex[:8]}",
            exchange=Exchange("intake.events", type="topic", durable=True),
            routing_key="#",
            durable=False,
            auto_delete=False,
        )
        with Connection(amqp_uri) as connection:
            self.queue(connection.default_channel).declare()
        self.seen = []

    def drain(self):
        with Connection(self.amqp_uri) as connection:
            queue = self.queue(connection.default_channel)
            while (message := queue.get(no_ack=True, accept=["cloudevents", "json"])) is not None:
                self.seen.append(message.decode())
        return self.seen

    def of_type(self, event_type):
        return [event for event in self.drain() if event["type"] == event_type]


def dead_letters(amqp_uri, service="intake"):
    from services.common import messaging

    found = []
    with Connection(amqp_uri) as connection:
        queue = messaging.dead_letter_queue(service)(connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            found.append((message.headers, message.body))
    return found


def publish_raw(
    amqp_uri,
    body,
    content_type=None,
    headers=None,
    system=None,
    routing_key="x",
    content_encoding=None,
):
    """Publish bytes exactly as given, with only the properties named (no content type at
    all when ``content_type`` is None: kombu's producer would name one)."""
    headers = dict(headers or {})
    if system:
        headers[API_KEY_HEADER] = KEYS[system]
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        properties = {"delivery_mode": 2}
        if content_type is not None:
            properties["content_type"] = content_type
        if content_encoding is not None:
            properties["content_encoding"] = content_encoding
        message = amqp.Message(body, application_headers=headers, **properties)
        channel.basic_publish(message, exchange=INBOUND_EXCHANGE, routing_key=routing_key)


def drained(amqp_uri):
    """Every message of the inbound queue taken and handled (none ready, then a moment for
    the ones in hand: the worker handles several at once), so that what was not
    published by now will not be."""
    from tests.support import wait_until

    def empty():
        with Connection(amqp_uri) as connection:
            return (
                connection.default_channel.queue_declare(INBOUND_QUEUE, passive=True).message_count
                == 0
            )

    wait_until(empty, 20, message="the inbound queue drained")
    time.sleep(1)


@pytest.fixture
def intake_worker(container_factory, settings, topology, database):
    """intake's worker on the test's broker and store, consuming the inbound exchange."""
    from services.intake.service import IntakeService

    database("intake")
    container = container_factory(IntakeService, settings.nameko_config())
    container.start()
    return container
