"""Read a whole topic from the beginning, until it goes quiet.

The embedded broker answers ListOffsets wrongly (last batch's base offset
+ 1), so "the end" is "no record for `quiet_s`" after partitions are assigned.
"""

from __future__ import annotations

import time

from aiokafka.structs import ConsumerRecord

from streams.config import Settings
from streams.kafka import consumer


async def read_topic(
    settings: Settings, topic: str, quiet_s: float = 1.0, timeout_s: float = 60.0
) -> list[ConsumerRecord]:
    cons = await consumer(settings, topic, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
    out: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await cons.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
            if batch or not cons.assignment():
                last = time.monotonic()
            elif time.monotonic() - last >= quiet_s:
                break
    finally:
        await cons.stop()
    return out
