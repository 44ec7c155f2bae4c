"""The sensitivity / alarm-burden trade-off across policy settings.

One knob set per point: the detector's raise threshold and a scale on the
persistence delays (news2 and anomaly). Lower threshold and shorter delays
catch deterioration earlier and page more; the curve shows where the default
sits and what moving it would cost. Run on a smaller cohort: it multiplies the
work by the number of settings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from alerts.engine import EngineConfig


@dataclass(frozen=True, slots=True)
class SweepSetting:
    """How a point differs from the engine defaults."""

    anomaly_threshold: float
    persistence_scale: float

    @property
    def name(self) -> str:
        return f"thr {self.anomaly_threshold:g} x{self.persistence_scale:g}"


#: From most sensitive to most conservative; the middle one is the default delay.
SETTINGS: tuple[SweepSetting, ...] = (
    SweepSetting(0.3, 0.5),
    SweepSetting(0.4, 0.75),
    SweepSetting(0.5, 1.0),
    SweepSetting(0.6, 1.0),
    SweepSetting(0.7, 1.5),
    SweepSetting(0.8, 2.0),
)
QUICK_SETTINGS: tuple[SweepSetting, ...] = (SETTINGS[0], SETTINGS[2], SETTINGS[4])

_SCALED = ("news2_persistence_s", "news2_high_persistence_s", "anomaly_persistence_s")


def sweep_config(setting: SweepSetting, base: Any = None) -> Any:
    """The engine config of one sweep point (fields the engine lacks are left alone)."""
    cfg = base if base is not None else EngineConfig()
    names = {f.name for f in dataclasses.fields(cfg)}
    changes: dict[str, float] = {}
    if "anomaly_threshold" in names:
        changes["anomaly_threshold"] = setting.anomaly_threshold
    if "anomaly_clear" in names:
        changes["anomaly_clear"] = min(cfg.anomaly_clear, 0.6 * setting.anomaly_threshold)
    for field_name in _SCALED:
        if field_name in names:
            changes[field_name] = getattr(cfg, field_name) * setting.persistence_scale
    return dataclasses.replace(cfg, **changes)


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One setting (or a baseline, `setting` None) on the sweep cohort."""

    name: str
    setting: SweepSetting | None
    recall: float | None
    false_per_stable_day: float | None
    alerts_per_patient_day: float
    delay_median_min: float | None
