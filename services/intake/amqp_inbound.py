"""The inbound exchange where other government systems publish CloudEvents, and the
Nameko entrypoint that consumes it.

Topology (declared by ``services.common.bootstrap`` through ``IntakeService.extra_topology``):
``shegong.inbound``, a durable topic exchange (routing key: the event type, by
convention), bound with ``#`` to the durable queue ``shegong.inbound.intake``.

A system is named by its event's CloudEvents ``source`` and proves it either by the
AMQP ``user_id`` property (RabbitMQ itself checks it equals the connection's user) equal
to its configured ``amqp_user``, or by its API key in the ``shegong-api-key`` header.
Anything refused goes to ``shegong.dead-letter.intake`` with the reason in its headers
(the key header stripped), exactly like a failing event handler's message: the
retrying and parking code is RetryingEventHandler's own.
"""
import logging
import time
from functools import partial

from kombu import Exchange, Queue
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from services.common import config
from services.common.envelope import InvalidEvent
from services.common.messaging import (
    DEAD_LETTER_EXCHANGE,
    PoisonSafeQueueConsumer,
    RetryingEventHandler,
    queue_type_arguments,
)
from services.intake.inbound_binding import AmqpDelivery
from services.intake.systems import registry

INBOUND_EXCHANGE = "shegong.inbound"
INBOUND_QUEUE = "shegong.inbound.intake"
API_KEY_HEADER = "shegong-api-key"


def inbound_exchange():
    return Exchange(INBOUND_EXCHANGE, type="topic", durable=True)


def inbound_queue(queue_type="classic"):
    return Queue(INBOUND_QUEUE, exchange=inbound_exchange(), routing_key="#", durable=True,
                 auto_delete=False, exclusive=False,
                 queue_arguments=queue_type_arguments(queue_type))


def inbound_topology(queue_type="classic"):
    """The entities to declare before any system publishes."""
    return [inbound_exchange(), inbound_queue(queue_type)]


class InboundEventConsumer(Consumer):
    """Consumes ``shegong.inbound.intake``; the method gets ``(delivery, credentials)``:
    the message undecoded (an inbound_binding.AmqpDelivery: structured or binary mode,
    any content type, read and refused with its real reason by the binding).

    Failures are handled as RetryingEventHandler handles them: an InvalidEvent is
    dead-lettered at once with its reason, an outage waits, anything else is retried
    and then parked. The consumer keeps consuming whatever one message does.
    """

    queue_consumer = PoisonSafeQueueConsumer()

    def __init__(self, **kwargs):
        super().__init__(inbound_queue(), **kwargs)

    def setup(self):
        # declared with the configured queue type, as the bootstrap declares it
        self.queue = inbound_queue(self._queue_type())
        super().setup()

    raw_body = True  # the body is read by inbound_binding, whatever its content type

    def handle_message(self, body, message):
        message.shegong_started = time.monotonic()  # for the handler latency metric
        headers = message.headers or {}
        credentials = {"user_id": message.properties.get("user_id"),
                       "api_key": headers.get(API_KEY_HEADER)}
        delivery = AmqpDelivery(body=body, content_type=message.content_type or None,
                                content_encoding=message.content_encoding or None,
                                headers={k: v for k, v in headers.items()
                                         if k != API_KEY_HEADER})
        try:
            self.container.spawn_worker(
                self, (delivery, credentials), {},
                context_data=self.unpack_message_headers(message),
                handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def _labels(self):  # for the metrics RetryingEventHandler's methods record
        return (self.container.service_name, self.method_name, "inbound")

    # Another system's event refused is its sender's to fix: a warning with the reason.
    refusal_log_level = logging.WARNING

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if isinstance(result, InvalidEvent):  # returned, not raised: nameko logs no traceback
            result, exc_info = None, (InvalidEvent, result, None)
        return RetryingEventHandler.handle_result(self, message, worker_ctx, result, exc_info)

    # The retry / dead-letter behaviour, shared rather than copied.
    _queue_type = RetryingEventHandler._queue_type
    dead_letter_undecodable = RetryingEventHandler.dead_letter_undecodable
    _park = RetryingEventHandler._park
    _retry_later = RetryingEventHandler._retry_later

    def _republish(self, message, headers, exchange, routing_key, declare):
        if exchange.name == DEAD_LETTER_EXCHANGE:  # a parked message keeps no credential
            headers = {k: v for k, v in headers.items() if k != API_KEY_HEADER}
        RetryingEventHandler._republish(self, message, headers, exchange, routing_key, declare)


inbound_events = InboundEventConsumer.decorator


class Systems(DependencyProvider):
    """Injects the registry of external systems (configuration read at start-up)."""

    def setup(self):
        self.registry = registry(config.settings())

    def get_dependency(self, worker_ctx):
        return self.registry
