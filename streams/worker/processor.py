"""What the worker does with one input message, without the framework around it.

Kept apart from the Faust agent so that the benchmark's hand-written aiokafka
baseline runs exactly the same code, and so every decision here (routing,
dead-lettering, replay dedupe, checkpointing) is testable without a broker.

State: live `PatientEngine`s are cached in memory; a dirty set records which
changed since the last checkpoint, and the worker writes those to the Faust
table (changelog) just before each offset commit. Each engine remembers the
last input offset folded into it, so the input replayed after a crash is
skipped where the checkpoint already contains it, and processed where not.

Outbox: an input's state change and the alerts (and dead letters) it caused
must not be separable by a crash. Skipping replayed input is only safe if
every output of that input reached Kafka, but the changelog write and the
alert send go to different partitions (on a real cluster, different brokers)
with no ordering between them. So every output is staged in its patient's
outbox in the same synchronous step as the state change, checkpointed with
the state, and removed once Kafka acknowledges it. A worker that loads a
state with a non-empty outbox sends those messages again: a duplicate with
the same `alert_id` and status, never a loss.
"""

from __future__ import annotations

import functools
import itertools
import logging
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from aiokafka.partitioner import murmur2

from alerts.acks import parse_ack
from alerts.config import PolicyBook
from alerts.engine import PatientEngine
from alerts.model import Alert
from alerts.policy import AckError
from monitor.encounter import Location
from monitor.parse import RejectReason, parse_message
from monitor.timestamps import future_tolerance_s as configured_future_tolerance_s
from streams.kafka import DeadLetter

log = logging.getLogger(__name__)
#: What a corrupted checkpoint raises on restore (orjson's errors are ValueErrors; a
#: wrong shape is a KeyError, IndexError, AttributeError or TypeError somewhere inside).
UNREADABLE_STATE = (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error)

#: Prefix byte on the repartition topic saying what the forwarded payload is.
VITALS_TAG = b"V"
ACK_TAG = b"A"


#: Wall seconds of silence after which a patient's timers run on the wall clock (see Processor.tick).
TIMER_GRACE_S = 10.0

#: Outbox entry kinds: which topic the staged message goes to.
OUT_ALERT = "alert"
OUT_DLQ = "dlq"

#: Table value with an outbox: this byte, 4-byte length, engine bytes, outbox JSON.
#: A plain engine blob (orjson list, starts with `[`) means an empty outbox.
_WITH_OUTBOX = b"O"


def utc_now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Staged:
    """One output message waiting for Kafka's acknowledgement."""

    seq: int
    patient_id: str
    kind: str  # OUT_ALERT or OUT_DLQ
    value: bytes
    alert: Alert | None = None  # for metrics and logs (absent after a reload)

    def to_json(self) -> list:
        return [self.kind, self.value.decode()]


def encode_state(engine_blob: bytes, outbox: Iterable[Staged]) -> bytes:
    entries = [e.to_json() for e in outbox]
    if not entries:
        return engine_blob
    return _WITH_OUTBOX + struct.pack(">I", len(engine_blob)) + engine_blob + orjson.dumps(entries)


