"""RabbitMQ: publishing with confirms, handlers that retry and dead-letter, and the
declaration of the whole topology (its exchanges and queues: ``topology.py``).
"""

import logging
import time
import traceback
from contextlib import contextmanager
from functools import partial

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu import Connection
from kombu.exceptions import ContentDisallowed, OperationalError
from nameko.amqp.publish import Publisher, get_producer
from nameko.events import EventHandler
from nameko.messaging import QueueConsumer

from services.common import brokers, clock, config, dead_letter_ids, metrics, queue_moves
from services.common.confirms import ConfirmedPublisher, Outgoing, PublishFailed
from services.common.contracts import CATALOGUE
from services.common.envelope import CONTENT_TYPE, InvalidEvent, NotKnownYet, encode_json
from services.common.mongo import STORE_DOWN_ERRORS
from services.common.privacy import mask_text
from services.common.topology import (  # noqa: F401 - also this module's public names
    DEAD_LETTER_EXCHANGE,
    DELAY_HEADER,
    RETRY_EXCHANGE,
    agency_queue,
    contract_exchange,
    dead_letter_exchange,
    dead_letter_queue,
    entrypoint_queue,
    event_exchange,
    outbound_exchange,
    queue_type_arguments,
    retry_exchange,
    retry_queue,
)

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-shegong-attempts"
OUTAGES_HEADER = "x-shegong-outage-retries"


class BrokerUnavailable(Exception):
    """The broker could not be reached (or did not confirm) in time."""


# Failures of the infrastructure rather than of the event: retried for as long as they last.
OUTAGE_ERRORS = (*STORE_DOWN_ERRORS, BrokerUnavailable)


