"""Prometheus metrics of a worker: one registry, names fixed by DESIGN.md.

Labels are closed sets (reason, kind, priority, status, partition, channel):
never a patient identifier, so cardinality stays bounded and no PHI leaks
into the monitoring stack.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)
#: process_cpu_seconds_total / process_resident_memory_bytes for the per-worker panels.
ProcessCollector(registry=REGISTRY)

SAMPLES = Counter(
    "wardwatch_samples_processed_total",
    "Vital samples (not messages) folded into patient state.",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "wardwatch_messages_processed_total",
    "Messages consumed from the input topics, by topic role.",
    ["source"],
    registry=REGISTRY,
)
REJECTED = Counter(
    "wardwatch_inputs_rejected_total",
    "Inputs (samples, messages or acks) sent to the dead-letter topic, by reason.",
    ["reason"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "wardwatch_alerts_total",
    "Alert state changes published, by kind, priority and status.",
    ["kind", "priority", "status"],
    registry=REGISTRY,
)
PROCESSING = Histogram(
    "wardwatch_processing_seconds",
    "Wall time to process one input message (parse, score, policy, publish).",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
EVENT_LAG = Gauge(
    "wardwatch_event_lag_seconds",
    "Wall clock minus the event time of the newest sample processed.",
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "wardwatch_consumer_lag_messages",
    "High watermark minus position of the vitals consumer, per partition.",
    ["partition"],
    registry=REGISTRY,
)
PATIENTS = Gauge(
    "wardwatch_patients_active",
    "Patients whose state this worker holds in memory.",
    registry=REGISTRY,
)
STATE_BYTES = Gauge(
    "wardwatch_state_bytes",
    "Serialized size of the per-patient state this worker last checkpointed.",
    registry=REGISTRY,
)
CHECKPOINTS = Counter(
    "wardwatch_state_checkpoints_total",
    "Per-patient state records written to the changelog.",
    registry=REGISTRY,
)
OPEN_EPISODES = Gauge(
    "wardwatch_open_episodes",
    "Alert episodes currently open on this worker, by priority.",
    ["priority"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "wardwatch_time_to_acknowledge_seconds",
    "Event time from raise to acknowledgement, by priority.",
    ["priority"],
    buckets=(10, 30, 60, 120, 300, 600, 900, 1800, 3600),
    registry=REGISTRY,
)
RECOVERY_SECONDS = Gauge(
    "wardwatch_recovery_seconds",
    "Wall time the last table recovery took before the worker was ready.",
    registry=REGISTRY,
)
READY = Gauge(
    "wardwatch_ready",
    "1 when assigned partitions are recovered and being consumed.",
    registry=REGISTRY,
)
ASSIGNED_PARTITIONS = Gauge(
    "wardwatch_assigned_partitions",
    "Input partitions assigned to this worker.",
    registry=REGISTRY,
)


class _HeldPages:
    """`wardwatch_pages_held_total{rule}`: pages the engine held back, by the rule that held
    them (alerts.holdback counts them in the pure domain; this only reads the counts)."""

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import CounterMetricFamily

        from alerts.holdback import HELD

        family = CounterMetricFamily(
            "wardwatch_pages_held_total",
            "Pages held back (e.g. a multi-vital jump without motion flag: "
            "artefact suspected), by the rule that held them.",
            labels=["rule"],
        )
        for rule, count in HELD.items():
            family.add_metric([rule.value], count)
        yield family


REGISTRY.register(_HeldPages())


def _preinitialise() -> None:
    """Create every closed-set label combination at 0.

    Prometheus computes `increase()` from the first sample it sees, so a series
    born at 1 hides its first event: the first escalation of the day would not
    fire the unacknowledged-escalation rule.
    """
    from alerts.model import Kind, Priority, Status
    from monitor.parse import RejectReason

    for kind in Kind:
        for priority in Priority:
            for status in Status:
                ALERTS.labels(kind.value, priority.value, status.value)
    for reason in RejectReason:
        REJECTED.labels(reason.value)
    for priority in Priority:
        OPEN_EPISODES.labels(priority.value)
        ACK_SECONDS.labels(priority.value)


_preinitialise()


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics on `port` in a daemon thread (prometheus-client's own server)."""
    start_http_server(port, addr=host, registry=REGISTRY)
