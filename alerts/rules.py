"""Turn scores into conditions: NEWS2 bands, detector scores, hard limits, signal quality.

Each function is pure and answers one question ("is there a NEWS2 reason to
page right now, and how urgent?"), with reasons worded for a nurse. The
`active` set is the policy's current tracks, so each rule can apply its
hysteresis: a condition that holds stays until the value is back past a
relaxed level, not the raise level.
"""

from __future__ import annotations

from monitor.detector import DetectorResult
from monitor.vitals import LABELS, UNITS, format_vital

from alerts.conditions import Condition
from alerts.config import PolicyConfig, ThresholdRule
from alerts.model import Kind, News2Summary, Priority, Reason

NEWS2_KEY = "news2"
ANOMALY_KEY = "anomaly"
PROBE_KEY = "technical:probe_off"
MOTION_KEY = "technical:motion"

_BAND_PRIORITY = {"low-medium": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH}
_BAND_RANK = {"none": 0, "low": 1, "low-medium": 2, "medium": 3, "high": 4}
_PARAM_LABELS = {**LABELS, "on_oxygen": "Supplemental O2", "consciousness": "Consciousness"}


def fmt_value(vital: str, value: float) -> str:
    return format_vital(vital, value) if vital in UNITS else f"{value:g}"


def news2_condition(
    news2: News2Summary, values: dict[str, object], active: bool, cfg: PolicyConfig
) -> Condition | None:
    """Page on band low-medium or worse; clear only once the band is back to low or none."""
    rank = _BAND_RANK[news2.band]
    if rank < 2 and not (active and news2.total >= 3):
        return None
    band = news2.band if rank >= 2 else "low-medium"
    reasons = [
        Reason(
            vital=param,
            value=float(v) if isinstance(v := values.get(param), (int, float)) and not isinstance(v, bool) else None,
            score=points,
            text=f"{_PARAM_LABELS.get(param, param)} {_describe(param, values.get(param))} scores {points}",
        )
        for param, points in sorted(news2.components.items(), key=lambda kv: -kv[1])
        if points > 0
    ]
    reasons.insert(0, Reason(vital="news2", value=float(news2.total), score=news2.total,
                             text=f"NEWS2 {news2.total} ({news2.band})"))
    persistence = cfg.news2_high_persistence_s if band == "high" else cfg.news2_persistence_s
    return Condition(NEWS2_KEY, Kind.NEWS2, _BAND_PRIORITY[band], persistence, reasons=tuple(reasons))


def _describe(param: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return fmt_value(param, float(value))
    return str(getattr(value, "value", value))


def anomaly_condition(
    result: DetectorResult, news2_rise: int, active: bool, cfg: PolicyConfig
) -> Condition | None:
    """Page when the patient departs from their own baseline; agreement with NEWS2 is more urgent."""
    level = cfg.anomaly_clear if active else cfg.anomaly_threshold
    if not result.warm or result.score < level:
        return None
    priority = Priority.MEDIUM if result.score >= cfg.anomaly_medium_score else Priority.LOW
    if news2_rise >= 2:
        priority = priority.raised()
    reasons = tuple(
        Reason(vital=c.vital, value=c.value, baseline=c.baseline, score=round(abs(c.z), 2), text=c.text())
        for c in result.contributions[:3]
        if abs(c.z) >= 2.0
    )
    return Condition(ANOMALY_KEY, Kind.ANOMALY, priority, cfg.anomaly_persistence_s,
                     depth=result.score, reasons=reasons)


def threshold_condition(rule: ThresholdRule, value: float, active: bool) -> Condition | None:
    if not rule.breached(value, active):
        return None
    word = "below" if rule.direction == "below" else "above"
    reason = Reason(
        vital=rule.vital, value=value, limit=rule.limit,
        text=f"{LABELS[rule.vital]} {fmt_value(rule.vital, value)} {word} limit {fmt_value(rule.vital, rule.limit)}",
    )
    return Condition(f"threshold:{rule.name}", Kind.THRESHOLD, rule.priority, rule.persistence_s,
                     integral=rule.integral, depth=rule.depth(value), reasons=(reason,))


def probe_condition(cfg: PolicyConfig) -> Condition:
    reason = Reason(vital="spo2", text="SpO2 probe off: oxygen saturation and pulse not measured")
    return Condition(PROBE_KEY, Kind.TECHNICAL, Priority.LOW, cfg.probe_off_s, reasons=(reason,))


def motion_condition(motion: float, cfg: PolicyConfig) -> Condition:
    reason = Reason(vital="motion", value=motion, limit=cfg.motion_limit,
                    text=f"Sustained motion artefact ({motion:.2f}): SpO2 and pulse unreliable")
    return Condition(MOTION_KEY, Kind.TECHNICAL, Priority.LOW, cfg.motion_s, reasons=(reason,))