class EventPublisher:
    """Publishes envelopes to their producer's exchange and waits for the broker's confirm.

    ``mandatory`` is set: an event no queue is bound for is refused (raises), so an
    outbox entry is never marked sent for an event that went nowhere. Thread- and
    greenlet-safe (kombu's connection pools).
    """

    def __init__(self, amqp_uri, retry_policy=None):
        self.amqp_uri = amqp_uri
        self._publisher = Publisher(
            amqp_uri,
            use_confirms=True,
            serializer="cloudevents",
            mandatory=True,
            retry=True,
            retry_policy=retry_policy
            or {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.4, "interval_max": 1.0},
        )
        self._batches = ConfirmedPublisher(amqp_uri)  # connects on first use

    def publish(self, envelope):
        contract = CATALOGUE[envelope["type"]]
        try:
            self._publisher.publish(
                envelope,
                exchange=contract_exchange(contract),
                routing_key=contract.routing_key(envelope["data"]),
                message_id=envelope["id"],
                correlation_id=envelope.get("correlationid"),
                type=envelope["type"],
                transport_options={
                    "max_retries": 1,
                    "interval_start": 0.2,
                    "interval_step": 0.2,
                    "interval_max": 0.5,
                },
            )
        except (OSError, OperationalError, AmqpConnectionError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    def publish_batch(self, envelopes, attempts=None):
        """Publish many envelopes, their confirms awaited together (confirms.py), in
        ``attempts`` (each on another node after a failure; by default 3).

        Raises BrokerUnavailable when some were not confirmed; its ``failed`` lists
        their positions (every other one is confirmed).
        """
        if not envelopes:
            return
        try:
            self._batches.publish_batch(
                [outgoing_event(envelope) for envelope in envelopes], attempts
            )
        except PublishFailed as exc:
            raise BatchUnconfirmed(str(exc), exc.failed) from exc


class BatchUnconfirmed(BrokerUnavailable):
    """Part of a batch was not confirmed: ``failed`` names the positions."""

    def __init__(self, reason, failed):
        super().__init__(reason)
        self.failed = list(failed)


def outgoing_event(envelope):
    """The message EventPublisher.publish sends for an envelope, for confirms.py."""
    contract = CATALOGUE[envelope["type"]]
    properties = {
        "content_type": CONTENT_TYPE,
        "content_encoding": "binary",
        "message_id": envelope["id"],
        "type": envelope["type"],
        "delivery_mode": 2,
        "application_headers": {},
    }
    if envelope.get("correlationid"):
        properties["correlation_id"] = envelope["correlationid"]
    return Outgoing(
        encode_json(envelope),
        contract_exchange(contract).name,
        contract.routing_key(envelope["data"]),
        properties,
    )


def broker_reachable(amqp_uri, timeout=2.0):
    """True when a connection to the broker (any node of a cluster) can be opened now."""
    try:
        connection = brokers.connect(amqp_uri, timeout)
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    brokers.close(connection, timeout)
    return True


class BrokerProbe:
    """Answers "is the broker reachable?" cheaply: a success is trusted for ``ttl_s``."""

    def __init__(self, amqp_uri, ttl_s=1.0):
        self.amqp_uri = amqp_uri
        self.ttl_s = ttl_s
        self._ok_until = 0.0

    def reachable(self):
        now = time.monotonic()
        if now < self._ok_until:
            return True
        ok = broker_reachable(self.amqp_uri)
        self._ok_until = now + self.ttl_s if ok else 0.0
        return ok

    def failed(self):
        self._ok_until = 0.0


class PoisonSafeQueueConsumer(QueueConsumer):
    """nameko's queue consumer, but a body that cannot be decoded (not JSON, a content
    type it does not accept) is handed to its handler to dead-letter, instead of
    raising out of the consumer loop and killing the service.

    On a cluster (AMQP_URI lists every node) it also survives its node: each
    (re)connection starts at the node after the one it lost (brokers.rotated), every
    node is tried in turn until one answers, and a lost connection is thrown away
    without the closing handshake, which a paused node would never answer (kombu's
    ConsumerMixin would wait for it, and the consumer with it). Its consumers are set
    up again on the new connection (get_consumers); what it had been delivered and not
    acked is redelivered by the broker (handlers are idempotent by event id)."""

    @property
    def amqp_uri(self):
        return brokers.rotated(super().amqp_uri, self._broker_turn())

    def _broker_turn(self):
        turn = getattr(self, "_turn", None)
        if turn is None:
            turn = self._turn = brokers.next_turn()
        return turn

    @contextmanager
    def establish_connection(self):
        connection = self.create_connection()
        try:
            connection.ensure_connection(self.on_connection_error, self.connect_max_retries)
            yield connection
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                log.warning(
                    "broker connection to %s lost (%s: %s); reconnecting",
                    brokers.node_of(connection),
                    type(exc).__name__,
                    exc,
                )
            # the next connection starts at the node after this one
            self._turn = self._broker_turn() + brokers.index_of(self.amqp_uri, connection) + 1
            brokers.discard(connection)
            raise
        else:
            connection.release()

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
            if getattr(provider, "raw_body", False):
                # The provider reads the body itself: kombu would refuse a content type
                # it does not know by its exact name ("ContentDisallowed") before the
                # provider could say what is really wrong with the message.
                consumer.on_message = partial(self._undecoded, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        provider.dead_letter_undecodable(message, exc)

    def _undecoded(self, provider, message):
        self.handle_message(provider, message.body, message)


class RetryingEventHandler(EventHandler):
    """A nameko event handler for one catalogue contract that never drops a failure.

    A handler that raises is retried after growing delays (``SHEGONG_RETRY_DELAYS_MS``);
    when the delays are used up, or at once for an InvalidEvent, the message goes to
    the service's dead-letter queue with the reason. While the store or the broker is
    down (OUTAGE_ERRORS) the message waits the longest delay again and again, using up
    none of its attempts: an outage parks nothing in the dead-letter queue. The original
    is acked only after the copy has been confirmed by the broker; if that fails it is
    requeued.
    """

    queue_consumer = PoisonSafeQueueConsumer()
    refusal_log_level = logging.ERROR  # an invalid event of our own making is a bug
    catalogue_queue = True  # its queue is a catalogue event's (consumers_of lists it)

    def __init__(self, contract, **kwargs):
        self.contract = contract
        super().__init__(contract.producer, contract.type, **kwargs)

    def setup(self):
        super().setup()
        if self.contract.exchange:  # not its producer's exchange: the queue says where
            self.queue = entrypoint_queue(
                self.contract, self.container.service_name, self.method_name
            )
        # the same queue type as the topology declared (bootstrap, definitions file)
        self.queue.queue_arguments = queue_type_arguments(self._queue_type())

    def _queue_type(self):
        return config.of_container(self.container).queue_type

    def handle_message(self, body, message):
        message.shegong_started = time.monotonic()  # for the handler latency metric
        return super().handle_message(body, message)

    def _labels(self):
        return (self.container.service_name, self.method_name, self.contract.type)

    def dead_letter_undecodable(self, message, exc):
        content_type = message.content_type
        if isinstance(exc, ContentDisallowed):  # kombu refused it by its content type's name
            reason = (
                f"content type {content_type!r} is not accepted: expected {CONTENT_TYPE}"
                if content_type
                else f"no content type: expected {CONTENT_TYPE}"
            )
        else:
            reason = (
                f"body could not be decoded as {content_type or 'no content type'}: "
                f"{type(exc).__name__}: {str(exc)[:200]}"
            )
        self.handle_result(message, None, exc_info=(InvalidEvent, InvalidEvent(reason), None))

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        started = getattr(message, "shegong_started", None)
        if started is not None:
            metrics.HANDLER_SECONDS.labels(*self._labels()).observe(time.monotonic() - started)
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            metrics.EVENTS_CONSUMED.labels(*self._labels()).inc()
            return result, exc_info
        metrics.EVENTS_FAILED.labels(*self._labels(), exc_info[0].__name__).inc()
        try:
            self._park(message, exc_info[1])
        except Exception:  # could not park it: keep it in its queue
            log.exception("could not retry or dead-letter %s; requeueing", self.queue.name)
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)
        return result, exc_info

    def _park(self, message, exc):
        delays = tuple(config.of_container(self.container).retry_delays_ms)
        headers = dict(message.headers or {})
        # where the event first came from (a retried copy arrives via the default exchange)
        headers.setdefault("x-original-exchange", message.delivery_info.get("exchange", ""))
        headers.setdefault("x-original-routing-key", message.delivery_info.get("routing_key", ""))
        event_id = message.properties.get("message_id")
        if isinstance(exc, OUTAGE_ERRORS):
            # The store or broker is away, not the event at fault: wait (longest delay)
            # for as long as the outage lasts; the attempts left are kept for real faults.
            headers[OUTAGES_HEADER] = int(headers.get(OUTAGES_HEADER, 0)) + 1
            self._retry_later(message, headers, delays[-1], f"{type(exc).__name__}, an outage")
            metrics.EVENTS_RETRIED.labels(*self._labels(), "outage").inc()
            return
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        headers[ATTEMPTS_HEADER] = attempts
        permanent = isinstance(exc, InvalidEvent)
        if (not permanent or isinstance(exc, NotKnownYet)) and attempts <= len(delays):
            self._retry_later(
                message, headers, delays[attempts - 1], f"{type(exc).__name__}, attempt {attempts}"
            )
            metrics.EVENTS_RETRIED.labels(*self._labels(), "fault").inc()
            return
        # the reason is read by operators: numbers that may be personal are masked
        reason = mask_text(exc.reason if permanent else f"{type(exc).__name__}: {exc}")
        headers.update(
            {
                "x-death-reason": reason[:1000],
                "x-exception-type": type(exc).__name__,
                "x-original-queue": self.queue.name,
                "x-failed-at": clock.iso(clock.now()),
            }
        )
        if permanent and getattr(exc, "fields", None):
            headers["x-death-fields"] = mask_text(str(exc.fields))[:2000]
        if not permanent:
            headers["x-exception"] = mask_text("".join(traceback.format_exception(exc)))[-2000:]
        # what the operator's tool names it by, whatever the message lacks
        letter_id = dead_letter_ids.assign(message, headers)
        service = self.container.service_name
        level = self.refusal_log_level if permanent else logging.ERROR
        log.log(
            level,
            "handler %s gave up on event %s (dead letter %s) after %d attempt(s): %s",
            self.queue.name,
            event_id,
            mask_text(letter_id),
            attempts,
            reason[:200],
        )
        self._republish(
            message,
            headers,
            dead_letter_exchange(),
            service,
            declare=[dead_letter_queue(service, self._queue_type())],
        )
        metrics.EVENTS_DEAD_LETTERED.labels(*self._labels()).inc()

    def _retry_later(self, message, headers, delay_ms, why):
        headers[DELAY_HEADER] = str(delay_ms)
        log.warning(
            "handler %s failed (%s) for event %s; retry in %d ms",
            self.queue.name,
            why,
            message.properties.get("message_id"),
            delay_ms,
        )
        self._republish(
            message,
            headers,
            retry_exchange(),
            self.queue.name,
            declare=[retry_queue(delay_ms, self._queue_type())],
        )

    def _republish(self, message, headers, exchange, routing_key, declare):
        settings = config.of_container(self.container)
        props = message.properties
        with get_producer(settings.amqp_uri, confirms=True) as producer:
            # the confirm is awaited for a bounded time: a node that stopped answering
            # fails the attempt, and the retry goes to another node (brokers.py)
            producer.publish(
                message.body,
                exchange=exchange,
                routing_key=routing_key,
                headers=headers,
                timeout=settings.confirm_timeout_s,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                message_id=props.get("message_id"),
                correlation_id=props.get("correlation_id"),
                type=props.get("type"),
                delivery_mode=2,
                declare=declare,
                retry=True,
                retry_policy={"max_retries": 3},
                mandatory=True,
            )


handles = RetryingEventHandler.decorator


def consumers_of(service_cls):
    """(method name, contract) for every RetryingEventHandler on a nameko service class."""
    found = []
    for name in dir(service_cls):
        method = getattr(service_cls, name)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, RetryingEventHandler) and entrypoint.catalogue_queue:
                found.append((name, entrypoint.contract))
    return sorted(found, key=lambda item: (item[1].type, item[0]))


