"""Create the contract's topics if absent and learn the input's partition count.

Runs before Faust starts, because the tables and internal topics must follow
the partition count of a pre-existing `vitals` topic. It uses the admin
client's list (not a per-topic metadata request: tansu creates a topic that a
metadata request names) and retries with backoff while the broker is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.config import Settings

log = logging.getLogger(__name__)


class BrokerUnreachable(RuntimeError):
    pass


async def _admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=10000, **settings.security.aiokafka_kwargs()
    )
    try:
        await admin.start()
    except BaseException:
        await admin.close()  # release the half-open client before the next attempt
        raise
    return admin


async def connect_admin(settings: Settings, attempts: int = 0) -> AIOKafkaAdminClient:
    """Connect, retrying with backoff; `attempts` 0 means forever (a worker waits for its broker)."""
    delay, tried = 1.0, 0
    while True:
        tried += 1
        try:
            return await _admin(settings)
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if attempts and tried >= attempts:
                raise BrokerUnreachable(
                    f"cannot reach the Kafka broker at {settings.bootstrap} ({exc}); "
                    "start one with `wardwatch broker` or set WARDWATCH_KAFKA_BOOTSTRAP"
                ) from None
            log.warning("broker %s not reachable (%s); retrying in %.0f s", settings.bootstrap, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def partition_count(settings: Settings, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, **settings.security.aiokafka_kwargs())
    await consumer.start()
    try:
        await consumer.topics()  # full metadata refresh, names no topic
        parts = consumer.partitions_for_topic(topic)
        return len(parts) if parts else None
    finally:
        await consumer.stop()


async def ensure_topics(settings: Settings, attempts: int = 0) -> int:
    """Create missing topics; return the partition count every per-patient topic uses.

    The whole sequence is retried with backoff (the broker may go away between
    the first connection and the last topic); `attempts` 0 means forever.
    """
    delay, tried = 1.0, 0
    while True:
        tried += 1
        admin = await connect_admin(settings, attempts)
        try:
            return await _ensure(admin, settings)
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if attempts and tried >= attempts:
                raise BrokerUnreachable(
                    f"lost the Kafka broker at {settings.bootstrap} while creating topics ({exc})"
                ) from None
            log.warning(
                "broker %s failed while creating topics (%s); retrying in %.0f s", settings.bootstrap, exc, delay
            )
        finally:
            with contextlib.suppress(Exception):  # a dead connection: nothing left to close cleanly
                await admin.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _ensure(admin: AIOKafkaAdminClient, settings: Settings) -> int:
    existing = set(await admin.list_topics())
    topics = settings.topics
    if topics.vitals not in existing:
        await _create(admin, topics.vitals, settings.partitions, settings.replication)
    count = await partition_count(settings, topics.vitals) or settings.partitions
    per_patient = [topics.alerts, topics.acks, topics.repartition(settings.app_id), topics.adt]
    others = [topics.dlq, topics.audit, topics.notify_dlq]
    for name in per_patient + others:
        if name not in existing:
            await _create(admin, name, count, settings.replication)
    if topics.patients not in existing:  # the worker's patients table: its changelog, so co-partitioned
        await _create(admin, topics.patients, count, settings.replication, {"cleanup.policy": "compact"})
    log.info("topics ready: %s has %d partitions", topics.vitals, count)
    return count


async def _create(
    admin: AIOKafkaAdminClient, name: str, partitions: int, replication: int, configs: dict[str, str] | None = None
) -> None:
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication, topic_configs=configs or {})]
        )
        log.info("created topic %s with %d partitions", name, partitions)
    except TopicAlreadyExistsError:
        pass
