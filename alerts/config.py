"""Alert-policy settings: safe defaults, a TOML file, per-ward overrides.

Every number a clinician may want to change lives here, with the reason for
its default, so that the policy module contains logic only. The documented
file `alerts/default_policy.toml` spells out exactly these defaults (a unit
test keeps the two equal); a file given by `WARDWATCH_CONFIG` overrides them,
and its `[wards.<name>]` tables override again for one ward.

Per-patient settings are not in the file: they come from nursing input on the
stream (the ward a patient is on, the SpO2 scale prescribed for a COPD
patient) and select which of these settings apply to that patient.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.model import Priority
from monitor.detectors.registry import DetectorSpec, validate
from monitor.vitals import ACTIVE_MOTION, UNITS

#: The shipped, documented policy file (the built-in defaults, spelled out).
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.toml")


class Direction(str, enum.Enum):
    """Which side of a hard limit is the bad side."""

    BELOW = "below"
    ABOVE = "above"


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """A hard limit: `vital` below/above `limit`, raised by duration OR depth×duration.

    `clear` is the hysteresis level the value must get back past before the
    condition counts as gone; `integral` is in (units × seconds), e.g. an SpO2
    3 % under the limit for 20 s is 60 %·s (0 = duration only).
    """

    name: str
    vital: str
    direction: str  # Direction value: "below" | "above"
    limit: float
    clear: float
    persistence_s: float
    integral: float
    priority: Priority

    def breached(self, value: float, active: bool) -> bool:
        level = self.clear if active else self.limit
        return value < level if self.direction == "below" else value > level

    def depth(self, value: float) -> float:
        return max(0.0, self.limit - value if self.direction == "below" else value - self.limit)


def _default_thresholds() -> tuple[ThresholdRule, ...]:
    high, medium = Priority.HIGH, Priority.MEDIUM
    return (
        # Severe hypoxaemia: 30 s persistence, or 60 %·s (e.g. 4 % under for 15 s).
        ThresholdRule("spo2_critical", "spo2", "below", 85, 88, 30, 60, high),
        ThresholdRule("hr_high", "heart_rate", "above", 140, 130, 60, 600, medium),
        ThresholdRule("hr_low", "heart_rate", "below", 40, 45, 30, 150, high),
        ThresholdRule("rr_high", "resp_rate", "above", 30, 27, 60, 180, medium),
        ThresholdRule("rr_low", "resp_rate", "below", 8, 10, 60, 120, high),
        # A spot-check BP is one deliberate measurement: it counts at once.
        ThresholdRule("sbp_low", "systolic_bp", "below", 90, 95, 0, 0, medium),
    )


def _default_scale2_thresholds() -> tuple[ThresholdRule, ...]:
    # COPD (SpO2 scale 2, target 88-92 %): such a patient lives near 85-88 %,
    # so the hypoxaemia limit moves down rather than paging all day.
    return (ThresholdRule("spo2_critical", "spo2", "below", 80, 84, 30, 60, Priority.HIGH),)


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    # Physiological sources; the evaluator turns them off one by one for baselines.
    news2: bool = True
    anomaly: bool = True
    threshold: bool = True
    # How long a condition must hold before it pages (alarm-fatigue: a 15 s
    # delay alone removes most SpO2 alarms; NEWS2 from noisy wearables needs more).
    news2_persistence_s: float = 120.0
    news2_high_persistence_s: float = 30.0
    anomaly_persistence_s: float = 180.0
    anomaly_threshold: float = 0.5
    anomaly_clear: float = 0.3
    anomaly_medium_score: float = 0.85
    # NEWS2 points above the patient's own reference that count as "NEWS2 is
    # moving too"; an anomaly that agrees with it is one priority step higher.
    news2_rise_agree: int = 2
    thresholds: tuple[ThresholdRule, ...] = field(default_factory=_default_thresholds)
    # Rules that replace the same-named rules above for a patient whose nursing
    # input prescribes SpO2 scale 2 (hypercapnic respiratory failure, COPD).
    scale2_thresholds: tuple[ThresholdRule, ...] = field(default_factory=_default_scale2_thresholds)
    # The integral criterion may confirm early, but never before this: a deep
    # 10 s dip is nearly always artefact (probe slip, cough), not hypoxaemia.
    integral_min_s: float = 15.0
    # A condition not seen again within this time starts its persistence over
    # (gaps in the data are not evidence that it held); spot-check vitals
    # (BP, temperature) stay valid for `intermittent_max_age_s` instead.
    max_gap_s: float = 60.0
    # Resolve only after the patient has been clear this long (hysteresis in time).
    resolve_hold_s: float = 600.0
    # After a resolve, a new episode of the same class needs twice the persistence
    # for this long, unless it is high priority, so a flapping signal pages once.
    cooldown_s: float = 1800.0
    # Unacknowledged alerts escalate after this long, per priority, up to
    # `max_escalations` steps per priority level; 0 = never for that priority.
    escalate_after_s: dict[str, float] = field(default_factory=lambda: {"high": 120.0, "medium": 600.0, "low": 1800.0})
    max_escalations: int = 2
    # Technical alarms.
    probe_off_s: float = 30.0
    # From this motion index (0..1) SpO2, pulse and breathing rate are artefact.
    motion_limit: float = 0.6
    motion_s: float = 60.0
    # Exertion: from this motion index (below `motion_limit`) the patient is up and
    # about, and a stream's HR and RR are not resting observations: NEWS2 keeps the
    # last resting values (fresh for `continuous_max_age_s`), also for
    # `exertion_recovery_s` after the last active reading, for at most
    # `exertion_max_s` of activity; activity that lasts longer counts again (a
    # restless, agitated patient is a warning sign, not exercise). The activity's
    # clock starts over only after `exertion_rest_s` without it, so bouts of
    # restlessness with short pauses do not each get a new allowance.
    exertion_motion: float = ACTIVE_MOTION
    exertion_max_s: float = 600.0
    exertion_rest_s: float = 300.0
    exertion_recovery_s: float = 120.0
    # No data from a continuously monitored patient's wearable for this long, or for
    # this many of the stream's own sampling intervals if that is longer: a monitor
    # that reads once a minute and misses one reading has not lost the patient (an
    # independent generator's 1/min streams with 25 % of readings missing raised
    # ~21 signal losses per patient per 12 h at a fixed 2 min).
    signal_loss_s: float = 120.0
    signal_loss_intervals: float = 3.0
    # Several vitals jumping together within seconds (faster than physiology:
    # a motion burst the device did not flag) hold every physiological page
    # back this long from the jump; what is still there afterwards pages.
    # Two of the longest bursts we design for (60 s) back to back: Poisson-placed
    # bursts overlap, and at 90 s the matrix's 1 s / long-burst cell at 96
    # patients paged high on 6 such pairs (5 of them not at 120 s: 1.17 -> 0.92
    # false a stable day with this alone). The price: a real sudden jump of
    # several vitals at once pages 30 s later; one vital alone, a gradual change
    # and a flagged burst are not held.
    artefact_hold_s: float = 120.0
    # NEWS2 on a continuous stream scores the median of each streamed vital's last
    # this-many readings (a set of observations, not one noisy reading); 1 = off.
    news2_median_readings: int = 5
    # Detector warm-up and NEWS2 staleness are the detector's / view's business;
    # these are the knobs they take from the policy file.
    warmup_samples: int = 120
    warmup_s: float = 900.0
    # Which per-patient detector the ward runs, by its registered name
    # (`monitor.detectors.registry`; `wardwatch evaluate --detectors` compares
    # them) and its own parameters. Checked when the file is loaded.
    detector: str = "baseline-z"
    detector_params: dict[str, Any] = field(default_factory=dict)
    continuous_max_age_s: float = 300.0
    intermittent_max_age_s: float = 4 * 3600.0
    nursing_max_age_s: float = 12 * 3600.0

    def escalation_delay(self, priority: Priority) -> float:
        return self.escalate_after_s.get(priority.value, 600.0)

    def thresholds_for(self, spo2_scale: int | None) -> tuple[ThresholdRule, ...]:
        """The hard limits for a patient on this SpO2 scale (nursing input)."""
        if spo2_scale != 2 or not self.scale2_thresholds:
            return self.thresholds
        return _merge_rules(self.thresholds, self.scale2_thresholds)

    def replace(self, **changes: Any) -> PolicyConfig:
        return dataclasses.replace(self, **changes)

    @property
    def detector_spec(self) -> DetectorSpec:
        """The detector name and parameters, hashable (the engine compares them on a ward change)."""
        return DetectorSpec.of(self.detector, self.detector_params)


DEFAULT_CONFIG = PolicyConfig()


def _merge_rules(base: tuple[ThresholdRule, ...], override: tuple[ThresholdRule, ...]) -> tuple[ThresholdRule, ...]:
    """Same-named rules replace, new names append, order of `base` is kept."""
    by_name = {r.name: r for r in override}
    merged = [by_name.pop(r.name, r) for r in base]
    return tuple(merged + list(by_name.values()))


# ---- reading the TOML file ------------------------------------------------
_RULE_LISTS = ("thresholds", "scale2_thresholds")


def _coerce(base: PolicyConfig, table: dict[str, Any], where: str) -> PolicyConfig:
    """`base` with the settings of one TOML table applied, each checked."""
    defaults = {f.name: getattr(base, f.name) for f in dataclasses.fields(PolicyConfig)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key == "wards":
            continue
        if key not in defaults:
            raise ValueError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(defaults))})")
        if key in _RULE_LISTS:
            changes[key] = _rules(getattr(base, key), value, f"{where} {key}")
        elif key == "escalate_after_s":
            changes[key] = _escalation(base.escalate_after_s, value, where)
        elif key == "detector":
            if not isinstance(value, str):
                raise ValueError(f"{where}: detector must be a detector name (a string), got {value!r}")
            changes[key] = value
        elif key == "detector_params":
            if not isinstance(value, dict):
                raise ValueError(f"{where}: detector_params must be a table [detector_params]")
            changes[key] = dict(value)
        else:
            changes[key] = _scalar(key, defaults[key], value, where)
    if "detector" in changes and "detector_params" not in changes and changes["detector"] != base.detector:
        changes["detector_params"] = {}  # another detector's parameters do not carry over
    cfg = dataclasses.replace(base, **changes)
    if "detector" in changes or "detector_params" in changes or "warmup_samples" in changes:
        try:
            validate(cfg.detector_spec, cfg.warmup_samples, cfg.warmup_s)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return cfg


def _scalar(key: str, default: Any, value: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}: {key} must not be negative, got {value!r}")
    return int(value) if isinstance(default, int) else float(value)


def _escalation(base: dict[str, float], value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: escalate_after_s must be a table of priority = seconds")
    out = dict(base)
    for name, seconds in value.items():
        if name not in {p.value for p in Priority}:
            raise ValueError(f"{where}: escalate_after_s.{name}: not a priority (high, medium, low)")
        out[name] = _scalar(f"escalate_after_s.{name}", 0.0, seconds, where)
    return out


def _rules(base: tuple[ThresholdRule, ...], docs: Any, where: str) -> tuple[ThresholdRule, ...]:
    """Merge `[[thresholds]]` entries into `base` by name; `enabled = false` removes one."""
    if not isinstance(docs, list):
        raise ValueError(f"{where}: must be an array of tables ([[...]])")
    by_name = {r.name: r for r in base}
    order = [r.name for r in base]
    for doc in docs:
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
            raise ValueError(f"{where}: every rule needs a name, got {doc!r}")
        name = doc["name"]
        if doc.get("enabled", True) is False:
            by_name.pop(name, None)
            continue
        by_name[name] = _rule(doc, by_name.get(name), where)
        if name not in order:
            order.append(name)
    return tuple(by_name[n] for n in order if n in by_name)


def _rule(doc: dict[str, Any], base: ThresholdRule | None, where: str) -> ThresholdRule:
    """One rule; fields left out are inherited from the same-named rule it overrides."""
    inherited = dataclasses.asdict(base) if base else {}
    merged = {**inherited, **{k: v for k, v in doc.items() if k != "enabled"}}
    try:
        limit = float(merged["limit"])
        rule = ThresholdRule(
            name=merged["name"],
            vital=str(merged["vital"]),
            direction=Direction(merged["direction"]).value,
            limit=limit,
            clear=float(merged.get("clear", limit)),
            persistence_s=float(merged.get("persistence_s", 30)),
            integral=float(merged.get("integral", 0)),
            priority=Priority(merged.get("priority", "medium")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{where}: bad threshold rule {doc!r}: {exc}") from None
    if rule.vital not in UNITS:
        raise ValueError(f"{where}: rule {rule.name}: unknown vital {rule.vital!r}")
    if (rule.clear < rule.limit) if rule.direction == "below" else (rule.clear > rule.limit):
        raise ValueError(
            f"{where}: rule {rule.name}: clear {rule.clear:g} is on the bad side of limit "
            f"{rule.limit:g} (hysteresis must be towards normal)"
        )
    return rule


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """The default policy plus one override per ward, loaded once at start."""

    default: PolicyConfig = DEFAULT_CONFIG
    wards: dict[str, PolicyConfig] = field(default_factory=dict)

    def for_ward(self, ward: str | None) -> PolicyConfig:
        return self.wards.get(ward or "", self.default)


def load_policy(path: str | Path | None) -> PolicyBook:
    """Read a TOML policy file; None gives the built-in defaults.

    Every setting is optional (a missing one keeps its default); an unknown
    or ill-typed one is an error naming the file and table, so a typo in a
    clinical limit never silently falls back to a default.
    """
    if not path:
        return PolicyBook()
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"policy file {path} does not exist (check WARDWATCH_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"policy file {path} is not valid TOML: {exc}") from None
    default = _coerce(DEFAULT_CONFIG, doc, str(path))
    wards_doc = doc.get("wards", {})
    if not isinstance(wards_doc, dict):
        raise ValueError(f"{path}: wards must be tables [wards.<name>]")
    wards = {name: _coerce(default, table, f"{path} [wards.{name}]") for name, table in wards_doc.items()}
    return PolicyBook(default=default, wards=wards)
