"""Where a patient is, for routing: the `patients` table (ADT) and the `patient-wards` records.

Two compacted topics, read in full and followed:
- `patients` (written by the worker from ADT: monitor/encounter.py `PatientPlace`,
  `{"patient_id", "status", "location": {"ward", "room", "bed"}, ...}`);
- `patient-wards` (`{"patient_id", "ward", "bed"?}`, for sites without an ADT feed).
Precedence: an alert's own `location` wins; then ADT's location; then the
`patient-wards` record; the routing file's `default_ward` is the last resort,
so an alert is never unroutable for want of a location.

`on_move(patient_id, old_ward, new_ward)` is called when ADT moves a patient to
another ward after the initial read (the notifier re-routes their open alerts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import orjson

from streams.config import Settings
from streams.kafka import consumer

log = logging.getLogger("wardwatch.notify")

_Place = tuple[str, str | None]  # (ward, bed)


class PatientWards:
    def __init__(self, settings: Settings, topic: str, patients_topic: str | None = None) -> None:
        self.settings, self.topic, self.patients_topic = settings, topic, patients_topic
        self.wards: dict[str, _Place] = {}  # from patient-wards
        self.adt: dict[str, _Place] = {}  # from patients (ADT): wins
        self.loaded = asyncio.Event()
        self.on_move: Callable[[str, str | None, str], None] | None = None

    def _place(self, patient_id: str) -> _Place:
        return self.adt.get(patient_id) or self.wards.get(patient_id) or (None, None)  # type: ignore[return-value]

    def ward(self, patient_id: str) -> str | None:
        return self._place(patient_id)[0]

    def bed(self, patient_id: str) -> str | None:
        return self._place(patient_id)[1]

    def adt_ward(self, patient_id: str) -> str | None:
        place = self.adt.get(patient_id)
        return place[0] if place else None

    def _apply(self, raw: bytes | None, topic: str | None = None, key: bytes | None = None) -> None:
        if topic is not None and topic == self.patients_topic:
            self._apply_place(raw, key)
            return
        try:
            doc = orjson.loads(raw or b"null")
            pid, ward = doc["patient_id"], doc["ward"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            log.warning("ignoring a %s record that is not {patient_id, ward}", self.topic)
            return
        self.wards[str(pid)] = (str(ward), str(doc["bed"]) if doc.get("bed") else None)

    def _apply_place(self, raw: bytes | None, key: bytes | None) -> None:
        """A `patients` record: the patient's ADT location (a tombstone or no location: none known)."""
        try:
            doc = orjson.loads(raw) if raw else None
            pid = str(doc["patient_id"]) if doc else (key or b"").decode()
            location = (doc or {}).get("location") or {}
        except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
            log.warning("ignoring a %s record that is not a patient place", self.patients_topic)
            return
        old = self.adt_ward(pid)
        ward = location.get("ward") if isinstance(location, dict) else None
        if not ward:
            self.adt.pop(pid, None)
            return
        self.adt[pid] = (str(ward), str(location["bed"]) if location.get("bed") else None)
        if old != ward and self.loaded.is_set() and self.on_move is not None:
            self.on_move(pid, old, str(ward))

    async def follow(self, quiet_s: float = 1.0) -> None:
        """Read from the beginning; set `loaded` once quiet; keep following until cancelled."""
        topics = [self.topic] + ([self.patients_topic] if self.patients_topic else [])
        cons = await consumer(
            self.settings, *topics, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
        )
        last = time.monotonic()
        try:
            while True:
                batch = await cons.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        self._apply(record.value, record.topic, record.key)
                if batch or not cons.assignment():
                    last = time.monotonic()
                elif time.monotonic() - last >= quiet_s and not self.loaded.is_set():
                    self.loaded.set()
        finally:
            await cons.stop()
