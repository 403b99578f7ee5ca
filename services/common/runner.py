"""Run one service's Nameko worker as its own process.

Usage: ``python -m services.common.runner casework``.

The worker process's entry point: reads the Settings from the environment (once) and
builds the container's configuration from them (``Settings.nameko_config()``, which
carries the Settings to every extension), starts the service, and on
SIGTERM or SIGINT stops it gracefully: consumers stop taking messages and in-flight
workers finish (their messages are acked or parked) before the process exits.
"""

# isort: off
import services.common  # noqa: F401 - quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()  # must precede every other import
# isort: on

import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402

from services.common import config, logs, metrics, mongo  # noqa: E402
from services.common.messaging import broker_reachable  # noqa: E402
from services.common.service_classes import SERVICE_CLASSES, service_class  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in SERVICE_CLASSES:
        print(
            f"usage: python -m services.common.runner {{{','.join(SERVICE_CLASSES)}}}",
            file=sys.stderr,
        )
        return 2
    name = argv[0]
    settings = config.settings()
    logs.configure(settings.log_level)
    config.accept_dates(settings)
    log = logging.getLogger(f"services.{name}")

    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(service_class(name))
    stopping = eventlet.event.Event()

    def stop(signum, _frame):
        log.info("signal %s: stopping %s", signum, name)
        if not stopping.ready():
            stopping.send(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.start()
    log.info("%s worker started", name)
    metrics_server = metrics.serve_worker_port(
        name,
        settings.metrics_host,
        settings.metrics_port(name),
        {
            "store": lambda: mongo.store_reachable(settings),
            "broker": lambda: broker_reachable(settings.amqp_uri),
        },
    )
    runner_thread = eventlet.spawn(runner.wait)
    stopping.wait()
    try:
        with eventlet.Timeout(30):
            runner.stop()
    except eventlet.Timeout:
        log.warning("%s did not stop within 30 s; killing it", name)
        runner.kill()
    runner_thread.kill()
    if metrics_server is not None:
        metrics_server.shutdown()
    log.info("%s worker stopped", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
