"""The storm phase of ``make bench``: a burst of alerts from another system.

5,000 missed check-ins (``gov.suyu.elderly_care.checkin_missed.v1``, each a distinct
resident, so each a request of its own, a case and its worker's SMS) sent as
``POST /v1/events`` batches of 100 by 4 senders, then 5,000 more published to the
inbound exchange (``shegong.inbound``) as the elderly-care platform would (its API key
in the ``shegong-api-key`` header, confirms awaited per 100). Each transport is timed
from the first send until the projection has every one's worker SMS (the tracer that
times the staff phases: request id -> case assigned -> SMS -> reporting), and reported
with the rate at which intake accepted them (HTTP: answered; AMQP: every one recorded,
seen as its ``request.received``) and with the exactly-once check of
the staff phases (one case per request, one worker SMS per case).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import amqp
import requests
from kombu import Connection, Consumer, Queue, binding

from services.common.contracts import REQUEST_RECEIVED
from services.common.messaging import event_exchange
from services.intake.amqp_inbound import API_KEY_HEADER, INBOUND_EXCHANGE
from services.intake.domain.inbound import inbound_id
from tests.inbound_support import KEYS, SOURCES

SYSTEM = "elderly-care"
KEY = KEYS[SYSTEM]  # the development registry's key (services/intake/systems.json)
SOURCE = SOURCES[SYSTEM]
TYPE = "gov.suyu.elderly_care.checkin_missed.v1"
STATIONS = ("daxing", "xiaxiang")
PREFIX = {"http": "136", "amqp": "135"}  # phones apart from the staff load's (139...)


def alert(run: str, transport: str, number: int) -> dict:
    """A missed check-in of a resident of her own (a distinct phone per number)."""
    return {
        "specversion": "1.0",
        "id": f"storm-{run}-{transport}-{number}",
        "source": SOURCE,
        "type": TYPE,
        "datacontenttype": "application/json",
        "data": {
            "station": STATIONS[number % 2],
            "resident": {
                "name": f"独居老人{number:05d}",
                "phone": f"{PREFIX[transport]}{number:08d}",
                "categories": ["elderly", "living_alone"],
            },
            "due_at": "2023-05-29T07:30:00+08:00",
            "note": "性能测试：晨间报平安未到",
        },
    }


def request_ids(events: list) -> list:
    """The request each event becomes (intake names it by the event's source and id)."""
    return [inbound_id(event["source"], event["id"]) for event in events]


def over_http(intake_url: str, events: list, batch: int = 100, clients: int = 4) -> dict:
    batches = [events[start : start + batch] for start in range(0, len(events), batch)]

    def send(chunk):
        answer = requests.post(
            intake_url + "/v1/events",
            data=json.dumps(chunk, ensure_ascii=False).encode("utf-8"),
            headers={"X-Api-Key": KEY, "Content-Type": "application/cloudevents-batch+json"},
            timeout=120,
        )
        results = answer.json().get("results", []) if answer.status_code == 200 else []
        return answer.status_code, sum(r["status"] == "accepted" for r in results)

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(send, batches))
    accepted_s = time.monotonic() - began
    statuses: dict = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    accepted = sum(n for _, n in answers)
    return {
        "transport": "http",
        "events": len(events),
        "batch": batch,
        "clients": clients,
        "accepted": accepted,
        "statuses": statuses,
        "began": began,
        "accepted_s": round(accepted_s, 2),
        "accepted_per_s": round(accepted / accepted_s, 1) if accepted_s else None,
    }


