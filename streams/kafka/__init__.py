"""Kafka plumbing every service shares: clients, topic creation, the embedded broker, dead letters."""

from streams.exports import public

__all__, __getattr__ = public(__name__, {
    "clients": ("BrokerUnavailable", "consumer", "producer"),
    "topics": ("BrokerUnreachable", "connect_admin", "ensure_topics", "partition_count"),
    "broker": ("BrokerError", "EmbeddedBroker", "free_port", "tansu_binary", "wait_for_port"),
    "deadletter": ("DeadLetter",),
})
