"""Kafka plumbing every service shares: clients, topic creation, the embedded broker, dead letters, and the
watch on the broker and its topics that readiness and ingest consult."""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "clients": ("BrokerUnavailable", "consumer", "producer"),
        "topics": ("BrokerUnreachable", "connect_admin", "ensure_topics", "partition_count"),
        "broker": (
            "BrokerError",
            "EmbeddedBroker",
            "free_port",
            "set_parent_death_signal",
            "tansu_binary",
            "wait_for_port",
        ),
        "deadletter": ("DeadLetter",),
        "broker_watch": ("BrokerWatch", "KafkaStatus"),
    },
)
