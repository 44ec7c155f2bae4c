"""Where physical possibility ends for each vital.

These are not alarm limits. A value inside them is data however extreme
(SpO2 60 %, HR 220, temperature 31 °C are all seen on wards); a value outside
them cannot come from a living patient measured correctly, so it is rejected
with a reason instead of being scored. Bounds are inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PhysicalRange:
    low: float
    high: float

    def describe(self) -> str:
        return f"{self.low:g}..{self.high:g}"


PHYSICAL_RANGES: dict[str, PhysicalRange] = {
    # 0 is asystole / apnoea: possible and urgent, never an error.
    "heart_rate": PhysicalRange(0, 300),
    "spo2": PhysicalRange(0, 100),
    "resp_rate": PhysicalRange(0, 80),
    # Survived extremes are ~14 °C and ~46.5 °C; 98.6 is Fahrenheit, not data.
    "temperature": PhysicalRange(14, 47),
    "systolic_bp": PhysicalRange(1, 350),
    "diastolic_bp": PhysicalRange(0, 250),
}

#: The most samples one batch message may carry before it is refused whole.
MAX_BATCH_SAMPLES = 5000
#: The largest message (bytes) accepted on the vitals topic.
MAX_MESSAGE_BYTES = 1_048_576


def impossible_reason(name: str, value: float) -> str | None:
    """Why `value` cannot be a real `name`, or None when it can."""
    rng = PHYSICAL_RANGES[name]
    if value < rng.low or value > rng.high:
        return f"{name} {value:g} is outside physical possibility ({rng.describe()})"
    return None
