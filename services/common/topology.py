"""The names and shapes of the system's exchanges and queues, all durable.

- ``<producer>.events`` topic exchanges (nameko's naming); the routing key is the
  CloudEvents type, e.g. ``shegong.case.opened.v1``.
- one queue per consuming entrypoint, ``evt-<producer>-<type>--<service>.<method>``
  (nameko's SERVICE_POOL naming: instances of a service share it, each event once).
- ``shegong.retry``: a headers exchange routing on ``shegong-retry-delay-ms`` to one queue
  per delay, ``shegong.retry.<ms>ms``, whose messages expire back through the default
  exchange into the queue they came from (their routing key is that queue's name).
- ``shegong.outbound``: a topic exchange for what leaves for partner agencies, routed
  by agency id: ``shegong.outbound.<agency>``, an AMQP agency's own queue (declared by
  casework, which publishes there), and notifications' webhook queue, bound with ``#``.
- ``shegong.dead-letter``: a direct exchange; ``shegong.dead-letter.<service>`` holds
  what a service could not handle, with the reason in the headers.

Which of them exist is decided in ``messaging.topology`` (from the entrypoints the
services declare); the RabbitMQ definitions file is generated from that same list.
"""

from kombu import Exchange, Queue
from nameko.standalone.events import get_event_exchange

from services.common.contracts import OUTBOUND_EXCHANGE

RETRY_EXCHANGE = "shegong.retry"
DEAD_LETTER_EXCHANGE = "shegong.dead-letter"
# No "x-" prefix: RabbitMQ's headers exchange ignores x- headers when matching.
DELAY_HEADER = "shegong-retry-delay-ms"


# Entities are built fresh each time: a kombu entity stays bound to the first channel
# it was declared on, and that channel dies with its connection.
def retry_exchange():
    return Exchange(RETRY_EXCHANGE, type="headers", durable=True)


def dead_letter_exchange():
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def event_exchange(producer):
    return get_event_exchange(producer, {})


def contract_exchange(contract):
    """Where a contract's events are published: its producer's exchange, or its own
    (``shegong.outbound``: what leaves for partner agencies, a topic exchange too)."""
    if not contract.exchange:
        return event_exchange(contract.producer)
    return Exchange(contract.exchange, type="topic", durable=True)


def outbound_exchange():
    return Exchange(OUTBOUND_EXCHANGE, type="topic", durable=True)


def agency_queue(agency, queue_type="classic"):
    """An AMQP agency's own queue on ``shegong.outbound``: its referrals (routing key: its
    id), read by its RabbitMQ user only (services/ops/agencies.py)."""
    return Queue(
        agency.queue,
        exchange=outbound_exchange(),
        routing_key=agency.id,
        durable=True,
        auto_delete=False,
        exclusive=False,
        queue_arguments=queue_type_arguments(queue_type),
    )


def queue_type_arguments(queue_type):
    """The declare arguments of a queue type (SHEGONG_QUEUE_TYPE). Classic queues are
    declared without the argument, as they always were, so that existing ones match;
    RabbitMQ refuses (PRECONDITION_FAILED) a declaration that differs from the queue."""
    if queue_type in (None, "", "classic"):
        return {}
    if queue_type != "quorum":
        raise ValueError(f"unknown queue type {queue_type!r} (classic or quorum)")
    return {"x-queue-type": "quorum"}


def retry_queue(delay_ms, queue_type="classic"):
    """A delay: messages wait ``delay_ms`` here, then expire back (dead-lettered through
    the default exchange) into the queue they came from.

    On a quorum queue dead-lettering is at-most-once by default: a message that expires
    while the leader changes may be dropped. ``at-least-once`` (with ``reject-publish``,
    which it requires) keeps each message until the queue it goes back to has it."""
    arguments = {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": "",
        **queue_type_arguments(queue_type),
    }
    if arguments.get("x-queue-type") == "quorum":
        arguments.update(
            {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        )
    return Queue(
        f"shegong.retry.{delay_ms}ms",
        exchange=retry_exchange(),
        durable=True,
        binding_arguments={"x-match": "all", DELAY_HEADER: str(delay_ms)},
        queue_arguments=arguments,
    )


def dead_letter_queue(service, queue_type="classic"):
    return Queue(
        f"shegong.dead-letter.{service}",
        exchange=dead_letter_exchange(),
        routing_key=service,
        durable=True,
        queue_arguments=queue_type_arguments(queue_type),
    )


def entrypoint_queue(contract, service, method, queue_type="classic"):
    """The queue nameko declares for a SERVICE_POOL event entrypoint: declared identically."""
    # a contract routed by a data field (the agency) is consumed whole: "#"
    return Queue(
        f"evt-{contract.producer}-{contract.type}--{service}.{method}",
        exchange=contract_exchange(contract),
        routing_key="#" if contract.routing_field else contract.type,
        durable=True,
        auto_delete=False,
        exclusive=False,
        queue_arguments=queue_type_arguments(queue_type),
    )
