"""Declare the whole RabbitMQ topology before anything publishes.

``python -m services.common.bootstrap`` (run by ``make run``, by the compose
``init`` container and by deployments before the services start). Idempotent.
"""

import sys

from services.common import config, logs
from services.common.messaging import declare_topology
from services.common.service_classes import SERVICE_CLASSES, service_class


def declare(settings):
    classes = [service_class(name) for name in SERVICE_CLASSES]
    return declare_topology(
        settings.amqp_uri, classes, settings.retry_delays_ms, settings.queue_type
    )


def main():
    settings = config.settings()
    logs.configure(settings.log_level)
    entities = declare(settings)
    print(f"declared {len(entities)} exchanges and queues", file=sys.stderr)


if __name__ == "__main__":
    main()
