"""Alert-policy settings: safe defaults, a TOML file, per-ward overrides.

Every number a clinician may want to change lives here, with the reason for
its default, so that the policy module contains logic only. A file given by
`WARDWATCH_CONFIG` overrides the defaults; its `[wards.<name>]` tables override
again for one ward (see `alerts/default_policy.toml` for the documented file).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.model import Priority


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """A hard limit: `vital` below/above `limit`, raised by duration OR depth×duration.

    `clear` is the hysteresis level the value must get back past before the
    condition counts as gone; `integral` is in (units × seconds), e.g. an SpO2
    3 % under the limit for 20 s is 60 %·s.
    """

    name: str
    vital: str
    direction: str  # "below" | "above"
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
        # Severe hypoxaemia: 30 s persistence, or 5 % under for 12 s.
        ThresholdRule("spo2_critical", "spo2", "below", 85, 88, 30, 60, high),
        ThresholdRule("hr_high", "heart_rate", "above", 140, 130, 60, 600, medium),
        ThresholdRule("hr_low", "heart_rate", "below", 40, 45, 30, 150, high),
        ThresholdRule("rr_high", "resp_rate", "above", 30, 27, 60, 180, medium),
        ThresholdRule("rr_low", "resp_rate", "below", 8, 10, 60, 120, high),
        ThresholdRule("sbp_low", "systolic_bp", "below", 90, 95, 0, 0, medium),
    )


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
    thresholds: tuple[ThresholdRule, ...] = field(default_factory=_default_thresholds)
    # Resolve only after the patient has been clear this long (hysteresis in time).
    resolve_hold_s: float = 600.0
    # After a resolve, a new episode of the same class needs twice the persistence
    # for this long, unless it is high priority, so a flapping signal pages once.
    cooldown_s: float = 1800.0
    # Unacknowledged alerts escalate after this long, per priority, up to max steps.
    escalate_after_s: dict[str, float] = field(
        default_factory=lambda: {"high": 120.0, "medium": 600.0, "low": 1800.0}
    )
    max_escalations: int = 2
    # Technical alarms.
    probe_off_s: float = 30.0
    motion_limit: float = 0.6
    motion_s: float = 60.0
    signal_loss_s: float = 120.0
    # Detector warm-up and NEWS2 staleness are the detector's / view's business;
    # these are the knobs they take from the policy file.
    warmup_samples: int = 120
    warmup_s: float = 900.0
    continuous_max_age_s: float = 300.0
    intermittent_max_age_s: float = 4 * 3600.0
    nursing_max_age_s: float = 12 * 3600.0

    def escalation_delay(self, priority: Priority) -> float:
        return self.escalate_after_s.get(priority.value, 600.0)

    def replace(self, **changes: Any) -> "PolicyConfig":
        return dataclasses.replace(self, **changes)


DEFAULT_CONFIG = PolicyConfig()


def _coerce(base: PolicyConfig, table: dict[str, Any], where: str) -> PolicyConfig:
    known = {f.name for f in dataclasses.fields(PolicyConfig)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("wards", "patients"):
            continue
        if key not in known:
            raise ValueError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        if key == "thresholds":
            value = tuple(_rule(r, where) for r in value)
        elif key == "escalate_after_s":
            value = {**base.escalate_after_s, **value}
        changes[key] = value
    return dataclasses.replace(base, **changes)


def _rule(doc: dict[str, Any], where: str) -> ThresholdRule:
    try:
        return ThresholdRule(
            name=doc["name"],
            vital=doc["vital"],
            direction=doc["direction"],
            limit=float(doc["limit"]),
            clear=float(doc.get("clear", doc["limit"])),
            persistence_s=float(doc.get("persistence_s", 30)),
            integral=float(doc.get("integral", 0)),
            priority=Priority(doc.get("priority", "medium")),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where}: bad threshold rule {doc!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """The default policy plus one override per ward, loaded once at start."""

    default: PolicyConfig = DEFAULT_CONFIG
    wards: dict[str, PolicyConfig] = field(default_factory=dict)

    def for_ward(self, ward: str | None) -> PolicyConfig:
        return self.wards.get(ward or "", self.default)


def load_policy(path: str | Path | None) -> PolicyBook:
    """Read a TOML policy file; None gives the built-in defaults."""
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
    wards = {
        name: _coerce(default, table, f"{path} [wards.{name}]")
        for name, table in doc.get("wards", {}).items()
    }
    return PolicyBook(default=default, wards=wards)
