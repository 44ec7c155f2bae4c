"""NEWS2, the Royal College of Physicians' National Early Warning Score (2017).

The table is the RCP's, both SpO2 scales, transcribed as inclusive upper
edges per row so each row reads like the chart it comes from.

Rounding rule (values between table rows are data, never an error): a value is
first rounded *half up* to the chart's resolution, i.e. whole numbers for
resp rate, SpO2, systolic BP and pulse, one decimal for temperature, with
decimal ROUND_HALF_UP semantics on the value as written (``str(x)``):
91.5 % -> 92, 90.5 /min -> 91, 20.5 /min -> 21, 36.05 °C -> 36.1,
36.04 °C -> 36.0. It is applied uniformly, to every row, and it favours the
sicker-looking neighbour only where the value sits exactly halfway.

How it is done cheaply: instead of building a Decimal per value, each row
keeps its edges as midpoints (edge + half a step, e.g. 8.5, 35.05) and a value
scores by ``bisect_right(midpoints, value)``. Comparing a float with the float
nearest the decimal midpoint gives the same answer as
``Decimal(str(x)).quantize(step, ROUND_HALF_UP)`` compared with the edge,
because ``str`` is the shortest decimal that rounds back to the same float;
the unit tests check this against a Decimal reference on a dense grid.

Validation is on the hot path (every sample is scored), so it is one type test
and one chained comparison per parameter; the chained comparison also rejects
NaN and ±inf. Physical bounds are `monitor.limits`' (inclusive); a value
inside them is scored however extreme.
"""

from __future__ import annotations

import enum
import math
import numbers
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from monitor.limits import PHYSICAL_RANGES
from monitor.vitals import Consciousness

# Measured on the 2-core dev machine (Python 3.11, timeit, 200k calls):
# all seven parameters given ~1.2 µs per call (was ~2.1 before the inline
# fast path in `_points` and the positional `_score`; `_score` now also
# inlines `_points`' common case, ~0.1 µs less).

#: The keyword parameters of `score_news2`, in the order the RCP chart lists them.
PARAMETERS: tuple[str, ...] = (
    "resp_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)

#: The numeric parameters; a score is complete when all of them were given.
NUMERIC_PARAMETERS: tuple[str, ...] = (
    "resp_rate",
    "spo2",
    "systolic_bp",
    "heart_rate",
    "temperature",
)


class Band(enum.StrEnum):
    """Clinical response band; a StrEnum so ``band == "high"`` and JSON just work."""

    NONE = "none"
    LOW = "low"
    LOW_MEDIUM = "low-medium"  # a single red score: urgent ward-based review
    MEDIUM = "medium"  # urgent response
    HIGH = "high"  # emergency response


@dataclass(frozen=True, slots=True)
class News2Score:
    """A NEWS2 total with the points of each parameter that was scored.

    `components` has a key for every numeric parameter given plus `on_oxygen`
    and `consciousness` (always, as they default to air and Alert), so an alert
    can say which vitals drove the total. `complete` is False when a numeric
    parameter was missing: the total is then a lower bound, not a NEWS2.
    """

    total: int
    components: dict[str, int] = field(hash=False)
    band: Band
    complete: bool

    def to_contract(self) -> dict[str, object]:
        """The `news2` object of an alert message."""
        return {"total": self.total, "components": dict(self.components), "band": self.band.value}


@dataclass(frozen=True, slots=True)
class _Row:
    """One chart row: points for values up to each midpoint, then above the last."""

    midpoints: tuple[float, ...]
    points: tuple[int, ...]

    def score(self, value: float) -> int:
        return self.points[bisect_right(self.midpoints, value)]


def _row(edges: tuple[float, ...], points: tuple[int, ...], step: str = "1") -> _Row:
    """Build a row from the chart's inclusive upper edges and its resolution.

    Midpoints go through Decimal so 35.0 + 0.05 is the float nearest 35.05,
    not 35.0 + float(0.05) with its own representation error.
    """
    if len(points) != len(edges) + 1:
        raise AssertionError("a row needs one more point value than edges")
    half = Decimal(step) / 2
    return _Row(tuple(float(Decimal(str(e)) + half) for e in edges), points)


# Inclusive upper edges, read as "≤ 8 scores 3, ≤ 11 scores 1, …, above 24 scores 3".
_RESP_RATE = _row((8, 11, 20, 24), (3, 1, 0, 2, 3))
_SPO2_SCALE1 = _row((91, 93, 95), (3, 2, 1, 0))
_SPO2_SCALE2_AIR = _row((83, 85, 87), (3, 2, 1, 0))
_SPO2_SCALE2_OXYGEN = _row((83, 85, 87, 92, 94, 96), (3, 2, 1, 0, 1, 2, 3))
_SYSTOLIC_BP = _row((90, 100, 110, 219), (3, 2, 1, 0, 3))
_HEART_RATE = _row((40, 50, 90, 110, 130), (3, 1, 0, 1, 2, 3))
_TEMPERATURE = _row((35.0, 36.0, 38.0, 39.0), (3, 1, 0, 1, 2), step="0.1")

_OXYGEN_POINTS = 2
_CONSCIOUSNESS_POINTS: dict[str, int] = {"A": 0, "C": 3, "V": 3, "P": 3, "U": 3}

# (low, high) inclusive physical bounds, unpacked once rather than per call.
_BOUNDS: dict[str, tuple[float, float]] = {
    name: (PHYSICAL_RANGES[name].low, PHYSICAL_RANGES[name].high) for name in NUMERIC_PARAMETERS
}


def _number(name: str, value: object) -> float:
    """`value` as a number within physical possibility, else ValueError.

    bool is refused although it is an int: ``heart_rate=True`` is a bug, not 1.
    """
    kind = type(value)
    if kind is not float and kind is not int:
        value = _coerce_number(name, value)
    low, high = _BOUNDS[name]
    if not low <= value <= high:  # type: ignore[operator]
        raise ValueError(_out_of_range(name, value, low, high))  # type: ignore[arg-type]
    return value  # type: ignore[return-value]


def _coerce_number(name: str, value: object) -> float:
    """Slow path for int/float subclasses (numpy scalars, IntEnum …)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _out_of_range(name: str, value: float, low: float, high: float) -> str:
    """repr, not :g, so 100.00001 % does not print as the legal 100."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} must be a finite number, got {value!r}"
    return f"{name} {value!r} is outside physical possibility ({low:g}..{high:g})"


def _spo2_row(spo2_scale: object, on_oxygen: bool) -> _Row:
    """Scale 2 (hypercapnic respiratory failure) only penalises high SpO2 on oxygen."""
    if type(spo2_scale) is not int or spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale!r}")
    if spo2_scale == 1:
        return _SPO2_SCALE1
    return _SPO2_SCALE2_OXYGEN if on_oxygen else _SPO2_SCALE2_AIR


