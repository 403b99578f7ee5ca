"""The bulk phase of ``make bench``: a feed from another system drained at once.

10,000 key-persons registry updates (``gov.suyu.civil_affairs.key_person_update.v1``,
each a distinct person) sent as ``POST /v1/events`` batches of 100 by a few clients,
then 10,000 more published to the inbound exchange (``shegong.inbound``) as the civil
affairs system would, with confirms awaited per batch. Each is timed from the first
send until casework has applied all of them (its ``registry_events``, one per event
applied), and reported with the rate at which intake took them in.
"""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import amqp
import requests
from kombu import Connection

from services.intake.amqp_inbound import API_KEY_HEADER, INBOUND_EXCHANGE
from tests.inbound_support import KEYS

KEY = KEYS["civil-affairs"]  # the development registry's key (services/intake/systems.json)
SOURCE = "/suyu/civil-affairs"
TYPE = "gov.suyu.civil_affairs.key_person_update.v1"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(number: int) -> str:
    """A distinct, valid (GB 11643 check digit) ID number per ``number`` < 280,000."""
    day, sequence = divmod(number, 1000)
    birth = time.strftime("%Y%m%d", time.gmtime(-631152000 + day * 86400))  # from 1950
    body = f"110105{birth}{sequence:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def update(run: str, number: int) -> dict:
    return {
        "specversion": "1.0",
        "id": f"bulk-{run}-{number}",
        "source": SOURCE,
        "type": TYPE,
        "datacontenttype": "application/json",
        "data": {
            "change": "added",
            "person": {
                "id_number": id_number(number),
                "name": f"重点人员{number:05d}",
                "phone": f"137{number:08d}",
                "station": ("daxing", "xiaxiang")[number % 2],
                "categories": ["elderly", "key_concern"],
            },
        },
    }


def applied_count(casework_db) -> int:
    return casework_db["registry_events"].count_documents({})


def _wait_applied(casework_db, wanted: int, began: float, give_up_s: float) -> float:
    """Seconds from ``began`` until ``wanted`` updates are applied (None: gave up)."""
    last, last_change = -1, time.monotonic()
    while True:
        done = applied_count(casework_db)
        if done >= wanted:
            return time.monotonic() - began
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > give_up_s:
            return None
        time.sleep(0.2)


def over_http(
    intake_url: str, casework_db, count: int = 10_000, batch: int = 100, clients: int = 4
) -> dict:
    run = uuid.uuid4().hex[:6]
    batches = [
        [update(run, n) for n in range(start, min(count, start + batch))]
        for start in range(0, count, batch)
    ]
    before = applied_count(casework_db)
    statuses = {}

    def send(events):
        answer = requests.post(
            intake_url + "/v1/events",
            data=json.dumps(events, ensure_ascii=False).encode("utf-8"),
            headers={"X-Api-Key": KEY, "Content-Type": "application/cloudevents-batch+json"},
            timeout=120,
        )
        results = answer.json().get("results", []) if answer.status_code == 200 else []
        return answer.status_code, sum(r["status"] == "accepted" for r in results)

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(send, batches))
    sent_s = time.monotonic() - began
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    accepted = sum(n for _, n in answers)
    applied_s = _wait_applied(casework_db, before + accepted, began, give_up_s=60)
    return {
        "transport": "http",
        "updates": count,
        "batch": batch,
        "clients": clients,
        "accepted": accepted,
        "statuses": statuses,
        "sent_s": round(sent_s, 1),
        "intake_per_s": round(accepted / sent_s, 1),
        "applied_s": round(applied_s, 1) if applied_s else None,
        "applied_per_s": round(accepted / applied_s, 1) if applied_s else None,
    }


def over_amqp(amqp_uri: str, casework_db, count: int = 10_000, batch: int = 100) -> dict:
    run = uuid.uuid4().hex[:6]
    before = applied_count(casework_db)
    with Connection(amqp_uri) as connection:
        connection.connect()
        channel = connection.connection.channel()
        channel.confirm_select()
        confirmed = [0]
        channel.events["basic_ack"].add(
            lambda delivery_tag, multiple: confirmed.__setitem__(0, max(confirmed[0], delivery_tag))
        )
        began, sent = time.monotonic(), 0
        for start in range(0, count, batch):
            for number in range(start, min(count, start + batch)):
                body = json.dumps(update(run, number), ensure_ascii=False).encode("utf-8")
                channel.basic_publish(
                    amqp.Message(
                        body,
                        delivery_mode=2,
                        content_type="application/cloudevents+json",
                        content_encoding="utf-8",
                        application_headers={API_KEY_HEADER: KEY},
                    ),
                    exchange=INBOUND_EXCHANGE,
                    routing_key=TYPE,
                )
                sent += 1
            while confirmed[0] < sent:  # the batch's confirms, together
                connection.connection.drain_events(timeout=30)
        sent_s = time.monotonic() - began
    applied_s = _wait_applied(casework_db, before + count, began, give_up_s=60)
    return {
        "transport": "amqp",
        "updates": count,
        "batch": batch,
        "sent_s": round(sent_s, 1),
        "publish_per_s": round(count / sent_s, 1),
        "applied_s": round(applied_s, 1) if applied_s else None,
        "applied_per_s": round(count / applied_s, 1) if applied_s else None,
        "applied": applied_count(casework_db) - before,
    }
