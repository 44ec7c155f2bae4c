"""Unit conversion to contract units: every accepted unit, and every refusal."""

from __future__ import annotations

import math

import pytest

from monitor.interop.units import ACCEPTED, MDC_UNITS, Unit, is_known, parse_unit, to_contract


@pytest.mark.parametrize(
    ("vital", "value", "spelling", "expected"),
    [
        ("heart_rate", 72, "/min", 72),
        ("heart_rate", 72, "{beats}/min", 72),
        ("heart_rate", 72, "{beat}/min", 72),
        ("heart_rate", 72, "beats/min", 72),
        ("heart_rate", 72, "bpm", 72),
        ("heart_rate", 72, "264864", 72),
        ("heart_rate", 72, "MDC_DIM_BEAT_PER_MIN", 72),
        ("heart_rate", 1.2, "/s", 72),
        ("heart_rate", 1.2, "Hz", 72),
        ("resp_rate", 16, "/min", 16),
        ("resp_rate", 16, "{breaths}/min", 16),
        ("resp_rate", 16, "breaths/min", 16),
        ("resp_rate", 16, "264928", 16),
        ("resp_rate", 16, "MDC_DIM_RESP_PER_MIN", 16),
        ("resp_rate", 0.25, "/s", 15),
        ("spo2", 97, "%", 97),
        ("spo2", 97, "262688", 97),
        ("spo2", 97, "MDC_DIM_PERCENT", 97),
        ("spo2", 0.97, "1", 97),
        ("spo2", 0.97, "{ratio}", 97),
        ("temperature", 36.8, "Cel", 36.8),
        ("temperature", 36.8, "°C", 36.8),
        ("temperature", 36.8, "268192", 36.8),
        ("temperature", 36.8, "MDC_DIM_DEGC", 36.8),
        ("temperature", 98.6, "[degF]", 37.0),
        ("temperature", 98.6, "degF", 37.0),
        ("temperature", 98.6, "°F", 37.0),
        ("temperature", 101.3, "266560", 38.5),
        ("temperature", 101.3, "MDC_DIM_FAHR", 38.5),
        ("temperature", 310.15, "K", 37.0),
        ("systolic_bp", 120, "mm[Hg]", 120),
        ("systolic_bp", 120, "mmHg", 120),
        ("systolic_bp", 120, "266016", 120),
        ("diastolic_bp", 80, "MDC_DIM_MMHG", 80),
        ("systolic_bp", 16, "kPa", 120.01),
        ("diastolic_bp", 10.666, "265987", 80.0),
        ("diastolic_bp", 10.666, "MDC_DIM_KILO_PASCAL", 80.0),
    ],
)
def test_every_accepted_unit_converts(vital: str, value: float, spelling: str, expected: float) -> None:
    assert to_contract(vital, value, spelling) == pytest.approx(expected, abs=0.005)


def test_conversions_are_rounded_but_identities_are_exact() -> None:
    assert to_contract("temperature", 98.6, "[degF]") == 37.0
    assert to_contract("spo2", 0.97, "1") == 97.0
    assert to_contract("temperature", 36.85, "Cel") == 36.85
    assert to_contract("heart_rate", 72.123456, "/min") == 72.123456


def test_kpa_uses_the_conventional_mmhg() -> None:
    assert to_contract("systolic_bp", 133.322387415 / 1000 * 120, "kPa") == 120.0


@pytest.mark.parametrize(
    ("vital", "spelling"),
    [
        ("heart_rate", "kg"),
        ("heart_rate", "%"),
        ("heart_rate", "{breaths}/min"),
        ("heart_rate", "264928"),
        ("resp_rate", "{beats}/min"),
        ("resp_rate", "MDC_DIM_BEAT_PER_MIN"),
        ("resp_rate", "bpm"),
        ("spo2", "/min"),
        ("spo2", "262656"),
        ("temperature", "mmHg"),
        ("temperature", "C"),
        ("temperature", "cel"),
        ("systolic_bp", "Cel"),
        ("systolic_bp", "cmH2O"),
        ("diastolic_bp", "Pa"),
        ("heart_rate", "MDC_DIM_X_BEAT_PER_MIN"),
    ],
)
def test_unknown_or_wrong_units_raise(vital: str, spelling: str) -> None:
    with pytest.raises(ValueError) as info:
        to_contract(vital, 50, spelling)
    message = str(info.value)
    assert vital in message and "expected one of" in message


def test_wrong_unit_message_names_vital_unit_and_expectation() -> None:
    with pytest.raises(ValueError, match=r"heart_rate in 'kg': unknown unit \(expected one of /min"):
        to_contract("heart_rate", 72, "kg")
    with pytest.raises(ValueError, match=r"not a resp_rate unit"):
        to_contract("resp_rate", 16, "264864")


def test_missing_unit_is_refused_not_assumed() -> None:
    for spellings in ((), ("",), (None,), ("  ", None)):
        with pytest.raises(ValueError, match="no unit"):
            to_contract("spo2", 97, *spellings)


def test_first_known_alternative_wins() -> None:
    assert to_contract("temperature", 98.6, "local-F", "[degF]") == 37.0
    assert to_contract("temperature", 37.0, "Cel", "[degF]") == 37.0
    with pytest.raises(ValueError, match="not a resp_rate unit"):
        to_contract("resp_rate", 16, "264864", "/min")  # a known wrong code is not overridden


def test_non_finite_and_non_vital_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        to_contract("heart_rate", math.nan, "/min")
    with pytest.raises(ValueError, match="finite"):
        to_contract("heart_rate", math.inf, "/min")
    with pytest.raises(ValueError, match="not a contract vital"):
        to_contract("weight", 70, "kg")


def test_mdc_codes_are_partition_four_plus_term_code() -> None:
    terms = {
        "MDC_DIM_PERCENT": 544,
        "MDC_DIM_BEAT_PER_MIN": 2720,
        "MDC_DIM_RESP_PER_MIN": 2784,
        "MDC_DIM_KILO_PASCAL": 3843,
        "MDC_DIM_MMHG": 3872,
        "MDC_DIM_FAHR": 4416,
        "MDC_DIM_DEGC": 6048,
    }
    assert {u.mnemonic: u.code - 4 * 65536 for u in MDC_UNITS} == terms


def test_parse_unit_and_is_known() -> None:
    assert parse_unit(" Cel ") is Unit.CELSIUS
    assert is_known("mm[Hg]") and not is_known("kg")
    with pytest.raises(ValueError, match="unknown unit"):
        parse_unit("furlongs")
    assert set(ACCEPTED) == {"heart_rate", "spo2", "resp_rate", "temperature", "systolic_bp", "diastolic_bp"}
