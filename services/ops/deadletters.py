"""List, inspect and replay dead-lettered events: the operator's tool after a fix.

    python -m services.ops.deadletters list   [--service S]
    python -m services.ops.deadletters show   --id EVENT_ID [--service S]
    python -m services.ops.deadletters replay (--id EVENT_ID | --all) [--service S]
                                              [--to-exchange]

A dead letter (``shegong.dead-letter.<service>``, see messaging.py) is named by the id
it was given when it was dead-lettered (``x-shegong-dead-letter-id``, dead_letter_ids.py:
its own AMQP message id or CloudEvent id, else a new one, so one with none, an
undecodable body, no headers, is named too) and also found by its CloudEvent id (from
its body, or from its binary-mode ``cloudEvents_id`` header: events from other systems
carry no AMQP message id) or by its AMQP message id. It carries in its
headers why it was parked (``x-death-reason``, ``x-exception-type``), where it came
from (``x-original-exchange``, ``x-original-routing-key``, ``x-original-queue``) and
when (``x-failed-at``). Output is masked: names, phone and ID numbers, free texts.

Reading does not consume: messages are fetched unacknowledged and given back to the
queue, in order, when the channel closes. ``replay`` republishes a message, with its
attempts reset, to the handler queue it failed in (the default: only the handler that
failed sees it again) or with ``--to-exchange`` to its original exchange and routing
key (every consumer of the event; they are idempotent), and acknowledges (removes) the
dead letter only after the broker confirmed the republished copy; a copy no queue takes
(``mandatory``: the queue was deleted, the routing key is unknown) is refused, and the
dead letter stays. Reading a queue and naming each dead letter: dead_letter_queue.py.

Which broker and virtual host: ``AMQP_URI`` / ``SHEGONG_AMQP_VHOST`` when set, else this
checkout's ``make run``'s (``var/run.json``, services/common/runfile.py), else
``shegong`` on the local broker.
"""

import argparse
import json
import sys

from kombu import Connection
from nameko.amqp.publish import get_producer

from services.common import config, messaging
from services.common.config import SERVICES
from services.common.privacy import mask_text
from services.ops.dead_letter_queue import read_queue

REPLAYS_HEADER = "x-shegong-replays"
# headers that describe one failure; a replay starts afresh without them
FAILURE_HEADERS = (
    messaging.ATTEMPTS_HEADER,
    messaging.OUTAGES_HEADER,
    messaging.DELAY_HEADER,
    "x-death-reason",
    "x-death-fields",
    "x-exception-type",
    "x-exception",
    "x-failed-at",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-delivery-count",
)


def replay(amqp_uri, letter, to_exchange=False):
    """Republish one dead letter, confirmed, then remove it from its queue."""
    headers = {k: v for k, v in letter.headers.items() if k not in FAILURE_HEADERS}
    headers[REPLAYS_HEADER] = int(letter.headers.get(REPLAYS_HEADER, 0)) + 1
    if to_exchange:
        exchange = letter.headers.get("x-original-exchange", "")
        routing_key = letter.headers.get("x-original-routing-key", "")
    else:
        exchange, routing_key = "", letter.headers.get("x-original-queue", "")
    if not routing_key:
        raise ValueError(f"dead letter {letter.event_id} does not say where it came from")
    props = letter.message.properties
    with get_producer(amqp_uri, confirms=True) as producer:
        producer.publish(
            letter.message.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers,
            content_type=letter.message.content_type,
            content_encoding=letter.message.content_encoding,
            message_id=props.get("message_id"),
            correlation_id=props.get("correlation_id"),
            type=props.get("type"),
            delivery_mode=2,
            mandatory=True,
            retry=True,
            retry_policy={"max_retries": 3},
        )
    letter.message.ack()  # only now: the copy is confirmed by the broker
    return exchange or "(default)", routing_key


def table(rows, columns):
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def run(args, settings, out=sys.stdout):
    services = [args.service] if args.service else list(SERVICES)
    with Connection(settings.amqp_uri, connect_timeout=5) as connection:
        channel = connection.channel()
        try:
            letters = [
                letter
                for service in services
                for letter in read_queue(channel, service, settings.queue_type)
            ]
            if args.command == "list":
                rows = [letter.summary() for letter in letters]
                for row in rows:
                    row["reason"] = row["reason"][:70]
                print(
                    table(
                        rows, ("service", "id", "type", "queue", "failed_at", "exception", "reason")
                    )
                    if rows
                    else "no dead letters",
                    file=out,
                )
                return 0
            chosen = (
                letters
                if getattr(args, "all", False)
                else [letter for letter in letters if args.id in letter.names()]
            )
            if not chosen:
                print(
                    f"no dead letter with id {args.id}" if args.id else "no dead letters", file=out
                )
                return 1 if args.id else 0
            if args.command == "show":
                print(
                    json.dumps(
                        [letter.details() for letter in chosen],
                        ensure_ascii=False,
                        indent=2,
                        default=str,
                    ),
                    file=out,
                )
                return 0
            failed = 0
            for letter in chosen:
                try:
                    exchange, key = replay(settings.amqp_uri, letter, args.to_exchange)
                except Exception as exc:  # noqa: BLE001 - this one stays parked; go on
                    failed += 1
                    print(
                        f"could not replay {letter.event_id} ({letter.service}), it stays in "
                        f"the dead-letter queue: {type(exc).__name__}: {mask_text(str(exc))}",
                        file=out,
                    )
                    continue
                print(
                    f"replayed {letter.event_id} ({letter.service}) to exchange {exchange} "
                    f"routing key {key}",
                    file=out,
                )
            return 1 if failed else 0
        finally:
            channel.close()  # what was read and not replayed goes back to its queue


ID_HELP = "the id the listing shows (or the CloudEvent id, or the AMQP message id)"


def parser():
    main = argparse.ArgumentParser(
        prog="python -m services.ops.deadletters",
        description="List, inspect and replay dead-lettered events.",
    )
    commands = main.add_subparsers(dest="command", required=True)
    for name in ("list", "show", "replay"):
        sub = commands.add_parser(name)
        sub.add_argument("--service", choices=SERVICES, help="one service's queue (default: all)")
        if name == "show":
            sub.add_argument("--id", required=True, help=ID_HELP)
        if name == "replay":
            which = sub.add_mutually_exclusive_group(required=True)
            which.add_argument("--id", help=ID_HELP)
            which.add_argument("--all", action="store_true", help="every dead letter")
            sub.add_argument(
                "--to-exchange",
                action="store_true",
                help="to the original exchange and routing key (every consumer) "
                "instead of the handler queue it failed in",
            )
        sub.set_defaults(id=None)
    return main


def main(argv=None, out=sys.stdout):
    args = parser().parse_args(argv)
    return run(args, config.operations_settings(), out)


if __name__ == "__main__":
    sys.exit(main())
