"""The worker's side of ADT: the `patients` table, what ADT does to a patient, and alert locations.

Table, not GlobalTable. The `patients` table is a Faust Table co-partitioned
with `vitals` (same key, same murmur2 partitioner, same partition count), and
its changelog topic *is* the compacted `patients` topic. A location is only
ever asked for by the worker that owns the patient's vitals partition (to put
it on that patient's alerts), and Faust assigns a table's partitions with the
input partitions of the same number, so a partitioned table is a local
lookup and each worker recovers only its own patients. A GlobalTable would
make every worker hold and recover every patient, and faust-streaming itself
warns that a GlobalTable with several app instances "may cause an app to be
stuck in an infinite recovery loop" unless it has one partition
(faust/tables/globaltable.py; robinhood/faust#716, faust-streaming#212:
standby events not applied after recovery). Whoever needs every patient (the
notifier, routing) reads the compacted topic in full instead.

One `adt` record, start to finish (`AdtPlaces.handle`, synchronous like the
processor, so nothing interleaves with a vitals message of the same patient):
fold the event into the patient's `PatientPlace` (monitor/encounter.py:
ordering by event time + control id, duplicates, cancels), write the table,
then apply the change to the patient's engine: the ADT ward's per-ward
settings; a discharge resolves open episodes (reason `discharged`) and stops
signal-loss alerts; a readmission (A13, A01) undoes that. The alerts this
causes go through the processor's outbox like any other.

Alerts: the processor asks `locate` once per alert (never per sample): the
ADT location when one is known, else the `ward` field of the vitals.
Retention: a timer deletes (tombstones) the engine state of patients
discharged more than WARDWATCH_DISCHARGE_RETENTION_S ago.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from alerts.model import Alert
from monitor.encounter import AdtEvent, FoldOutcome, Location, PatientPlace, apply, change_between
from monitor.timestamps import future_message, not_after_ms
from streams.adt import metrics
from streams.kafka import DeadLetter
from streams.worker import VITALS_TAG, Outcome, Processor, partition_for

log = logging.getLogger("wardwatch.adt")

TABLE_NAME = "patients"


class AdtPlaces:
    """The patients table and the ADT fold, over the worker's processor."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.processor = worker.processor
        settings = worker.settings
        app = worker.app
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.adt_topic = app.topic(settings.topics.adt, partitions=worker.partitions, **raw)
        changelog = app.topic(
            settings.topics.patients,
            partitions=worker.partitions,
            compacting=True,
            deleting=False,
            key_type=bytes,
            value_type=bytes,
            **raw,
        )
        self.table = app.Table(
            TABLE_NAME,
            default=None,
            partitions=worker.partitions,
            use_partitioner=True,
            changelog_topic=changelog,
            key_type=bytes,
            value_type=bytes,
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        )
        self.retention_ms = int(settings.discharge_retention_s * 1000)

    # ---- lookups --------------------------------------------------------------
    def place(self, patient_id: str) -> PatientPlace | None:
        raw = self.table.get(patient_id.encode())
        if not raw:
            return None
        try:
            return PatientPlace.from_bytes(raw)
        except ValueError:
            log.error(
                "unreadable patients record on partition %d: ignored", partition_for(patient_id, self.worker.partitions)
            )
            return None

    def locate(self, patient_id: str) -> Location | None:
        """Where the patient is for an alert: ADT's location, else the vitals' ward (documented precedence)."""
        raw = self.table.get(patient_id.encode())
        location = PatientPlace.location_in(raw) if raw else None
        if location:
            return location
        engine = self.processor.engines.get(patient_id)
        return Location(engine.ward) if engine is not None and engine.ward else None

    # ---- one adt record ---------------------------------------------------------
    def handle(self, raw: bytes, topic: str, partition: int | None, offset: int | None) -> Outcome:
        out = Outcome()
        try:
            event = AdtEvent.from_bytes(raw)
        except ValueError as exc:
            out.dead_letters.append(DeadLetter(str(exc), "bad_adt", raw, topic, partition, offset))
            return out
        pid = event.patient_id
        if event.ts_ms > not_after_ms():  # ordered by time: a future event would outrank every real one
            out.dead_letters.append(
                DeadLetter(
                    future_message(event.ts_ms, not_after_ms()), "future_timestamp", raw, topic, partition, offset
                )
            )
            return out
        if partition is not None and partition_for(pid, self.worker.partitions) != partition:
            reason = "ADT event on the wrong partition: produce it keyed by patient_id (ingest does)"
            out.dead_letters.append(DeadLetter(reason, "adt_wrong_partition", raw, topic, partition, offset))
            return out
        before = self.place(pid)
        after, outcome = apply(before, event)
        metrics.FOLDED.labels(outcome.value).inc()
        if outcome is FoldOutcome.APPLIED:
            self.table[pid.encode()] = after.to_bytes()
            if change_between(before, after).moved:
                log.info("patient moved to ward %s (partition %s)", after.ward, partition)
        else:
            out.duplicate = True
        # Also for a duplicate: a crash between this table write and the engine's checkpoint replays the
        # event as a duplicate, and the engine must still catch up with the place (settle is idempotent).
        out.alerts = settle(self.processor, after)
        out.staged = self.processor.stage_alerts(out.alerts)
        return out

    # ---- retention ----------------------------------------------------------------
    def forget_discharged(self, now_ms: int) -> int:
        """Delete the state of patients discharged longer ago than the retention (a tombstone each)."""
        gone = self.processor.discharged_before(now_ms - self.retention_ms)
        for pid in gone:
            self.processor.drop(pid)
            key = pid.encode()
            if key in self.worker.table:
                del self.worker.table[key]
        if gone:
            metrics.FORGOTTEN.inc(len(gone))
            log.info("forgot the state of %d patients discharged over %.0f s ago", len(gone), self.retention_ms / 1000)
        return len(gone)


