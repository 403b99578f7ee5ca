"""The client side of the cluster chaos run, as its own process (plain OS threads):

- staff POSTs at a steady rate (load.Load, each retried with its Idempotency-Key until
  accepted, as a station's client would);
- inbound events from another government system on the inbound exchange, at a steady
  rate, each published with confirms to any node of the cluster and published again
  until confirmed (as that system's client would: the same event id);
- every API's /healthz asked every second, each answer counted.

It runs until the stop file exists (or ``--total`` requests are done), then writes its
result as JSON: the load's, plus the events confirmed and the /healthz failures.
``python -m tests.chaos.cluster_load ARGS`` (``--help``)."""

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from services.common.confirms import ConfirmedPublisher, Outgoing, PublishFailed
from services.intake.amqp_inbound import API_KEY_HEADER, INBOUND_EXCHANGE
from tests.chaos.load import Load
from tests.inbound_support import KEYS, checkin_missed


def inbound_event(run_id, index):
    """A missed check-in of a resident of the run's own (no request of the load repeats it)."""
    event = checkin_missed(
        resident={
            "name": f"老人{index:05d}",
            "phone": f"137{index:08d}",
            "categories": ["elderly", "living_alone"],
        }
    )
    event["id"] = f"{run_id}-event-{index}"
    return event


def outgoing(event):
    return Outgoing(
        json.dumps(event, ensure_ascii=False).encode(),
        INBOUND_EXCHANGE,
        event["type"],
        {
            "content_type": "application/cloudevents+json",
            "content_encoding": "utf-8",
            "delivery_mode": 2,
            "message_id": event["id"],
            "application_headers": {API_KEY_HEADER: KEYS["elderly-care"]},
        },
    )


class Inbound:
    """Publishes ``rate`` events a second until stopped; ``confirmed``: their ids."""

    def __init__(self, amqp_uri, run_id, rate, stopped):
        self.publisher = ConfirmedPublisher(amqp_uri, timeout_s=5.0)
        self.run_id, self.rate, self.stopped = run_id, rate, stopped
        self.confirmed, self.attempts = [], 0

    def run(self):
        index, due = 0, time.monotonic()
        while not self.stopped.is_set() and self.rate:
            time.sleep(max(due - time.monotonic(), 0.0))
            due = max(due, time.monotonic()) + 1.0 / self.rate
            event = inbound_event(self.run_id, index)
            while True:  # the same event again until a node confirms it
                self.attempts += 1
                try:
                    self.publisher.publish_batch([outgoing(event)])
                    break
                except PublishFailed:
                    time.sleep(0.5)
            self.confirmed.append(event["id"])
            index += 1


class Health:
    """Asks every API's /healthz each second; counts the answers that were not 200."""

    def __init__(self, urls, stopped):
        self.urls, self.stopped = urls, stopped
        self.asked, self.failed = 0, []

    def run(self):
        session = requests.Session()
        while not self.stopped.is_set():
            for url in self.urls:
                self.asked += 1
                try:
                    status = session.get(url, timeout=5).status_code
                except requests.RequestException as exc:
                    status = type(exc).__name__
                if status != 200:
                    self.failed.append([time.time(), url, str(status)])
            time.sleep(1.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("url", "token", "run_id", "progress", "result", "stop_file", "amqp_uri"):
        parser.add_argument(name)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=3.0)
    parser.add_argument("--events-rate", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--health", nargs="*", default=[])
    args = parser.parse_args(argv)
    load = Load(args.url, args.token, args.run_id, args.total, clients=args.clients, rate=args.rate)
    inbound = Inbound(
        args.amqp_uri, f"{args.run_id}-{uuid.uuid4().hex[:6]}", args.events_rate, load.stopped
    )
    health = Health(args.health, load.stopped)
    threads = [threading.Thread(target=part.run, daemon=True) for part in (inbound, health)]
    for thread in threads:
        thread.start()

    def watch_stop():
        while not Path(args.stop_file).exists():
            time.sleep(0.2)
        load.stopped.set()

    threading.Thread(target=watch_stop, daemon=True).start()
    load.run(args.progress)
    load.stopped.set()
    for thread in threads:
        thread.join(600)
    result = load.result()
    result.update(
        {
            "events": inbound.confirmed,
            "event_attempts": inbound.attempts,
            "health_asked": health.asked,
            "health_failed": health.failed,
        }
    )
    Path(args.result).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
