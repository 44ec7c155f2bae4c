"""The policy file: documented defaults, per-ward overrides, and loud errors for typos."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from alerts.config import DEFAULT_POLICY_PATH, PolicyBook, PolicyConfig, load_policy
from alerts.model import Priority


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_file_is_exactly_the_built_in_defaults():
    book = load_policy(DEFAULT_POLICY_PATH)
    assert book.default == PolicyConfig()
    assert book.wards == {}
    assert load_policy(None) == PolicyBook()


def test_every_setting_is_documented_in_the_file():
    doc = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert {f.name for f in dataclasses.fields(PolicyConfig)} <= set(doc)


def test_a_ward_overrides_only_what_it_names(tmp_path):
    path = _write(
        tmp_path,
        """
cooldown_s = 900
[wards.icu]
resolve_hold_s = 300
escalate_after_s = { high = 60 }
[[wards.icu.thresholds]]
name = "hr_high"
limit = 150
[[wards.icu.thresholds]]
name = "rr_low"
enabled = false
[[wards.icu.thresholds]]
name = "temp_high"
vital = "temperature"
direction = "above"
limit = 39.5
clear = 39.0
persistence_s = 0
priority = "low"
""",
    )
    book = load_policy(path)
    icu, general = book.for_ward("icu"), book.for_ward("general")
    assert general is book.default and general.cooldown_s == 900 and general.resolve_hold_s == 600
    assert icu.cooldown_s == 900 and icu.resolve_hold_s == 300
    assert icu.escalate_after_s == {"high": 60.0, "medium": 600.0, "low": 1800.0}
    rules = {r.name: r for r in icu.thresholds}
    assert rules["hr_high"].limit == 150 and rules["hr_high"].clear == 130  # the rest inherited
    assert "rr_low" not in rules
    assert rules["temp_high"].priority is Priority.LOW
    assert [r.name for r in icu.thresholds][:2] == ["spo2_critical", "hr_high"]  # order kept


def test_scale2_rules_replace_the_same_named_rules():
    cfg = PolicyConfig()
    assert cfg.thresholds_for(1) is cfg.thresholds
    scale2 = {r.name: r for r in cfg.thresholds_for(2)}
    assert scale2["spo2_critical"].limit == 80 and len(scale2) == len(cfg.thresholds)


@pytest.mark.parametrize(
    "text, words",
    [
        ("persistance_s = 10", "unknown setting 'persistance_s'"),
        ("cooldown_s = 'long'", "cooldown_s must be a number"),
        ("news2 = 1", "news2 must be true or false"),
        ("resolve_hold_s = -5", "must not be negative"),
        ("[escalate_after_s]\nurgent = 5", "not a priority"),
        ("[[thresholds]]\nname = 'spo2_critical'\nclear = 80", "hysteresis must be towards normal"),
        ("[[thresholds]]\nname = 'x'\nvital = 'glucose'\ndirection = 'below'\nlimit = 3", "unknown vital"),
        ("[[thresholds]]\nname = 'spo2_critical'\npriority = 'urgent'", "bad threshold rule"),
        ("[wards.icu]\nmax_gap = 3", "[wards.icu]"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_mistakes_are_errors_that_say_where(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        load_policy(path)
    assert words in str(err.value)


def test_a_missing_file_says_which_variable_to_check(tmp_path):
    with pytest.raises(ValueError, match="WARDWATCH_CONFIG"):
        load_policy(tmp_path / "nope.toml")
