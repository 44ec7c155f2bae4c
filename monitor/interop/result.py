"""What a gateway parser hands back, and how readings become wire messages.

Both gateway parsers (FHIR, HL7 v2) reduce their input to `Reading`s, one
vital of one patient at one moment, plus the entries they could not use.
`ResultBuilder` then does the part they share: it merges readings of the
same (patient, device, time) into one sample, resolves duplicates, checks
what the contract checks (physical range, systolic above diastolic) so that
every produced message passes `monitor.parse`, and writes the contract's
single or batch form. Checking here, not only downstream, matters because a
rejection here can point at the gateway entry (`OBX[4]`,
`Bundle.entry[3]`) and carry its original text to the dead-letter topic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from monitor.limits import MAX_BATCH_SAMPLES, impossible_reason
from monitor.timestamps import format_ts, future_message, not_after_ms
from monitor.vitals import VITALS, Method

#: `EntryRejection.entry` when the whole input is unusable (the caller should
#: dead-letter its original bytes rather than `payload`, which is text).
MESSAGE_ENTRY = "message"


#: Event times outside [1990, 2200) are clock errors, as `monitor.timestamps`
#: treats epoch ms; old data is otherwise fine (replays, backfills).
EARLIEST_MS = 631_152_000_000
LATEST_MS = 7_258_118_400_000


class RejectCode(str, enum.Enum):
    """Closed set of rejection causes: safe as a metric label, unlike `reason`."""

    MALFORMED = "malformed"
    OVERSIZE = "oversize"
    UNSUPPORTED = "unsupported"
    BAD_ENCODING = "bad_encoding"
    INVALID_RESOURCE = "invalid_resource"
    MISSING_PATIENT_ID = "missing_patient_id"
    BAD_PATIENT_ID = "bad_patient_id"
    NO_VITAL = "no_vital"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    BAD_UNIT = "bad_unit"
    BAD_VALUE = "bad_value"
    IMPOSSIBLE_VALUE = "impossible_value"
    WITHDRAWN = "withdrawn"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class EntryRejection:
    """One unusable entry: where it was, why, and its original text for the DLQ."""

    entry: str
    reason: str
    payload: str
    code: RejectCode

    @property
    def whole_message(self) -> bool:
        """True when nothing of the input could be used."""
        return self.entry == MESSAGE_ENTRY

    def describe(self) -> str:
        return f"{self.code.value}: {self.entry}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Reading:
    """One vital value in contract units, with the entry it came from.

    `rank` orders rival sources of the same vital at the same moment
    (lower wins): ECG heart rate (0) beats pulse-oximeter pulse rate (1).
    """

    patient_id: str
    device_id: str
    ts_ms: int
    vital: str
    value: float
    entry: str
    payload: str
    rank: int = 0
    method: Method | None = None  # continuous / observation set, when the gateway says (method.py)


@dataclass
class GatewayResult:
    """Outcome of parsing one gateway input.

    `messages` are exactly what gets produced to the `vitals` topic (contract
    single or batch form); `rejections` go to the dead-letter topic;
    `skipped_codes` are codes we do not map (counted, never guessed at);
    `superseded` names entries whose value lost to a better source for the
    same vital at the same moment (e.g. pulse rate when ECG heart rate exists).
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[EntryRejection] = field(default_factory=list)
    skipped_codes: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    #: ADT events (monitor.encounter.AdtEvent) for the `adt` topic: admissions, transfers, discharges.
    adt_events: list[Any] = field(default_factory=list)
    #: An ADT trigger event we do not act on (acknowledged AA and counted, never stored).
    ignored_event: str | None = None

    @property
    def sample_count(self) -> int:
        """Vital samples across all messages (what the samples metric counts)."""
        return sum(len(m["samples"]) if "samples" in m else 1 for m in self.messages)


_GroupKey = tuple[str, str, int]


