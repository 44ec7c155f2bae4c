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

from monitor.detector import BaselineDetector
from monitor.detectors.base import PatientDetector
from monitor.detectors.registry import DEFAULT_DETECTOR
from monitor.detectors.registry import create as create_detector
from monitor.latest import Freshness, LatestVitals
from monitor.news2 import Band
from monitor.vitals import PROBE_VITALS, VitalSample

from alerts import rules
from alerts.conditions import Condition
from alerts.config import DEFAULT_CONFIG, PolicyBook, PolicyConfig, ThresholdRule
from alerts.model import Alert, DetectorInfo, News2Summary, new_detector_info, new_news2_summary
from alerts.policy import AlertPolicy, new_observation

#: The engine's settings type, by the name the evaluator imports.
EngineConfig = PolicyConfig

STATE_VERSION = 1
#: How fast the patient's reference NEWS2 follows them while they are well.
_NEWS2_REF_RATE = 0.01
_PROBE_OFF = tuple(f"{v}: probe off" for v in sorted(PROBE_VITALS))
_MOTION = tuple(f"{v}: motion artefact" for v in sorted(PROBE_VITALS))
NEWS2_KEY, PROBE_KEY, MOTION_KEY = rules.NEWS2_KEY, rules.PROBE_KEY, rules.MOTION_KEY
NEWS2_QUIET_BANDS = rules.NEWS2_QUIET_BANDS
#: News2Summary.band is the band's text; str() of each Band, looked up once.
_BAND_TEXT: dict[object, str] = {band: str(band) for band in Band}
#: The policy's own observe: only then may the engine take the quiet path (a
#: subclass that overrides observe, like the fatigue report's, sees every sample).
_OBSERVE = AlertPolicy.observe


def freshness_of(cfg: PolicyConfig) -> Freshness:
    continuous = int(cfg.continuous_max_age_s * 1000)
    intermittent = int(cfg.intermittent_max_age_s * 1000)
    nursing = int(cfg.nursing_max_age_s * 1000)
    return Freshness(
        heart_rate=continuous, spo2=continuous, resp_rate=continuous,
        temperature=intermittent, systolic_bp=intermittent, diastolic_bp=intermittent,
        on_oxygen=nursing, consciousness=nursing,
    )


#: A hard-limit rule prepared for the hot path: (vital, condition key, rule, how long one reading stands,
#: whether below the limit is bad, the limit): the last two let the engine test an untracked rule
#: without a `breached` call (rules are frozen, so they cannot go stale).
_Limit = tuple[str, str, ThresholdRule, float, bool, float]


