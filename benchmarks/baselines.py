"""The raw baselines, on the same broker and store as the system, in the same run.

- broker: kombu publishes persistent messages one at a time, waiting for each
  publisher confirm (as the system's EventPublisher does), to a durable queue that a
  consumer on another connection drains with acks: the one-hop round trip;
- broker in batches: the same round trip as a batched pipeline makes it (a batch
  published, its confirms awaited together, a consumer with a large prefetch acking
  each batch with one multiple-ack): what batching can reach;
- store: pymongo upserts by ``_id`` one at a time (as a projection writes), then the
  same upserts in ``bulk_write`` batches, and ``insert_many`` batches.
"""

import json
import threading
import time

import amqp
from kombu import Connection, Consumer, Exchange, Producer, Queue
from pymongo import MongoClient, UpdateOne


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def broker_round_trip(amqp_uri, seconds=10.0):
    exchange = Exchange("bench.baseline", type="direct", durable=True)
    queue = Queue("bench.baseline", exchange=exchange, routing_key="baseline", durable=True)
    received = {}
    ready, stop = threading.Event(), threading.Event()

    def consume():
        with Connection(amqp_uri) as connection:

            def on_message(body, message):
                received[body["n"]] = time.monotonic()
                message.ack()

            with Consumer(
                connection.channel(),
                [queue],
                callbacks=[on_message],
                prefetch_count=100,
                accept=["json"],
            ):
                ready.set()
                while not stop.is_set() or len(received) < sent_count[0]:
                    try:
                        connection.drain_events(timeout=0.5)
                    except (TimeoutError, OSError):
                        if stop.is_set():
                            break

    sent, sent_count = {}, [0]
    consumer = threading.Thread(target=consume, daemon=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        queue.bind(channel).declare()
        queue.bind(channel).purge()
        consumer.start()
        ready.wait(30)
        producer = Producer(channel, exchange=exchange, serializer="json")
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            sent[n] = time.monotonic()
            producer.publish(
                {"n": n, "payload": "x" * 600},
                routing_key="baseline",
                delivery_mode=2,
                mandatory=True,
            )
            n += 1
            sent_count[0] = n
        publish_s = time.monotonic() - started
        deadline = time.monotonic() + 30
        while len(received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        consumer.join(10)
        queue.bind(channel).delete()
        exchange.bind(channel).delete()
    last = max(received.values()) if received else started
    latencies = [(received[i] - sent[i]) * 1000 for i in received]
    return {
        "messages": n,
        "received": len(received),
        "publish_per_s": round(n / publish_s, 1),
        "round_trip_per_s": round(len(received) / (last - started), 1),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.5), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
        },
    }


def store_upserts(mongo_uri, database, seconds=5.0, batch=100, store_cpu_s=None):
    """Upserts one at a time, upserts in bulk and inserts in bulk, each for ``seconds``;
    with ``store_cpu_s`` (the store process's CPU seconds so far), the store's CPU per
    document of the bulk upserts, the unit cost the system's documents compare with."""
    collection = MongoClient(mongo_uri)[database]["baseline"]
    collection.drop()
    results = {}
    started, n = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        collection.update_one(
            {"_id": f"single-{n}"},
            {"$set": {"station": "daxing", "n": n, "sent_ms": n}},
            upsert=True,
        )
        n += 1
    results["upsert_single_per_s"] = round(n / (time.monotonic() - started), 1)
    started, n = time.monotonic(), 0
    cpu_before = store_cpu_s() if store_cpu_s else None
    while time.monotonic() - started < seconds:
        collection.bulk_write(
            [
                UpdateOne(
                    {"_id": f"bulk-{n + i}"},
                    {"$set": {"station": "daxing", "n": n + i}},
                    upsert=True,
                )
                for i in range(batch)
            ],
            ordered=False,
        )
        n += batch
    results["upsert_bulk_per_s"] = round(n / (time.monotonic() - started), 1)
    if cpu_before is not None:
        results["store_cpu_ms_per_document"] = round((store_cpu_s() - cpu_before) * 1000 / n, 3)
    started, n = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        collection.insert_many(
            [{"_id": f"many-{n + i}", "station": "daxing", "n": n + i} for i in range(batch)],
            ordered=False,
        )
        n += batch
    results["insert_many_per_s"] = round(n / (time.monotonic() - started), 1)
    results["batch"] = batch
    collection.drop()
    return results


