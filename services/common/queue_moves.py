"""Queues retired by an entrypoint's rename, and moving what they hold to their successors.

An entrypoint's queue is named after its method (``topology.entrypoint_queue``), so
renaming an entrypoint gives it a new queue, while the broker keeps the old one, bound
as before: the events it held when the new version started would never be handled, and
it would keep collecting a copy of every event for good. Declaring the topology (bootstrap, run by
``make run`` and by deployments before the services start) therefore unbinds each
retired queue, moves its messages to the queue that replaced it (each publish
confirmed before the original is acked) and deletes it once it is empty and no
consumer uses it. While an earlier version still consumes it (a rolling update) it is
left, unbound, with a warning: run bootstrap again once the rollout ends. An event
that reaches both queues takes effect once: every consumer is idempotent by event id.
"""

import logging

from amqp.exceptions import NotFound, PreconditionFailed

from services.common.topology import entrypoint_queue

log = logging.getLogger(__name__)

# (service, an entrypoint's former name) -> its name now. Renamed so that every
# entrypoint is named after the event it consumes (EventContract.entrypoint_name).
RENAMED_ENTRYPOINTS = {
    ("casework", "open_case"): "request_received",
    ("casework", "update_registry"): "resident_registry_updated",
    ("notifications", "remember_contact"): "request_received",
    ("notifications", "resident_unreached"): "case_resident_unreached",
    ("notifications", "deliver_referral"): "referral_sent",
}


def retired_queues(service, consumers, queue_type="classic", renamed=None):
    """``(retired queue, successor queue)`` for SERVICE's renamed entrypoints; CONSUMERS are
    its ``(method, contract)`` pairs (``messaging.consumers_of``)."""
    contract_of = dict(consumers)
    for (owner, former), now in (RENAMED_ENTRYPOINTS if renamed is None else renamed).items():
        if owner == service and now in contract_of:
            contract = contract_of[now]
            yield (
                entrypoint_queue(contract, service, former, queue_type),
                entrypoint_queue(contract, service, now, queue_type),
            )


def retire(connection, retired, successor) -> int:
    """Unbind RETIRED, move its messages to SUCCESSOR (declared already) and delete it when
    empty and unused. Returns how many messages moved; no such queue moves none."""
    channel = connection.channel()
    try:
        channel.queue_declare(retired.name, passive=True)
    except NotFound:  # never existed here, or retired already (the broker closed the channel)
        return 0
    try:
        channel.queue_unbind(retired.name, retired.exchange.name, retired.routing_key)
        channel.confirm_select()
        moved = 0
        while (message := channel.basic_get(retired.name, no_ack=False)) is not None:
            # the same properties (message id, headers, retry counts) and body
            channel.basic_publish_confirm(
                message, exchange="", routing_key=successor.name, mandatory=True
            )
            channel.basic_ack(message.delivery_tag)
            moved += 1
        if moved:
            log.info(
                "moved %d events from retired queue %s to %s", moved, retired.name, successor.name
            )
        try:
            channel.queue_delete(retired.name, if_unused=True, if_empty=True)
        except PreconditionFailed:
            log.warning(
                "retired queue %s is still consumed (an earlier version still "
                "running?); it is unbound: run bootstrap again once the rollout "
                "ends to move what is left and delete it",
                retired.name,
            )
        return moved
    finally:
        if channel.is_open:
            channel.close()