class ResultBuilder:
    """Collects readings, rejections and skipped codes, then writes a result."""

    def __init__(self, not_after: int | None = None) -> None:
        """`not_after`: latest acceptable event time, epoch ms (default: wall clock + tolerance, as the
        worker will check it: a gateway must hear about a future-dated entry, not a silent drop)."""
        self._not_after = not_after_ms() if not_after is None else not_after
        self._groups: dict[_GroupKey, dict[str, Reading]] = {}
        self._rejections: list[EntryRejection] = []
        self._rejected_entries: set[str] = set()
        self._skipped: list[str] = []
        self._superseded: list[str] = []

    @property
    def rejection_count(self) -> int:
        return len(self._rejections)

    def reject(self, entry: str, code: RejectCode, reason: str, payload: str) -> None:
        """Record an unusable entry once (a BP pair may fail on both of its rows)."""
        if entry in self._rejected_entries:
            return
        self._rejected_entries.add(entry)
        self._rejections.append(EntryRejection(entry, _one_line(reason), payload, code))

    def skip(self, code: str) -> None:
        self._skipped.append(code)

    def add(self, reading: Reading) -> None:
        """Keep a reading unless it is impossible in value or time (then reject its entry)."""
        reason = impossible_reason(reading.vital, reading.value)
        if reason:
            self.reject(reading.entry, RejectCode.IMPOSSIBLE_VALUE, reason, reading.payload)
            return
        if not EARLIEST_MS <= reading.ts_ms < LATEST_MS:
            reason = "event time is before 1990 or after 2199: a device clock or sender error"
            self.reject(reading.entry, RejectCode.BAD_TIMESTAMP, reason, reading.payload)
            return
        if reading.ts_ms > self._not_after:
            reason = future_message(reading.ts_ms, self._not_after)
            self.reject(reading.entry, RejectCode.FUTURE_TIMESTAMP, reason, reading.payload)
            return
        key = (reading.patient_id, reading.device_id, reading.ts_ms)
        group = self._groups.setdefault(key, {})
        current = group.get(reading.vital)
        if current is None:
            group[reading.vital] = reading
        elif reading.rank < current.rank:
            group[reading.vital] = reading
            self._superseded.append(current.entry)
        else:
            self._superseded.append(reading.entry)

    def build_into(self, result: GatewayResult) -> GatewayResult:
        """Write messages and bookkeeping into `result` (a subclass keeps its extras)."""
        samples: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
        for (patient_id, device_id, ts_ms), group in self._groups.items():
            values = self._checked_values(group)
            if values:
                samples.setdefault((patient_id, device_id), []).append((ts_ms, values))
        for (patient_id, device_id), rows in samples.items():
            rows.sort(key=lambda row: row[0])
            result.messages.extend(_messages(patient_id, device_id, rows))
        result.rejections.extend(self._rejections)
        result.skipped_codes.extend(self._skipped)
        result.superseded.extend(self._superseded)
        return result

    def _checked_values(self, group: dict[str, Reading]) -> dict[str, Any]:
        """Values of one sample; a contradictory BP pair rejects both of its entries."""
        systolic, diastolic = group.get("systolic_bp"), group.get("diastolic_bp")
        if systolic and diastolic and systolic.value <= diastolic.value:
            reason = f"systolic_bp {systolic.value:g} must exceed diastolic_bp {diastolic.value:g}"
            for reading in (systolic, diastolic):
                self.reject(reading.entry, RejectCode.IMPOSSIBLE_VALUE, reason, reading.payload)
            group = {k: v for k, v in group.items() if k not in ("systolic_bp", "diastolic_bp")}
        values: dict[str, Any] = {name: _wire_number(group[name].value) for name in VITALS if name in group}
        method = next((r.method for r in group.values() if r.method is not None), None)
        if values and method is not None:
            values["method"] = method.value
        return values


def _messages(patient_id: str, device_id: str, rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Single form for one sample, batch form (chunked to the batch limit) otherwise."""
    if len(rows) == 1:
        ts_ms, values = rows[0]
        return [{"patient_id": patient_id, "device_id": device_id, "ts": format_ts(ts_ms), **values}]
    out = []
    for start in range(0, len(rows), MAX_BATCH_SAMPLES):
        chunk = rows[start : start + MAX_BATCH_SAMPLES]
        batch = [{"ts": format_ts(ts_ms), **values} for ts_ms, values in chunk]
        out.append({"patient_id": patient_id, "device_id": device_id, "samples": batch})
    return out


def _wire_number(value: float) -> int | float:
    """72.0 travels as 72: same value, and what a reader of the topic expects."""
    return int(value) if value.is_integer() else value


def _one_line(text: str, limit: int = 500) -> str:
    """Reasons go into logs, metrics exemplars and ACK text: one short line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
