"""What the worker does with one input message, without the framework around it.

Kept apart from the Faust agent so that the benchmark's hand-written aiokafka
baseline runs exactly the same code, and so every decision here (routing,
dead-lettering, replay dedupe, checkpointing) is testable without a broker.

State: live `PatientEngine`s are cached in memory; a dirty set records which
changed since the last checkpoint, and the worker writes those to the Faust
table (changelog) just before each offset commit. Each engine remembers the
last input offset folded into it, so the input replayed after a crash is
skipped where the checkpoint already contains it, and processed where not.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from aiokafka.partitioner import murmur2

from alerts.acks import parse_ack
from alerts.config import PolicyBook
from alerts.engine import PatientEngine
from alerts.model import Alert
from alerts.policy import AckError
from monitor.parse import RejectReason, parse_message

from streams.deadletter import DeadLetter

log = logging.getLogger(__name__)

#: Prefix byte on the repartition topic saying what the forwarded payload is.
VITALS_TAG = b"V"
ACK_TAG = b"A"


def partition_for(patient_id: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as producers keyed by patient_id use."""
    return (murmur2(patient_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class Outcome:
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    samples: int = 0
    newest_ts_ms: int | None = None
    forward_to: str | None = None  # patient_id to re-key to, when on the wrong partition
    duplicate: bool = False


class Processor:
    def __init__(self, book: PolicyBook, partitions: int, load: Callable[[str], bytes | None]) -> None:
        self.book = book
        self.partitions = partitions
        self.load = load
        self.engines: dict[str, PatientEngine] = {}
        self.dirty: set[str] = set()
        self.last_wall: dict[str, float] = {}

    def engine(self, patient_id: str) -> PatientEngine:
        engine = self.engines.get(patient_id)
        if engine is None:
            config = self.book.for_ward(None)
            raw = self.load(patient_id)
            engine = PatientEngine.from_bytes(raw, config) if raw else PatientEngine(patient_id, config)
            self.engines[patient_id] = engine
            self.last_wall[patient_id] = time.time()
        return engine

    def handle_vitals(self, raw: bytes, topic: str, partition: int | None, offset: int | None,
                      route: bool = True) -> Outcome:
        out = Outcome()
        result = parse_message(raw)
        pid = result.patient_id
        if pid is not None and route and partition is not None and partition_for(pid, self.partitions) != partition:
            out.forward_to = pid
            return out
        for rej in result.rejections:
            out.dead_letters.append(DeadLetter(rej.describe(), rej.reason.value, raw, topic, partition, offset))
        if pid is None or not result.samples:
            return out
        engine = self.engine(pid)
        source = f"{topic}:{partition}"
        if offset is not None and offset <= engine.offsets.get(source, -1):
            out.duplicate = True  # already in the checkpoint we recovered from
            return out
        for sample in result.samples:
            out.alerts.extend(engine.process(sample))
        out.samples = len(result.samples)
        out.newest_ts_ms = max(s.ts_ms for s in result.samples)
        if offset is not None:
            engine.offsets[source] = offset
        self.dirty.add(pid)
        self.last_wall[pid] = time.time()
        return out

    def handle_ack(self, raw: bytes, topic: str, partition: int | None, offset: int | None,
                   route: bool = True) -> Outcome:
        out = Outcome()
        try:
            ack = parse_ack(raw)
        except ValueError as exc:
            out.dead_letters.append(DeadLetter(str(exc), RejectReason.BAD_ACK.value, raw, topic, partition, offset))
            return out
        if route:
            out.forward_to = ack.patient_id
            return out
        engine = self.engine(ack.patient_id)
        source = f"{topic}:{partition}"
        if offset is not None and offset <= engine.offsets.get(source, -1):
            out.duplicate = True
            return out
        try:
            out.alerts = engine.acknowledge(ack.alert_id, ack.by, ack.action.value, ack.ts_ms)
        except AckError as exc:
            out.dead_letters.append(DeadLetter(str(exc), exc.reason, raw, topic, partition, offset))
        if offset is not None:
            engine.offsets[source] = offset
        self.dirty.add(ack.patient_id)
        return out

    def tick(self, wall_now: float) -> list[Alert]:
        """Run each patient's timers at last event time + wall time since, so a dropout escalates."""
        alerts: list[Alert] = []
        for pid, engine in self.engines.items():
            if engine.last_ts is None:
                continue
            now_ms = engine.last_ts + int((wall_now - self.last_wall.get(pid, wall_now)) * 1000)
            changes = engine.tick(now_ms)
            if changes:
                alerts.extend(changes)
                self.dirty.add(pid)
        return alerts

    def checkpoint(self) -> list[tuple[str, bytes]]:
        """Serialized state of every patient changed since the last call."""
        records = [(pid, self.engines[pid].to_bytes()) for pid in self.dirty if pid in self.engines]
        self.dirty.clear()
        return records

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Drop cached patients whose partitions moved to another worker."""
        for pid in [p for p in self.engines if not keep(p)]:
            del self.engines[pid]
            self.last_wall.pop(pid, None)
            self.dirty.discard(pid)
