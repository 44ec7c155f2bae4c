"""The status-quo baseline: a bedside monitor with fixed alarm limits.

Every crossing of a limit is an alarm at once (no delay, no persistence, no
artifact handling beyond the probe-off message itself), counted at its onset:
an alarm starts when a vital goes from inside to outside its limits. This is
how the alarm burden in the literature (hundreds per bed per day) arises, and
what a persistence/integral policy is measured against. One concession to
practice: for a patient charted on SpO2 scale 2 (COPD) the SpO2 limit is set
down to 85 %, as a nurse would, or the baseline would be all COPD noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts.model import Alert, Kind, Priority, Status
from monitor.vitals import PROBE_VITALS, VitalSample


@dataclass(frozen=True, slots=True)
class Limit:
    """Alarm when `vital` < `low` or > `high` (either may be None)."""

    vital: str
    low: float | None
    high: float | None

    def outside(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (self.high is not None and value > self.high)


#: Typical factory defaults of ward monitors.
BEDSIDE_LIMITS: tuple[Limit, ...] = (
    Limit("heart_rate", 50, 120),
    Limit("spo2", 90, None),
    Limit("resp_rate", 8, 30),
    Limit("systolic_bp", 90, 180),
    Limit("temperature", None, 38.5),
)
#: SpO2 low limit a nurse sets for a patient on a scale-2 (hypercapnic) target.
SCALE2_SPO2_LOW = 85.0


def fixed_limit_alarms(samples: Iterable[VitalSample], limits: tuple[Limit, ...] = BEDSIDE_LIMITS) -> list[Alert]:
    """Alarm onsets over one patient's stream, as `raised` Alert records.

    Physiological alarms are kind THRESHOLD; a probe coming off is a TECHNICAL
    alarm. Samples are taken in arrival order, like a monitor would.
    """
    outside: dict[str, bool] = {}
    probe_off = False
    scale2 = tuple(Limit(x.vital, SCALE2_SPO2_LOW, x.high) if x.vital == "spo2" else x for x in limits)
    active = limits
    out: list[Alert] = []
    for sample in samples:
        if sample.spo2_scale is not None:
            active = scale2 if sample.spo2_scale == 2 else limits
        if sample.probe_off and not probe_off:
            out.append(_alarm(sample, Kind.TECHNICAL, "probe_off", len(out)))
        probe_off = sample.probe_off
        for limit in active:
            value = getattr(sample, limit.vital)
            if value is None or (sample.probe_off and limit.vital in PROBE_VITALS):
                continue
            now = limit.outside(value)
            if now and not outside.get(limit.vital, False):
                out.append(_alarm(sample, Kind.THRESHOLD, limit.vital, len(out)))
            outside[limit.vital] = now
    return out


def _alarm(sample: VitalSample, kind: Kind, what: str, n: int) -> Alert:
    return Alert(
        alert_id=f"bedside-{sample.patient_id}-{what}-{n}",
        patient_id=sample.patient_id,
        device_id=sample.device_id,
        status=Status.RAISED,
        priority=Priority.MEDIUM,
        kind=kind,
        ts_ms=sample.ts_ms,
    )