def broker_batches(amqp_uri, seconds=10.0, batch=100, prefetch=500, broker_cpu_s=None):
    """The broker's round trip in batches, as a batched pipeline uses it: ``batch``
    persistent publishes, then all their confirms awaited together (py-amqp's
    asynchronous confirms); a consumer with a prefetch of ``prefetch`` acking every
    ``batch`` deliveries (or what it has when the queue goes quiet) with one multiple-ack.
    The CPU of one message's publish and delivery: the client's (this process: the
    publisher and the consumer thread) and, with ``broker_cpu_s`` (the broker's CPU
    seconds so far), RabbitMQ's: what a batched pipeline pays per delivery."""
    exchange = Exchange("bench.baseline-batches", type="direct", durable=True)
    queue = Queue("bench.baseline-batches", exchange=exchange, routing_key="batches", durable=True)
    received, ready, stop, sent_count = {}, threading.Event(), threading.Event(), [0]

    def consume():
        with Connection(amqp_uri) as connection:
            connection.connect()
            channel = connection.connection.channel()
            channel.basic_qos(0, prefetch, False)
            unacked = []

            def on_message(message):
                received[json.loads(message.body)["n"]] = time.monotonic()
                unacked.append(message.delivery_tag)
                if len(unacked) >= batch:
                    channel.basic_ack(unacked[-1], multiple=True)
                    unacked.clear()

            channel.basic_consume(queue.name, callback=on_message)
            ready.set()
            while not stop.is_set() or len(received) < sent_count[0]:
                try:
                    connection.connection.drain_events(timeout=0.01)
                except (TimeoutError, OSError):
                    if unacked:  # quiet: ack what there is
                        channel.basic_ack(unacked[-1], multiple=True)
                        unacked.clear()
                    if stop.is_set() and len(received) >= sent_count[0]:
                        break

    sent = {}
    consumer = threading.Thread(target=consume, daemon=True)
    with Connection(amqp_uri) as connection:
        connection.connect()
        declaring = connection.channel()
        queue.bind(declaring).declare()
        queue.bind(declaring).purge()
        consumer.start()
        ready.wait(30)
        channel = connection.connection.channel()
        channel.confirm_select()
        confirmed = [0]

        def on_ack(delivery_tag, multiple):
            confirmed[0] = max(confirmed[0], delivery_tag)

        channel.events["basic_ack"].add(on_ack)
        cpu_before = (time.process_time(), broker_cpu_s() if broker_cpu_s else None)
        started, n = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            for _ in range(batch):
                sent[n] = time.monotonic()
                channel.basic_publish(
                    amqp.Message(
                        json.dumps({"n": n, "payload": "x" * 600}),
                        delivery_mode=2,
                        content_type="application/json",
                    ),
                    exchange=exchange.name,
                    routing_key="batches",
                )
                n += 1
            while confirmed[0] < n:  # the batch's confirms, together
                connection.connection.drain_events(timeout=10)
            sent_count[0] = n
        publish_s = time.monotonic() - started
        deadline = time.monotonic() + 30
        while len(received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        consumer.join(10)
        client_cpu_s = time.process_time() - cpu_before[0]
        broker_cpu = broker_cpu_s() - cpu_before[1] if broker_cpu_s else None
        queue.bind(declaring).delete()
        exchange.bind(declaring).delete()
    last = max(received.values()) if received else started
    latencies = [(received[i] - sent[i]) * 1000 for i in received]
    return {
        "messages": n,
        "received": len(received),
        "batch": batch,
        "prefetch": prefetch,
        "publish_per_s": round(n / publish_s, 1),
        "round_trip_per_s": round(len(received) / (last - started), 1),
        "client_cpu_ms_per_message": round(client_cpu_s * 1000 / max(n, 1), 3),
        "broker_cpu_ms_per_message": (
            round(broker_cpu * 1000 / max(n, 1), 3) if broker_cpu is not None else None
        ),
        "latency_ms": {
            "p50": round(_percentile(latencies, 0.5), 2),
            "p99": round(_percentile(latencies, 0.99), 2),
        },
    }
