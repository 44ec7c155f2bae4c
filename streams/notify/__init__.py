"""`wardwatch notify`: delivers alerts to on-call staff, chases unacknowledged ones, writes the audit trail.

A consumer of `alerts` and `alert-acks` in its own consumer group, separate
from the worker so a slow paging gateway never slows scoring. Files:
signing (webhook HMAC), channels (one class per transport), state (durable
delivery dedupe on the compacted `notify-state` topic), wards (patient ->
ward table), deliver (retries, DLQ, audit, metrics of one notification),
service (the consumer loop and escalation timers), metrics.
"""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "channels": ("ChannelConfigError", "DeliveryResult", "build_channels"),
        "service": ("Notifier", "NotifyOptions"),
        "read_all": ("read_topic",),
    },
    modules=("metrics",),
)
