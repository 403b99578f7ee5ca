"""``@handles_batch``: a Nameko entrypoint that hands one worker call a list of events.

Like ``@handles`` (messaging.py): the same queue (``evt-<producer>-<type>--<service>.
<method>``), the same retries after growing delays and dead letters with the reason,
the same patience through an outage. What differs is the unit of work:

- it consumes on a channel of its own with a prefetch (``batch_prefetch`` of the
  container's Settings, SHEGONG_BATCH_PREFETCH), collects up to ``batch_size``
  messages or for ``batch_wait_ms`` after the first, and calls the service method
  once with the list of bodies;
- when the method returns, the batch's effects are durable: every message is acked
  with one ``basic_ack(multiple=True)`` (one batch in flight per channel, so the
  multiple-ack never covers a message of another batch);
- the method may return ``{position: exception}`` for items it could not handle
  (the rest done): only those take the per-message retry/dead-letter path;
- when the method raises, the failing message(s) are isolated: each is handed to
  the method again alone, and those that still fail take the per-message path.
  One poison message never holds back the others, nor makes them run twice
  (a retried single run of an item already done is a no-op: handlers are idempotent
  by event id, as a redelivery after a crash needs anyway).

Instances of a service share each queue, but not round-robin: each consumes with a
consumer priority (``x-priority``) drawn once per container (SHEGONG_BATCH_LEADER, on
by default), and the broker gives every message to the highest-priority consumer that
has room in its prefetch. One instance (the leader) thus gets all of a queue's
messages and its batches stay whole, as with one instance; the others are standbys
that cost nothing, take the overflow once the leader has ``batch_prefetch`` unacked
(a backlog: then they add capacity, and their batches fill anyway), and take over at
once when the leader's consumer goes (its unacked messages are redelivered to them).
Round-robin split the batches under a closed-loop load (the same messages in twice
the batches, each paying its fixed reads, bulk writes, confirms and ack), so that a
second instance cost more than it added (docs/performance.md, issue 24).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Callable

from eventlet.event import Event
from nameko.exceptions import ContainerBeingKilled

from services.common import config, metrics
from services.common.envelope import InvalidEvent, load_event
from services.common.messaging import PoisonSafeQueueConsumer, RetryingEventHandler

log = logging.getLogger(__name__)


class BatchQueueConsumer(PoisonSafeQueueConsumer):
    """A queue consumer (connection and channel) for one batch entrypoint: its
    prefetch is the batch prefetch, and its delivery tags are that entrypoint's own,
    which is what makes a multiple-ack safe."""

    def __init__(self, key: Any = None) -> None:
        super().__init__()
        self._key = key

    @property
    def sharing_key(self) -> Any:
        return (type(self), self._key)

    @property
    def prefetch_count(self) -> int:
        return config.of_container(self.container).batch_prefetch

    def get_consumers(self, consumer_cls, channel):
        if config.of_container(self.container).batch_leader:
            for provider in self._providers:
                provider.queue.consumer_arguments = {"x-priority": leader_priority(self.container)}
        return super().get_consumers(consumer_cls, channel)

    def handle_message(self, provider: "BatchEventHandler", body: Any, message: Any) -> None:
        # collected in the consumer's thread; the entrypoint's flusher runs the batches
        provider.collect(body, message)


def leader_priority(container: Any) -> int:
    """The consumer priority of CONTAINER's batch consumers: drawn once per container
    (so one instance leads every batch queue of its service, and reporting's projector
    lease is not passed back and forth), from 2**31 values (a tie, two instances
    sharing a queue round-robin as before, is a one in two billion chance). It stays
    for the container's life, across reconnections."""
    priority = getattr(container, "shegong_batch_priority", None)
    if priority is None:
        priority = container.shegong_batch_priority = secrets.randbelow(2**31 - 1) + 1
    return priority


