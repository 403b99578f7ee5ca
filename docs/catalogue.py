"""What the code says about each event (names, handlers, exchanges, queues) and the
example envelopes of the story, for the generated documents."""
from datetime import datetime

from services.common import contracts, messaging
from services.common.contracts import CATALOGUE
from services.common.envelope import new_event
from services.common.messaging import consumers_of
from services.common.registry import SERVICE_CLASSES, service_class

def contract_names():
    """Contract type -> its Python name in services.common.contracts (e.g. CASE_OPENED)."""
    return {value.type: name for name, value in vars(contracts).items()
            if isinstance(value, contracts.EventContract)}


def handlers_by_type():
    """Event type -> sorted [(service, method)] of every handler on the service classes."""
    found = {event_type: [] for event_type in CATALOGUE}
    for service in SERVICE_CLASSES:
        for method, contract in consumers_of(service_class(service)):
            found.setdefault(contract.type, []).append((service, method))
    return {event_type: sorted(pairs) for event_type, pairs in found.items()}


def exchange_name(contract):
    return messaging.event_exchange(contract.producer).name


def queue_name(contract, service, method):
    return messaging.handler_queue(contract, service, method).name


# ---------------------------------------------------------------------------------------

REQUEST_ID = "7d2b1c9e-5f4a-4e57-9a0b-3c1d2e4f5a6b"
CASE_ID = "case-0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
EVENT_IDS = {
    "shegong.request.received.v1": "3a4c8e51-0d6f-4b2a-9c71-5e8f0a1b2c3d",
    "shegong.case.opened.v1": "b61d2f04-7a3e-4c59-8e12-0f9a8b7c6d5e",
    "shegong.case.assigned.v1": "c82e3a15-8b4f-4d6a-9f23-1a0b9c8d7e6f",
    "shegong.case.accepted.v1": "d93f4b26-9c5a-4e7b-a034-2b1c0d9e8f7a",
    "shegong.case.action_recorded.v1": "e04a5c37-ad6b-4f8c-b145-3c2d1e0f9a8b",
    "shegong.case.resolved.v1": "f15b6d48-be7c-409d-c256-4d3e2f1a0b9c",
    "shegong.message.sent.v1": "0a2c7e59-cf8d-41ae-d367-5e4f3a2b1c0d",
}
HTTP_CORRELATION = "http:5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
WORKER_MESSAGE_ID = f"{EVENT_IDS['shegong.case.assigned.v1']}:worker:case_assigned_worker"
CASE_REF = {"case_id": CASE_ID, "request_id": REQUEST_ID, "station": "daxing"}

# type -> (data, subject, causation id, sequence, time)
EXAMPLES = {
    "shegong.request.received.v1": (
        {"request_id": REQUEST_ID, "channel": "phone", "station": "daxing",
         "resident": {"name": "邹书兰", "phone": "13700000001",
                      "categories": ["elderly", "living_alone", "key_concern"]},
         "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
         "need": {"type": "medicine_purchase", "description": "药吃完了，下雨两天出不了门"},
         "received_at": "2023-05-29T08:00:00+08:00"},
        REQUEST_ID, None, 1, "2023-05-29T08:02:10+08:00"),
    "shegong.case.opened.v1": (
        {**CASE_REF, "priority": "urgent", "priority_reason": "重点关注对象且独居",
         "need_type": "medicine_purchase", "resident_ref": "p_5e0c1b9a7d3f2e4c6a8b0d1f",
         "categories": ["elderly", "living_alone", "key_concern"],
         "request_received_at": "2023-05-29T08:00:00+08:00",
         "opened_at": "2023-05-29T08:02:11+08:00"},
        CASE_ID, EVENT_IDS["shegong.request.received.v1"], 1, "2023-05-29T08:02:11+08:00"),
    "shegong.case.assigned.v1": (
        {**CASE_REF, "priority": "urgent", "need_type": "medicine_purchase",
         "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
         "resident": {"name": "邹**", "phone": "137****0001"},
         "assigned_at": "2023-05-29T08:02:11+08:00"},
        CASE_ID, EVENT_IDS["shegong.request.received.v1"], 2, "2023-05-29T08:02:11+08:00"),
    "shegong.case.accepted.v1": (
        {**CASE_REF, "accepted_by": "dx-01", "assignee_name": "王晨光",
         "accepted_at": "2023-05-29T08:05:30+08:00"},
        CASE_ID, HTTP_CORRELATION, 3, "2023-05-29T08:05:30+08:00"),
    "shegong.case.action_recorded.v1": (
        {**CASE_REF, "action_type": "purchase", "recorded_by": "dx-01",
         "recorded_at": "2023-05-29T09:05:00+08:00"},
        CASE_ID, HTTP_CORRELATION, 5, "2023-05-29T09:05:00+08:00"),
    "shegong.case.resolved.v1": (
        {**CASE_REF, "priority": "urgent", "resolved_by": "dx-01", "assignee_name": "王晨光",
         "resolved_at": "2023-05-29T09:40:00+08:00"},
        CASE_ID, HTTP_CORRELATION, 7, "2023-05-29T09:40:00+08:00"),
    "shegong.message.sent.v1": (
        {"message_id": WORKER_MESSAGE_ID, "case_id": CASE_ID, "station": "daxing",
         "recipient_role": "worker", "channel": "sms", "template": "case_assigned_worker",
         "status": "sent", "sent_at": "2023-05-29T08:02:12+08:00"},
        WORKER_MESSAGE_ID, EVENT_IDS["shegong.case.assigned.v1"], 1,
        "2023-05-29T08:02:12+08:00"),
}

# What the subject of each type is, as the producers set it.
SUBJECTS = {
    "shegong.request.received.v1": "the request id (`request_id`)",
    "shegong.message.sent.v1": "the message id (`message_id`)",
}
CASE_SUBJECT = "the case id (`case_id`)"


def example_envelope(contract):
    """A valid envelope of ``contract`` (built and validated by envelope.new_event)."""
    if contract.type not in EXAMPLES or contract.type not in EVENT_IDS:
        raise KeyError(f"docs/generate.py has no example of {contract.type}: add one to "
                       "EXAMPLES and EVENT_IDS")
    data, subject, causation, sequence, time = EXAMPLES[contract.type]
    return new_event(contract, data, subject=subject, correlation_id=REQUEST_ID,
                              causation_id=causation, sequence=sequence,
                              time=datetime.fromisoformat(time),
                              event_id=EVENT_IDS[contract.type])
