"""All configuration, read from environment variables with safe development defaults.

This is the only module that reads ``os.environ`` for settings; everything else asks
``settings()``. Values are read when ``settings()`` is called, so a test or a launcher
can set the environment and then build a fresh ``Settings``.
"""
import os
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("intake", "casework", "notifications", "reporting")

DEFAULT_PORTS = {"intake": 8001, "casework": 8002, "notifications": 8003, "reporting": 8004}


def _ints(text):
    return tuple(int(part) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
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
    timezone: str
    sms_provider: str
    sms_file: Path
    log_level: str
    max_workers: int
    http_threads: int
    http_workers: int
    queue_type: str
    metrics_ports: dict
    metrics_host: str
    metrics_token: str
    rabbit_api_uri: str

    def database_name(self, service):
        """Each service owns one database; no service opens another's."""
        return f"{self.db_prefix}_{service}"

    def port(self, service):
        return self.ports[service]

    def nameko_config(self):
        """The nameko container configuration for a service process."""
        return {
            "AMQP_URI": self.amqp_uri,
            "max_workers": self.max_workers,
            # registered with kombu by services.common.envelope
            "SERIALIZER": "cloudevents",
            "ACCEPT": ["cloudevents", "json"],
            "SHEGONG_RETRY_DELAYS_MS": self.retry_delays_ms,
            "SHEGONG_RELAY_GRACE_S": self.relay_grace_s,
            "SHEGONG_QUEUE_TYPE": self.queue_type,
        }

    def metrics_port(self, service):
        """The worker's metrics and probe port; 0: off."""
        return self.metrics_ports[service]


def settings(env=None):
    env = os.environ if env is None else env
    var_dir = Path(env.get("SHEGONG_VAR_DIR", "var")).resolve()
    ports = {
        name: int(env.get(f"{name.upper()}_PORT", default))
        for name, default in DEFAULT_PORTS.items()
    }
    return Settings(
        amqp_uri=env.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        mongo_uri=env.get("MONGO_URI", "mongodb://127.0.0.1:27017/"),
        db_prefix=env.get("SHEGONG_DB_PREFIX", "shegong"),
        var_dir=var_dir,
        ports=ports,
        bind_host=env.get("SHEGONG_BIND_HOST", "127.0.0.1"),
        # Empty means "not configured": the APIs then refuse every token. The local
        # launcher generates a development secret under var/; production sets it.
        token_secret=env.get("SHEGONG_TOKEN_SECRET", ""),
        pseudonym_key=env.get("SHEGONG_PSEUDONYM_KEY", "development-pseudonym-key"),
        retry_delays_ms=_ints(env.get("SHEGONG_RETRY_DELAYS_MS", "1000,5000,30000")),
        relay_interval_s=float(env.get("SHEGONG_RELAY_INTERVAL_S", "1.0")),
        relay_grace_s=float(env.get("SHEGONG_RELAY_GRACE_S", "2.0")),
        timezone=env.get("SHEGONG_TIMEZONE", "Asia/Shanghai"),
        sms_provider=env.get("SHEGONG_SMS_PROVIDER", "dev_file"),
        sms_file=Path(env.get("SHEGONG_SMS_FILE", str(var_dir / "sms.jsonl"))),
        log_level=env.get("LOG_LEVEL", "INFO"),
        max_workers=int(env.get("SHEGONG_MAX_WORKERS", "10")),
        http_threads=int(env.get("SHEGONG_HTTP_THREADS", "4")),
        http_workers=int(env.get("SHEGONG_HTTP_WORKERS", "1")),
        # quorum in the containers (replicated, the definitions file declares them so);
        # classic by default, as existing development brokers have them
        queue_type=env.get("SHEGONG_QUEUE_TYPE", "classic"),
        # a worker's /metrics, /healthz, /readyz port: <SERVICE>_METRICS_PORT, else
        # SHEGONG_METRICS_PORT (one worker per container), else 0 (off)
        metrics_ports={name: int(env.get(f"{name.upper()}_METRICS_PORT",
                                         env.get("SHEGONG_METRICS_PORT", "0")))
                       for name in SERVICES},
        metrics_host=env.get("SHEGONG_METRICS_HOST", env.get("SHEGONG_BIND_HOST", "127.0.0.1")),
        # set: GET /metrics on the APIs needs "Authorization: Bearer <it>"; empty: public
        metrics_token=env.get("SHEGONG_METRICS_TOKEN", ""),
        # the RabbitMQ management API (make status, the dead-letter tool)
        rabbit_api_uri=env.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672"),
    )
