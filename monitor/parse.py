"""Turn a `vitals` message (single or batch form) into validated samples.

Hand-checked rather than pydantic-validated because this runs for every sample
on the hot path (a few µs here vs ~10 µs through a model), and because each
rejection must say exactly which field to fix. JSON decoding is orjson's.
One bad sample in a batch rejects only that sample; a message that cannot be
read at all is one rejection with no sample index.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.limits import MAX_BATCH_SAMPLES, MAX_MESSAGE_BYTES, PHYSICAL_RANGES, impossible_reason
from monitor.patient_id import MAX_PATIENT_ID_CHARS, patient_id_problem
from monitor.timestamps import _MAX_MS, _MIN_MS, future_message, parse_ts
from monitor.vitals import PROBE_VITALS, VITALS, Consciousness, Method, VitalSample, new_sample

# Measured (Python 3.11, 2-core dev machine, cohort batches of ~3 samples):
# parse_message ~2.4 µs per sample streamed (was ~5), of which orjson.loads ~0.2 µs.

#: (vital, low, high, voided by probe-off) in VITALS order, for build_sample's inline checks.
_VITAL_PLAN: tuple[tuple[str, float, float, bool], ...] = tuple(
    (name, PHYSICAL_RANGES[name].low, PHYSICAL_RANGES[name].high, name in PROBE_VITALS) for name in VITALS
)
_new_sample = new_sample
_INF = math.inf


class RejectReason(str, enum.Enum):
    """Closed set of rejection causes; also the `reason` label of the metric."""

    MALFORMED = "malformed"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_PATIENT_ID = "missing_patient_id"
    BAD_PATIENT_ID = "bad_patient_id"
    BAD_TYPE = "bad_type"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    NO_VITAL = "no_vital"
    IMPOSSIBLE_VALUE = "impossible_value"
    OVERSIZE = "oversize"
    EMPTY_BATCH = "empty_batch"
    UNKNOWN_ALERT = "unknown_alert"
    BAD_ACK = "bad_ack"
    #: Not the input's fault: the ward's anomaly detector raised on it (NEWS2 and limits still ran).
    DETECTOR_ERROR = "detector_error"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    message: str
    sample_index: int | None = None

    def describe(self) -> str:
        where = "" if self.sample_index is None else f"sample {self.sample_index}: "
        return f"{self.reason.value}: {where}{self.message}"


@dataclass(slots=True)
class ParseResult:
    samples: list[VitalSample] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    patient_id: str | None = None


class SampleError(ValueError):
    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


#: Fields a batch may give once for all its samples (`method` too: one gateway, one kind of data).
_NURSING = ("on_oxygen", "consciousness", "spo2_scale", "quality", "ward", "method")
#: Longest ward name accepted (a label, not free text).
MAX_WARD_CHARS = 64


def parse_message(raw: bytes | str, not_after_ms: int = _MAX_MS) -> ParseResult:
    """Parse one message of the `vitals` topic; never raises for bad input.

    `not_after_ms`: samples dated later are rejected as `future_timestamp` (the worker passes its wall
    clock + tolerance; replays of recorded data leave the default, the year 2200)."""
    result = ParseResult()
    if len(raw) > MAX_MESSAGE_BYTES:
        result.rejections.append(
            Rejection(RejectReason.OVERSIZE, f"message is {len(raw)} bytes, limit {MAX_MESSAGE_BYTES}")
        )
        return result
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        result.rejections.append(Rejection(RejectReason.MALFORMED, f"not valid JSON: {exc}"))
        return result
    parse_document(doc, result, not_after_ms)
    return result


def parse_document(doc: Any, result: ParseResult, not_after_ms: int = _MAX_MS) -> None:
    """Validate an already-decoded message into `result` (shared with HTTP ingest)."""
    if not isinstance(doc, dict):
        result.rejections.append(
            Rejection(RejectReason.NOT_AN_OBJECT, f"message must be a JSON object, got {type(doc).__name__}")
        )
        return
    patient_id = doc.get("patient_id")
    if not isinstance(patient_id, str) or not patient_id.strip():
        result.rejections.append(Rejection(RejectReason.MISSING_PATIENT_ID, "patient_id must be a non-empty string"))
        return
    if len(patient_id) > MAX_PATIENT_ID_CHARS or not patient_id.isprintable():  # inline: every message (~60 ns)
        result.rejections.append(Rejection(RejectReason.BAD_PATIENT_ID, patient_id_problem(patient_id) or ""))
        return
    result.patient_id = patient_id
    device_id = doc.get("device_id", "unknown")
    if not isinstance(device_id, str) or not device_id:
        device_id = "unknown" if device_id in (None, "") else str(device_id)
    samples = doc.get("samples")
    if samples is None:
        _append_sample(doc, patient_id, device_id, None, result, not_after_ms)
        return
    if not isinstance(samples, list):
        result.rejections.append(Rejection(RejectReason.BAD_TYPE, "samples must be a list"))
        return
    if not samples:
        result.rejections.append(Rejection(RejectReason.EMPTY_BATCH, "samples is empty"))
        return
    if len(samples) > MAX_BATCH_SAMPLES:
        result.rejections.append(
            Rejection(RejectReason.OVERSIZE, f"batch of {len(samples)} samples, limit {MAX_BATCH_SAMPLES}")
        )
        return
    defaults = {k: doc[k] for k in _NURSING if k in doc}
    append = result.samples.append
    for index, item in enumerate(samples):
        if not isinstance(item, dict):
            result.rejections.append(Rejection(RejectReason.NOT_AN_OBJECT, "sample must be a JSON object", index))
            continue
        try:  # _append_sample, inlined: this loop runs for every sample of a batch
            append(build_sample({**defaults, **item} if defaults else item, patient_id, device_id, not_after_ms))
        except SampleError as exc:
            result.rejections.append(Rejection(exc.reason, str(exc), index))


def _append_sample(
    doc: dict[str, Any],
    patient_id: str,
    device_id: str,
    index: int | None,
    result: ParseResult,
    not_after_ms: int = _MAX_MS,
) -> None:
    try:
        result.samples.append(build_sample(doc, patient_id, device_id, not_after_ms))
    except SampleError as exc:
        result.rejections.append(Rejection(exc.reason, str(exc), index))


def build_sample(doc: dict[str, Any], patient_id: str, device_id: str, not_after_ms: int = _MAX_MS) -> VitalSample:
    """Validate one sample's fields; raise SampleError with the reason.

    Hot path (every sample): the common case (integer epoch ms, plain int or
    float vitals inside their physical range, no nursing input) is checked
    inline; anything else takes the general checks below, which also word
    the rejection. Both paths accept and reject exactly the same input.
    """
    get = doc.get
    ts = get("ts")
    if type(ts) is int and _MIN_MS <= ts <= _MAX_MS:
        ts_ms = ts
    else:
        try:
            ts_ms = parse_ts(ts)
        except ValueError as exc:
            raise SampleError(RejectReason.BAD_TIMESTAMP, str(exc)) from None
    if ts_ms > not_after_ms:  # one comparison per sample: would move the patient's clock into the future
        raise SampleError(RejectReason.FUTURE_TIMESTAMP, future_message(ts_ms, not_after_ms))
    quality = get("quality")
    if quality is None:
        probe_off, motion = False, None
    elif (
        type(quality) is dict
        and type(motion := quality.get("motion")) is float
        and 0.0 <= motion < _INF
        and ((off := quality.get("probe_off")) is None or off is False)
    ):
        probe_off = False  # the wearable's usual {"motion": 0.03}: what _quality accepts as it is
    else:
        probe_off, motion = _quality(quality)
    values: list[float | None] = []
    present = False
    for name, low, high, probe in _VITAL_PLAN:
        raw = get(name)
        if raw is None or (probe and probe_off):
            values.append(None)
            continue
        kind = type(raw)
        if kind is float:
            if not low <= raw <= high:  # also false for NaN
                raw = _number(name, raw)
        elif kind is int and low <= raw <= high:
            raw = float(raw)
        else:
            raw = _number(name, raw)
        values.append(raw)
        present = True
    heart_rate, spo2, resp_rate, temperature, systolic_bp, diastolic_bp = values
    if systolic_bp is not None and diastolic_bp is not None and systolic_bp <= diastolic_bp:
        raise SampleError(
            RejectReason.IMPOSSIBLE_VALUE,
            f"systolic_bp {systolic_bp:g} must exceed diastolic_bp {diastolic_bp:g}",
        )
    on_oxygen = get("on_oxygen")
    consciousness = get("consciousness")
    spo2_scale = get("spo2_scale")
    ward = get("ward")
    nursing = False
    if on_oxygen is not None or consciousness is not None or spo2_scale is not None or ward is not None:
        on_oxygen = _optional_bool("on_oxygen", on_oxygen)
        consciousness = _consciousness(consciousness)
        spo2_scale = _scale(spo2_scale)
        ward = _ward(ward)
        nursing = True
    if not present and not nursing and not probe_off:
        raise SampleError(
            RejectReason.NO_VITAL,
            "no vital sign present (need one of " + ", ".join(VITALS) + ")",
        )
    method = get("method")
    if method is not None:
        method = _method(method)
    return _new_sample(
        patient_id,
        device_id,
        ts_ms,
        heart_rate,
        spo2,
        resp_rate,
        temperature,
        systolic_bp,
        diastolic_bp,
        on_oxygen,
        consciousness,
        spo2_scale,
        probe_off,
        motion,
        ward,
        method,
    )


def _number(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SampleError(RejectReason.BAD_TYPE, f"{name} must be a number, got {type(raw).__name__} {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise SampleError(RejectReason.BAD_TYPE, f"{name} must be finite")
    reason = impossible_reason(name, value)
    if reason:
        raise SampleError(RejectReason.IMPOSSIBLE_VALUE, reason)
    return value


def _optional_bool(name: str, raw: Any) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise SampleError(RejectReason.BAD_TYPE, f"{name} must be true or false, got {raw!r}")


def _consciousness(raw: Any) -> Consciousness | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return Consciousness(raw.strip().upper())
        except ValueError:
            pass
    raise SampleError(RejectReason.BAD_TYPE, f"consciousness must be one of A, C, V, P, U, got {raw!r}")


def _scale(raw: Any) -> int | None:
    if raw is None:
        return None
    if raw in (1, 2) and not isinstance(raw, bool):
        return int(raw)
    raise SampleError(RejectReason.BAD_TYPE, f"spo2_scale must be 1 or 2, got {raw!r}")


def _method(raw: Any) -> Method:
    """The optional data-shape marker: "continuous" or "observation_set"."""
    if isinstance(raw, str):
        try:
            return Method(raw.strip().lower())
        except ValueError:
            pass
    raise SampleError(
        RejectReason.BAD_TYPE,
        "method must be one of " + ", ".join(m.value for m in Method) + f", got {raw!r}",
    )


def _ward(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip() and len(raw) <= MAX_WARD_CHARS:
        return raw
    raise SampleError(
        RejectReason.BAD_TYPE, f"ward must be a non-empty string of at most {MAX_WARD_CHARS} characters, got {raw!r}"
    )


def _quality(raw: Any) -> tuple[bool, float | None]:
    if raw is None:
        return False, None
    if not isinstance(raw, dict):
        raise SampleError(RejectReason.BAD_TYPE, "quality must be an object")
    probe_off = _optional_bool("quality.probe_off", raw.get("probe_off")) or False
    motion = raw.get("motion")
    if motion is not None:
        if isinstance(motion, bool) or not isinstance(motion, (int, float)) or not math.isfinite(motion):
            raise SampleError(RejectReason.BAD_TYPE, f"quality.motion must be a number, got {motion!r}")
        if motion < 0:
            raise SampleError(RejectReason.IMPOSSIBLE_VALUE, f"quality.motion {motion} is negative")
        motion = float(motion)
    return probe_off, motion
