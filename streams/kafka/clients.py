"""aiokafka clients built from Settings, with an error that says what to do next."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from streams.config import Settings


class BrokerUnavailable(RuntimeError):
    pass


def _hint(settings: Settings) -> str:
    return (
        f"cannot reach the Kafka broker at {settings.bootstrap}: start one with `wardwatch broker` "
        "or point WARDWATCH_KAFKA_BOOTSTRAP (or --bootstrap) at yours"
    )


async def producer(settings: Settings, **kwargs: object) -> AIOKafkaProducer:
    prod = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=5,
        **settings.security.aiokafka_kwargs(),
        **kwargs,
    )
    try:
        await prod.start()
    except (KafkaConnectionError, OSError):
        await prod.stop()
        raise BrokerUnavailable(_hint(settings)) from None
    return prod


async def consumer(settings: Settings, *topics: str, **kwargs: object) -> AIOKafkaConsumer:
    cons = AIOKafkaConsumer(
        *topics, bootstrap_servers=settings.bootstrap_servers, **settings.security.aiokafka_kwargs(), **kwargs
    )
    try:
        await cons.start()
    except (KafkaConnectionError, OSError):
        await cons.stop()
        raise BrokerUnavailable(_hint(settings)) from None
    return cons
