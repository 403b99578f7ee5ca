#!/usr/bin/env bash
# Make sure the local RabbitMQ the tests use is up, with its management plugin
# (the tests create a throw-away virtual host per run through the management API).
# Does nothing to a broker named by AMQP_URI on another host.
set -euo pipefail
uri="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
case "$uri" in *@127.0.0.1:*|*@localhost:*) ;; *) exit 0 ;; esac

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null; then
    echo "[shegong] starting RabbitMQ"
    rabbitmq-server -detached
    for _ in $(seq 1 60); do rabbitmqctl await_startup >/dev/null 2>&1 && break; sleep 1; done
  else
    echo "[shegong] RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed" >&2
    exit 1
  fi
fi
if ! port_open 15672 && command -v rabbitmq-plugins >/dev/null; then
  echo "[shegong] enabling the RabbitMQ management plugin"
  rabbitmq-plugins enable rabbitmq_management >/dev/null
  for _ in $(seq 1 30); do port_open 15672 && break; sleep 1; done
fi
port_open 15672 || { echo "[shegong] the RabbitMQ management API (15672) is not reachable" >&2; exit 1; }
