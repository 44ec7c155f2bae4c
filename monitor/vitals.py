"""The vital-sign record every other module speaks.

One `VitalSample` is one moment of one patient, already validated: units are the
contract's (per minute, %, °C, mmHg), impossible values never get this far.
Nursing inputs (`on_oxygen`, `consciousness`, `spo2_scale`) are `None` when the
message did not say, because they are remembered until changed, not reset.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Consciousness(str, enum.Enum):
    """ACVPU: Alert, new Confusion, responds to Voice, to Pain, Unresponsive."""

    A = "A"
    C = "C"
    V = "V"
    P = "P"
    U = "U"


#: The numeric vitals of the contract, in the order reports list them.
VITALS: tuple[str, ...] = (
    "heart_rate",
    "spo2",
    "resp_rate",
    "temperature",
    "systolic_bp",
    "diastolic_bp",
)

#: Vitals a wearable streams every few seconds; the others are spot checks.
CONTINUOUS: frozenset[str] = frozenset({"heart_rate", "spo2", "resp_rate"})

#: Vitals that come from the pulse-oximeter probe and vanish when it is off.
PROBE_VITALS: frozenset[str] = frozenset({"spo2", "heart_rate"})

UNITS: dict[str, str] = {
    "heart_rate": "/min",
    "spo2": "%",
    "resp_rate": "/min",
    "temperature": "°C",
    "systolic_bp": "mmHg",
    "diastolic_bp": "mmHg",
}

LABELS: dict[str, str] = {
    "heart_rate": "Heart rate",
    "spo2": "SpO2",
    "resp_rate": "Resp rate",
    "temperature": "Temp",
    "systolic_bp": "Systolic BP",
    "diastolic_bp": "Diastolic BP",
}


@dataclass(frozen=True, slots=True)
class VitalSample:
    """One validated reading; `ts_ms` is event time in epoch milliseconds (UTC)."""

    patient_id: str
    device_id: str
    ts_ms: int
    heart_rate: float | None = None
    spo2: float | None = None
    resp_rate: float | None = None
    temperature: float | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    on_oxygen: bool | None = None
    consciousness: Consciousness | None = None
    spo2_scale: int | None = None
    probe_off: bool = False
    motion: float | None = None

    def values(self) -> dict[str, float]:
        """The numeric vitals present in this sample, by contract name."""
        out: dict[str, float] = {}
        for name in VITALS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_contract(self) -> dict[str, object]:
        """Back to the wire form (single message), for replays and converters."""
        out: dict[str, object] = {
            "patient_id": self.patient_id,
            "device_id": self.device_id,
            "ts": self.ts_ms,
        }
        out.update(self.values())
        if self.on_oxygen is not None:
            out["on_oxygen"] = self.on_oxygen
        if self.consciousness is not None:
            out["consciousness"] = self.consciousness.value
        if self.spo2_scale is not None:
            out["spo2_scale"] = self.spo2_scale
        if self.probe_off or self.motion is not None:
            quality: dict[str, object] = {"probe_off": self.probe_off}
            if self.motion is not None:
                quality["motion"] = self.motion
            out["quality"] = quality
        return out


def format_vital(name: str, value: float) -> str:
    """'SpO2 88 %'-style value text: whole numbers, temperature to 0.1 °C."""
    unit = UNITS.get(name, "")
    number = f"{value:.1f}" if name == "temperature" else f"{value:.0f}"
    return f"{number}{'' if unit in ('%', '') else ' '}{unit}"
