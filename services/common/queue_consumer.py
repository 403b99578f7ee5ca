"""The queue consumer every event handler of a worker shares (nameko's, made to survive
a poison message and the loss of its broker node).

Kept apart from the handlers (messaging.py), which re-exports it: the consumer is about
connections and decoding, the handlers about what to do with a failure.
"""

import logging
from contextlib import contextmanager
from functools import partial

from nameko.messaging import QueueConsumer

from services.common import brokers

# Logged under messaging's name, where this consumer was first defined: the JSON log
# lines carry the logger's name, and operators' filters (and tests) select by it.
log = logging.getLogger("services.common.messaging")


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
