"""Worker settings, read once from the environment (the deployment contract).

The names and defaults are DESIGN.md's table; everything else a deployment
may need (topic names, partitions, store, Kafka security) is here too, so the
compose file, the README and the code agree on one list.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _csv(name: str) -> tuple[str, ...]:
    """A comma-separated variable (tokens, proxy addresses); blanks ignored."""
    return tuple(t.strip() for t in os.environ.get(name, "").split(",") if t.strip())


@dataclass(frozen=True, slots=True)
class Topics:
    vitals: str = "vitals"
    alerts: str = "alerts"
    dlq: str = "vitals-dlq"
    acks: str = "alert-acks"
    audit: str = "audit"
    notify_dlq: str = "notify-dlq"
    adt: str = "adt"  # ADT events from ingest, keyed by patient_id (co-partitioned with vitals)
    patients: str = "patients"  # compacted: each patient's encounter and location (the worker's table)

    def repartition(self, app_id: str) -> str:
        """Internal topic that moves a message to its patient's partition."""
        return f"{app_id}-patient-repartition"


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None

    def aiokafka_kwargs(self) -> dict[str, object]:
        """Keyword arguments every aiokafka client of ours takes."""
        kwargs: dict[str, object] = {"security_protocol": self.protocol}
        if self.sasl_mechanism:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.protocol in ("SSL", "SASL_SSL"):
            import ssl

            kwargs["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile)
        return kwargs


#: WARDWATCH_PROCESSING_GUARANTEE values (Faust's): at_least_once works on any
#: broker; exactly_once needs Kafka transactions (Apache Kafka, not tansu).
PROCESSING_GUARANTEES = ("at_least_once", "exactly_once")
#: WARDWATCH_STORE values: memory (rebuilt from the changelog) or a local
#: RocksDB (rocksdict) under WARDWATCH_DATA_DIR (recovers from disk + changelog tail).
STORES = ("memory", "rocksdb", "rocksdict")


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap: str = "127.0.0.1:9092"
    app_id: str = "wardwatch"
    metrics_port: int = 9108
    web_port: int = 6066
    web_host: str = "0.0.0.0"
    data_dir: Path = Path("./data")
    config_path: str | None = None
    ingest_tokens: tuple[str, ...] = ()
    #: Console sign-in tokens, separate from ingest: a nurse's console session must not write vitals.
    console_tokens: tuple[str, ...] = ()
    #: Proxies whose X-Forwarded-Proto is believed (addresses or CIDRs); nobody else's is.
    trusted_proxies: tuple[str, ...] = ()
    #: Signs console session cookies; share it between workers behind one address (else random per process).
    session_secret: str = field(default="", repr=False)
    #: Named ingest credentials (streams/identity/gateways.py); re-read when it changes.
    gateways_file: str = ""
    #: Staff accounts for console sign-in (streams/identity/users.py); re-read when it changes.
    users_file: str = ""
    #: Optional single sign-on through the hospital's OpenID Connect provider.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_redirect_url: str = ""
    #: Address of /metrics; defaults to WARDWATCH_WEB_HOST so a loopback worker is not exposed by its metrics.
    metrics_host: str = "0.0.0.0"
    mllp_port: int = 2575
    partitions: int = 4
    replication: int = 1
    store: str = "memory"
    processing_guarantee: str = "at_least_once"
    log_format: str = "text"
    log_level: str = "info"
    fast_rebalance: bool = False
    #: Consumer-group liveness (docs/durability.md "Failover"): a member that sends no heartbeat for
    #: `session_timeout_s` is declared dead and its partitions move; heartbeats go every
    #: `heartbeat_interval_s`; in a rebalance each member has `rebalance_timeout_s` to rejoin.
    #: Defaults keep failover from a SIGKILL under 15 s on Apache Kafka and tansu alike.
    session_timeout_s: float = 6.0
    heartbeat_interval_s: float = 1.0
    rebalance_timeout_s: float = 10.0
    #: Static group membership (KIP-345): a stable name per worker instance (e.g. the pod name); a
    #: restarted instance with the same name takes its partitions back without waiting for its old
    #: session to expire. Empty: dynamic membership.
    group_instance_id: str | None = None
    #: How far ahead of this process's wall clock a sample's event time may be (device clock skew);
    #: later samples are dead-lettered as `future_timestamp` (docs/failure-behaviour.md).
    future_tolerance_s: float = 120.0
    #: Input batches bypass Faust's per-message agent (streams/worker/fastlane.py); off under exactly_once,
    #: whose transactional sends need Faust's current event.
    batch_lane: bool = True
    #: Seconds after a discharge (ADT A03) before the patient's engine state is deleted (tombstoned).
    discharge_retention_s: float = 86400.0
    topics: Topics = field(default_factory=Topics)
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @property
    def bootstrap_servers(self) -> list[str]:
        return [h.strip() for h in self.bootstrap.replace(";", ",").split(",") if h.strip()]

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        topics = Topics(
            vitals=_env("WARDWATCH_TOPIC_VITALS", "vitals"),
            alerts=_env("WARDWATCH_TOPIC_ALERTS", "alerts"),
            dlq=_env("WARDWATCH_TOPIC_DLQ", "vitals-dlq"),
            acks=_env("WARDWATCH_TOPIC_ACKS", "alert-acks"),
            audit=_env("WARDWATCH_TOPIC_AUDIT", "audit"),
            notify_dlq=_env("WARDWATCH_TOPIC_NOTIFY_DLQ", "notify-dlq"),
            adt=_env("WARDWATCH_TOPIC_ADT", "adt"),
            patients=_env("WARDWATCH_TOPIC_PATIENTS", "patients"),
        )
        security = KafkaSecurity(
            protocol=_env("WARDWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
            sasl_mechanism=os.environ.get("WARDWATCH_KAFKA_SASL_MECHANISM") or None,
            sasl_username=os.environ.get("WARDWATCH_KAFKA_SASL_USERNAME") or None,
            sasl_password=os.environ.get("WARDWATCH_KAFKA_SASL_PASSWORD") or None,
            ssl_cafile=os.environ.get("WARDWATCH_KAFKA_SSL_CAFILE") or None,
        )
        tokens = _csv("WARDWATCH_INGEST_TOKENS")
        web_host = _env("WARDWATCH_WEB_HOST", "0.0.0.0")
        values: dict[str, object] = {
            "bootstrap": _env("WARDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            "app_id": _env("WARDWATCH_APP_ID", "wardwatch"),
            "metrics_port": int(_env("WARDWATCH_METRICS_PORT", "9108")),
            "web_port": int(_env("WARDWATCH_WEB_PORT", "6066")),
            "web_host": web_host,
            "metrics_host": _env("WARDWATCH_METRICS_HOST", web_host),
            "console_tokens": _csv("WARDWATCH_CONSOLE_TOKENS"),
            "trusted_proxies": _csv("WARDWATCH_TRUSTED_PROXIES"),
            "session_secret": os.environ.get("WARDWATCH_SESSION_SECRET", ""),
            "users_file": os.environ.get("WARDWATCH_USERS_FILE", ""),
            "gateways_file": os.environ.get("WARDWATCH_GATEWAYS_FILE", ""),
            "oidc_issuer": os.environ.get("WARDWATCH_OIDC_ISSUER", ""),
            "oidc_client_id": os.environ.get("WARDWATCH_OIDC_CLIENT_ID", ""),
            "oidc_client_secret": os.environ.get("WARDWATCH_OIDC_CLIENT_SECRET", ""),
            "oidc_redirect_url": os.environ.get("WARDWATCH_OIDC_REDIRECT_URL", ""),
            "data_dir": Path(_env("WARDWATCH_DATA_DIR", "./data")),
            "config_path": os.environ.get("WARDWATCH_CONFIG") or None,
            "ingest_tokens": tokens,
            "mllp_port": int(_env("WARDWATCH_MLLP_PORT", "2575")),
            "partitions": int(_env("WARDWATCH_PARTITIONS", "4")),
            "replication": int(_env("WARDWATCH_REPLICATION", "1")),
            "store": _env("WARDWATCH_STORE", "memory"),
            "processing_guarantee": _env("WARDWATCH_PROCESSING_GUARANTEE", "at_least_once"),
            "log_format": _env("WARDWATCH_LOG_FORMAT", "text"),
            "log_level": _env("WARDWATCH_LOG_LEVEL", "info"),
            "fast_rebalance": _env("WARDWATCH_FAST_REBALANCE", "0") in ("1", "true", "yes"),
            "session_timeout_s": float(_env("WARDWATCH_SESSION_TIMEOUT_S", "6")),
            "heartbeat_interval_s": float(_env("WARDWATCH_HEARTBEAT_INTERVAL_S", "1")),
            "rebalance_timeout_s": float(_env("WARDWATCH_REBALANCE_TIMEOUT_S", "10")),
            "group_instance_id": os.environ.get("WARDWATCH_GROUP_INSTANCE_ID", "").strip() or None,
            "future_tolerance_s": float(_env("WARDWATCH_FUTURE_TOLERANCE_S", "120")),
            "batch_lane": _env("WARDWATCH_BATCH_LANE", "1") in ("1", "true", "yes"),
            "discharge_retention_s": float(_env("WARDWATCH_DISCHARGE_RETENTION_S", "86400")),
            "topics": topics,
            "security": security,
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ValueError naming the variable when a setting cannot work."""
        if self.processing_guarantee not in PROCESSING_GUARANTEES:
            raise ValueError(
                f"WARDWATCH_PROCESSING_GUARANTEE={self.processing_guarantee!r}: use one of "
                f"{', '.join(PROCESSING_GUARANTEES)} (exactly_once needs a broker with transactions)"
            )
        if self.store not in STORES:
            raise ValueError(f"WARDWATCH_STORE={self.store!r}: use one of {', '.join(STORES)}")
        if not self.discharge_retention_s >= 0:
            raise ValueError(f"WARDWATCH_DISCHARGE_RETENTION_S={self.discharge_retention_s!r}: use seconds >= 0")
        if not 0 < self.heartbeat_interval_s * 3 <= self.session_timeout_s:
            raise ValueError(
                f"WARDWATCH_HEARTBEAT_INTERVAL_S={self.heartbeat_interval_s:g} must be positive and at "
                f"most a third of WARDWATCH_SESSION_TIMEOUT_S={self.session_timeout_s:g}"
            )
        if self.rebalance_timeout_s <= 0:
            raise ValueError("WARDWATCH_REBALANCE_TIMEOUT_S must be positive")
        if not self.future_tolerance_s >= 0:
            raise ValueError(f"WARDWATCH_FUTURE_TOLERANCE_S={self.future_tolerance_s:g}: use seconds >= 0")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"WARDWATCH_TRUSTED_PROXIES: {proxy!r} is not an address or CIDR (e.g. 10.0.0.5 or 10.0.0.0/24)"
                ) from None
        if self.oidc_issuer and not (self.users_file and self.oidc_client_id):
            raise ValueError(
                "WARDWATCH_OIDC_ISSUER needs WARDWATCH_USERS_FILE (who may do what) and "
                "WARDWATCH_OIDC_CLIENT_ID (and usually WARDWATCH_OIDC_CLIENT_SECRET)"
            )
        if self.log_format not in ("text", "json"):
            raise ValueError(f"WARDWATCH_LOG_FORMAT={self.log_format!r}: use text or json")


#: Every environment variable a worker reads: (name, default, meaning). `wardwatch worker --help`
#: prints it and docs/contract.md lists it (a unit test holds the three together).
WORKER_ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    ("WARDWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "broker list"),
    ("WARDWATCH_APP_ID", "wardwatch", "Faust app id = consumer group"),
    ("WARDWATCH_METRICS_PORT", "9108", "Prometheus /metrics"),
    ("WARDWATCH_WEB_PORT", "6066", "web server: ingest, console, /healthz, /readyz"),
    ("WARDWATCH_WEB_HOST", "0.0.0.0", "address the web server binds"),
    ("WARDWATCH_MLLP_PORT", "2575", "HL7 v2 MLLP listener"),
    ("WARDWATCH_DATA_DIR", "./data", "local state store"),
    ("WARDWATCH_CONFIG", "none", "alert-policy TOML file (built-in policy without it)"),
    ("WARDWATCH_INGEST_TOKENS", "none", "comma-separated bearer tokens for ingest and console"),
    ("WARDWATCH_INGEST_INSECURE", "0", "1: ingest without tokens, loopback binds only"),
    ("WARDWATCH_CONSOLE_TOKENS", "none", "comma-separated console tokens (staff); never ingest"),
    ("WARDWATCH_GATEWAYS_FILE", "none", "named ingest credentials (wardwatch gateway)"),
    ("WARDWATCH_USERS_FILE", "none", "staff accounts for console sign-in (wardwatch user)"),
    ("WARDWATCH_SESSION_SECRET", "random per process", "signs console session cookies"),
    ("WARDWATCH_TRUSTED_PROXIES", "none", "reverse proxies whose X-Forwarded-Proto is believed"),
    ("WARDWATCH_OIDC_ISSUER", "none", "OpenID Connect issuer URL for console sign-on"),
    ("WARDWATCH_OIDC_CLIENT_ID", "none", "the console's OIDC client id"),
    ("WARDWATCH_OIDC_CLIENT_SECRET", "none", "the console's OIDC client secret"),
    ("WARDWATCH_OIDC_REDIRECT_URL", "from the request", "public URL of /console/oidc/callback"),
    ("WARDWATCH_METRICS_HOST", "WARDWATCH_WEB_HOST", "address /metrics listens on"),
    ("WARDWATCH_INGEST_PARSE_THREADS", "1", "threads parsing large ingest bodies off the event loop"),
    ("WARDWATCH_INGEST_SEND_TIMEOUT_S", "15", "wait for Kafka's ack before answering 503 / AR"),
    ("WARDWATCH_HTTP_HEADER_TIMEOUT_S", "15", "seconds for request headers to complete"),
    ("WARDWATCH_HTTP_BODY_TIMEOUT_S", "30", "seconds for an ingest body to complete (else 408)"),
    ("WARDWATCH_FHIR_MAX_ENTRIES", "5000", "entries per FHIR Bundle (more: 413)"),
    ("WARDWATCH_MLLP_MAX_CONNECTIONS", "256", "MLLP connections open at once"),
    ("WARDWATCH_MLLP_MAX_CONNECTIONS_PER_SOURCE", "32", "MLLP connections at once from one address"),
    ("WARDWATCH_MLLP_IDLE_TIMEOUT_S", "120", "close an MLLP connection idle this long"),
    ("WARDWATCH_MLLP_FRAME_DEADLINE_S", "30", "seconds for one MLLP frame to arrive whole"),
    ("WARDWATCH_MLLP_FRAMING_REPORTS_PER_MIN", "10", "framing errors reported per connection and minute"),
    ("WARDWATCH_CONSOLE_INSECURE", "0", "1: console without tokens, loopback binds only"),
    ("WARDWATCH_PARTITIONS", "4", "partitions of topics the worker creates"),
    ("WARDWATCH_REPLICATION", "1", "replication factor of topics the worker creates"),
    ("WARDWATCH_STORE", "memory", "table store: memory, rocksdb or rocksdict"),
    ("WARDWATCH_PROCESSING_GUARANTEE", "at_least_once", "at_least_once or exactly_once"),
    ("WARDWATCH_LOG_FORMAT", "text", "text or json"),
    ("WARDWATCH_LOG_LEVEL", "info", "debug, info, warning, error"),
    ("WARDWATCH_FAST_REBALANCE", "0", "1: short group timeouts (embedded broker, tests)"),
    ("WARDWATCH_BATCH_LANE", "1", "0: every input through Faust's per-message agent"),
    ("WARDWATCH_FETCH_MAX_WAIT_MS", "50", "consumer fetch wait (page latency floor on tansu)"),
    ("WARDWATCH_SESSION_TIMEOUT_S", "6", "a group member silent this long is dead; its partitions move"),
    ("WARDWATCH_HEARTBEAT_INTERVAL_S", "1", "group heartbeat, at most a third of the session timeout"),
    ("WARDWATCH_REBALANCE_TIMEOUT_S", "10", "time each member has to rejoin during a rebalance"),
    ("WARDWATCH_GROUP_INSTANCE_ID", "unset", "static group membership: a stable name per instance"),
    ("WARDWATCH_FUTURE_TOLERANCE_S", "120", "event time allowed ahead of this clock (else future_timestamp)"),
    ("WARDWATCH_TOPIC_VITALS", "vitals", "input topic"),
    ("WARDWATCH_TOPIC_ALERTS", "alerts", "output topic"),
    ("WARDWATCH_TOPIC_DLQ", "vitals-dlq", "dead-letter topic"),
    ("WARDWATCH_TOPIC_ACKS", "alert-acks", "acknowledgements topic"),
    ("WARDWATCH_TOPIC_AUDIT", "audit", "audit trail (written by notify)"),
    ("WARDWATCH_TOPIC_NOTIFY_DLQ", "notify-dlq", "undeliverable pages (written by notify)"),
    ("WARDWATCH_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ("WARDWATCH_KAFKA_SASL_MECHANISM", "none", "e.g. PLAIN, SCRAM-SHA-512"),
    ("WARDWATCH_KAFKA_SASL_USERNAME", "none", "SASL user"),
    ("WARDWATCH_KAFKA_SASL_PASSWORD", "none", "SASL password"),
    ("WARDWATCH_KAFKA_SSL_CAFILE", "none", "CA bundle for SSL"),
)


def environment_help(rows: tuple[tuple[str, str, str], ...] = WORKER_ENVIRONMENT) -> str:
    """The environment table as `--help` epilog text."""
    width = max(len(name) for name, _, _ in rows)
    return "environment:\n" + "\n".join(
        f"  {name:<{width}}  {meaning} (default {default})" for name, default, meaning in rows
    )
