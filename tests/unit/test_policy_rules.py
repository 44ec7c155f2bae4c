"""The rules: priorities as in IEC 60601-1-8 and reasons a nurse reads at a glance."""

from __future__ import annotations

from alerts import rules
from alerts.config import DEFAULT_CONFIG, PolicyConfig
from alerts.model import News2Summary, Priority
from monitor.detector import Contribution, DetectorResult


def _result(score: float, z: float = 5.0) -> DetectorResult:
    return DetectorResult(score=score, warm=True, contributions=(Contribution("heart_rate", 118.0, 74.0, 6.0, z),))


def test_news2_band_maps_to_priority():
    for band, total, priority in (
        ("low-medium", 3, Priority.LOW),
        ("medium", 5, Priority.MEDIUM),
        ("high", 7, Priority.HIGH),
    ):
        cond = rules.news2_condition(News2Summary(total, {"spo2": 3}, band), {"spo2": 90.0}, False, DEFAULT_CONFIG)
        assert cond is not None and cond.priority is priority
    assert rules.news2_condition(News2Summary(2, {"heart_rate": 2}, "low"), {}, False, DEFAULT_CONFIG) is None


def test_news2_clears_by_hysteresis_not_at_the_raise_level():
    low = News2Summary(3, {"heart_rate": 1, "resp_rate": 2}, "low")
    assert rules.news2_condition(low, {}, False, DEFAULT_CONFIG) is None
    assert rules.news2_condition(low, {}, True, DEFAULT_CONFIG) is not None


def test_anomaly_priority_from_confidence_and_more_urgent_when_news2_agrees():
    cfg = DEFAULT_CONFIG
    assert rules.anomaly_condition(_result(0.6), 0, False, cfg).priority is Priority.LOW
    assert rules.anomaly_condition(_result(0.9), 0, False, cfg).priority is Priority.MEDIUM
    # Agreement: one step above the more urgent of the two alone.
    assert rules.anomaly_condition(_result(0.6), 2, False, cfg).priority is Priority.MEDIUM
    assert rules.anomaly_condition(_result(0.6), 3, False, cfg, Priority.MEDIUM).priority is Priority.HIGH
    assert rules.anomaly_condition(_result(0.9), 2, False, cfg, Priority.LOW).priority is Priority.HIGH
    assert rules.anomaly_condition(_result(0.4), 5, False, cfg) is None  # under the raise level
    assert rules.anomaly_condition(_result(0.4), 0, True, cfg) is not None  # held by hysteresis


def test_reasons_name_the_vital_value_baseline_and_limit():
    values = {"spo2": 88.0, "heart_rate": 135.0, "temperature": 38.4, "resp_rate": 7.0}
    base = {"spo2": 96.5, "heart_rate": 74.0}.get
    cond = rules.news2_condition(
        News2Summary(9, {"spo2": 3, "heart_rate": 3, "temperature": 1, "resp_rate": 3}, "high"),
        values,
        False,
        DEFAULT_CONFIG,
        base,
    )
    by_vital = {r.vital: r for r in cond.reasons}
    assert by_vital["news2"].text == "NEWS2 9 (high)"
    spo2 = by_vital["spo2"]
    assert (spo2.value, spo2.baseline, spo2.limit, spo2.score) == (88.0, 96.5, 91, 3)
    assert spo2.text == "SpO2 88% (limit 91%, baseline 96%) scores 3"
    assert by_vital["heart_rate"].limit == 131 and by_vital["temperature"].limit == 38.1
    assert by_vital["resp_rate"].limit == 8
    anomaly = rules.anomaly_condition(_result(0.9), 0, False, DEFAULT_CONFIG)
    reason = anomaly.worded()[0]
    assert (reason.value, reason.baseline, reason.limit) == (118.0, 74.0, 86.0)
    assert reason.text == "Heart rate 118 /min above own baseline 74 /min (limit 86 /min, 5.0 SD)"


def test_news2_limits_follow_the_spo2_scale():
    assert rules.news2_limit("spo2", 85.0, {"spo2_scale": 2}) == 85
    assert rules.news2_limit("spo2", 97.0, {"spo2_scale": 2, "on_oxygen": True}) == 97
    assert rules.news2_limit("spo2", 91.5, {}) == 93  # rounds half up to 92, row 92-93


def test_threshold_hysteresis_and_depth():
    rule = PolicyConfig().thresholds[0]  # spo2_critical: below 85, clears at 88
    assert rules.threshold_condition(rule, 86.0, active=False) is None
    held = rules.threshold_condition(rule, 86.0, active=True)
    assert held is not None and held.depth == 0.0
    deep = rules.threshold_condition(rule, 80.0, active=False, baseline={"spo2": 97.0}.get)
    assert deep.depth == 5.0 and deep.reasons[0].baseline == 97.0


def test_news2_without_the_probe_vitals_rebands_by_the_rcp_rule():
    full = News2Summary(7, {"spo2": 3, "heart_rate": 1, "resp_rate": 3}, "high")
    partial = rules.news2_without(full, {"spo2", "heart_rate"})
    assert (partial.total, partial.band, partial.components) == (3, "low-medium", {"resp_rate": 3})
    assert rules.news2_without(News2Summary(2, {"spo2": 2}, "low"), {"spo2"}).band == "none"


def test_anomaly_reason_names_the_trend_that_counted():
    falling = Contribution("spo2", 94.2, 97.1, 0.6, -4.8, trend=-1.3)
    result = DetectorResult(score=0.7, warm=True, contributions=(falling,))
    reason = rules.anomaly_condition(result, 0, False, DEFAULT_CONFIG).worded()[0]
    assert reason.text == "SpO2 94% below own baseline 97% (limit 96%, 4.8 SD; falling 1.3% in 20 min)"
    assert reason.value == 94.2 and reason.baseline == 97.1
    steady = rules.anomaly_condition(_result(0.7), 0, False, DEFAULT_CONFIG).worded()[0]
    assert "rising" not in steady.text and "falling" not in steady.text
