"""The publishing side of RabbitMQ: events sent with the broker's confirms, and whether
the broker can be reached at all.

What an API, a relay or an operator's tool needs of the broker without consuming from
it; kept apart from the consuming side (messaging.py: handlers that retry and
dead-letter, and the topology), which re-exports these names, so that
``services.common.messaging`` stays the one import path for callers.
"""

import time

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher

from services.common import brokers
from services.common.confirms import ConfirmedPublisher, Outgoing, PublishFailed
from services.common.contracts import CATALOGUE
from services.common.envelope import CONTENT_TYPE, encode_json
from services.common.topology import contract_exchange


class BrokerUnavailable(Exception):
    """The broker could not be reached (or did not confirm) in time."""


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