def topology(service_classes, settings):
    """Every exchange and queue (with its binding) of the system, unbound kombu entities:
    the retry queues of ``settings.retry_delays_ms``, every queue of
    ``settings.queue_type``."""
    queue_type = settings.queue_type
    entities = [retry_exchange(), dead_letter_exchange()]
    entities += [
        event_exchange(producer)
        for producer in sorted({contract.producer for contract in CATALOGUE.values()})
    ]
    entities.append(outbound_exchange())
    entities += [retry_queue(delay, queue_type) for delay in settings.retry_delays_ms]
    for service_cls in service_classes:
        entities.append(dead_letter_queue(service_cls.name, queue_type))
        for method, contract in consumers_of(service_cls):
            entities.append(entrypoint_queue(contract, service_cls.name, method, queue_type))
        # what a service consumes besides the catalogue (e.g. intake's inbound exchange)
        entities += getattr(service_cls, "extra_topology", lambda settings: [])(settings)
    return entities


def declare_topology(settings, service_classes):
    """Declare every exchange, queue and binding (``topology``) on ``settings.amqp_uri``
    before anything publishes, then retire the queues of renamed handlers into their
    successors (queue_moves)."""
    entities = topology(service_classes, settings)
    with Connection(settings.amqp_uri, connect_timeout=5) as connection:
        channel = connection.channel()
        for entity in entities:
            entity.bind(channel).declare()
        for service_cls in service_classes:
            for retired, successor in queue_moves.retired_queues(
                service_cls.name, consumers_of(service_cls), settings.queue_type
            ):
                queue_moves.retire(connection, retired, successor)
    return entities
