"""Turn scores into conditions: NEWS2 bands, detector scores, hard limits, signal quality.

Each function is pure and answers one question ("is there a NEWS2 reason to
page right now, and how urgent?"), with reasons worded for a nurse: which
vital, its value, the patient's own baseline and the limit it crossed. The
`active` flag is the policy's view of that condition, so each rule can apply
its hysteresis: a condition that holds stays until the value is back past a
relaxed level, not the raise level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from alerts.conditions import Condition
from alerts.config import PolicyConfig, ThresholdRule
from alerts.model import Kind, News2Summary, Priority, Reason
from monitor.detector import Z_JOIN, Z_START, Contribution, DetectorResult
from monitor.vitals import LABELS, UNITS, format_vital

NEWS2_KEY = "news2"
ANOMALY_KEY = "anomaly"
PROBE_KEY = "technical:probe_off"
MOTION_KEY = "technical:motion"
TECHNICAL_PREFIX = "technical:"

#: The patient's own baseline of a vital, or None before the detector knows it.
Baseline = Callable[[str], "float | None"]

_BAND_PRIORITY = {"low-medium": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH}
_BAND_RANK = {"none": 0, "low": 1, "low-medium": 2, "medium": 3, "high": 4}
#: Bands below low-medium: news2_condition raises nothing for them unless a tracked one still holds.
NEWS2_QUIET_BANDS = frozenset(band for band, rank in _BAND_RANK.items() if rank < 2)
_PARAM_LABELS = {**LABELS, "on_oxygen": "Supplemental O2", "consciousness": "Consciousness"}

# The NEWS2 chart edges (RCP 2017) a scoring value has crossed, nearest normal
# first: (edges below normal, inclusive, ascending; edges above normal, ascending).
# Only for the reason's `limit`; the scoring itself is monitor.news2's.
_NEWS2_EDGES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "resp_rate": ((8, 11), (21, 25)),
    "systolic_bp": ((90, 100, 110), (220,)),
    "heart_rate": ((40, 50), (91, 111, 131)),
    "temperature": ((35.0, 36.0), (38.1, 39.1)),
}
_SPO2_SCALE1 = ((91, 93, 95), ())
_SPO2_SCALE2_AIR = ((83, 85, 87), ())
_SPO2_SCALE2_OXYGEN = ((83, 85, 87), (93, 95, 97))


def fmt_value(vital: str, value: float) -> str:
    return format_vital(vital, value) if vital in UNITS else f"{value:g}"


def _no_baseline(vital: str) -> float | None:
    return None


def news2_condition(
    news2: News2Summary,
    values: Mapping[str, object],
    active: bool,
    cfg: PolicyConfig,
    baseline: Baseline = _no_baseline,
) -> Condition | None:
    """Page on band low-medium or worse; clear only once the total is back under 3."""
    rank = _BAND_RANK[news2.band]
    if rank < 2 and not (active and news2.total >= 3):
        return None
    band = news2.band if rank >= 2 else "low-medium"
    reasons = [_headline(news2.total, news2.band)]
    for param, points in sorted(news2.components.items(), key=lambda kv: -kv[1]):
        if points > 0:
            reasons.append(_news2_reason_memo(param, points, values, baseline))
    persistence = cfg.news2_high_persistence_s if band == "high" else cfg.news2_persistence_s
    return Condition(
        NEWS2_KEY,
        Kind.NEWS2,
        _BAND_PRIORITY[band],
        persistence,
        reasons=tuple(reasons),
        valid_s=cfg.max_gap_s,
        at_raise=rank >= 2,
    )


def news2_without(news2: News2Summary, params: Iterable[str]) -> News2Summary:
    """NEWS2 recomputed without some parameters (SpO2 and pulse while the probe is off).

    Bands as RCP 2017: >= 7 high, 5-6 medium, a single 3 low-medium, 1-4 low.
    """
    components = {k: v for k, v in news2.components.items() if k not in params}
    total = sum(components.values())
    if total >= 7:
        band = "high"
    elif total >= 5:
        band = "medium"
    elif any(v >= 3 for v in components.values()):
        band = "low-medium"
    else:
        band = "low" if total else "none"
    return News2Summary(total, components, band)


_HEADLINES: dict[tuple[int, str], Reason] = {}
_REASONS: dict[tuple[object, ...], Reason] = {}
_MEMO_MAX = 4096


def _headline(total: int, band: str) -> Reason:
    """'NEWS2 5 (medium)': a Reason is immutable, so one per (total, band) serves every sample."""
    key = (total, band)
    reason = _HEADLINES.get(key)
    if reason is None:
        text = f"NEWS2 {total} ({band})"
        reason = _HEADLINES[key] = Reason(vital="news2", value=float(total), score=total, text=text)
    return reason


def _news2_reason_memo(param: str, points: int, values: Mapping[str, object], baseline: Baseline) -> Reason:
    """`_news2_reason`, remembered by everything its text and numbers depend on.

    While a patient is alerting the detector is frozen, so the baseline is
    constant and the same reading gives the same reason sample after sample.
    """
    raw = values.get(param)
    base = baseline(param)
    scale, oxygen = values.get("spo2_scale"), values.get("on_oxygen")
    # types too: 1 == 1.0 == True, but they are worded and serialized differently
    key = (param, points, type(raw), raw, type(base), base, type(scale), scale, type(oxygen), oxygen)
    try:
        reason = _REASONS.get(key)
    except TypeError:  # unhashable input: no memo
        return _news2_reason(param, points, values, baseline)
    if reason is None:
        reason = _news2_reason(param, points, values, lambda _p: base)
        if len(_REASONS) >= _MEMO_MAX:
            _REASONS.clear()
        _REASONS[key] = reason
    return reason


def _news2_reason(param: str, points: int, values: Mapping[str, object], baseline: Baseline) -> Reason:
    """'SpO2 88 % (limit 91 %, baseline 96 %) scores 3'."""
    raw = values.get(param)
    label = _PARAM_LABELS.get(param, param)
    if not isinstance(raw, (int, float)) or isinstance(raw, bool):
        return Reason(vital=param, score=points, text=f"{label} {_describe(raw)} scores {points}")
    value = float(raw)
    limit = news2_limit(param, value, values)
    base = baseline(param)
    context = ", ".join(
        part
        for part in (
            f"limit {fmt_value(param, limit)}" if limit is not None else "",
            f"baseline {fmt_value(param, base)}" if base is not None else "",
        )
        if part
    )
    text = f"{label} {fmt_value(param, value)}" + (f" ({context})" if context else "") + f" scores {points}"
    return Reason(vital=param, value=value, baseline=base, limit=limit, score=points, text=text)


def news2_limit(param: str, value: float, values: Mapping[str, object]) -> float | None:
    """The chart edge this value crossed to earn its points (e.g. SpO2 88 -> 91)."""
    edges = _edges(param, values)
    if edges is None:
        return None
    low, high = edges
    half = 0.05 if param == "temperature" else 0.5
    below = [e for e in low if value < e + half]
    if below:
        return below[0]
    above = [e for e in high if value >= e - half]
    return above[-1] if above else None


def _edges(param: str, values: Mapping[str, object]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if param != "spo2":
        return _NEWS2_EDGES.get(param)
    if values.get("spo2_scale") != 2:
        return _SPO2_SCALE1
    return _SPO2_SCALE2_OXYGEN if values.get("on_oxygen") is True else _SPO2_SCALE2_AIR


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(getattr(value, "value", value))


def anomaly_condition(
    result: DetectorResult,
    news2_rise: int,
    active: bool,
    cfg: PolicyConfig,
    news2_band_priority: Priority | None = None,
) -> Condition | None:
    """Page when the patient departs from their own baseline.

    The detector combines the vitals that moved the clinically bad way, so the
    reasons name each of them (the most deviant first, then every other one
    beyond `Z_JOIN` SD, which is what added to the score).
    Priority from the detector's confidence (score); when NEWS2 has risen too
    (`news2_rise` points over the patient's own reference), the two agree and
    the condition is one step more urgent than either alone would be.
    """
    level = cfg.anomaly_clear if active else cfg.anomaly_threshold
    if not result.warm or result.score < level:
        return None
    priority = Priority.MEDIUM if result.score >= cfg.anomaly_medium_score else Priority.LOW
    agree = news2_rise >= cfg.news2_rise_agree
    if agree:
        if news2_band_priority is not None and news2_band_priority.rank > priority.rank:
            priority = news2_band_priority
        priority = priority.raised()
    vitals = result.named(Z_JOIN)
    if agree:
        vitals += ("news2",)

    def word() -> tuple[Reason, ...]:
        # the vitals `named` picked, in its order: the selection lives in one place
        reasons = [_anomaly_reason(c) for c in result.contributions if c.vital in vitals]
        if agree:
            reasons.append(
                Reason(
                    vital="news2",
                    score=news2_rise,
                    text=f"NEWS2 up {news2_rise} on own reference: agrees with the change",
                )
            )
        return tuple(reasons)

    return Condition(
        ANOMALY_KEY,
        Kind.ANOMALY,
        priority,
        cfg.anomaly_persistence_s,
        depth=result.score,
        valid_s=cfg.max_gap_s,
        at_raise=result.score >= cfg.anomaly_threshold,
        word=word,
        vitals=vitals,
    )


def _anomaly_reason(c: Contribution) -> Reason:
    """'Heart rate 118 /min above own baseline 74 /min (limit 86 /min, 4.2 SD)'; a vital whose
    trend counted says so: 'SpO2 94% below own baseline 97% (limit 96%, 3.1 SD; falling 1.2% in 20 min)'."""
    sign = 1.0 if c.z > 0 else -1.0
    limit = c.baseline + sign * Z_START * c.std
    trend = "above" if c.z > 0 else "below"
    text = (
        f"{LABELS[c.vital]} {fmt_value(c.vital, c.value)} {trend} own baseline "
        f"{fmt_value(c.vital, c.baseline)} (limit {fmt_value(c.vital, limit)}, {abs(c.z):.1f} SD"
        f"{c.trend_text()})"
    )
    return Reason(vital=c.vital, value=c.value, baseline=c.baseline, limit=limit, score=round(abs(c.z), 2), text=text)


def threshold_condition(
    rule: ThresholdRule, value: float, active: bool, baseline: Baseline = _no_baseline, valid_s: float = 60.0
) -> Condition | None:
    """A hard limit crossed: 'SpO2 82 % below limit 85 % (baseline 96 %)'.

    None whenever `rule.breached(value, active)` is False: the engine relies on
    this to skip the call for a value inside the limit (~5 rules per sample).
    """
    if not rule.breached(value, active):
        return None
    base = baseline(rule.vital)
    word = "below" if rule.direction == "below" else "above"
    text = f"{LABELS[rule.vital]} {fmt_value(rule.vital, value)} {word} limit {fmt_value(rule.vital, rule.limit)}"
    if base is not None:
        text += f" (baseline {fmt_value(rule.vital, base)})"
    reason = Reason(vital=rule.vital, value=value, baseline=base, limit=rule.limit, text=text)
    return Condition(
        f"threshold:{rule.name}",
        Kind.THRESHOLD,
        rule.priority,
        rule.persistence_s,
        integral=rule.integral,
        depth=rule.depth(value),
        reasons=(reason,),
        valid_s=valid_s,
        at_raise=not active or rule.breached(value, False),
    )


def probe_condition(cfg: PolicyConfig) -> Condition:
    reason = Reason(
        vital="spo2", limit=cfg.probe_off_s, text="SpO2 probe off: SpO2 and pulse not measured, their alarms suppressed"
    )
    return Condition(PROBE_KEY, Kind.TECHNICAL, Priority.LOW, cfg.probe_off_s, reasons=(reason,), valid_s=cfg.max_gap_s)


def motion_condition(motion: float, cfg: PolicyConfig) -> Condition:
    reason = Reason(
        vital="motion",
        value=motion,
        limit=cfg.motion_limit,
        text=f"Sustained motion artefact ({motion:.2f}): SpO2, pulse and RR unreliable, their alarms suppressed",
    )
    return Condition(MOTION_KEY, Kind.TECHNICAL, Priority.LOW, cfg.motion_s, reasons=(reason,), valid_s=cfg.max_gap_s)
