"""NEWS2 against the RCP 2017 chart: every edge of every row, from both sides."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest

from monitor.news2 import PARAMETERS, Band, News2Score, score_news2
from monitor.vitals import Consciousness

# A complete set of vitals that scores 0 everywhere, to vary one at a time.
NORMAL = {"resp_rate": 16, "spo2": 97, "systolic_bp": 121, "heart_rate": 72, "temperature": 36.8}


def points(param: str, value: object, **context: object) -> int:
    """Points of one parameter scored alone (plus any context like the scale)."""
    return score_news2(**{param: value}, **context).components[param]


# --- every boundary of every row, both sides ------------------------------------

RESP_RATE = [
    (0, 3),
    (8, 3),
    (9, 1),
    (11, 1),
    (12, 0),
    (20, 0),
    (21, 2),
    (24, 2),
    (25, 3),
    (80, 3),
]
SPO2_SCALE1 = [
    (0, 3),
    (91, 3),
    (92, 2),
    (93, 2),
    (94, 1),
    (95, 1),
    (96, 0),
    (100, 0),
]
SPO2_SCALE2_AIR = [
    (0, 3),
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 0),
    (94, 0),
    (95, 0),
    (96, 0),
    (97, 0),
    (100, 0),
]
SPO2_SCALE2_OXYGEN = [
    (0, 3),
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 1),
    (94, 1),
    (95, 2),
    (96, 2),
    (97, 3),
    (100, 3),
]
SYSTOLIC_BP = [
    (1, 3),
    (90, 3),
    (91, 2),
    (100, 2),
    (101, 1),
    (110, 1),
    (111, 0),
    (219, 0),
    (220, 3),
    (350, 3),
]
HEART_RATE = [
    (0, 3),
    (40, 3),
    (41, 1),
    (50, 1),
    (51, 0),
    (90, 0),
    (91, 1),
    (110, 1),
    (111, 2),
    (130, 2),
    (131, 3),
    (300, 3),
]
TEMPERATURE = [
    (14, 3),
    (35.0, 3),
    (35.1, 1),
    (36.0, 1),
    (36.1, 0),
    (38.0, 0),
    (38.1, 1),
    (39.0, 1),
    (39.1, 2),
    (47, 2),
]


@pytest.mark.parametrize(("value", "expected"), RESP_RATE)
def test_resp_rate_edges(value: float, expected: int) -> None:
    assert points("resp_rate", value) == expected
    assert points("resp_rate", float(value)) == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE1)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale1_edges_ignore_oxygen(value: float, expected: int, on_oxygen: bool) -> None:
    assert points("spo2", value, spo2_scale=1, on_oxygen=on_oxygen) == expected
    assert points("spo2", float(value), on_oxygen=on_oxygen) == expected  # scale 1 is default


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE2_AIR)
def test_spo2_scale2_on_air_edges(value: float, expected: int) -> None:
    assert points("spo2", value, spo2_scale=2, on_oxygen=False) == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE2_OXYGEN)
def test_spo2_scale2_on_oxygen_edges(value: float, expected: int) -> None:
    assert points("spo2", value, spo2_scale=2, on_oxygen=True) == expected


@pytest.mark.parametrize(("value", "expected"), SYSTOLIC_BP)
def test_systolic_bp_edges(value: float, expected: int) -> None:
    assert points("systolic_bp", value) == expected
    assert points("systolic_bp", float(value)) == expected


@pytest.mark.parametrize(("value", "expected"), HEART_RATE)
def test_heart_rate_edges(value: float, expected: int) -> None:
    assert points("heart_rate", value) == expected
    assert points("heart_rate", float(value)) == expected


@pytest.mark.parametrize(("value", "expected"), TEMPERATURE)
def test_temperature_edges(value: float, expected: int) -> None:
    assert points("temperature", value) == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)] + [(c, 0 if c is Consciousness.A else 3) for c in Consciousness],
)
def test_consciousness(level: str, expected: int) -> None:
    assert points("consciousness", level) == expected


@pytest.mark.parametrize(("on_oxygen", "expected"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen: bool, expected: int) -> None:
    assert points("on_oxygen", on_oxygen) == expected


# --- values between chart rows: round half up to the chart's resolution ----------

BETWEEN_ROWS = [
    ("resp_rate", 8.49, {}, 3),
    ("resp_rate", 8.5, {}, 1),
    ("resp_rate", 11.49, {}, 1),
    ("resp_rate", 11.5, {}, 0),
    ("resp_rate", 20.49, {}, 0),
    ("resp_rate", 20.5, {}, 2),
    ("resp_rate", 24.49, {}, 2),
    ("resp_rate", 24.5, {}, 3),
    ("spo2", 91.49, {}, 3),
    ("spo2", 91.5, {}, 2),
    ("spo2", 93.49, {}, 2),
    ("spo2", 93.5, {}, 1),
    ("spo2", 95.49, {}, 1),
    ("spo2", 95.5, {}, 0),
    ("spo2", 83.49, {"spo2_scale": 2}, 3),
    ("spo2", 83.5, {"spo2_scale": 2}, 2),
    ("spo2", 87.49, {"spo2_scale": 2}, 1),
    ("spo2", 87.5, {"spo2_scale": 2}, 0),
    ("spo2", 92.5, {"spo2_scale": 2}, 0),
    ("spo2", 92.49, {"spo2_scale": 2, "on_oxygen": True}, 0),
    ("spo2", 92.5, {"spo2_scale": 2, "on_oxygen": True}, 1),
    ("spo2", 96.49, {"spo2_scale": 2, "on_oxygen": True}, 2),
    ("spo2", 96.5, {"spo2_scale": 2, "on_oxygen": True}, 3),
    ("systolic_bp", 90.49, {}, 3),
    ("systolic_bp", 90.5, {}, 2),
    ("systolic_bp", 110.5, {}, 0),
    ("systolic_bp", 219.49, {}, 0),
    ("systolic_bp", 219.5, {}, 3),
    ("heart_rate", 40.49, {}, 3),
    ("heart_rate", 40.5, {}, 1),
    ("heart_rate", 90.49, {}, 0),
    ("heart_rate", 90.5, {}, 1),
    ("heart_rate", 130.49, {}, 2),
    ("heart_rate", 130.5, {}, 3),
    ("temperature", 35.04, {}, 3),
    ("temperature", 35.05, {}, 1),
    ("temperature", 36.04, {}, 1),
    ("temperature", 36.05, {}, 0),
    ("temperature", 38.04, {}, 0),
    ("temperature", 38.05, {}, 1),
    ("temperature", 39.04, {}, 1),
    ("temperature", 39.05, {}, 2),
    ("temperature", 36.049999, {}, 1),
    ("temperature", 35.95, {}, 1),
]


@pytest.mark.parametrize(("param", "value", "context", "expected"), BETWEEN_ROWS)
def test_between_rows_round_half_up(param: str, value: float, context: dict[str, object], expected: int) -> None:
    assert points(param, value, **context) == expected


def _reference(param: str, text: str, scale: int = 1, oxygen: bool = False) -> int:
    """The chart written as ranges on Decimal(ROUND_HALF_UP), independent of the module."""
    step = Decimal("0.1") if param == "temperature" else Decimal("1")
    v = Decimal(text).quantize(step, rounding=ROUND_HALF_UP)
    if param == "resp_rate":
        return 3 if v <= 8 else 1 if v <= 11 else 0 if v <= 20 else 2 if v <= 24 else 3
    if param == "heart_rate":
        return 3 if v <= 40 else 1 if v <= 50 else 0 if v <= 90 else 1 if v <= 110 else 2 if v <= 130 else 3
    if param == "systolic_bp":
        return 3 if v <= 90 else 2 if v <= 100 else 1 if v <= 110 else 0 if v <= 219 else 3
    if param == "temperature":
        return (
            3
            if v <= Decimal("35.0")
            else 1
            if v <= Decimal("36.0")
            else 0
            if v <= Decimal("38.0")
            else 1
            if v <= Decimal("39.0")
            else 2
        )
    if scale == 1:
        return 3 if v <= 91 else 2 if v <= 93 else 1 if v <= 95 else 0
    low = 3 if v <= 83 else 2 if v <= 85 else 1 if v <= 87 else 0
    if v <= 92 or not oxygen:
        return low
    return 1 if v <= 94 else 2 if v <= 96 else 3


@pytest.mark.parametrize(
    ("param", "low", "high", "decimals", "context"),
    [
        ("resp_rate", 0, 80, 2, {}),
        ("heart_rate", 0, 300, 2, {}),
        ("systolic_bp", 1, 350, 2, {}),
        ("temperature", 14, 47, 3, {}),
        ("spo2", 0, 100, 2, {"spo2_scale": 1}),
        ("spo2", 0, 100, 2, {"spo2_scale": 2, "on_oxygen": False}),
        ("spo2", 0, 100, 2, {"spo2_scale": 2, "on_oxygen": True}),
    ],
)
def test_rounding_matches_decimal_reference_on_dense_grid(
    param: str, low: int, high: int, decimals: int, context: dict[str, object]
) -> None:
    """The float midpoint comparison agrees with Decimal(str(x)) ROUND_HALF_UP."""
    scale = int(context.get("spo2_scale", 1))  # type: ignore[call-overload]
    oxygen = bool(context.get("on_oxygen", False))
    factor = 10**decimals
    for i in range(low * factor, high * factor + 1):
        value = round(i / factor, decimals)
        expected = _reference(param, str(value), scale, oxygen)
        assert points(param, value, **context) == expected, value


# --- totals and bands ---------------------------------------------------------------

BANDS = [
    ({}, 0, "none"),
    (NORMAL, 0, "none"),
    ({**NORMAL, "heart_rate": 91}, 1, "low"),
    ({**NORMAL, "resp_rate": 21, "heart_rate": 111}, 4, "low"),
    ({**NORMAL, "consciousness": "C"}, 3, "low-medium"),
    ({"spo2": 91}, 3, "low-medium"),
    ({**NORMAL, "resp_rate": 25, "heart_rate": 91}, 4, "low-medium"),
    ({**NORMAL, "resp_rate": 21, "heart_rate": 111, "temperature": 38.1}, 5, "medium"),
    ({**NORMAL, "resp_rate": 21, "heart_rate": 111, "on_oxygen": True}, 6, "medium"),
    ({**NORMAL, "resp_rate": 25, "heart_rate": 111}, 5, "medium"),
    ({**NORMAL, "resp_rate": 25, "consciousness": Consciousness.U}, 6, "medium"),
    ({**NORMAL, "resp_rate": 25, "heart_rate": 111, "on_oxygen": True}, 7, "high"),
    ({**NORMAL, "resp_rate": 21, "heart_rate": 111, "on_oxygen": True, "temperature": 38.1}, 7, "high"),
    (
        {
            "resp_rate": 30,
            "spo2": 80,
            "on_oxygen": True,
            "systolic_bp": 80,
            "heart_rate": 140,
            "consciousness": "U",
            "temperature": 40,
        },
        19,
        "high",
    ),
]


@pytest.mark.parametrize(("kwargs", "total", "band"), BANDS)
def test_total_and_band(kwargs: dict[str, object], total: int, band: str) -> None:
    score = score_news2(**kwargs)  # type: ignore[arg-type]
    assert score.total == total == sum(score.components.values())
    assert score.band == band
    assert isinstance(score.band, Band)
    assert json.dumps(score.band) == json.dumps(band)
    assert f"{score.band}" == band


def test_components_keys_are_given_inputs_plus_defaulted_nursing_inputs() -> None:
    assert score_news2().components == {"on_oxygen": 0, "consciousness": 0}
    assert set(score_news2(heart_rate=72, spo2=97).components) == {"heart_rate", "spo2", "on_oxygen", "consciousness"}
    full = score_news2(**NORMAL)  # type: ignore[arg-type]
    assert list(full.components) == list(PARAMETERS)


def test_none_means_not_given() -> None:
    score = score_news2(resp_rate=None, spo2=None, systolic_bp=None, heart_rate=None, temperature=None)
    assert score == score_news2()


@pytest.mark.parametrize("missing", ["resp_rate", "spo2", "systolic_bp", "heart_rate", "temperature"])
def test_incomplete_when_any_numeric_parameter_is_missing(missing: str) -> None:
    kwargs = {k: v for k, v in NORMAL.items() if k != missing}
    score = score_news2(**kwargs)  # type: ignore[arg-type]
    assert not score.complete
    assert missing not in score.components


def test_complete_needs_all_five_numerics_and_counts_defaulted_nursing_inputs() -> None:
    assert score_news2(**NORMAL).complete  # type: ignore[arg-type]
    alarming = score_news2(**NORMAL, on_oxygen=True, consciousness="V")  # type: ignore[arg-type]
    assert alarming.complete
    assert not score_news2().complete


def test_score_is_frozen_and_serialises_for_the_alert_contract() -> None:
    score = score_news2(resp_rate=25, spo2=91)
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.total = 0  # type: ignore[misc]
    assert isinstance(score, News2Score)
    assert score.to_contract() == {
        "total": 6,
        "components": {"resp_rate": 3, "spo2": 3, "on_oxygen": 0, "consciousness": 0},
        "band": "medium",
    }
    json.dumps(score.to_contract())


def test_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        score_news2(16)  # type: ignore[misc]


@pytest.mark.parametrize("value", [np.float64(91.5), np.int64(92), np.float32(92.0), Fraction(183, 2)])
def test_numeric_scalars_other_than_int_and_float_are_accepted(value: object) -> None:
    assert points("spo2", value) == 2


# --- invalid input ----------------------------------------------------------------

NUMERIC = ["resp_rate", "spo2", "systolic_bp", "heart_rate", "temperature"]

IMPOSSIBLE = [
    ("resp_rate", -1),
    ("resp_rate", -0.01),
    ("resp_rate", 81),
    ("resp_rate", 80.01),
    ("spo2", -1),
    ("spo2", 100.00001),
    ("spo2", 101),
    ("systolic_bp", -5),
    ("systolic_bp", 0),
    ("systolic_bp", 0.99),
    ("systolic_bp", 351),
    ("heart_rate", -1),
    ("heart_rate", 300.5),
    ("heart_rate", 301),
    ("temperature", -1),
    ("temperature", 13.99),
    ("temperature", 47.01),
    ("temperature", 98.6),
    ("heart_rate", 10**400),
]


@pytest.mark.parametrize(("param", "value"), IMPOSSIBLE)
def test_physically_impossible_values_raise(param: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"{param} .* outside physical possibility"):
        score_news2(**{param: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("resp_rate", 0),
        ("resp_rate", 80),
        ("spo2", 0),
        ("spo2", 100),
        ("systolic_bp", 1),
        ("systolic_bp", 350),
        ("heart_rate", 0),
        ("heart_rate", 300),
        ("temperature", 14),
        ("temperature", 47),
        ("heart_rate", -0.0),
    ],
)
def test_physical_bounds_are_inclusive(param: str, value: float) -> None:
    score_news2(**{param: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("param", NUMERIC)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_raise(param: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"{param} must be a finite number"):
        score_news2(**{param: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("param", NUMERIC)
@pytest.mark.parametrize("value", ["72", "", True, False, Decimal("97"), [97], b"97", 1j])
def test_wrong_numeric_types_raise(param: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"{param} must be a number"):
        score_news2(**{param: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1, 0, "yes", "true", None, 2.0])
def test_non_bool_on_oxygen_raises(value: object) -> None:
    with pytest.raises(ValueError, match="on_oxygen must be a bool"):
        score_news2(on_oxygen=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["a", "c", "X", "", "Alert", "AVPU", None, 0, 3, ["A"], b"A"])
def test_unknown_consciousness_raises(value: object) -> None:
    with pytest.raises(ValueError, match="consciousness must be one of A, C, V, P, U"):
        score_news2(consciousness=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 3, -1, True, False, "1", 1.0, 2.0, None])
def test_bad_spo2_scale_raises(value: object) -> None:
    with pytest.raises(ValueError, match="spo2_scale must be 1 or 2"):
        score_news2(spo2=95, spo2_scale=value)  # type: ignore[arg-type]
