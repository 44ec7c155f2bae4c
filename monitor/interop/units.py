"""Convert gateway units (UCUM, IEEE 11073 MDC) to the contract's units.

The contract fixes one unit per vital (rates /min, SpO2 %, temperature °C,
blood pressure mmHg). Gateways send whatever their devices say, so every
value is converted here, and a unit that is unknown, or known but wrong for
that vital ("kg" for a heart rate, °C for a blood pressure), raises a
ValueError naming both: a value in an unknown unit is never guessed at,
because a silently mis-scaled vital is worse than a dead-lettered one.

Accepted spellings are exact (UCUM is case-sensitive: "Cel" is Celsius, "C"
is the coulomb), plus the few plain-text spellings seen in FHIR `unit` fields.
MDC unit codes are accepted as the numeric code or the reference id. Each MDC
code is partition 4 (dimensions) × 65536 + term code, per IEEE 11073-10101:

    MDC_DIM_DIMLESS        512   → 262656   (not accepted: ambiguous for SpO2)
    MDC_DIM_PERCENT        544   → 262688
    MDC_DIM_BEAT_PER_MIN   2720  → 264864
    MDC_DIM_RESP_PER_MIN   2784  → 264928
    MDC_DIM_KILO_PASCAL    3843  → 265987   (MDC_DIM_PASCAL 3840 + kilo prefix 3)
    MDC_DIM_MMHG           3872  → 266016
    MDC_DIM_FAHR           4416  → 266560
    MDC_DIM_DEGC           6048  → 268192

Kelvin and per-second have no MDC code here on purpose: they were not
verified, and an unverified code mapped wrongly would mis-scale silently.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass


class Unit(str, enum.Enum):
    """The physical units we can convert from; the value is a display name."""

    PER_MIN = "/min"
    BEATS_PER_MIN = "{beats}/min"
    BREATHS_PER_MIN = "{breaths}/min"
    PER_SEC = "/s"
    PERCENT = "%"
    FRACTION = "1"
    CELSIUS = "Cel"
    FAHRENHEIT = "[degF]"
    KELVIN = "K"
    MMHG = "mm[Hg]"
    KPA = "kPa"


@dataclass(frozen=True, slots=True)
class MdcUnit:
    """One IEEE 11073-10101 dimension code with its reference id."""

    code: int
    mnemonic: str
    unit: Unit


MDC_UNITS: tuple[MdcUnit, ...] = (
    MdcUnit(262688, "MDC_DIM_PERCENT", Unit.PERCENT),
    MdcUnit(264864, "MDC_DIM_BEAT_PER_MIN", Unit.BEATS_PER_MIN),
    MdcUnit(264928, "MDC_DIM_RESP_PER_MIN", Unit.BREATHS_PER_MIN),
    MdcUnit(265987, "MDC_DIM_KILO_PASCAL", Unit.KPA),
    MdcUnit(266016, "MDC_DIM_MMHG", Unit.MMHG),
    MdcUnit(266560, "MDC_DIM_FAHR", Unit.FAHRENHEIT),
    MdcUnit(268192, "MDC_DIM_DEGC", Unit.CELSIUS),
)

#: UCUM codes and the plain-text spellings FHIR `unit` fields carry.
_SPELLINGS: dict[str, Unit] = {
    "/min": Unit.PER_MIN,
    "min-1": Unit.PER_MIN,
    "{beats}/min": Unit.BEATS_PER_MIN,
    "{beat}/min": Unit.BEATS_PER_MIN,
    "beats/min": Unit.BEATS_PER_MIN,
    "beats/minute": Unit.BEATS_PER_MIN,
    "bpm": Unit.BEATS_PER_MIN,
    "{breaths}/min": Unit.BREATHS_PER_MIN,
    "{breath}/min": Unit.BREATHS_PER_MIN,
    "breaths/min": Unit.BREATHS_PER_MIN,
    "breaths/minute": Unit.BREATHS_PER_MIN,
    "/s": Unit.PER_SEC,
    "Hz": Unit.PER_SEC,
    "%": Unit.PERCENT,
    "1": Unit.FRACTION,
    "{ratio}": Unit.FRACTION,
    "Cel": Unit.CELSIUS,
    "°C": Unit.CELSIUS,
    "degC": Unit.CELSIUS,
    "[degF]": Unit.FAHRENHEIT,
    "°F": Unit.FAHRENHEIT,
    "degF": Unit.FAHRENHEIT,
    "K": Unit.KELVIN,
    "mm[Hg]": Unit.MMHG,
    "mmHg": Unit.MMHG,
    "kPa": Unit.KPA,
}
for _mdc in MDC_UNITS:
    _SPELLINGS[str(_mdc.code)] = _mdc.unit
    _SPELLINGS[_mdc.mnemonic] = _mdc.unit

#: 1 mmHg = 133.322387415 Pa (exact by definition of the conventional mmHg).
_MMHG_PER_KPA = 1000 / 133.322387415

#: Units that differ from the contract unit, and how to get there. Every
#: other accepted unit is the contract unit under another name.
_CONVERSIONS: dict[Unit, Callable[[float], float]] = {
    Unit.PER_SEC: lambda v: v * 60,
    Unit.FRACTION: lambda v: v * 100,
    Unit.FAHRENHEIT: lambda v: (v - 32) * 5 / 9,
    Unit.KELVIN: lambda v: v - 273.15,
    Unit.KPA: lambda v: v * _MMHG_PER_KPA,
}

_RATES = frozenset({Unit.PER_MIN, Unit.PER_SEC})
_PRESSURES = frozenset({Unit.MMHG, Unit.KPA})

#: Which units make sense for each contract vital. Beats are not breaths:
#: an MDC_DIM_BEAT_PER_MIN respiration rate is a mislabelled row, rejected.
ACCEPTED: dict[str, frozenset[Unit]] = {
    "heart_rate": _RATES | {Unit.BEATS_PER_MIN},
    "resp_rate": _RATES | {Unit.BREATHS_PER_MIN},
    "spo2": frozenset({Unit.PERCENT, Unit.FRACTION}),
    "temperature": frozenset({Unit.CELSIUS, Unit.FAHRENHEIT, Unit.KELVIN}),
    "systolic_bp": _PRESSURES,
    "diastolic_bp": _PRESSURES,
}

#: Decimals kept after a real conversion: removes float noise (98.6 °F is
#: 37.0 °C, not 36.99999999999999) and is finer than any bedside device.
_CONVERTED_DECIMALS = 2


def is_known(spelling: str) -> bool:
    """True when `spelling` names a unit we can convert."""
    return spelling.strip() in _SPELLINGS


def parse_unit(spelling: str) -> Unit:
    """The unit named by a UCUM code, MDC code or MDC reference id; ValueError if unknown."""
    unit = _SPELLINGS.get(spelling.strip())
    if unit is None:
        shown = spelling if spelling.strip() else "(empty)"
        raise ValueError(f"unknown unit {shown!r}")
    return unit


def to_contract(vital: str, value: float, *spellings: str | None) -> float:
    """`value` expressed in the contract unit of `vital`.

    `spellings` are the alternatives a sender gave for one unit (FHIR `code`
    then `unit`; HL7 CWE identifier, text, alternate identifier): the first
    we know wins, so a machine code beats display text, and a known but
    wrong one is not overridden by a later one. Raises ValueError when no
    unit is given, none is known, the unit does not fit the vital, or the
    value is not finite; the caller rejects that observation with the message.
    """
    accepted = ACCEPTED.get(vital)
    if accepted is None:
        raise ValueError(f"{vital!r} is not a contract vital")
    if not math.isfinite(value):
        raise ValueError(f"{vital} value {value!r} is not a finite number")
    expected = "expected one of " + ", ".join(sorted(u.value for u in accepted))
    offered = list(dict.fromkeys(s.strip() for s in spellings if s and s.strip()))
    known = [s for s in offered if s in _SPELLINGS]
    if not known:
        given = " / ".join(repr(s) for s in offered) if offered else "no unit"
        raise ValueError(f"{vital} in {given}: unknown unit ({expected})")
    unit = _SPELLINGS[known[0]]
    if unit not in accepted:
        raise ValueError(f"{vital} in {known[0]!r} ({unit.value}): not a {vital} unit ({expected})")
    convert = _CONVERSIONS.get(unit)
    if convert is None:
        return value
    return round(convert(value), _CONVERTED_DECIMALS)