def settle(processor: Processor, place: PatientPlace) -> list[Alert]:
    """Bring the patient's engine in line with their place; the alert changes that causes.

    Idempotent (compares with the engine's own state, not with the previous
    place): the ADT ward's settings; discharged -> open episodes resolve and
    signal loss stops; no longer discharged (A13, a new admit) -> monitored as before.
    """
    engine = processor.engine(place.patient_id)
    before = (engine.adt_ward, engine.discharged_ms)
    engine.follow_ward(place.ward)
    alerts: list[Alert] = []
    if place.discharged and engine.discharged_ms is None:
        alerts = engine.discharge(place.state.discharged_ts_ms or place.state.updated_ts_ms or 0)
    elif not place.discharged and engine.discharged_ms is not None:
        engine.readmit()
    if (engine.adt_ward, engine.discharged_ms) != before or alerts:
        processor.dirty.add(place.patient_id)
    return alerts


def register(worker: Any) -> AdtPlaces:
    """Add the patients table, the `adt` agent and the retention timer to the worker."""
    places = AdtPlaces(worker)
    worker.places = places
    worker.processor.locate = places.locate
    messages = worker_messages()

    async def adt_agent(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
            try:
                out = places.handle(raw, msg.topic, msg.partition, msg.offset)
                messages.inc()
                await worker._publish(out, raw, VITALS_TAG)  # dead letters, then staged alerts (outbox)
            except Exception as exc:  # one bad record must not stop the ward's ADT
                log.exception("internal error on adt %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                await worker._dead_letter(
                    DeadLetter(f"internal error: {exc!r}", "internal_error", raw, msg.topic, msg.partition, msg.offset)
                )

    worker.app.agent(places.adt_topic, name="wardwatch.adt")(adt_agent)

    async def forget_discharged() -> None:
        if worker.synced and not worker.app.rebalancing:
            places.forget_discharged(int(time.time() * 1000))

    worker.app.timer(1.0)(forget_discharged)
    return places


def worker_messages() -> Any:
    from streams import metrics as worker_metrics

    return worker_metrics.MESSAGES.labels("adt")
