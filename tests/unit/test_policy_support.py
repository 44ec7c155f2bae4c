"""Shared builders for the policy scenario tests (no tests here): one patient's samples in event time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from alerts.engine import PatientEngine
from alerts.model import Alert, Status
from monitor.vitals import VitalSample

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
PID = "MRN-000417"
WARM_S = 1200  # the detector is warm (120 samples, 15 min) well before this

_HAS_WARD = "ward" in {f.name for f in dataclasses.fields(VitalSample)}


def sample(t_s: float, pid: str = PID, device: str = "wear-1", **values) -> VitalSample:
    """A wearable sample at T0 + t_s; defaults are a well patient's vitals."""
    base = {"heart_rate": 72.0 + (int(t_s) % 3), "spo2": 97.0 - (int(t_s) % 2), "resp_rate": 15.0}
    base.update(values)
    ward = base.pop("ward", None)
    if ward is not None and not _HAS_WARD:
        return WardSample(pid, device, T0 + int(t_s * 1000), ward=ward, **base)
    if ward is not None:
        base["ward"] = ward
    return VitalSample(pid, device, T0 + int(t_s * 1000), **base)


if not _HAS_WARD:

    @dataclasses.dataclass(frozen=True, slots=True)
    class WardSample(VitalSample):
        """A sample carrying the `ward` nursing input (until VitalSample has it)."""

        ward: str | None = None


def span(start_s: float, end_s: float, step_s: float = 5.0, **values) -> list[VitalSample]:
    out, t = [], start_s
    while t < end_s:
        out.append(sample(t, **values))
        t += step_s
    return out


def warm(engine: PatientEngine, until_s: float = WARM_S) -> list[Alert]:
    return feed(engine, span(0, until_s))


def feed(engine: PatientEngine, samples: Iterable[VitalSample]) -> list[Alert]:
    out: list[Alert] = []
    for s in samples:
        out.extend(engine.process(s))
    return out


def of(alerts: list[Alert], status: Status) -> list[Alert]:
    return [a for a in alerts if a.status is status]


def at_s(ts_ms: int) -> float:
    return (ts_ms - T0) / 1000.0
