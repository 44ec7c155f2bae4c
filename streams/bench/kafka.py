"""Broker-side helpers of the bench: create its topics, pre-fill them fast."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def fill(
    bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], progress: Callable[[int], None] | None = None
) -> None:
    """Produce `messages` (key, value) as fast as the broker takes them, all acknowledged."""
    prod = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=262144, max_request_size=4_194_304
    )
    await prod.start()
    try:
        pending = []
        for i, (key, value) in enumerate(messages, 1):
            pending.append(await prod.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress(i)
        await asyncio.gather(*pending)
        if progress:
            progress(len(messages))
    finally:
        await prod.stop()
