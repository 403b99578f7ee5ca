"""RabbitMQ: handlers that retry and dead-letter, and the declaration of the whole
topology (its exchanges and queues: ``topology.py``).

Publishing with confirms and the broker's reachability (``publishing.py``) and the queue
consumer the handlers share (``queue_consumer.py``) are modules of their own, to keep
each one readable; their names are re-exported here, so ``services.common.messaging``
remains the one import path for the broker.
"""

import logging
import time
import traceback

from kombu import Connection
from kombu.exceptions import ContentDisallowed
from nameko.amqp.publish import get_producer
from nameko.events import EventHandler

from services.common import clock, config, dead_letter_ids, metrics, queue_moves
from services.common.contracts import CATALOGUE
from services.common.envelope import CONTENT_TYPE, InvalidEvent, NotKnownYet
from services.common.mongo import STORE_DOWN_ERRORS
from services.common.privacy import mask_text
from services.common.publishing import (  # noqa: F401 - also this module's public names
    BatchUnconfirmed,
    BrokerProbe,
    BrokerUnavailable,
    EventPublisher,
    broker_reachable,
    outgoing_event,
)
from services.common.queue_consumer import PoisonSafeQueueConsumer
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


# Failures of the infrastructure rather than of the event: retried for as long as they last.
OUTAGE_ERRORS = (*STORE_DOWN_ERRORS, BrokerUnavailable)


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
