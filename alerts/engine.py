"""Everything wardwatch knows about one patient, and what one sample does to it.

`PatientEngine` is the single domain entry point shared by the stream worker,
the benchmark and the evaluator: sample in → NEWS2 from the rolling view →
baseline detector → rules → policy → alert state changes out. It is pure
(no Kafka, no clock), so a replay of the same input gives the same alerts,
and its state serializes to a few hundred bytes of explicit JSON.

Which settings apply is per patient: the engine takes either one
`PolicyConfig` or a `PolicyBook`, and with a book it follows the ward named by
nursing input on the stream; the SpO2 scale from nursing input selects the
scale-2 hard limits (COPD) in either case.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import orjson

from monitor.detector import NAME as DETECTOR_NAME
from monitor.detector import VERSION as DETECTOR_VERSION
from monitor.detector import BaselineDetector
from monitor.latest import Freshness, LatestVitals
from monitor.vitals import PROBE_VITALS, VitalSample

from alerts import rules
from alerts.conditions import Condition
from alerts.config import DEFAULT_CONFIG, PolicyBook, PolicyConfig, ThresholdRule
from alerts.model import Alert, DetectorInfo, News2Summary
from alerts.policy import AlertPolicy, Observation

#: The engine's settings type, by the name the evaluator imports.
EngineConfig = PolicyConfig

STATE_VERSION = 1
#: How fast the patient's reference NEWS2 follows them while they are well.
_NEWS2_REF_RATE = 0.01
_PROBE_OFF = tuple(f"{v}: probe off" for v in sorted(PROBE_VITALS))
_MOTION = tuple(f"{v}: motion artefact" for v in sorted(PROBE_VITALS))


def freshness_of(cfg: PolicyConfig) -> Freshness:
    continuous = int(cfg.continuous_max_age_s * 1000)
    intermittent = int(cfg.intermittent_max_age_s * 1000)
    nursing = int(cfg.nursing_max_age_s * 1000)
    return Freshness(
        heart_rate=continuous, spo2=continuous, resp_rate=continuous,
        temperature=intermittent, systolic_bp=intermittent, diastolic_bp=intermittent,
        on_oxygen=nursing, consciousness=nursing,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Limit:
    """A hard-limit rule prepared for the hot path: its key and how long one reading stands."""

    rule: ThresholdRule
    key: str
    valid_s: float


class PatientEngine:
    __slots__ = ("patient_id", "book", "config", "latest", "detector", "policy", "news2_ref", "last_ts",
                 "offsets", "samples", "ward", "spo2_scale", "_freshness", "_limits")

    def __init__(self, patient_id: str, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> None:
        self.patient_id = patient_id
        self.book = config if isinstance(config, PolicyBook) else None
        cfg = self.book.for_ward(None) if self.book is not None else config
        self.config = cfg
        self.latest = LatestVitals()
        self.detector = BaselineDetector(warmup_samples=cfg.warmup_samples, warmup_s=cfg.warmup_s)
        self.policy = AlertPolicy(patient_id, cfg)
        self.news2_ref: float | None = None
        self.last_ts: int | None = None
        self.offsets: dict[str, int] = {}  # input source -> last offset folded in (replay dedupe)
        self.samples = 0
        self.ward: str | None = None  # nursing input, remembered until changed
        self.spo2_scale: int | None = None
        self._use(cfg)

    @property
    def warm(self) -> bool:
        return any(self.detector._warm(b, self.last_ts or 0) for b in self.detector.vitals.values())

    # ---- settings per patient ---------------------------------------------
    def _use(self, cfg: PolicyConfig) -> None:
        """Switch to `cfg` (ward change, scale change): the policy keeps its state."""
        self.config = cfg
        self.policy.config = cfg
        self._freshness = freshness_of(cfg)
        intermittent = {"systolic_bp", "diastolic_bp", "temperature"}
        self._limits = tuple(
            _Limit(r, f"threshold:{r.name}", cfg.intermittent_max_age_s if r.vital in intermittent else cfg.max_gap_s)
            for r in cfg.thresholds_for(self.spo2_scale)
        )

    def _nursing_input(self, sample: VitalSample) -> None:
        """Ward and SpO2 scale from the stream pick this patient's settings."""
        ward = getattr(sample, "ward", None)
        changed = False
        if ward is not None and ward != self.ward:
            self.ward, changed = ward, True
        if sample.spo2_scale is not None and sample.spo2_scale != self.spo2_scale:
            held = self.latest.get("spo2_scale")
            scale = held[0] if held is not None else sample.spo2_scale
            if scale != self.spo2_scale:
                self.spo2_scale, changed = scale, True
        if changed:
            self._use(self.book.for_ward(self.ward) if self.book is not None else self.config)

    # ---- one sample ---------------------------------------------------------
    def process(self, sample: VitalSample) -> list[Alert]:
        """Fold one sample in; returns the alert state changes it caused (often none)."""
        if self.last_ts is not None and sample.ts_ms <= self.last_ts:
            # Duplicate or late sample: keep what it tells about slow vitals and
            # nursing input, but do not re-run detection on the past.
            self.latest.update(sample)
            return []
        self.last_ts = sample.ts_ms
        self.samples += 1
        suppressed = self._suppression(sample)
        clean = sample
        if suppressed and (sample.heart_rate is not None or sample.spo2 is not None):
            clean = dataclasses.replace(sample, heart_rate=None, spo2=None)
        self.latest.update(clean)
        if sample.spo2_scale is not None or getattr(sample, "ward", None) is not None:
            self._nursing_input(sample)
        cfg = self.config
        policy = self.policy
        view = self.latest.score(sample.ts_ms, self._freshness)
        score = view.news2
        news2 = News2Summary(score.total, score.components, str(score.band))
        # Hysteresis applies to what is already tracked; no tracks, nothing holds.
        holding = policy.holding if policy.tracks else _never
        conditions: list[Condition] = []
        evaluated: list[str] = []
        baseline = self.detector.baseline

        if suppressed:
            # SpO2 and pulse in the view are from before the signal went bad:
            # NEWS2 is judged on the other parameters only, and says so.
            news2 = rules.news2_without(news2, PROBE_VITALS)
        news2_cond = None
        if cfg.news2:
            news2_cond = rules.news2_condition(news2, view.values, holding(rules.NEWS2_KEY), cfg, baseline)
            _judge(rules.NEWS2_KEY, news2_cond, suppressed, conditions, evaluated)

        alerting = policy.alerting
        detector_info = self._detect(clean, news2, news2_cond, suppressed, alerting, holding, conditions, evaluated)
        if not alerting and not suppressed:
            self._learn_news2(news2.total)

        if cfg.threshold:
            for limit in self._limits:
                value = getattr(clean, limit.rule.vital)
                if value is not None:
                    evaluated.append(limit.key)
                    cond = rules.threshold_condition(limit.rule, value, holding(limit.key), baseline, limit.valid_s)
                    if cond is not None:
                        conditions.append(cond)

        wearable = self._technical(sample, conditions, evaluated)
        obs = Observation(sample.ts_ms, sample.device_id, tuple(evaluated), tuple(conditions), news2,
                          detector_info, suppressed)
        return policy.observe(obs, continuous=wearable)

    def _detect(self, clean: VitalSample, news2: News2Summary, news2_cond: Condition | None,
                suppressed: tuple[str, ...], alerting: bool, holding: Callable[[str], bool],
                conditions: list[Condition], evaluated: list[str]) -> DetectorInfo | None:
        """Learn and score the baseline detector; frozen while the patient is alerting."""
        if (clean.heart_rate is None and clean.spo2 is None and clean.resp_rate is None
                and clean.systolic_bp is None and clean.temperature is None):
            return None
        self.detector.frozen = alerting
        result = self.detector.learn_and_score(clean)
        if not result.warm:
            return None
        if self.config.anomaly:
            band_priority = news2_cond.priority if news2_cond is not None else None
            cond = rules.anomaly_condition(result, self._news2_rise(news2.total), holding(rules.ANOMALY_KEY),
                                           self.config, band_priority)
            _judge(rules.ANOMALY_KEY, cond, suppressed, conditions, evaluated)
        return DetectorInfo(DETECTOR_NAME, DETECTOR_VERSION, result.score)

    def _technical(self, sample: VitalSample, conditions: list[Condition], evaluated: list[str]) -> bool:
        """Probe-off and motion conditions; returns whether this is wearable (continuous) data."""
        cfg = self.config
        # CONTINUOUS, spelled out: this runs on every sample.
        wearable = (sample.probe_off or sample.heart_rate is not None or sample.spo2 is not None
                    or sample.resp_rate is not None)
        if wearable:
            evaluated.append(rules.PROBE_KEY)
            if sample.probe_off:
                conditions.append(rules.probe_condition(cfg))
        if sample.motion is not None:
            evaluated.append(rules.MOTION_KEY)
            if sample.motion >= cfg.motion_limit:
                conditions.append(rules.motion_condition(sample.motion, cfg))
        return wearable

    def tick(self, now_ms: int) -> list[Alert]:
        """Advance timers without data (dropout, escalation, resolve hold)."""
        return self.policy.advance(now_ms)

    def acknowledge(self, alert_id: str, by: str, action: str, ts_ms: int | None) -> list[Alert]:
        return self.policy.acknowledge(alert_id, by, action, ts_ms)

    def _suppression(self, sample: VitalSample) -> tuple[str, ...]:
        if sample.probe_off:
            return _PROBE_OFF
        if sample.motion is not None and sample.motion >= self.config.motion_limit:
            return _MOTION
        return ()

    def _news2_rise(self, total: int) -> int:
        return 0 if self.news2_ref is None else int(round(total - self.news2_ref))

    def _learn_news2(self, total: int) -> None:
        if self.news2_ref is None:
            self.news2_ref = float(total)
        else:
            self.news2_ref += _NEWS2_REF_RATE * (total - self.news2_ref)

    # ---- state ------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """[version, id, last_ts, news2_ref, samples, offsets, latest, detector, policy, ward, scale]."""
        return orjson.dumps([
            STATE_VERSION, self.patient_id, self.last_ts, self.news2_ref, self.samples, self.offsets,
            self.latest.to_state(), self.detector.to_state(), self.policy.to_state(), self.ward, self.spo2_scale,
        ])

    @classmethod
    def from_bytes(cls, raw: bytes, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> "PatientEngine":
        doc = orjson.loads(raw)
        version = doc[0]
        if version != STATE_VERSION:
            raise ValueError(f"patient state version {version} is not {STATE_VERSION}")
        doc = doc + [None] * (11 - len(doc))  # ward and scale were appended later
        _, patient_id, last_ts, ref, samples, offsets, latest, detector, policy, ward, scale = doc
        engine = cls(patient_id, config)
        engine.last_ts, engine.news2_ref, engine.samples, engine.offsets = last_ts, ref, samples, offsets
        engine.latest = LatestVitals.from_state(latest)
        engine.detector.load_state(detector)
        engine.policy.load_state(policy)
        engine.ward, engine.spo2_scale = ward, scale
        engine._use(engine.book.for_ward(ward) if engine.book is not None else engine.config)
        return engine


def _never(key: str) -> bool:
    return False


def _judge(key: str, cond: Condition | None, suppressed: tuple[str, ...],
           conditions: list[Condition], evaluated: list[str]) -> None:
    """Record a condition's verdict; on a bad-signal sample only a positive one counts.

    Absence of evidence while SpO2/pulse are suppressed is not recovery: the
    condition's track is left as it was (neither extended nor ended).
    """
    if cond is not None:
        evaluated.append(key)
        conditions.append(cond)
    elif not suppressed:
        evaluated.append(key)

