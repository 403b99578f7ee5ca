"""Declare the whole RabbitMQ topology before anything publishes.

``python -m services.ops.bootstrap`` (run by ``make run``, by the compose
``init`` container and by deployments before the services start). Idempotent.
"""

import sys

from services.common import config, logs
from services.common.messaging import declare_topology
from services.common.service_classes import SERVICE_CLASSES, service_class


def declare(settings):
    return declare_topology(settings, [service_class(name) for name in SERVICE_CLASSES])


def main():
    settings = config.settings()
    logs.configure(settings.log_level)
    entities = declare(settings)
    print(f"declared {len(entities)} exchanges and queues", file=sys.stderr)


if __name__ == "__main__":
    main()