def over_amqp(amqp_uri: str, received: Received, events: list, batch: int = 100) -> dict:
    with Connection(amqp_uri) as connection:
        connection.connect()
        channel = connection.connection.channel()
        channel.confirm_select()
        confirmed = [0]
        channel.events["basic_ack"].add(
            lambda delivery_tag, multiple: confirmed.__setitem__(0, max(confirmed[0], delivery_tag))
        )
        began, sent = time.monotonic(), 0
        for start in range(0, len(events), batch):
            for event in events[start : start + batch]:
                channel.basic_publish(
                    amqp.Message(
                        json.dumps(event, ensure_ascii=False).encode("utf-8"),
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
        published_s = time.monotonic() - began
    accepted_s = received.recorded_s(request_ids(events), began)
    return {
        "transport": "amqp",
        "events": len(events),
        "batch": batch,
        "began": began,
        "published_s": round(published_s, 2),
        "accepted_s": round(accepted_s, 2) if accepted_s else None,
        "accepted_per_s": round(len(events) / accepted_s, 1) if accepted_s else None,
    }


class Received:
    """Watches intake's ``request.received`` (a tap queue of its own, exclusive, deleted
    with its connection): when each request was recorded, whatever the transport."""

    def __init__(self, amqp_uri: str) -> None:
        self.amqp_uri = amqp_uri
        self.seen: dict = {}  # request id -> monotonic time first seen
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._tap, daemon=True)

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the request.received tap did not start")
        return self

    def __exit__(self, *_):
        self.stopping.set()
        self.thread.join(10)

    def _tap(self) -> None:
        queue = Queue(
            f"bench.storm.{uuid.uuid4().hex[:8]}",
            exclusive=True,
            auto_delete=True,
            durable=False,
            bindings=[
                binding(
                    event_exchange(REQUEST_RECEIVED.producer), routing_key=REQUEST_RECEIVED.type
                )
            ],
        )
        with Connection(self.amqp_uri) as connection:
            with Consumer(
                connection.channel(),
                [queue],
                on_message=self._seen,
                no_ack=True,
                prefetch_count=1000,
            ):
                self.ready.set()
                while not self.stopping.is_set():
                    try:
                        connection.drain_events(timeout=0.2)
                    except TimeoutError:
                        pass

    def _seen(self, message) -> None:
        self.seen.setdefault(json.loads(message.body)["data"]["request_id"], time.monotonic())

    def recorded_s(self, ids: list, began: float, give_up_s: float = 60):
        """Seconds from ``began`` until every one of ``ids`` was recorded (None: gave up)."""
        last, last_change = -1, time.monotonic()
        while True:
            times = [self.seen[rid] for rid in ids if rid in self.seen]
            if len(times) == len(ids):
                return max(times) - began
            if len(times) != last:
                last, last_change = len(times), time.monotonic()
            elif time.monotonic() - last_change > give_up_s:
                return None
            time.sleep(0.2)


def finish(result: dict, ids: list, tracer, wait_drained) -> dict:
    """Until every request's worker SMS is projected: the end-to-end rate."""
    done = wait_drained(tracer, ids, give_up_s=60)
    traces = tracer.timeline()
    ends = [traces[rid]["projected"] for rid in ids if "projected" in traces.get(rid, {})]
    span = (max(ends) - result["began"]) if ends else None
    result.pop("began")
    result.update(
        {
            "projected": done,
            "end_to_end_s": round(span, 2) if span else None,
            "end_to_end_per_s": round(done / span, 1) if span else 0.0,
        }
    )
    return result


def new_run() -> str:
    return uuid.uuid4().hex[:6]


def unit_costs(usage: dict, costs: dict) -> dict:
    """What the system paid per delivery and per store document (CPU ms): its service
    processes and RabbitMQ per delivery, the store per document; beside the batched
    pipeline's baseline of the same run (baselines.broker_batches, store_upserts)."""
    processes = usage["processes"]

    def of(match):
        return sum(u["cpu_ms_per_request"] or 0 for n, u in processes.items() if match(n))

    services = of(lambda n: not n.startswith(("rabbitmq", "nx-27017")))
    broker = of(lambda n: n.startswith("rabbitmq"))
    store = of(lambda n: n.startswith("nx-27017"))
    deliveries, documents = costs.get("deliveries"), costs.get("store_operations")
    return {
        "services_cpu_ms_per_delivery": round(services / deliveries, 3) if deliveries else None,
        "broker_cpu_ms_per_delivery": round(broker / deliveries, 3) if deliveries else None,
        "store_cpu_ms_per_document": round(store / documents, 3) if documents else None,
    }


def phase(
    system, client, amqp_uri, tracer, count, wait_drained, exactly_once, say, counting, transports
) -> dict:
    """``count`` alerts over each of ``transports`` (HTTP, then AMQP), each until
    projected, with what each event cost (``counting()`` starts counting, its result
    ``stop(done)`` gives CPU by process and store commands and deliveries per event);
    the exactly-once check over each."""
    run, done = new_run(), {}
    with Received(amqp_uri) as received:
        for transport in transports:
            events = [alert(run, transport, n) for n in range(count)]
            ids = request_ids(events)
            say(
                f"storm: {count} check-in alerts over {transport}"
                + (
                    " as POST /v1/events batches of 100 from 4 senders"
                    if transport == "http"
                    else " on shegong.inbound"
                )
            )
            stop = counting()
            result = (
                over_http(system.url("intake", ""), events)
                if transport == "http"
                else over_amqp(amqp_uri, received, events)
            )
            done[transport] = finish(result, ids, tracer, wait_drained)
            usage, costs = stop(done[transport]["projected"])
            done[transport].update(
                {
                    "cpu_ms_per_event": {
                        name: u["cpu_ms_per_request"] for name, u in usage["processes"].items()
                    },
                    "cpu_ms_per_event_total": usage["cpu_ms_per_request_total"],
                    "peak_rss_mb": {n: u["peak_rss_mb"] for n, u in usage["processes"].items()},
                    "loadavg": usage["loadavg"],
                    "per_event": costs,
                    "unit_costs": unit_costs(usage, costs),
                }
            )
            done[transport]["exactly_once"] = exactly_once(system, client, ids)
            say(f"  {done[transport]}")
    return done
