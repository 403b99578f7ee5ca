"""Where this checkout's ``make run`` runs: ``var/run.json``.

``make run`` (deploy/local.py) writes it as soon as it knows (after the store started,
before the broker is asked): its APIs' and workers' ports, the store's URI and database
prefix, the AMQP URI and virtual host, the management API; and marks it ``stopped`` on
its way out (a stopped run's virtual host and store are still where its dead letters
and queues are). The file is replaced atomically, and holds no password: URIs are
written without theirs (the development broker's ``guest`` is the default again when
read; with another password, give the operations commands ``AMQP_URI``).

The operations commands of the checkout (``make status``, ``make deadletters*``, ``make
clean``) build their settings with ``config.operations_settings()``: each variable from
the environment when it is set there, else from the run's record, else the default (and
the virtual host ``shegong``, ``make run``'s).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from services.common import config
from services.common.config import SERVICES

NAME = "run.json"


def without_password(uri: str) -> str:
    """The URI with its password left out (the user name kept)."""
    parsed = urlparse(uri)
    userinfo, at, hosts = parsed.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    return urlunparse(parsed._replace(netloc=f"{userinfo.partition(':')[0]}@{hosts}"))


def record(settings: config.Settings, embedded_port: int | None = None) -> dict:
    """What the operations commands need to find a run of these settings, as the
    environment variables that say it (and the embedded store's port, when it runs one)."""
    amqp = urlparse(settings.amqp_uri)
    values = {
        "AMQP_URI": without_password(urlunparse(amqp._replace(path="/"))),
        "SHEGONG_AMQP_VHOST": settings.amqp_vhost,
        "RABBIT_API_URI": without_password(settings.rabbit_api_uri),
        "MONGO_URI": without_password(settings.mongo_uri),
        "SHEGONG_DB_PREFIX": settings.db_prefix,
        "SHEGONG_QUEUE_TYPE": settings.queue_type,
        **{f"{name.upper()}_PORT": str(settings.port(name)) for name in SERVICES},
        **{
            f"{name.upper()}_METRICS_PORT": str(settings.local_metrics_port(name))
            for name in SERVICES
        },
    }
    if embedded_port:
        values["SHEGONG_EMBEDDED_MONGO_PORT"] = str(embedded_port)
    return {"state": "running", "pid": os.getpid(), "started_at": time.time(), "env": values}


def write(var_dir: Path, content: dict) -> Path:
    path = var_dir / NAME
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(content, indent=2, ensure_ascii=False))
    partial.chmod(0o600)
    partial.replace(path)  # atomic: a reader sees the old file or the new one
    return path


def read(var_dir: Path) -> dict:
    """The record of the checkout's last run; {} when there is none (or it is torn)."""
    try:
        content = json.loads((var_dir / NAME).read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def mark_stopped(var_dir: Path) -> None:
    """On make run's way out: stopped, when the record is still this process's."""
    content = read(var_dir)
    if content.get("pid") == os.getpid():
        write(var_dir, dict(content, state="stopped", stopped_at=time.time()))


def running(content: dict) -> bool:
    """The record's make run is alive (a killed one leaves "running" behind)."""
    if content.get("state") != "running" or not isinstance(content.get("pid"), int):
        return False
    try:
        os.kill(content["pid"], 0)
    except OSError:
        return False
    return True


def environment(env) -> dict:
    """The environment of an operations command (``config.operations_settings``): ``env``,
    over the run's record, over make run's virtual host."""
    recorded = read(config.settings(env).var_dir).get("env") or {}
    recorded = {key: str(value) for key, value in recorded.items() if isinstance(key, str)}
    return {"SHEGONG_AMQP_VHOST": config.LOCAL_AMQP_VHOST, **recorded, **env}
