#!/usr/bin/env bash
# Make sure the local RabbitMQ is up, with its management plugin: `make test` and `make
# bench` need the plugin (they make a throw-away virtual host per test through the
# management API); `make run` runs this with --management-optional: it starts the broker
# when it is down and enables the plugin when it can, and goes on without it when it
# cannot (deploy/local.py makes its virtual host with rabbitmqctl then).
# Does nothing to a broker named by AMQP_URI on another host.
set -euo pipefail
optional=0
[ "${1:-}" = "--management-optional" ] && optional=1
uri="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
case "$uri" in *@127.0.0.1:*|*@localhost:*) ;; *) exit 0 ;; esac
hostport="${uri#*@}"; hostport="${hostport%%/*}"; port="${hostport##*:}"
case "$port" in ''|*[!0-9]*) port=5672 ;; esac

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
say() { echo "[shegong] $*" >&2; }

if ! port_open "$port"; then
  if ! command -v rabbitmq-server >/dev/null; then
    say "RabbitMQ is not running on 127.0.0.1:$port and rabbitmq-server is not installed" \
        "(apt-get install rabbitmq-server, or set AMQP_URI)"
    exit 1
  fi
  say "starting RabbitMQ"
  rabbitmq-server -detached || { say "rabbitmq-server -detached failed: run it as root" \
                                     "(sudo rabbitmq-server -detached), or set AMQP_URI"; exit 1; }
  for _ in $(seq 1 60); do port_open "$port" && break; sleep 1; done
  port_open "$port" || { say "RabbitMQ did not come up on 127.0.0.1:$port within 60 s" \
                             "(see /var/log/rabbitmq)"; exit 1; }
  rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
if ! port_open 15672 && command -v rabbitmq-plugins >/dev/null; then
  say "enabling the RabbitMQ management plugin"
  if rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1; then
    for _ in $(seq 1 30); do port_open 15672 && break; sleep 1; done
  fi
fi
if ! port_open 15672; then
  if [ "$optional" = 1 ]; then
    say "the RabbitMQ management API (15672) is not reachable and could not be enabled here;" \
        "make run goes on without it (make status then lists no queues):" \
        "sudo rabbitmq-plugins enable rabbitmq_management turns it on"
    exit 0
  fi
  say "the RabbitMQ management API (15672) is not reachable:" \
      "sudo rabbitmq-plugins enable rabbitmq_management"
  exit 1
fi