class BatchEventHandler(RetryingEventHandler):
    """A RetryingEventHandler whose method is called with a list of event bodies."""

    def __init__(self, contract, **kwargs) -> None:
        super().__init__(contract, **kwargs)
        # one consumer (channel) per entrypoint; the key is this prototype's identity,
        # shared by its bound copies in one container
        self.queue_consumer = BatchQueueConsumer(key=(contract.type, id(self)))
        self._pending: list = []
        self._arrived = Event()
        self._stopping = False
        self._flusher = None
        self._idle = Event()
        self._idle.send(None)

    @property
    def batch_size(self) -> int:
        return config.of_container(self.container).batch_size

    @property
    def batch_wait_s(self) -> float:
        return config.of_container(self.container).batch_wait_ms / 1000.0

    def start(self) -> None:
        super().start()
        self._flusher = self.container.spawn_managed_thread(self._run, identifier=repr(self))

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        self._idle.wait()  # the batch in hand finishes (and is acked)
        super().stop()

    def kill(self) -> None:
        self._stopping = True
        self._wake()
        if self._flusher is not None:
            self._flusher.kill()

    def collect(self, body: Any, message: Any) -> None:
        message.shegong_started = time.monotonic()
        self._pending.append((body, message))
        if len(self._pending) == 1 or len(self._pending) >= self.batch_size:
            self._wake()

    def _wake(self) -> None:
        if not self._arrived.ready():
            self._arrived.send(None)

    def _run(self) -> None:
        while not self._stopping:
            if not self._pending:
                self._arrived.wait()
                self._arrived = Event()
                continue
            first_at = self._pending[0][1].shegong_started
            linger = first_at + self.batch_wait_s - time.monotonic()
            if linger > 0 and len(self._pending) < self.batch_size:
                self._arrived.wait(timeout=linger)
                self._arrived = Event()
                continue
            batch = self._pending[: self.batch_size]
            del self._pending[: len(batch)]
            self._idle = Event()
            try:
                self._handle_batch(batch)
            except Exception:  # never kill the flusher; messages are redelivered
                log.exception(
                    "batch of %s failed to settle; its messages stay unacked", self.queue.name
                )
            finally:
                self._idle.send(None)
        # stopping: what is collected but not started goes back to the queue
        for _, message in self._pending:
            self.queue_consumer.requeue_message(message)
        self._pending = []

    def _call(self, bodies: list) -> tuple[Any, Any]:
        """Run the service method on ``bodies`` in a worker; (result, exc_info)."""
        done = Event()

        def handle_result(worker_ctx, result=None, exc_info=None):
            done.send((result, exc_info))
            return result, exc_info

        self.container.spawn_worker(
            self, (bodies,), {}, context_data={}, handle_result=handle_result
        )
        return done.wait()

    def _handle_batch(self, batch: list) -> None:
        try:
            result, exc_info = self._call([body for body, _ in batch])
        except ContainerBeingKilled:
            for _, message in batch:
                self.queue_consumer.requeue_message(message)
            return
        if exc_info is None:
            failures = result if isinstance(result, dict) else {}
            self._settle(batch, failures)
            return
        log.warning(
            "batch of %d on %s failed (%s); handling its messages one by one",
            len(batch),
            self.queue.name,
            exc_info[0].__name__,
        )
        metrics.EVENTS_FAILED.labels(*self._labels(), "batch:" + exc_info[0].__name__).inc()
        if len(batch) == 1:
            self._settle(batch, {0: exc_info[1]})
            return
        failures = {}
        for position, (body, _) in enumerate(batch):
            try:
                single, single_exc = self._call([body])
            except ContainerBeingKilled:
                single, single_exc = None, (ContainerBeingKilled, ContainerBeingKilled(), None)
            if single_exc is not None:
                failures[position] = single_exc[1]
            elif isinstance(single, dict) and single:
                failures[position] = next(iter(single.values()))
        self._settle(batch, failures)

    def _settle(self, batch: list, failures: dict) -> None:
        """Park each failed message (retry or dead letter: acked once its copy is
        confirmed, else requeued), then ack every other one with one multiple-ack."""
        settled = set()
        for position, exc in sorted(failures.items()):
            body, message = batch[position]
            self.handle_result(message, None, exc_info=(type(exc), exc, exc.__traceback__))
            settled.add(position)
        now = time.monotonic()
        last_per_channel: dict = {}
        for position, (_, message) in enumerate(batch):
            if position in settled:
                continue
            last_per_channel[id(message.channel)] = message
            metrics.HANDLER_SECONDS.labels(*self._labels()).observe(now - message.shegong_started)
            metrics.EVENTS_CONSUMED.labels(*self._labels()).inc()
        for last in last_per_channel.values():
            multiple_ack(last)


def multiple_ack(message: Any) -> None:
    """Ack ``message`` and every earlier unacked delivery of its channel."""
    channel = message.channel
    if not channel.connection:  # the broker has taken the messages back already
        return
    try:
        channel.basic_ack(message.delivery_tag, multiple=True)
    except ConnectionError:  # pragma: no cover - closing: they will be redelivered
        return
    message._state = "ACK"


def load_events(bodies: list, contract) -> tuple[list, dict]:
    """Validate a batch: ``([(position, envelope, data)], {position: InvalidEvent})``;
    the invalid ones are returned by the worker and dead-lettered alone."""
    items, invalid = [], {}
    for position, body in enumerate(bodies):
        try:
            envelope, data = load_event(body, contract)
        except InvalidEvent as exc:
            invalid[position] = exc
            continue
        items.append((position, envelope, data))
    return items, invalid


handles_batch: Callable = BatchEventHandler.decorator
