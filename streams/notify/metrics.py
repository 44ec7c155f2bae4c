"""Prometheus metrics of `wardwatch notify`, in a registry of its own (its own port).

Labels are closed sets (channel, outcome, priority, ward): never a patient
identifier, nor a person, so cardinality stays bounded and no PHI leaks.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

_RESPONSE_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200)

DELIVERIES = Counter(
    "wardwatch_notify_deliveries_total",
    "Delivery attempts by channel and outcome (delivered, failed = will retry, undeliverable = DLQ, "
    "duplicate = already delivered before a restart).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "wardwatch_notify_delivery_seconds",
    "Wall time of one delivery attempt, by channel.",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
ALERT_TO_DELIVERY = Histogram(
    "wardwatch_notify_alert_to_delivery_seconds",
    "Wall time from a raised alert's emitted_at to its page being accepted by the channel.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
TIME_TO_ACK = Histogram(
    "wardwatch_notify_time_to_acknowledge_seconds",
    "From raise to acknowledgement, by priority and ward.",
    ["priority", "ward"],
    buckets=_RESPONSE_BUCKETS,
    registry=REGISTRY,
)
TIME_TO_RESOLVE = Histogram(
    "wardwatch_notify_time_to_resolve_seconds",
    "From raise to resolution, by priority and ward.",
    ["priority", "ward"],
    buckets=_RESPONSE_BUCKETS,
    registry=REGISTRY,
)
MESSAGES = Counter(
    "wardwatch_notify_messages_total",
    "Messages consumed, by topic role (alerts, acks, invalid).",
    ["source"],
    registry=REGISTRY,
)
OPEN_CHASES = Gauge(
    "wardwatch_notify_open_chases",
    "Alerts paged and not yet acknowledged or resolved.",
    registry=REGISTRY,
)
READY = Gauge(
    "wardwatch_notify_ready",
    "1 once delivery state is loaded and alerts are being consumed.",
    registry=REGISTRY,
)


OUTCOMES = ("delivered", "failed", "undeliverable", "duplicate")


def init_channels(channels: list[str]) -> None:
    """Create every channel's series at zero, so rates and ratios exist before the first page."""
    for channel in channels:
        DELIVERY_SECONDS.labels(channel)
        for outcome in OUTCOMES:
            DELIVERIES.labels(channel, outcome)


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics on `port` (with process metrics, as the worker's registry has)."""
    from prometheus_client import ProcessCollector

    try:
        ProcessCollector(registry=REGISTRY)
    except ValueError:
        pass  # already registered
    start_http_server(port, addr=host, registry=REGISTRY)