def _consciousness_points(consciousness: object) -> int:
    """ACVPU: anything but Alert (including new confusion) is a red score."""
    try:
        return _CONSCIOUSNESS_POINTS[consciousness]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"consciousness must be one of A, C, V, P, U, got {consciousness!r}") from None


def _band(total: int, has_red_score: bool) -> Band:
    """RCP bands; a single 3 lifts only a total of 1–4 (5+ already ranks higher)."""
    if total >= 7:
        return Band.HIGH
    if total >= 5:
        return Band.MEDIUM
    if has_red_score:
        return Band.LOW_MEDIUM
    return Band.LOW if total else Band.NONE


def score_news2(
    *,
    resp_rate: float | None = None,
    spo2: float | None = None,
    spo2_scale: int = 1,
    on_oxygen: bool = False,
    systolic_bp: float | None = None,
    heart_rate: float | None = None,
    consciousness: Consciousness | str = "A",
    temperature: float | None = None,
) -> News2Score:
    """Score the given vitals; a numeric parameter left as None is not scored.

    Raises ValueError for wrong types, an unknown consciousness level, a scale
    other than 1/2, NaN/inf and physically impossible values.
    """
    return _score(resp_rate, spo2, spo2_scale, on_oxygen, systolic_bp, heart_rate, consciousness, temperature)


def _points(name: str, row: _Row, value: object) -> int:
    """Points of one numeric parameter; plain int/float inside its bounds is the inline case."""
    kind = type(value)
    if kind is float or kind is int:
        low, high = _BOUNDS[name]
        if low <= value <= high:  # type: ignore[operator]
            return row.points[bisect_right(row.midpoints, value)]  # type: ignore[call-overload]
    return row.score(_number(name, value))


