"""All configuration, read from environment variables with safe development defaults.

This is the only module that reads ``os.environ`` for settings, and only when
``settings()`` is called: never when a module is imported. Each process calls it once,
at its entry point (the worker runner, each API's ``create_app`` under gunicorn, each
operator command), and hands that one ``Settings`` down to whatever needs it:

- a Nameko worker: ``Settings.nameko_config()`` is the container's configuration and
  carries the Settings itself (``SETTINGS_KEY``); every extension (dependency providers,
  entrypoints, timers) reads it with ``of_container``, never the environment;
- an API: ``create_app(settings)`` passes it to its store, relay and handlers.

A test builds its own (``settings(env)``, ``dataclasses.replace``) and hands it the
same way: ``container_factory(Service, its_settings.nameko_config())``.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from services.common.amqp_uris import amqp_uri, first_node, vhost_of  # noqa: F401 - re-exported
from services.common.container_settings import SETTINGS_KEY, of_container  # noqa: F401 - re-exported
from services.common.notification_settings import (
    NotificationSettings,
    notification_settings,
)

SERVICES = ("intake", "casework", "notifications", "reporting")

DEFAULT_PORTS = {"intake": 8001, "casework": 8002, "notifications": 8003, "reporting": 8004}


# Handler retries before a dead letter (ms); the one default, used wherever delays are read.
DEFAULT_RETRY_DELAYS_MS = (1000, 5000, 30000)

# Batch entrypoints (batching.py): up to SIZE messages or WAIT ms after the first, with
# PREFETCH unacked per consumer. Measured here (shared/notes/batching-on-this-machine.md):
# sizes 50-250 and waits 5-20 ms were within noise of each other.
DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCH_WAIT_MS = 10
DEFAULT_BATCH_PREFETCH = 300


# casework's service levels per priority (services/casework/domain/sla.py) unless SHEGONG_SLA
DEFAULT_SERVICE_LEVELS = "urgent=30m/24h,normal=4h/7d,low=1d/30d"


# `make run`'s own virtual host when neither AMQP_URI nor SHEGONG_AMQP_VHOST names one
LOCAL_AMQP_VHOST = "shegong"


# The dates a command may carry (services/common/fields.py, StationDates): the stations
# started in 2023, so a day before SHEGONG_FIRST_DAY or more than SHEGONG_DAYS_AHEAD
# days after today (the district's) is a typo, refused with the range it should be in.
DEFAULT_FIRST_DAY = "2023-01-01"
DEFAULT_DAYS_AHEAD = 1


# The range every date field checks (fields.StationDates): the process's entry point
# sets it from its Settings once (accept_dates: the runner for a worker, Api for an HTTP
# API); a marshmallow field has no other way to be handed it. Until then, the defaults.
_ACCEPTED: list = [date.fromisoformat(DEFAULT_FIRST_DAY), DEFAULT_DAYS_AHEAD]


def accept_dates(settings: "Settings") -> None:
    """Check every date from now on against ``settings``' range."""
    _ACCEPTED[:] = [settings.accepted_first_day, settings.accepted_days_ahead]


def accepted_dates() -> tuple[date, int]:
    """``(first day, days ahead of today)`` of the dates commands and events may carry."""
    return _ACCEPTED[0], _ACCEPTED[1]