class PatientEngine:
    __slots__ = ("patient_id", "book", "config", "latest", "detector", "policy", "news2_ref", "last_ts",
                 "offsets", "samples", "ward", "spo2_scale", "adt_ward", "discharged_ms", "_freshness", "_limits",
                 "_detector_spec", "detector_error")

    def __init__(self, patient_id: str, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> None:
        self.patient_id = patient_id
        self.book = config if isinstance(config, PolicyBook) else None
        cfg = self.book.for_ward(None) if self.book is not None else config
        self.config = cfg
        self.latest = LatestVitals()
        self._detector_spec = cfg.detector_spec
        self.detector: PatientDetector = _new_detector(cfg)
        #: Set when the detector raised on a sample ("ExcType: message"): the sample was still
        #: scored by NEWS2 and the hard limits, and the caller dead-letters it with this reason,
        #: then clears it. The engine never lets a detector's failure silence the patient.
        self.detector_error: str | None = None
        self.policy = AlertPolicy(patient_id, cfg)
        self.news2_ref: float | None = None
        self.last_ts: int | None = None
        self.offsets: dict[str, int] = {}  # input source -> last offset folded in (replay dedupe)
        self.samples = 0
        self.ward: str | None = None  # nursing input, remembered until changed
        self.spo2_scale: int | None = None
        #: The ward ADT says the patient is on: it wins over the vitals' `ward` field when set.
        self.adt_ward: str | None = None
        self.discharged_ms: int | None = None  # event time of the ADT discharge, while discharged
        self._use(cfg)

    @property
    def warm(self) -> bool:
        return self.detector.is_warm(self.last_ts or 0)

    # ---- settings per patient ---------------------------------------------
    def _use(self, cfg: PolicyConfig) -> None:
        """Switch to `cfg` (ward change, scale change): the policy keeps its state."""
        self.config = cfg
        self.policy.config = cfg
        spec = cfg.detector_spec
        if spec != self._detector_spec:
            # A ward that runs another detector: this patient's baseline starts over with it.
            self._detector_spec = spec
            self.detector = _new_detector(cfg)
        self._freshness = freshness_of(cfg)
        intermittent = {"systolic_bp", "diastolic_bp", "temperature"}
        self._limits: tuple[_Limit, ...] = tuple(
            (r.vital, f"threshold:{r.name}", r,
             cfg.intermittent_max_age_s if r.vital in intermittent else cfg.max_gap_s,
             r.direction == "below", r.limit)
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
            self._use(self.book.for_ward(self.settings_ward) if self.book is not None else self.config)

    @property
    def settings_ward(self) -> str | None:
        """Whose per-ward settings apply: ADT's ward when known, else the vitals' `ward` field."""
        return self.adt_ward if self.adt_ward is not None else self.ward

    # ---- admission, transfer, discharge (ADT) -------------------------------
    def follow_ward(self, ward: str | None) -> None:
        """ADT moved the patient (or told us where they are): that ward's settings apply from now."""
        if ward == self.adt_ward:
            return
        self.adt_ward = ward
        if self.book is not None:
            self._use(self.book.for_ward(self.settings_ward))

    def discharge(self, ts_ms: int) -> list[Alert]:
        """The patient went home: resolve what is open (reason `discharged`), stop signal-loss alerts."""
        self.discharged_ms = ts_ms
        return self.policy.discharge(ts_ms)

    def readmit(self) -> None:
        """A discharge was cancelled (A13) or the patient was admitted again: monitor as before."""
        self.discharged_ms = None
        self.policy.discharged = False

    # ---- one sample ---------------------------------------------------------
    def process(self, sample: VitalSample) -> list[Alert]:
        """Fold one sample in; returns the alert state changes it caused (often none).

        Runs for every sample of the ward, so the steps are written out inline
        (suppression, detection, hard limits, technical conditions) rather than
        as one method each, and a sample that raises no condition for a patient
        with nothing tracked or open skips building an `Observation`
        (`AlertPolicy.observe_quiet`). The order of the steps is the contract:
        the rules see the policy's tracks as they were before this sample.
        """
        ts = sample.ts_ms
        if self.last_ts is not None and ts <= self.last_ts:
            # Duplicate or late sample: keep what it tells about slow vitals and
            # nursing input, but do not re-run detection on the past.
            self.latest.update(sample)
            return []
        self.last_ts = ts
        self.samples += 1
        # Bad signal (probe off, motion artefact) suppresses SpO2 and pulse for this sample.
        motion = sample.motion
        if sample.probe_off:
            suppressed = _PROBE_OFF
        elif motion is not None and motion >= self.config.motion_limit:
            suppressed = _MOTION
        else:
            suppressed = ()
        clean = sample
        if suppressed and (sample.heart_rate is not None or sample.spo2 is not None):
            clean = dataclasses.replace(sample, heart_rate=None, spo2=None)
        latest = self.latest
        latest.update(clean)
        if sample.spo2_scale is not None or getattr(sample, "ward", None) is not None:
            self._nursing_input(sample)
        cfg = self.config
        policy = self.policy
        score, values = latest.news2_of(ts, self._freshness)
        band = score.band
        news2 = new_news2_summary(score.total, score.components, _BAND_TEXT.get(band) or str(band))
        # Hysteresis applies to what is already tracked; no tracks, nothing holds.
        holding = policy.holding if policy.tracks else None
        conditions: list[Condition] = []
        evaluated: list[str] = []
        baseline = self.detector.baseline

        if suppressed:
            # SpO2 and pulse in the view are from before the signal went bad:
            # NEWS2 is judged on the other parameters only, and says so.
            news2 = rules.news2_without(news2, PROBE_VITALS)
        news2_cond = None
        if cfg.news2:
            active = holding is not None and holding(NEWS2_KEY)
            # news2_condition's own first test, without the call: a low band raises nothing
            # unless a tracked condition still holds at 3 or more (most samples).
            if news2.band not in NEWS2_QUIET_BANDS or (active and news2.total >= 3):
                news2_cond = rules.news2_condition(news2, values, active, cfg, baseline)
            if news2_cond is not None:
                evaluated.append(NEWS2_KEY)
                conditions.append(news2_cond)
            elif not suppressed:
                evaluated.append(NEWS2_KEY)

        alerting = policy.alerting
        detector_info = None
        if (clean.heart_rate is not None or clean.spo2 is not None or clean.resp_rate is not None
                or clean.systolic_bp is not None or clean.temperature is not None):
            detector_info = self._detect(clean, news2, news2_cond, suppressed, alerting, holding, conditions,
                                         evaluated)
        if not alerting and not suppressed:
            # The patient's own NEWS2 reference learns only while nothing is alerting.
            ref, total = self.news2_ref, news2.total
            self.news2_ref = float(total) if ref is None else ref + _NEWS2_REF_RATE * (total - ref)

        if cfg.threshold:
            threshold_condition = rules.threshold_condition
            for vital, key, rule, valid_s, below, limit in self._limits:
                value = getattr(clean, vital)
                if value is not None:
                    evaluated.append(key)
                    active = holding is not None and holding(key)
                    # threshold_condition's own first test: no condition inside the limit
                    # (`rule.breached(value, active)`, written out for the usual untracked rule).
                    if active:
                        if not rule.breached(value, True):
                            continue
                    elif not (value < limit if below else value > limit):
                        continue
                    cond = threshold_condition(rule, value, active, baseline, valid_s)
                    if cond is not None:
                        conditions.append(cond)

        # Probe-off and motion conditions; CONTINUOUS spelled out (wearable data, for signal loss).
        probe_off = sample.probe_off
        wearable = (probe_off or sample.heart_rate is not None or sample.spo2 is not None
                    or sample.resp_rate is not None)
        if wearable:
            evaluated.append(PROBE_KEY)
            if probe_off:
                conditions.append(rules.probe_condition(cfg))
        if motion is not None:
            evaluated.append(MOTION_KEY)
            if motion >= cfg.motion_limit:
                conditions.append(rules.motion_condition(motion, cfg))

        if not conditions and holding is None and not policy.episodes and type(policy).observe is _OBSERVE:
            return policy.observe_quiet(ts, sample.device_id, news2, detector_info, suppressed, wearable)
        obs = new_observation(ts, sample.device_id, tuple(evaluated), tuple(conditions), news2, detector_info,
                              suppressed)
        return policy.observe(obs, continuous=wearable)

    def _detect(self, clean: VitalSample, news2: News2Summary, news2_cond: Condition | None,
                suppressed: tuple[str, ...], alerting: bool, holding: Callable[[str], bool] | None,
                conditions: list[Condition], evaluated: list[str]) -> DetectorInfo | None:
        """Learn and score the baseline detector (the sample has a vital); frozen while the patient is alerting."""
        detector = self.detector
        detector.frozen = alerting
        try:
            result = detector.learn_and_score(clean)
        except Exception as exc:  # noqa: BLE001 - any detector bug: dead-letter this sample, keep the patient
            self.detector_error = f"{detector.NAME}: {type(exc).__name__}: {exc}"
            return None
        if not result.warm:
            return None
        if self.config.anomaly:
            band_priority = news2_cond.priority if news2_cond is not None else None
            cond = rules.anomaly_condition(result, self._news2_rise(news2.total),
                                           holding is not None and holding(rules.ANOMALY_KEY), self.config,
                                           band_priority)
            _judge(rules.ANOMALY_KEY, cond, suppressed, conditions, evaluated)
        return new_detector_info(detector.NAME, detector.VERSION, result.score)

    def tick(self, now_ms: int) -> list[Alert]:
        """Advance timers without data (dropout, escalation, resolve hold)."""
        return self.policy.advance(now_ms)

    def acknowledge(self, alert_id: str, by: str, action: str, ts_ms: int | None) -> list[Alert]:
        return self.policy.acknowledge(alert_id, by, action, ts_ms)

    def _news2_rise(self, total: int) -> int:
        return 0 if self.news2_ref is None else int(round(total - self.news2_ref))

    # ---- state ------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """[version, id, last_ts, news2_ref, samples, offsets, latest, detector, policy, ward, scale,
        adt_ward, discharged_ms]."""
        return orjson.dumps([
            STATE_VERSION, self.patient_id, self.last_ts, self.news2_ref, self.samples, self.offsets,
            self.latest.to_state(), self.detector.to_state(), self.policy.to_state(), self.ward, self.spo2_scale,
            self.adt_ward, self.discharged_ms,
        ])

    @classmethod
    def from_bytes(cls, raw: bytes, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> "PatientEngine":
        doc = orjson.loads(raw)
        version = doc[0]
        if version != STATE_VERSION:
            raise ValueError(f"patient state version {version} is not {STATE_VERSION}")
        doc = doc + [None] * (13 - len(doc))  # ward, scale, then the ADT fields were appended later
        _, patient_id, last_ts, ref, samples, offsets, latest, detector, policy, ward, scale, adt_ward, out = doc
        engine = cls(patient_id, config)
        engine.last_ts, engine.news2_ref, engine.samples, engine.offsets = last_ts, ref, samples, offsets
        engine.latest = LatestVitals.from_state(latest)
        engine.ward, engine.spo2_scale = ward, scale
        engine.adt_ward, engine.discharged_ms = adt_ward, out
        engine._use(engine.book.for_ward(engine.settings_ward) if engine.book is not None else engine.config)
        # after _use: the ward's detector is the one whose state this is
        if _state_matches(engine.detector, detector):
            engine.detector.load_state(detector)
        engine.policy.load_state(policy)
        engine.policy.discharged = out is not None
        return engine


def _new_detector(cfg: PolicyConfig) -> PatientDetector:
    """The ward's detector; the default one built directly (no registry lookup per new patient)."""
    if cfg.detector == DEFAULT_DETECTOR and not cfg.detector_params:
        return BaselineDetector(warmup_samples=cfg.warmup_samples, warmup_s=cfg.warmup_s)
    return create_detector(cfg.detector_spec, cfg.warmup_samples, cfg.warmup_s)


def _state_matches(detector: PatientDetector, state: object) -> bool:
    """Whether a checkpointed detector state is this detector's kind: after a policy change that
    swapped the ward's detector, the old state is dropped and the new detector warms up afresh."""
    if isinstance(state, dict):
        return state.get("detector") == detector.NAME
    return isinstance(detector, BaselineDetector)


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

