"""Per-patient resting physiology, drawn from plausible adult ward distributions.

Each patient gets their own resting values (a fit 30-year-old and a frail
80-year-old differ), their own circadian amplitude, how much sleep lowers
them, and how noisy each measurement is. Distributions are clipped so a
"stable" patient scores NEWS2 0 at rest most of the time, as real stable ward
patients do; variation above rest (activity, drift, noise) still produces the
occasional 1-point reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Continuous vitals the generator models with drift (DBP follows SBP).
MODELLED: tuple[str, ...] = ("heart_rate", "spo2", "resp_rate", "temperature", "systolic_bp")

#: White measurement noise (SD) of one reading, per vital.
MEASUREMENT_SD: dict[str, float] = {
    "heart_rate": 1.8,
    "spo2": 0.6,
    "resp_rate": 1.0,
    "temperature": 0.08,
    "systolic_bp": 4.0,
}

#: Slow physiological drift (SD of an Ornstein-Uhlenbeck process), per vital.
DRIFT_SD: dict[str, float] = {
    "heart_rate": 3.5,
    "spo2": 0.5,
    "resp_rate": 0.8,
    "temperature": 0.12,
    "systolic_bp": 5.0,
}

#: Effect of deep sleep on each vital (applied in full when fully asleep).
SLEEP_EFFECT: dict[str, float] = {
    "heart_rate": -6.0,
    "spo2": -0.7,
    "resp_rate": -0.8,
    "temperature": -0.1,
    "systolic_bp": -6.0,
}

#: Effect of walking / sitting up (an activity bout) on each vital.
ACTIVITY_EFFECT: dict[str, float] = {
    "heart_rate": 16.0,
    "spo2": -0.3,
    "resp_rate": 3.0,
    "temperature": 0.0,
    "systolic_bp": 10.0,
}


@dataclass(frozen=True, slots=True)
class Baseline:
    """One patient's resting values and how their rhythm moves them."""

    rest: dict[str, float]
    circadian_amplitude: dict[str, float]
    pulse_pressure: float
    copd: bool
    on_oxygen: bool

    @property
    def spo2_scale(self) -> int:
        return 2 if self.copd else 1


def draw_baseline(rng: np.random.Generator, copd: bool) -> Baseline:
    """Resting physiology for one adult ward patient."""
    rest = {
        "heart_rate": float(np.clip(rng.normal(75.0, 7.0), 63.0, 86.0)),
        "resp_rate": float(np.clip(rng.normal(15.5, 1.2), 13.8, 18.0)),
        "temperature": float(np.clip(rng.normal(36.8, 0.15), 36.55, 37.2)),
        "systolic_bp": float(np.clip(rng.normal(130.0, 11.0), 120.0, 165.0)),
        "spo2": float(np.clip(rng.normal(97.4, 0.8), 96.3, 99.2)),
    }
    if copd:
        rest["spo2"] = float(rng.uniform(88.5, 91.5))
        rest["resp_rate"] = float(np.clip(rng.normal(17.0, 1.0), 15.0, 19.0))
    amplitude = {
        "heart_rate": float(rng.uniform(2.0, 5.0)),
        "spo2": 0.2,
        "resp_rate": float(rng.uniform(0.2, 0.6)),
        "temperature": float(rng.uniform(0.1, 0.3)),
        "systolic_bp": float(rng.uniform(2.0, 6.0)),
    }
    on_oxygen = bool(rng.random() < (0.4 if copd else 0.04))
    return Baseline(
        rest=rest,
        circadian_amplitude=amplitude,
        pulse_pressure=float(rng.uniform(38.0, 55.0)),
        copd=copd,
        on_oxygen=on_oxygen,
    )