def decode_state(raw: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(engine bytes, staged outputs) of a table value."""
    if raw[:1] != _WITH_OUTBOX:
        return raw, []
    (size,) = struct.unpack(">I", raw[1:5])
    blob = raw[5 : 5 + size]
    return blob, [(kind, value.encode()) for kind, value in orjson.loads(raw[5 + size :])]


@functools.lru_cache(maxsize=65536)
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
    #: outputs staged in the patient's outbox (alerts, and dead letters of an
    #: input that also changed state); the worker sends these, then confirms.
    staged: list[Staged] = field(default_factory=list)
    letters_staged: bool = False  # dead_letters are also in `staged` (send those, not these)


class Processor:
    def __init__(
        self,
        book: PolicyBook,
        partitions: int,
        load: Callable[[str], bytes | None],
        outbox: bool = False,
        future_tolerance_s: float | None = None,
    ) -> None:
        """`outbox`: keep staged outputs until `delivered()` (the worker does; a caller that
        never confirms delivery, like a benchmark loop, leaves it off).

        `future_tolerance_s`: samples dated more than this ahead of the wall clock are dead-lettered
        (`future_timestamp`) before they reach an engine, and timers never run past wall clock +
        tolerance; default WARDWATCH_FUTURE_TOLERANCE_S or 120 s."""
        self.book = book
        self.future_tolerance_ms = int(
            1000 * (future_tolerance_s if future_tolerance_s is not None else configured_future_tolerance_s())
        )
        self.use_outbox = outbox
        self.partitions = partitions
        self.load = load
        self.engines: dict[str, PatientEngine] = {}
        self.dirty: set[str] = set()
        self.last_wall: dict[str, float] = {}
        #: patient -> outputs staged but not yet acknowledged by Kafka
        self.outbox: dict[str, dict[int, Staged]] = {}
        #: outputs found in recovered state, to be sent again by the worker
        self.resend: list[Staged] = []
        self._seq = itertools.count()
        #: Where a patient is, asked once per alert (not per sample): streams/adt/places.py sets it.
        self.locate: Callable[[str], Location | None] | None = None

    def engine(self, patient_id: str) -> PatientEngine:
        engine = self.engines.get(patient_id)
        if engine is None:
            raw = self.load(patient_id)
            engine = self._restore_or_fresh(patient_id, raw) if raw else PatientEngine(patient_id, self.book)
            self.engines[patient_id] = engine
            self.last_wall[patient_id] = time.time()
        return engine

    def _restore_or_fresh(self, patient_id: str, raw: bytes) -> PatientEngine:
        """The checkpointed engine, or a fresh one if the checkpoint cannot be read.

        A checkpoint that raised here used to raise again on each of the patient's
        messages (the state stays in the store): every one was dead-lettered and the
        patient was silenced. Monitoring goes on from a fresh engine instead (NEWS2 and
        the hard limits at once, the baseline after its warm-up), and the error is logged.
        """
        try:
            return self._restore(patient_id, raw)
        except UNREADABLE_STATE as exc:  # no patient id in the log line
            log.error(
                "unreadable patient state on partition %d replaced by a fresh engine (%s: %s); "
                "monitoring goes on, the baseline warms up again",
                partition_for(patient_id, self.partitions),
                type(exc).__name__,
                exc,
            )
            return PatientEngine(patient_id, self.book)

    def _restore(self, patient_id: str, raw: bytes) -> PatientEngine:
        blob, staged = decode_state(raw)
        engine = PatientEngine.from_bytes(blob, self.book)
        if staged:
            box = self.outbox.setdefault(patient_id, {})
            for kind, value in staged:
                entry = Staged(next(self._seq), patient_id, kind, value)
                box[entry.seq] = entry
                self.resend.append(entry)
        return engine

    def load_all(self, items: Iterable[tuple[str, bytes]]) -> int:
        """Bring recovered patients into memory (their timers run, their outboxes are resent)."""
        loaded = 0
        for pid, raw in items:
            if pid not in self.engines and raw:
                try:
                    self.engines[pid] = self._restore(pid, raw)
                except UNREADABLE_STATE as exc:  # no patient id in the log line
                    log.error(
                        "unreadable patient state on partition %d skipped (%s); loaded on its next input",
                        partition_for(pid, self.partitions),
                        exc,
                    )
                    continue
                self.last_wall[pid] = time.time()
                loaded += 1
        return loaded

    def take_resend(self) -> list[Staged]:
        out, self.resend = self.resend, []
        return out

    # ---- outbox -----------------------------------------------------------
    def stage_alerts(self, alerts: Iterable[Alert], emitted_at: str | None = None) -> list[Staged]:
        """Put alerts in their patients' outboxes (synchronously, with the state change)."""
        staged = []
        for alert in alerts:
            if emitted_at is None:  # clock text only when there is an alert
                emitted_at = utc_now_text()
            wire = alert.to_wire(emitted_at)
            location = self.locate(alert.patient_id) if self.locate is not None else None
            if location:
                wire["location"] = location.to_wire()
            entry = Staged(next(self._seq), alert.patient_id, OUT_ALERT, orjson.dumps(wire), alert)
            if self.use_outbox:
                self.outbox.setdefault(alert.patient_id, {})[entry.seq] = entry
                self.dirty.add(alert.patient_id)
            staged.append(entry)
        return staged

    def stage_letter(self, patient_id: str, letter: DeadLetter) -> Staged:
        entry = Staged(next(self._seq), patient_id, OUT_DLQ, letter.to_bytes())
        if self.use_outbox:
            self.outbox.setdefault(patient_id, {})[entry.seq] = entry
            self.dirty.add(patient_id)
        return entry

    def delivered(self, entry: Staged) -> None:
        """Kafka acknowledged `entry`: drop it from the outbox (the next checkpoint records that)."""
        box = self.outbox.get(entry.patient_id)
        if box and box.pop(entry.seq, None) is not None:
            if not box:
                del self.outbox[entry.patient_id]
            if entry.patient_id in self.engines:
                self.dirty.add(entry.patient_id)

    def pending(self) -> int:
        return sum(len(b) for b in self.outbox.values())

    def handle_vitals(
        self, raw: bytes, topic: str, partition: int | None, offset: int | None, route: bool = True
    ) -> Outcome:
        out = Outcome()
        # Against this process's wall clock, per message (time.time() is ~50 ns): input may never move a
        # patient's clock past now + tolerance, whatever path it came by (docs/failure-behaviour.md).
        result = parse_message(raw, int(time.time() * 1000) + self.future_tolerance_ms)
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
        for index, sample in enumerate(result.samples):
            out.alerts.extend(engine.process(sample))
            if engine.detector_error is not None:
                # The ward's detector raised on this sample: NEWS2 and the hard limits still
                # ran on it; the sample goes to the dead-letter topic so the failure is seen.
                error, engine.detector_error = engine.detector_error, None
                reason = RejectReason.DETECTOR_ERROR.value
                out.dead_letters.append(
                    DeadLetter(f"{reason}: sample {index}: {error}", reason, raw, topic, partition, offset)
                )
        out.samples = len(result.samples)
        out.newest_ts_ms = max(s.ts_ms for s in result.samples)
        if offset is not None:
            engine.offsets[source] = offset
        self.dirty.add(pid)
        self.last_wall[pid] = time.time()
        # This input is now in the state: its outputs must survive with it.
        out.staged = self.stage_alerts(out.alerts)
        out.staged.extend(self.stage_letter(pid, letter) for letter in out.dead_letters)
        out.letters_staged = bool(out.dead_letters)
        return out

    def handle_ack(
        self, raw: bytes, topic: str, partition: int | None, offset: int | None, route: bool = True
    ) -> Outcome:
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
        out.staged = self.stage_alerts(out.alerts)
        out.staged.extend(self.stage_letter(ack.patient_id, letter) for letter in out.dead_letters)
        out.letters_staged = bool(out.dead_letters)
        return out

    def tick(self, wall_now: float, grace_s: float | None = None) -> list[Alert]:
        """Run the timers of each patient whose data has stopped, at last event time + wall time since,
        so a dropout still escalates.

        While a patient's data keeps coming (live, or replayed after a restart) its own event time
        drives its timers; wall-clock time only takes over after `grace_s` of silence. Without that
        grace a timer could fire between two replayed samples with different content than in the
        original run, and a replay would not reproduce the alerts.
        """
        grace = TIMER_GRACE_S if grace_s is None else grace_s
        alerts: list[Alert] = []
        ceiling = int(wall_now * 1000) + self.future_tolerance_ms
        for pid, engine in self.engines.items():
            if engine.last_ts is None:
                continue
            silent = wall_now - self.last_wall.get(pid, wall_now)
            if silent < grace:
                continue
            # Never past wall clock + tolerance: a timer-driven change (a signal-loss resolve, an
            # escalation) must not carry a time ahead of the ward's clock.
            at = engine.last_ts + int(silent * 1000)
            if at > ceiling:
                at = ceiling
                if engine.last_ts > ceiling:
                    continue  # state from before the future check: its own time is ahead; wait for the ward
            changes = engine.tick(at)
            if changes:
                alerts.extend(changes)
                self.dirty.add(pid)
        return alerts

    def checkpoint(self) -> list[tuple[str, bytes]]:
        """Serialized state (with its outbox) of every patient changed since the last call."""
        records = []
        for pid in self.dirty:
            engine = self.engines.get(pid)
            if engine is not None:
                records.append((pid, encode_state(engine.to_bytes(), self.outbox.get(pid, {}).values())))
        self.dirty.clear()
        return records

    def discharged_before(self, cutoff_ms: int) -> list[str]:
        """Patients discharged (ADT) at or before `cutoff_ms` with nothing left to send: to be forgotten."""
        return [
            pid
            for pid, engine in self.engines.items()
            if engine.discharged_ms is not None and engine.discharged_ms <= cutoff_ms and pid not in self.outbox
        ]

    def drop(self, patient_id: str) -> None:
        """Forget one patient entirely (the caller deletes its stored state)."""
        self.engines.pop(patient_id, None)
        self.last_wall.pop(patient_id, None)
        self.dirty.discard(patient_id)

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Drop cached patients whose partitions moved to another worker (checkpoint first)."""
        for pid in [p for p in self.engines if not keep(p)]:
            del self.engines[pid]
            self.last_wall.pop(pid, None)
            self.dirty.discard(pid)
            self.outbox.pop(pid, None)
