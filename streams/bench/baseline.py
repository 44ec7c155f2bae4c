"""The hand-written baseline: aiokafka consume → streams.worker.processor.Processor → produce.

It does what the Faust worker does per message, with the same domain code
(`Processor.handle_vitals`, which parses, routes, dead-letters and runs each
patient's `PatientEngine`), and the same side effects: alerts and dead letters
are staged in the outbox and produced, changed patient state is checkpointed to a changelog topic and
offsets are committed once a second. What it leaves out is the framework:
no Faust streams, events, sensors, tables or agents. `pipeline / baseline` is
therefore the share of the achievable rate the worker reaches.

Run as a subprocess (`python -m streams.bench.baseline ...`) so it gets a
fresh interpreter and a core of its own like the worker; it prints one JSON
line: {"samples", "seconds", "samples_per_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from alerts.config import load_policy
from streams.worker import OUT_ALERT, Processor

COMMIT_INTERVAL_S = 1.0


async def consume_process_produce(
    bootstrap: str,
    topic: str,
    alerts_topic: str,
    dlq_topic: str,
    changelog_topic: str,
    expected: int,
    group: str,
    timeout: float = 600.0,
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=2000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        processor = Processor(
            load_policy(os.environ.get("WARDWATCH_CONFIG")), len(partitions), lambda pid: None, outbox=True
        )
        processed = 0
        first = None
        cpu0 = 0.0
        last_commit = time.monotonic()
        deadline = time.monotonic() + timeout
        pending: list[asyncio.Future] = []
        while processed < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    out = processor.handle_vitals(record.value, record.topic, record.partition, record.offset)
                    if out.forward_to is not None:
                        pending.append(
                            await producer.send(
                                changelog_topic + "-repartition", record.value, key=out.forward_to.encode()
                            )
                        )
                        continue
                    if not out.letters_staged:  # inputs that changed no state
                        for letter in out.dead_letters:
                            pending.append(await producer.send(dlq_topic, letter.to_bytes()))
                    for entry in out.staged:  # alerts (and letters) staged in the outbox, as the worker does
                        target = alerts_topic if entry.kind == OUT_ALERT else dlq_topic
                        fut = await producer.send(target, entry.value, key=entry.patient_id.encode())
                        fut.add_done_callback(lambda f, e=entry: f.exception() or processor.delivered(e))
                        pending.append(fut)
                    if out.samples and first is None:
                        first = time.monotonic()
                        cpu0 = time.process_time()
                    processed += out.samples
            now = time.monotonic()
            if now - last_commit >= COMMIT_INTERVAL_S or processed >= expected:
                for pid, blob in processor.checkpoint():
                    pending.append(await producer.send(changelog_topic, blob, key=pid.encode()))
                if pending:
                    await asyncio.gather(*pending)
                    pending.clear()
                await consumer.commit()
                last_commit = now
        end = time.monotonic()
        cpu_used = time.process_time() - cpu0 if first is not None else 0.0
    finally:
        await consumer.stop()
        await producer.stop()
    seconds = end - first if first is not None else 0.0
    return {
        "samples": processed,
        "seconds": seconds,
        "samples_per_s": processed / seconds if seconds > 0 else 0.0,
        "samples_per_cpu_s": processed / cpu_used if cpu_used > 0 else 0.0,
        "cpu_share": cpu_used / seconds if seconds > 0 else 0.0,
    }


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer.topics()
    return consumer.partitions_for_topic(topic) or {0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="wardwatch bench baseline (aiokafka + Processor)")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--alerts-topic", required=True)
    p.add_argument("--dlq-topic", required=True)
    p.add_argument("--changelog-topic", required=True)
    p.add_argument("--expected", type=int, required=True)
    p.add_argument("--group", required=True)
    args = p.parse_args(argv)
    result = asyncio.run(
        consume_process_produce(
            args.bootstrap,
            args.topic,
            args.alerts_topic,
            args.dlq_topic,
            args.changelog_topic,
            args.expected,
            args.group,
        )
    )
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
