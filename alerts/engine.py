"""Everything wardwatch knows about one patient, and what one sample does to it.

`PatientEngine` is the single domain entry point shared by the stream worker,
the benchmark and the evaluator: sample in → NEWS2 from the rolling view →
baseline detector → rules → policy → alert state changes out. It is pure
(no Kafka, no clock), so a replay of the same input gives the same alerts,
and its state serializes to a few hundred bytes of explicit JSON.
"""

from __future__ import annotations

import dataclasses

import orjson

from monitor.detector import NAME as DETECTOR_NAME
from monitor.detector import VERSION as DETECTOR_VERSION
from monitor.detector import BaselineDetector
from monitor.latest import Freshness, LatestVitals
from monitor.vitals import CONTINUOUS, PROBE_VITALS, VitalSample

from alerts import rules
from alerts.config import DEFAULT_CONFIG, PolicyConfig
from alerts.model import Alert, DetectorInfo, News2Summary
from alerts.policy import AlertPolicy, Observation

STATE_VERSION = 1
#: How fast the patient's reference NEWS2 follows them while they are well.
_NEWS2_REF_RATE = 0.01


def freshness_of(cfg: PolicyConfig) -> Freshness:
    continuous = int(cfg.continuous_max_age_s * 1000)
    intermittent = int(cfg.intermittent_max_age_s * 1000)
    nursing = int(cfg.nursing_max_age_s * 1000)
    return Freshness(
        heart_rate=continuous, spo2=continuous, resp_rate=continuous,
        temperature=intermittent, systolic_bp=intermittent, diastolic_bp=intermittent,
        on_oxygen=nursing, consciousness=nursing,
    )


class PatientEngine:
    __slots__ = ("patient_id", "config", "latest", "detector", "policy", "news2_ref", "last_ts",
                 "offsets", "samples", "_freshness")

    def __init__(self, patient_id: str, config: PolicyConfig = DEFAULT_CONFIG) -> None:
        self.patient_id = patient_id
        self.config = config
        self.latest = LatestVitals()
        self.detector = BaselineDetector(warmup_samples=config.warmup_samples, warmup_s=config.warmup_s)
        self.policy = AlertPolicy(patient_id, config)
        self.news2_ref: float | None = None
        self.last_ts: int | None = None
        self.offsets: dict[str, int] = {}  # input source -> last offset folded in (replay dedupe)
        self.samples = 0
        self._freshness = freshness_of(config)

    @property
    def warm(self) -> bool:
        return any(self.detector._warm(b, self.last_ts or 0) for b in self.detector.vitals.values())

    def process(self, sample: VitalSample) -> list[Alert]:
        """Fold one sample in; returns the alert state changes it caused (often none)."""
        if self.last_ts is not None and sample.ts_ms <= self.last_ts:
            # Duplicate or late sample: keep what it tells about slow vitals and
            # nursing input, but do not re-run detection on the past.
            self.latest.update(sample)
            return []
        self.last_ts = sample.ts_ms
        self.samples += 1
        cfg = self.config
        suppressed = self._suppression(sample)
        clean = sample
        if suppressed and (sample.heart_rate is not None or sample.spo2 is not None):
            clean = dataclasses.replace(sample, heart_rate=None, spo2=None)
        self.latest.update(clean)
        view = self.latest.score(sample.ts_ms, self._freshness)
        news2 = News2Summary(view.news2.total, dict(view.news2.components), str(view.news2.band))
        holding = self.policy.holding  # hysteresis only once an episode is paging
        conditions, evaluated = [], set()

        if cfg.news2:
            evaluated.add(rules.NEWS2_KEY)
            conditions.append(rules.news2_condition(news2, view.values, holding(rules.NEWS2_KEY), cfg))

        detector_info = None
        if any(getattr(clean, v) is not None for v in ("heart_rate", "spo2", "resp_rate", "systolic_bp", "temperature")):
            self.detector.frozen = self.policy.alerting
            result = self.detector.learn_and_score(clean)
            if result.warm:
                detector_info = DetectorInfo(DETECTOR_NAME, DETECTOR_VERSION, result.score)
                if cfg.anomaly:
                    evaluated.add(rules.ANOMALY_KEY)
                    rise = self._news2_rise(news2.total)
                    conditions.append(rules.anomaly_condition(result, rise, holding(rules.ANOMALY_KEY), cfg))
        if not self.policy.alerting:
            self._learn_news2(news2.total)

        if cfg.threshold:
            for rule in cfg.thresholds:
                value = getattr(clean, rule.vital)
                if value is not None:
                    key = f"threshold:{rule.name}"
                    evaluated.add(key)
                    conditions.append(rules.threshold_condition(rule, value, holding(key)))

        wearable = sample.probe_off or any(getattr(sample, v) is not None for v in CONTINUOUS)
        if wearable:
            evaluated.add(rules.PROBE_KEY)
            if sample.probe_off:
                conditions.append(rules.probe_condition(cfg))
        if sample.motion is not None:
            evaluated.add(rules.MOTION_KEY)
            if sample.motion >= cfg.motion_limit:
                conditions.append(rules.motion_condition(sample.motion, cfg))

        obs = Observation(
            ts_ms=sample.ts_ms,
            device_id=sample.device_id,
            evaluated=frozenset(evaluated),
            conditions=tuple(c for c in conditions if c is not None),
            news2=news2,
            detector=detector_info,
            suppressed=suppressed,
        )
        return self.policy.observe(obs, continuous=wearable)

    def tick(self, now_ms: int) -> list[Alert]:
        """Advance timers without data (dropout, escalation, resolve hold)."""
        return self.policy.advance(now_ms)

    def acknowledge(self, alert_id: str, by: str, action: str, ts_ms: int | None) -> list[Alert]:
        return self.policy.acknowledge(alert_id, by, action, ts_ms)

    def _suppression(self, sample: VitalSample) -> tuple[str, ...]:
        if sample.probe_off:
            return tuple(f"{v}: probe off" for v in sorted(PROBE_VITALS))
        if sample.motion is not None and sample.motion >= self.config.motion_limit:
            return tuple(f"{v}: motion artefact" for v in sorted(PROBE_VITALS))
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
        return orjson.dumps([
            STATE_VERSION, self.patient_id, self.last_ts, self.news2_ref, self.samples, self.offsets,
            self.latest.to_state(), self.detector.to_state(), self.policy.to_state(),
        ])

    @classmethod
    def from_bytes(cls, raw: bytes, config: PolicyConfig = DEFAULT_CONFIG) -> "PatientEngine":
        version, patient_id, last_ts, ref, samples, offsets, latest, detector, policy = orjson.loads(raw)
        if version != STATE_VERSION:
            raise ValueError(f"patient state version {version} is not {STATE_VERSION}")
        engine = cls(patient_id, config)
        engine.last_ts, engine.news2_ref, engine.samples, engine.offsets = last_ts, ref, samples, offsets
        engine.latest = LatestVitals.from_state(latest)
        engine.detector.load_state(detector)
        engine.policy.load_state(policy)
        return engine