def _score(
    resp_rate: object,
    spo2: object,
    spo2_scale: object,
    on_oxygen: object,
    systolic_bp: object,
    heart_rate: object,
    consciousness: object,
    temperature: object,
) -> News2Score:
    """`score_news2` with positional arguments (the hot path of LatestVitals.score).

    Each numeric parameter's common case (plain int/float inside its bounds)
    is `_points`' inline case written out here, saving a call per parameter;
    anything else goes through `_points`, which validates and words the error.
    Parameters are checked in chart order, so a bad input raises the same error.
    """
    if on_oxygen is not True and on_oxygen is not False:
        raise ValueError(f"on_oxygen must be a bool, got {on_oxygen!r}")
    spo2_row = _SPO2_SCALE1 if spo2_scale == 1 and type(spo2_scale) is int else _spo2_row(spo2_scale, on_oxygen)
    components: dict[str, int] = {}
    total = 0
    if resp_rate is not None:
        kind = type(resp_rate)
        if (kind is float or kind is int) and _RR_LOW <= resp_rate <= _RR_HIGH:  # type: ignore[operator]
            p = _RR_POINTS[bisect_right(_RR_MIDPOINTS, resp_rate)]  # type: ignore[call-overload]
        else:
            p = _points("resp_rate", _RESP_RATE, resp_rate)
        components["resp_rate"] = p
        total += p
    if spo2 is not None:
        kind = type(spo2)
        if (kind is float or kind is int) and _SPO2_LOW <= spo2 <= _SPO2_HIGH:  # type: ignore[operator]
            p = spo2_row.points[bisect_right(spo2_row.midpoints, spo2)]  # type: ignore[call-overload]
        else:
            p = _points("spo2", spo2_row, spo2)
        components["spo2"] = p
        total += p
    if on_oxygen:
        components["on_oxygen"] = _OXYGEN_POINTS
        total += _OXYGEN_POINTS
    else:
        components["on_oxygen"] = 0
    if systolic_bp is not None:
        kind = type(systolic_bp)
        if (kind is float or kind is int) and _SBP_LOW <= systolic_bp <= _SBP_HIGH:  # type: ignore[operator]
            p = _SBP_POINTS[bisect_right(_SBP_MIDPOINTS, systolic_bp)]  # type: ignore[call-overload]
        else:
            p = _points("systolic_bp", _SYSTOLIC_BP, systolic_bp)
        components["systolic_bp"] = p
        total += p
    if heart_rate is not None:
        kind = type(heart_rate)
        if (kind is float or kind is int) and _HR_LOW <= heart_rate <= _HR_HIGH:  # type: ignore[operator]
            p = _HR_POINTS[bisect_right(_HR_MIDPOINTS, heart_rate)]  # type: ignore[call-overload]
        else:
            p = _points("heart_rate", _HEART_RATE, heart_rate)
        components["heart_rate"] = p
        total += p
    try:
        p = _CONSCIOUSNESS_POINTS[consciousness]  # type: ignore[index]
    except (KeyError, TypeError):
        p = _consciousness_points(consciousness)  # raises, worded
    components["consciousness"] = p
    total += p
    if temperature is not None:
        kind = type(temperature)
        if (kind is float or kind is int) and _TEMP_LOW <= temperature <= _TEMP_HIGH:  # type: ignore[operator]
            p = _TEMP_POINTS[bisect_right(_TEMP_MIDPOINTS, temperature)]  # type: ignore[call-overload]
        else:
            p = _points("temperature", _TEMPERATURE, temperature)
        components["temperature"] = p
        total += p
    # A red score (a single 3) only matters below 5; on_oxygen's 2 is never one.
    return _new_score(
        total, components, _band(total, total < 5 and 3 in components.values()), len(components) == _N_PARAMETERS
    )


# The rows and bounds `_score` reads inline, unpacked once.
_RR_LOW, _RR_HIGH = _BOUNDS["resp_rate"]
_SPO2_LOW, _SPO2_HIGH = _BOUNDS["spo2"]
_SBP_LOW, _SBP_HIGH = _BOUNDS["systolic_bp"]
_HR_LOW, _HR_HIGH = _BOUNDS["heart_rate"]
_TEMP_LOW, _TEMP_HIGH = _BOUNDS["temperature"]
_RR_MIDPOINTS, _RR_POINTS = _RESP_RATE.midpoints, _RESP_RATE.points
_SBP_MIDPOINTS, _SBP_POINTS = _SYSTOLIC_BP.midpoints, _SYSTOLIC_BP.points
_HR_MIDPOINTS, _HR_POINTS = _HEART_RATE.midpoints, _HEART_RATE.points
_TEMP_MIDPOINTS, _TEMP_POINTS = _TEMPERATURE.midpoints, _TEMPERATURE.points
if _OXYGEN_POINTS == 3:  # `_score` tells a red score by the value 3 among the components
    raise AssertionError("on_oxygen points must not look like a red score")
_N_PARAMETERS = len(PARAMETERS)


def _make_new_score() -> Callable[[int, dict[str, int], Band, bool], News2Score]:
    """News2Score without keyword handling: binds the slots' setters once (hot path)."""
    set_total, set_components, set_band, set_complete = (
        News2Score.__dict__[name].__set__ for name in ("total", "components", "band", "complete")
    )
    if News2Score.__slots__ != ("total", "components", "band", "complete"):
        raise AssertionError("News2Score fields changed: update _make_new_score")
    alloc = object.__new__

    def new_score(total: int, components: dict[str, int], band: Band, complete: bool) -> News2Score:
        score = alloc(News2Score)
        set_total(score, total)
        set_components(score, components)
        set_band(score, band)
        set_complete(score, complete)
        return score

    return new_score


_new_score = _make_new_score()
