"""Where a patient is: the `patient-wards` table ({"patient_id", "ward", "bed"?}), read in full and followed.

An alert's own `ward` wins; this table is the fallback; the routing file's
`default_ward` is the last resort, so an alert is never unroutable for want
of a location.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from streams.config import Settings
from streams.kafka import consumer

log = logging.getLogger("wardwatch.notify")


class PatientWards:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings, self.topic = settings, topic
        self.wards: dict[str, tuple[str, str | None]] = {}
        self.loaded = asyncio.Event()

    def ward(self, patient_id: str) -> str | None:
        return self.wards.get(patient_id, (None, None))[0]

    def bed(self, patient_id: str) -> str | None:
        return self.wards.get(patient_id, (None, None))[1]

    def _apply(self, raw: bytes | None) -> None:
        try:
            doc = orjson.loads(raw or b"null")
            pid, ward = doc["patient_id"], doc["ward"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            log.warning("ignoring a %s record that is not {patient_id, ward}", self.topic)
            return
        self.wards[str(pid)] = (str(ward), str(doc["bed"]) if doc.get("bed") else None)

    async def follow(self, quiet_s: float = 1.0) -> None:
        """Read from the beginning; set `loaded` once quiet; keep following until cancelled."""
        cons = await consumer(self.settings, self.topic, auto_offset_reset="earliest", group_id=None,
                              enable_auto_commit=False)
        last = time.monotonic()
        try:
            while True:
                batch = await cons.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        self._apply(record.value)
                if batch or not cons.assignment():
                    last = time.monotonic()
                elif time.monotonic() - last >= quiet_s and not self.loaded.is_set():
                    self.loaded.set()
        finally:
            await cons.stop()
