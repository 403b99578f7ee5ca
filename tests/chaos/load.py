"""The client side of the chaos run: a stream of requests, each retried by its caller
(same Idempotency-Key) until the system accepts it, as a station's client would.

It runs as its own process (``python -m tests.chaos.load``), with plain OS threads,
apart from the test process (which eventlet patches), and reports its progress in a
file that the fault injector reads."""

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from kombu import Connection, Exchange, Queue

from services.common.messaging import event_exchange

PILOTS = ("daxing", "xiaxiang")


def chaos_request(index):
    """A distinct resident per request, so that no request is a repeat of another."""
    return {
        "channel": ("phone", "walk_in", "online")[index % 3],
        "station": PILOTS[index % 2],
        "resident": {
            "name": f"居民{index:05d}",
            "phone": f"139{index:08d}",
            "categories": ["elderly", "living_alone", "key_concern"]
            if index % 4 == 0
            else ["elderly"],
        },
        "need": {
            "type": ("medicine_purchase", "home_visit", "daily_living_help")[index % 3],
            "description": "混沌测试",
        },
    }


@dataclass
class Outcome:
    accepted: dict = field(default_factory=dict)  # index -> request_id
    rejected: dict = field(default_factory=dict)  # index -> (status, body)
    retries: int = 0
    statuses: dict = field(default_factory=dict)  # HTTP status (or error) -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


class Load:
    """``clients`` threads share the work; ``done`` counts requests finished either way."""

    def __init__(self, url, token, run_id, total, clients=6, give_up_s=240, rate=0.0):
        self.url, self.token, self.run_id = url, token, run_id
        self.total, self.clients, self.give_up_s = total, clients, give_up_s
        self.outcome = Outcome()
        self._next = iter(range(total))
        self._lock = threading.Lock()
        self.done = 0
        # rate > 0: a steady stream, a new request every 1/rate s at most (all clients)
        self.rate, self._due = rate, time.monotonic()
        self.stopped = threading.Event()  # set: no new request is started
        self.completed_at = []  # when each accepted request was answered (time.time())

    def run(self, progress_file):
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            Path(progress_file).write_text(str(self.done))
            time.sleep(0.2)
        Path(progress_file).write_text(str(self.done))

    def result(self):
        outcome = self.outcome
        return {
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "retries": outcome.retries,
            "completed_at": sorted(self.completed_at),
            "statuses": {str(k): v for k, v in outcome.statuses.items()},
        }

    def _client(self):
        session = requests.Session()
        while True:
            with self._lock:
                index = None if self.stopped.is_set() else next(self._next, None)
                wait = self._pace() if index is not None else 0.0
            if index is None:
                return
            time.sleep(wait)
            self._submit(session, index)
            with self._lock:
                self.done += 1
                if index in self.outcome.accepted:
                    self.completed_at.append(time.time())

    def _pace(self):
        """With a rate, how long to wait before the next request starts (under the lock)."""
        if not self.rate:
            return 0.0
        now = time.monotonic()
        start = max(self._due, now)
        self._due = start + 1.0 / self.rate
        return start - now

    def _submit(self, session, index):
        body = chaos_request(index)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": f"{self.run_id}-{index}",
        }
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            try:
                answer = session.post(self.url, json=body, headers=headers, timeout=15)
                status = answer.status_code
            except requests.RequestException as exc:
                status, answer = type(exc).__name__, None
            self.outcome.saw(status)
            if status in (200, 201, 202):
                self.outcome.accepted[index] = answer.json()["request_id"]
                return
            if isinstance(status, int) and 400 <= status < 500 and status != 429:
                self.outcome.rejected[index] = (status, answer.text[:300])
                return
            with self.outcome.lock:
                self.outcome.retries += 1
            retry_after = answer.headers.get("Retry-After") if answer is not None else None
            time.sleep(min(float(retry_after or 0.5), 2.0))
        self.outcome.rejected[index] = ("gave up", "")


class Tap:
    """A queue of the test's own on a producer's exchange: copies of what was published,
    to deliver again later (duplicates as a broker's redelivery would make them)."""

    def __init__(self, amqp_uri, producer, name):
        self.amqp_uri = amqp_uri
        self.exchange = event_exchange(producer)
        self.queue = Queue(
            name,
            exchange=Exchange(self.exchange.name, type="topic", durable=True),
            routing_key="#",
            durable=True,
        )
        with Connection(amqp_uri) as connection:
            self.queue(connection.default_channel).declare()

    def redeliver(self, count):
        """Publish ``count`` copies of tapped events again, unchanged; returns their ids."""
        sent = []
        with Connection(self.amqp_uri) as connection:
            channel = connection.channel()
            bound = self.queue(channel)
            producer = connection.Producer(channel)
            while len(sent) < count:
                message = bound.get(no_ack=False)
                if message is None:
                    break
                try:
                    event_id = json.loads(message.body)["id"]
                except (ValueError, KeyError, TypeError):
                    event_id = None
                if event_id is None or event_id.startswith("poison-"):
                    message.ack()  # the poison is published once, on purpose
                    continue
                producer.publish(
                    message.body,
                    exchange=self.exchange.name,
                    routing_key=message.delivery_info["routing_key"],
                    headers=message.headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=2,
                    message_id=message.properties.get("message_id"),
                )
                sent.append(event_id)
                message.ack()
        return sent


POISON = (
    ("not json", b"\x00\xffnot json at all", "application/json"),
    (
        "wrong data",
        json.dumps(
            {
                "id": "poison-wrong-data",
                "source": "/shegong/intake",
                "specversion": "1.0",
                "type": "shegong.request.received.v1",
                "time": "2023-05-29T08:00:00+08:00",
                "subject": "x",
                "datacontenttype": "application/json",
                "correlationid": "x",
                "data": {"request_id": "poison", "channel": "carrier pigeon"},
            }
        ).encode(),
        "application/cloudevents+json",
    ),
    (
        "operator in data",
        json.dumps(
            {
                "id": "poison-operator",
                "source": "/shegong/intake",
                "specversion": "1.0",
                "type": "shegong.request.received.v1",
                "time": "2023-05-29T08:00:00+08:00",
                "subject": "x",
                "datacontenttype": "application/json",
                "correlationid": "x",
                "data": {"request_id": {"$gt": ""}},
            }
        ).encode(),
        "application/cloudevents+json",
    ),
)


def publish_poison(amqp_uri):
    """Poison messages on intake's exchange, routed as request.received events."""
    with Connection(amqp_uri) as connection:
        producer = connection.Producer(connection.default_channel)
        for _, body, content_type in POISON:
            producer.publish(
                body,
                exchange=event_exchange("intake").name,
                routing_key="shegong.request.received.v1",
                content_type=content_type,
                content_encoding="binary",
                delivery_mode=2,
            )
    return len(POISON)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("url", "token", "run_id", "progress", "result"):
        parser.add_argument(name)
    parser.add_argument("total", type=int)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args(argv)
    load = Load(args.url, args.token, args.run_id, args.total, clients=args.clients)
    load.run(args.progress)
    Path(args.result).write_text(json.dumps(load.result()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