def _ints(text):
    return tuple(int(part) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """One process's configuration, built by ``settings()`` (which gives every field
    its value and its one default)."""

    amqp_uri: str
    mongo_uri: str
    db_prefix: str
    var_dir: Path
    ports: dict
    bind_host: str
    token_secret: str
    pseudonym_key: str
    retry_delays_ms: tuple
    relay_interval_s: float
    relay_grace_s: float
    sms_file: Path
    notifications: "NotificationSettings"
    log_level: str
    max_workers: int
    http_threads: int
    http_workers: int
    # casework: service levels per priority ("urgent=30m/24h,..."), how often to look for
    # breaches, the reopen window, how often the workload counters are recounted
    service_levels: str
    sla_interval_s: float
    workload_recount_s: float
    reopen_window_s: int
    # intake: how long an Idempotency-Key names its request; the external systems' registry
    idempotency_ttl_s: int
    inbound_systems_file: str
    # partner agencies (casework refers to them, notifications POSTs to the webhook ones)
    agencies_file: str
    # partner agencies taking referrals by webhook: their HMAC secrets ("agency=secret,...")
    webhook_secrets: dict
    # operations: queue type, each worker's metrics port, the management API
    queue_type: str
    metrics_ports: dict
    metrics_host: str
    metrics_token: str
    rabbit_api_uri: str
    # where `make status` finds each API and worker when not on this host's ports
    api_urls: dict
    worker_metrics_urls: dict
    # staff tokens: signing keys for rotation ("kid:secret,..."; the first signs), the
    # longest lifetime accepted, and the per-subject revocation file
    token_secrets: str
    token_ttl_s: int
    token_revocations_file: str
    # reporting: the most events one projection pass reads and projects (measured:
    # benchmarks/reporting.py; under load the passes grow up to it)
    reporting_pass_size: int
    # casework: warn (health, logs) this many days before the holiday calendar runs out
    holiday_warning_days: int
    holidays_file: str  # empty: services/casework/data/holidays.json
    # the dates commands and events may carry: from this day to this many days after
    # today (accept_dates)
    accepted_first_day: date
    accepted_days_ahead: int
    # intake: how long the group insert gathers what the API's threads write (ms)
    intake_commit_wait_ms: float
    # make bench: where each process writes its count of store commands ("": not counted)
    command_counts_dir: str
    # the query-plan check: where each process logs its store commands ("": not logged)
    command_log_dir: str
    # make run: go on when a new store meets queued messages; instances per process
    accept_queued: bool
    replicas: str
    # batch entrypoints and confirms per batch (batching.py, confirms.py)
    batch_size: int
    batch_wait_ms: int
    batch_prefetch: int
    # a batch queue's consumers take it in turns by priority, not round-robin: one
    # instance gets every message until its prefetch is full (batching.py)
    batch_leader: bool
    confirm_timeout_s: float
    # AMQP heartbeat (s): a connection to a node that stopped answering (paused, cut off)
    # is given up after about twice this; nameko's default, 60, unless set (cluster: 5)
    amqp_heartbeat_s: int

    @property
    def amqp_vhost(self):
        """The virtual host of ``amqp_uri`` ("/" when it names none)."""
        return vhost_of(self.amqp_uri)

    def database_name(self, service):
        """Each service owns one database; no service opens another's."""
        return f"{self.db_prefix}_{service}"

    def port(self, service):
        return self.ports[service]

    def nameko_config(self):
        """The nameko container configuration for a service process: the keys nameko
        itself reads, and these Settings (``SETTINGS_KEY``) for our extensions."""
        return {
            "AMQP_URI": self.amqp_uri,
            "HEARTBEAT": self.amqp_heartbeat_s,
            "max_workers": self.max_workers,
            # registered with kombu by services.common.envelope
            "SERIALIZER": "cloudevents",
            "ACCEPT": ["cloudevents", "json"],
            SETTINGS_KEY: self,
        }

    def metrics_port(self, service):
        """The worker's metrics and probe port; 0: off."""
        return self.metrics_ports[service]

    def local_metrics_port(self, service):
        """Where ``make run`` puts the worker's metrics when not told: its API's port + 100."""
        return self.metrics_port(service) or self.port(service) + LOCAL_METRICS_OFFSET


LOCAL_METRICS_OFFSET = 100  # make run: 8101 ... 8104


def _pairs(text):
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}`` (a secret may itself hold "=")."""
    pairs = (item.strip().partition("=") for item in text.split(",") if item.strip())
    return {name.strip(): value for name, _, value in pairs if name.strip() and value}


def _current_secret(env):
    rotation = env.get("SHEGONG_TOKEN_SECRETS", "").strip()
    if rotation:
        return rotation.split(",")[0].partition(":")[2].strip()
    return env.get("SHEGONG_TOKEN_SECRET", "")


def settings(env=None):
    env = os.environ if env is None else env
    var_dir = Path(env.get("SHEGONG_VAR_DIR", "var")).resolve()
    ports = {
        name: int(env.get(f"{name.upper()}_PORT", default))
        for name, default in DEFAULT_PORTS.items()
    }
    return Settings(
        amqp_uri=amqp_uri(env),
        mongo_uri=env.get("MONGO_URI", "mongodb://127.0.0.1:27017/"),
        db_prefix=env.get("SHEGONG_DB_PREFIX", "shegong"),
        var_dir=var_dir,
        ports=ports,
        bind_host=env.get("SHEGONG_BIND_HOST", "127.0.0.1"),
        # Empty means "not configured": the APIs then refuse every token. The local
        # launcher generates a development secret under var/; production sets it.
        # With SHEGONG_TOKEN_SECRETS (rotation), this is its current (signing) secret.
        token_secret=_current_secret(env),
        pseudonym_key=env.get("SHEGONG_PSEUDONYM_KEY", "development-pseudonym-key"),
        retry_delays_ms=_ints(env.get("SHEGONG_RETRY_DELAYS_MS", "")) or DEFAULT_RETRY_DELAYS_MS,
        relay_interval_s=float(env.get("SHEGONG_RELAY_INTERVAL_S", "1.0")),
        relay_grace_s=float(env.get("SHEGONG_RELAY_GRACE_S", "2.0")),
        sms_file=Path(env.get("SHEGONG_SMS_FILE", str(var_dir / "sms.jsonl"))),
        notifications=notification_settings(env),
        log_level=env.get("LOG_LEVEL", "INFO"),
        max_workers=int(env.get("SHEGONG_MAX_WORKERS", "10")),
        http_threads=int(env.get("SHEGONG_HTTP_THREADS", "4")),
        http_workers=int(env.get("SHEGONG_HTTP_WORKERS", "1")),
        service_levels=env.get("SHEGONG_SLA") or DEFAULT_SERVICE_LEVELS,
        sla_interval_s=float(env.get("SHEGONG_SLA_INTERVAL_S", "30")),
        workload_recount_s=float(env.get("SHEGONG_WORKLOAD_RECOUNT_S", "600")),
        reopen_window_s=int(float(env.get("SHEGONG_REOPEN_DAYS", "7")) * 86400),
        idempotency_ttl_s=int(env.get("SHEGONG_IDEMPOTENCY_TTL_S", "86400")),
        reporting_pass_size=int(env.get("SHEGONG_REPORTING_PASS_SIZE", "1000")),
        holiday_warning_days=int(env.get("SHEGONG_HOLIDAY_WARNING_DAYS", "30")),
        accepted_first_day=date.fromisoformat(env.get("SHEGONG_FIRST_DAY", DEFAULT_FIRST_DAY)),
        accepted_days_ahead=int(env.get("SHEGONG_DAYS_AHEAD", str(DEFAULT_DAYS_AHEAD))),
        holidays_file=env.get("SHEGONG_HOLIDAYS_FILE", ""),
        intake_commit_wait_ms=float(env.get("SHEGONG_INTAKE_COMMIT_WAIT_MS", "2")),
        command_counts_dir=env.get("SHEGONG_COMMAND_COUNTS_DIR", ""),
        command_log_dir=env.get("SHEGONG_COMMAND_LOG_DIR", ""),
        # empty: services/intake/systems.json (development keys); production names its own
        inbound_systems_file=env.get("SHEGONG_INBOUND_SYSTEMS_FILE", ""),
        # empty: services/common/data/agencies.json (development); production names its own
        agencies_file=env.get("SHEGONG_AGENCIES_FILE", ""),
        webhook_secrets=_pairs(env.get("SHEGONG_WEBHOOK_SECRETS", "")),
        # quorum in the containers (replicated, the definitions file declares them so);
        # classic by default, as existing development brokers have them
        queue_type=env.get("SHEGONG_QUEUE_TYPE", "classic"),
        # a worker's /metrics, /healthz, /readyz port: <SERVICE>_METRICS_PORT, else
        # SHEGONG_METRICS_PORT (one worker per container), else 0 (off)
        metrics_ports={
            name: int(env.get(f"{name.upper()}_METRICS_PORT", env.get("SHEGONG_METRICS_PORT", "0")))
            for name in SERVICES
        },
        metrics_host=env.get("SHEGONG_METRICS_HOST", env.get("SHEGONG_BIND_HOST", "127.0.0.1")),
        # set: GET /metrics on the APIs needs "Authorization: Bearer <it>"; empty: public
        metrics_token=env.get("SHEGONG_METRICS_TOKEN", ""),
        # the RabbitMQ management API (make status, the dead-letter tool)
        rabbit_api_uri=env.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"),
        api_urls={
            name: env[f"{name.upper()}_URL"] for name in SERVICES if env.get(f"{name.upper()}_URL")
        },
        worker_metrics_urls={
            name: env[f"{name.upper()}_METRICS_URL"]
            for name in SERVICES
            if env.get(f"{name.upper()}_METRICS_URL")
        },
        token_secrets=env.get("SHEGONG_TOKEN_SECRETS", ""),
        token_ttl_s=int(env.get("SHEGONG_TOKEN_TTL_S", str(12 * 3600))),
        token_revocations_file=env.get(
            "SHEGONG_TOKEN_REVOCATIONS_FILE", str(var_dir / "token-revocations.json")
        ),
        accept_queued=env.get("SHEGONG_ACCEPT_QUEUED", "0") == "1",
        # make run: "casework-worker=2,intake-api=2" (parse_replicas says what is wrong)
        replicas=env.get("SHEGONG_REPLICAS", ""),
        batch_size=int(env.get("SHEGONG_BATCH_SIZE", str(DEFAULT_BATCH_SIZE))),
        batch_wait_ms=int(env.get("SHEGONG_BATCH_WAIT_MS", str(DEFAULT_BATCH_WAIT_MS))),
        batch_prefetch=int(env.get("SHEGONG_BATCH_PREFETCH", str(DEFAULT_BATCH_PREFETCH))),
        batch_leader=env.get("SHEGONG_BATCH_LEADER", "1") == "1",
        confirm_timeout_s=float(env.get("SHEGONG_CONFIRM_TIMEOUT_S", "5")),
        amqp_heartbeat_s=int(env.get("SHEGONG_AMQP_HEARTBEAT_S", "60")),
    )


def operations_settings(env=None):
    """What ``make status``, ``make deadletters*`` and ``make clean`` look at: each variable
    from the environment, else from where this checkout's ``make run`` runs
    (``var/run.json``, services/common/runfile.py), else the default."""
    from services.common import runfile

    return settings(runfile.environment(os.environ if env is None else env))
