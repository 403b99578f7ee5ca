"""The inbound exchange where other government systems publish CloudEvents, and the
Nameko entrypoint that consumes it.

Topology (declared by ``services.ops.bootstrap`` through ``IntakeService.extra_topology``):
``shegong.inbound``, a durable topic exchange (routing key: the event type, by
convention), bound with ``#`` to the durable queue ``shegong.inbound.intake``.

A system is named by its event's CloudEvents ``source`` and proves it either by the
AMQP ``user_id`` property (RabbitMQ itself checks it equals the connection's user) equal
to its configured ``amqp_user``, or by its API key in the ``shegong-api-key`` header.
Anything refused goes to ``shegong.dead-letter.intake`` with the reason in its headers
(the key header stripped), exactly like a failing event handler's message. The
consumer is ``@handles_batch``'s (services/common/batching.py), reading raw bytes: its
batching, multiple-ack, isolation of a failing message and parking are inherited,
not copied.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kombu import Exchange, Queue
from nameko.messaging import Consumer

from services.common.batching import BatchEventHandler
from services.common.messaging import DEAD_LETTER_EXCHANGE, queue_type_arguments
from services.intake.inbound_binding import AmqpDelivery

INBOUND_EXCHANGE = "shegong.inbound"
INBOUND_QUEUE = "shegong.inbound.intake"
API_KEY_HEADER = "shegong-api-key"


def inbound_exchange():
    return Exchange(INBOUND_EXCHANGE, type="topic", durable=True)


def inbound_queue(queue_type="classic"):
    return Queue(
        INBOUND_QUEUE,
        exchange=inbound_exchange(),
        routing_key="#",
        durable=True,
        auto_delete=False,
        exclusive=False,
        queue_arguments=queue_type_arguments(queue_type),
    )


def inbound_topology(settings):
    """The entities to declare before any system publishes."""
    return [inbound_exchange(), inbound_queue(settings.queue_type)]


class _InboundSource:
    """What a RetryingEventHandler knows of its contract, for the inbound queue: not a
    catalogue event (``catalogue_queue`` is False on the entrypoint, so the catalogue's
    topology does not declare a queue for it; ``inbound_topology`` does)."""

    producer = "inbound"
    type = INBOUND_EXCHANGE
    exchange = INBOUND_EXCHANGE


class InboundBatchConsumer(BatchEventHandler):
    """Consumes ``shegong.inbound.intake`` in batches, as ``@handles_batch`` consumes an
    event queue: up to SHEGONG_BATCH_SIZE messages or SHEGONG_BATCH_WAIT_MS, one worker
    call, one multiple-ack once the batch is durable, a failing batch isolated message
    by message. The method gets a list of ``(delivery, credentials)``: each message
    undecoded (an inbound_binding.AmqpDelivery: structured or binary mode, any content
    type, read and refused with its real reason by the binding) and what proves its
    sender. It returns ``{position: InvalidEvent}`` for the events it refuses: each of
    those alone is dead-lettered at once with its reason (the key header stripped).
    """

    raw_body = True  # the body is read by inbound_binding, whatever its content type
    catalogue_queue = False
    # Another system's event refused is its sender's to fix: a warning with the reason.
    refusal_log_level = logging.WARNING

    def __init__(self, **kwargs) -> None:
        super().__init__(_InboundSource, **kwargs)

    def setup(self) -> None:
        # the inbound queue, declared with the configured queue type as the bootstrap
        # declares it; not an event handler's evt-... queue
        self.queue = inbound_queue(self._queue_type())
        Consumer.setup(self)

    def _labels(self) -> tuple:
        return (self.container.service_name, self.method_name, "inbound")

    def collect(self, body: Any, message: Any) -> None:
        super().collect(_delivery(body, message), message)

    def _republish(self, message, headers, exchange, routing_key, declare) -> None:
        if exchange.name == DEAD_LETTER_EXCHANGE:  # a parked message keeps no credential
            headers = {k: v for k, v in headers.items() if k != API_KEY_HEADER}
        super()._republish(message, headers, exchange, routing_key, declare)


def _delivery(body: Any, message: Any) -> tuple[AmqpDelivery, dict]:
    """The message undecoded, and the credentials it carries (the key header is kept
    out of the delivery, so nothing downstream can log or store it)."""
    headers = message.headers or {}
    credentials = {
        "user_id": message.properties.get("user_id"),
        "api_key": headers.get(API_KEY_HEADER),
    }
    delivery = AmqpDelivery(
        body=body,
        content_type=message.content_type or None,
        content_encoding=message.content_encoding or None,
        headers={k: v for k, v in headers.items() if k != API_KEY_HEADER},
    )
    return delivery, credentials


inbound_batch: Callable = InboundBatchConsumer.decorator
