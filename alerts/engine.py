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
from collections.abc import Callable
from typing import Any, cast

import orjson

from alerts import rules
from alerts.conditions import Condition
from alerts.config import DEFAULT_CONFIG, PolicyBook, PolicyConfig, ThresholdRule
from alerts.model import Alert, DetectorInfo, News2Summary, new_detector_info, new_news2_summary
from alerts.policy import AlertPolicy, new_observation
from alerts.stream_view import STREAMED, StreamView
from monitor.detector import Z_JOIN, BaselineDetector
from monitor.detectors.base import PatientDetector
from monitor.detectors.registry import DEFAULT_DETECTOR
from monitor.detectors.registry import create as create_detector
from monitor.latest import Freshness, LatestVitals
from monitor.news2 import Band, News2Score
from monitor.news2 import _score as score_news2_positional
from monitor.vitals import EXERTION_VITALS, MOTION_VITALS, PROBE_VITALS, Method, VitalSample

#: The engine's settings type, by the name the evaluator imports.
EngineConfig = PolicyConfig

#: 2 appended the data shape per source and the last continuous sample (version 1 loads).
STATE_VERSION = 2
_STATE_VERSIONS = (1, 2)
#: How fast the patient's reference NEWS2 follows them while they are well.
_NEWS2_REF_RATE = 0.01
_PROBE_OFF = tuple(f"{v}: probe off" for v in sorted(PROBE_VITALS))
_MOTION = tuple(f"{v}: motion artefact" for v in sorted(MOTION_VITALS))
#: What a bad signal voids in a sample (keyword arguments for `dataclasses.replace`).
_VOID_PROBE: dict[str, Any] = dict.fromkeys(sorted(PROBE_VITALS))
_VOID_MOTION: dict[str, Any] = dict.fromkeys(sorted(MOTION_VITALS))
_VOID_NONE: dict[str, Any] = {}
NEWS2_KEY, PROBE_KEY, MOTION_KEY = rules.NEWS2_KEY, rules.PROBE_KEY, rules.MOTION_KEY
NEWS2_QUIET_BANDS = rules.NEWS2_QUIET_BANDS
#: News2Summary.band is the band's text; str() of each Band, looked up once.
_BAND_TEXT: dict[object, str] = {band: str(band) for band in Band}
#: The policy's own observe: only then may the engine take the quiet path (a
#: subclass that overrides observe, like the fatigue report's, sees every sample).
_OBSERVE = AlertPolicy.observe


# ---- data shape: a continuous stream or intermittent observations ----------
#: What the engine knows of one source (device id): [last ts, short gaps in a row, shape, cadence ms].
_UNKNOWN, _STREAM, _CHARTED = 0, 1, 2
#: Gaps in a row, each within `signal_loss_s`, before a source counts as a continuous
#: stream: three chart entries landing within 2 min (two short gaps) stay observations.
STREAM_MIN_GAPS = 5
#: A new (or resumed) source of a patient whose stream was seen this recently is taken as
#: that stream continuing (a device swap, a reconnect) until its own gaps tell.
STREAM_RECALL_MS = 15 * 60_000
#: On a stream sampled slower than every `max_gap_s / 2.5` (a bedside monitor sending once a
#: minute), a condition stays valid for 2.5 sampling intervals, so persistence can build at all:
#: with 60 s between samples and `max_gap_s` 60 s, every track started over on the next sample.
_CADENCE_GAPS = 2.5
#: Sources remembered per patient (the least recently seen is forgotten beyond this).
MAX_SOURCES = 8


def freshness_of(cfg: PolicyConfig) -> Freshness:
    continuous = int(cfg.continuous_max_age_s * 1000)
    intermittent = int(cfg.intermittent_max_age_s * 1000)
    nursing = int(cfg.nursing_max_age_s * 1000)
    return Freshness(
        heart_rate=continuous,
        spo2=continuous,
        resp_rate=continuous,
        temperature=intermittent,
        systolic_bp=intermittent,
        diastolic_bp=intermittent,
        on_oxygen=nursing,
        consciousness=nursing,
    )


def charted_freshness_of(cfg: PolicyConfig) -> Freshness:
    """Freshness without a continuous stream: a charted HR, SpO2 or RR stands for the
    patient until the next observation round, as BP and temperature do."""
    intermittent = int(cfg.intermittent_max_age_s * 1000)
    nursing = int(cfg.nursing_max_age_s * 1000)
    return Freshness(
        heart_rate=intermittent,
        spo2=intermittent,
        resp_rate=intermittent,
        temperature=intermittent,
        systolic_bp=intermittent,
        diastolic_bp=intermittent,
        on_oxygen=nursing,
        consciousness=nursing,
    )


#: A hard-limit rule prepared for the hot path: (vital, condition key, rule, how long one reading stands,
#: whether below the limit is bad, the limit): the last two let the engine test an untracked rule
#: without a `breached` call (rules are frozen, so they cannot go stale).
_Limit = tuple[str, str, ThresholdRule, float, bool, float]


class PatientEngine:
    __slots__ = (
        "_charted",
        "_detector_spec",
        "_freshness",
        "_gap_ms",
        "_limits",
        "_max_gap_ms",
        "active",
        "adt_ward",
        "book",
        "config",
        "detector",
        "detector_error",
        "discharged_ms",
        "last_ts",
        "latest",
        "news2_ref",
        "offsets",
        "patient_id",
        "policy",
        "samples",
        "sources",
        "spo2_scale",
        "stream_ms",
        "view",
        "ward",
    )

    def __init__(self, patient_id: str, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> None:
        self.patient_id = patient_id
        self.book = config if isinstance(config, PolicyBook) else None
        cfg = config.for_ward(None) if isinstance(config, PolicyBook) else config
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
        # Data shape per source: device id -> [last ts, short gaps in a row, shape].
        self.sources: dict[str, list[int]] = {}
        self.stream_ms: int | None = None  # last sample of a continuous stream
        # The last continuous readings, their medians and jumps (only the last few, the
        # median's input, go with the state; the jump reference refills after a restart).
        self.view = StreamView()
        #: [first, last] event time of the patient's current bout of activity (exertion), or None.
        self.active: list[int] | None = None
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
        self._charted = charted_freshness_of(cfg)
        self._gap_ms = int(cfg.signal_loss_s * 1000)
        self._max_gap_ms = int(cfg.max_gap_s * 1000)
        intermittent = {"systolic_bp", "diastolic_bp", "temperature"}
        self._limits: tuple[_Limit, ...] = tuple(
            (
                r.vital,
                f"threshold:{r.name}",
                r,
                cfg.intermittent_max_age_s if r.vital in intermittent else cfg.max_gap_s,
                r.direction == "below",
                r.limit,
            )
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
            # cast: `latest` holds the scale as parse validated it, an int (1 or 2)
            scale = cast(int, held[0]) if held is not None else sample.spo2_scale
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
        (`AlertPolicy.observe_quiet`): measured engine 22.1 -> 19.2 µs per sample
        (92e4b7a). The order of the steps is the contract: the rules see the
        policy's tracks as they were before this sample.
        """
        ts = sample.ts_ms
        if self.last_ts is not None and ts <= self.last_ts:
            # Duplicate or late sample: keep what it tells about slow vitals and
            # nursing input, but do not re-run detection on the past.
            self.latest.update(sample)
            return []
        self.last_ts = ts
        self.samples += 1
        # Data shape of this sample's source; the usual case (a known stream going on) inline:
        # then the patient is streaming, nothing counts on arrival, and freshness is the stream's.
        src = self.sources.get(sample.device_id)
        if src is not None and src[2] == _STREAM and ts - src[0] <= self._gap_ms and sample.method is None:
            src[3] += (ts - src[0] - src[3]) >> 3  # the stream's cadence (ms, mean of ~8 gaps)
            src[0] = self.stream_ms = ts
            self.policy.cadence_ms = src[3]
            continuous, observation, fresh = True, False, self._freshness
        else:
            continuous, observation, fresh = self._judge_shape(sample, src, ts)
        # Bad signal suppresses what it voids for this sample: probe off SpO2 and pulse, motion RR too.
        motion = sample.motion
        if sample.probe_off:
            suppressed, voided = _PROBE_OFF, _VOID_PROBE
        elif motion is not None and motion >= self.config.motion_limit:
            suppressed, voided = _MOTION, _VOID_MOTION
        else:
            suppressed, voided = (), _VOID_NONE
        clean = sample
        if voided and any(getattr(sample, v) is not None for v in voided):
            clean = dataclasses.replace(sample, **voided)
        # What NEWS2 sees: without HR and RR measured during exertion (the jump checks see
        # them: a burst during a walk is still a burst).
        rest = clean
        if motion is not None and continuous and (self.active is not None or motion >= self.config.exertion_motion):
            rest = self._resting(clean, ts, motion)
        latest = self.latest
        latest.update(rest)
        if sample.spo2_scale is not None or getattr(sample, "ward", None) is not None:
            self._nursing_input(sample)
        cfg = self.config
        policy = self.policy
        score, values = latest.news2_of(ts, fresh)
        # The raw readings would score low-medium or worse: the median may outvote them, but
        # a jump among them is still looked for (so a burst's values are not carried forward).
        raw_alarm = continuous and _BAND_TEXT.get(score.band) not in NEWS2_QUIET_BANDS
        if raw_alarm and cfg.news2_median_readings > 1:
            score, values = self._robust_news2(ts, rest, score, values, exerting=rest is not clean)
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
            news2 = rules.news2_without(news2, voided)
        news2_cond = None
        if cfg.news2:
            active = holding is not None and holding(NEWS2_KEY)
            # news2_condition's own first test, without the call: a low band raises nothing
            # unless a tracked condition still holds at 3 or more (most samples).
            if news2.band not in NEWS2_QUIET_BANDS or (active and news2.total >= 3):
                news2_cond = rules.news2_condition(news2, values, active, cfg, baseline)
            if news2_cond is not None:
                if observation:
                    news2_cond = self._on_arrival(news2_cond)
                evaluated.append(NEWS2_KEY)
                conditions.append(news2_cond)
            elif not suppressed:
                evaluated.append(NEWS2_KEY)

        view = self.view
        if view.suspect:  # read again: the vital's new reading stands for it
            view.reread(clean)
        alerting = policy.alerting
        detector_info = None
        if (
            clean.heart_rate is not None
            or clean.spo2 is not None
            or clean.resp_rate is not None
            or clean.systolic_bp is not None
            or clean.temperature is not None
        ):
            detector_info = self._detect(clean, news2, news2_cond, suppressed, alerting, holding, conditions, evaluated)
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
                        # Not on arrival for a set: there the chart's band is the instrument (each hard
                        # limit scores 3 and pages through NEWS2); a rule without persistence (sbp_low)
                        # counts at once anyway.
                        conditions.append(cond)

        # Probe-off and motion conditions.
        probe_off = sample.probe_off
        if probe_off or sample.heart_rate is not None or sample.spo2 is not None or sample.resp_rate is not None:
            evaluated.append(PROBE_KEY)
            if probe_off:
                conditions.append(rules.probe_condition(cfg))
        if motion is not None:
            evaluated.append(MOTION_KEY)
            if motion >= cfg.motion_limit:
                conditions.append(rules.motion_condition(motion, cfg))

        if continuous:
            if view.run is not None:
                view.end_run(clean)
            if conditions or raw_alarm:
                src = self.sources.get(sample.device_id)
                if conditions and src is not None and src[3] * _CADENCE_GAPS > self._max_gap_ms:
                    conditions = self._stretched(conditions, src[3] * _CADENCE_GAPS / 1000.0)
                self._artefact_check(clean, ts, conditions, src[3] if src is not None else 0, raw_alarm)
            # After the check: it compares this reading with the ones before (the reference
            # leaves out the last 10 s anyway), and learns which jumped vitals were read again.
            view.remember(ts, clean)
        # Signal loss watches continuous streams only: a gap between observation rounds is not one.
        if not conditions and holding is None and not policy.episodes and type(policy).observe is _OBSERVE:
            return policy.observe_quiet(ts, sample.device_id, news2, detector_info, suppressed, continuous)
        obs = new_observation(
            ts, sample.device_id, tuple(evaluated), tuple(conditions), news2, detector_info, suppressed
        )
        return policy.observe(obs, continuous=continuous)

    # ---- exertion -------------------------------------------------------------
    def _resting(self, clean: VitalSample, ts: int, motion: float) -> VitalSample:
        """The sample as a resting observation: without HR and RR while the patient is up and about.

        Walking raises HR by 15-30 and RR by 3-7 for minutes, which is NEWS2 5 in a patient
        whose resting score is 2: an independent generator's walks paged medium ~12 % of the
        time. NEWS2 is an observation at rest, so during activity (`exertion_motion` up to
        `motion_limit`) and for `exertion_recovery_s` after its last active reading (HR and
        RR take minutes to settle, and one reading of a walk whose index dipped below the
        threshold stood for the rest of it), the last resting HR and RR stand, while fresh.
        Bounded: the bout's clock starts at its first active reading and starts over only
        after `exertion_rest_s` without activity, and after `exertion_max_s` the readings
        count again, so an agitated patient (a warning sign) is not explained away. SpO2 always
        counts: desaturation on exertion is a finding. The hard limits and the jump checks
        see the readings as they are (a motion burst during a walk is still a burst), and
        the baseline detector its own exertion rule (measured: giving it this view too
        raised the matrix's long-burst cells from 0.83 to 1.00-1.17 false alerts a day).
        """
        cfg = self.config
        if motion >= cfg.motion_limit:
            return clean  # motion artefact (suppressed as such), not a bout of activity
        active = self.active
        if motion < cfg.exertion_motion:
            if active is None:
                return clean
            since = ts - active[1]
            if since > cfg.exertion_rest_s * 1000:
                self.active = None
                return clean
            if since > cfg.exertion_recovery_s * 1000:
                return clean
            # Recovering (or the index dipped for a reading): HR and RR are still the walk's.
        elif active is None or ts - active[1] > cfg.exertion_rest_s * 1000:
            active = self.active = [ts, ts]
            self._carry_settled(ts)
        else:
            if ts - active[1] > cfg.exertion_recovery_s * 1000:
                # Active again within the bout, after readings that counted: those may be a
                # burst's (the robustness matrix at 96 patients, 1 s, long unflagged bursts: a
                # burst's motion spike froze HR 120 / RR 26 for the 2 min recovery, and NEWS2 5
                # paged after the hold with HR 65 / RR 19 on the monitor).
                self._carry_settled(ts)
            active[1] = ts
        if ts - active[0] > cfg.exertion_max_s * 1000 or (clean.heart_rate is None and clean.resp_rate is None):
            return clean
        return dataclasses.replace(clean, heart_rate=None, resp_rate=None)

    def _carry_settled(self, ts: int) -> None:
        """A bout (or an active stretch after counted readings) begins: the HR and RR that
        stand for it are the median of the two minutes before, not the last single reading.
        On our own matrix a burst that ran into a walk left its RR 26 standing for the whole
        walk, and NEWS2 paged medium on it."""
        hr, rr = self.view.settled(ts)
        latest = self.latest
        if hr is not None:
            latest.revalue("heart_rate", hr)
        if rr is not None:
            latest.revalue("resp_rate", rr)

    # ---- data shape ----------------------------------------------------------
    def _judge_shape(self, sample: VitalSample, src: list[int] | None, ts: int) -> tuple[bool, bool, Freshness]:
        """(continuous, observation, freshness) of a sample off the usual path.

        Without a live stream of the patient every NEWS2 input is charted: each set is a
        deliberate measurement and counts on arrival (so does one the gateway marks, and
        an unproven source's HR/SpO2/RR), scored with the observation round's freshness.
        """
        continuous = self._shape(sample, src)
        if continuous:
            self.stream_ms = ts
            self.policy.cadence_ms = self.sources[sample.device_id][3]
        stream_ms = self.stream_ms
        live = stream_ms is not None and ts - stream_ms <= self._freshness.heart_rate
        observation = not continuous and (
            sample.method is Method.OBSERVATION_SET
            or not live
            or sample.heart_rate is not None
            or sample.resp_rate is not None
            or sample.spo2 is not None
        )
        # a live stream: its HR, SpO2, RR are minutes fresh at most (else charted, or aged since the stream)
        fresh = self._freshness if live else self._charted if stream_ms is None else self._after_stream(ts, stream_ms)
        return continuous, observation, fresh

    def _shape(self, sample: VitalSample, src: list[int] | None) -> bool:
        """Whether this sample continues a continuous stream (else it is an observation).

        Inferred per source from its gaps: `STREAM_MIN_GAPS` gaps in a row within
        `signal_loss_s` make a stream, one longer gap makes it intermittent again. A
        source still unproven is the patient's stream continuing if one was seen in
        the last `STREAM_RECALL_MS` (a device swap), else an observation. The
        contract's `method`, when a gateway sends it, decides instead.
        """
        ts = sample.ts_ms
        sources = self.sources
        if src is None:
            if len(sources) >= MAX_SOURCES:
                del sources[min(sources, key=lambda d: sources[d][0])]
            # A swapped device takes over the cadence of the stream it replaces (until its own
            # gaps tell): at cadence 0 a once-a-minute monitor's conditions were not stretched
            # over its sampling interval, and every track started over at the swap.
            src = sources[sample.device_id] = [ts, 0, _UNKNOWN, _stream_cadence(sources)]
        else:
            gap = ts - src[0]
            if 0 < gap <= self._gap_ms:
                src[3] = gap if not src[3] else src[3] + ((gap - src[3]) >> 3)
            if gap <= self._gap_ms:
                src[1] += 1
                if src[1] >= STREAM_MIN_GAPS:
                    src[2] = _STREAM
            else:
                src[1] = 0
                if not (src[2] == _STREAM and self._recalls(ts)):
                    src[2] = _CHARTED  # a stream back after a dropout stays one; otherwise rounds
            src[0] = max(src[0], ts)
        method = sample.method
        if method is not None:
            src[2] = _STREAM if method is Method.CONTINUOUS else _CHARTED
            return method is Method.CONTINUOUS
        if src[2] == _STREAM:
            return True
        if src[2] != _UNKNOWN:
            return False
        # An unproven source is a stream if it reports sensor quality (a motion index or probe-off:
        # a chart never does), or if it brings HR/SpO2/RR while the patient was just streaming
        # (the stream, swapped). Else its first sample is an observation set and counts on arrival.
        return (
            sample.motion is not None
            or sample.probe_off
            or (
                self._recalls(ts)
                and (sample.heart_rate is not None or sample.spo2 is not None or sample.resp_rate is not None)
            )
        )

    def _recalls(self, ts: int) -> bool:
        return self.stream_ms is not None and ts - self.stream_ms <= STREAM_RECALL_MS

    @staticmethod
    def _stretched(conditions: list[Condition], valid_s: float) -> list[Condition]:
        return [c if c.valid_s >= valid_s else dataclasses.replace(c, valid_s=valid_s) for c in conditions]

    def _after_stream(self, ts: int, stream_ms: int) -> Freshness:
        """Charted freshness once a stream has gone quiet: what the stream left (at or before
        its last sample) has expired as stream data does; a charted value since stands."""
        gone = min(max(1, ts - stream_ms - 1), self._charted.heart_rate)
        return dataclasses.replace(self._charted, heart_rate=gone, spo2=gone, resp_rate=gone)

    def shape_of(self, device_id: str) -> Method | None:
        """What the engine takes `device_id`'s data for (None: not known yet)."""
        src = self.sources.get(device_id)
        if src is None or src[2] == _UNKNOWN:
            return None
        return Method.CONTINUOUS if src[2] == _STREAM else Method.OBSERVATION_SET

    def _on_arrival(self, cond: Condition) -> Condition:
        """An observation set's condition: it counts at once and stands until the next round."""
        return dataclasses.replace(
            cond, persistence_s=0.0, integral=0.0, valid_s=max(cond.valid_s, self.config.intermittent_max_age_s)
        )

    # ---- a robust view of a stream (alerts/stream_view.py) -----------------------------
    def _robust_news2(
        self, ts: int, clean: VitalSample, score: News2Score, values: dict[str, Any], exerting: bool = False
    ) -> tuple[News2Score, dict[str, Any]]:
        """NEWS2 of a stream scored on the median of each streamed vital's last readings.

        Once a NEWS2 track is alive (it holds at 3 or more), one noisy reading would confirm
        a medium page; the median of the last `news2_median_readings` readings is the set
        RCP scores. Only a sample that would otherwise score low-medium or worse pays for it.
        """
        medians = self.view.robust_readings(ts, clean, self.config.news2_median_readings)
        robust: dict[str, Any] | None = None
        for name, median in zip(STREAMED, medians, strict=True):
            if exerting and name in EXERTION_VITALS:
                continue  # the last readings' HR and RR are the walk's, not the resting values NEWS2 holds
            if median is not None and name in values and median != values[name]:
                if robust is None:
                    robust = dict(values)
                robust[name] = median
        if robust is None:
            return score, values
        get = robust.get
        rescored = score_news2_positional(
            get("resp_rate"),
            get("spo2"),
            get("spo2_scale", 1),
            get("on_oxygen", False),
            get("systolic_bp"),
            get("heart_rate"),
            get("consciousness", "A"),
            get("temperature"),
        )
        return rescored, robust

    def _artefact_check(
        self, clean: VitalSample, ts: int, conditions: list[Condition], cadence_ms: int, raw_alarm: bool = False
    ) -> None:
        """Hold pages once when several vitals jumped together, faster than physiology allows.

        Runs only on continuous samples with a condition present (or raw readings that
        would score low-medium, which the median may have outvoted). A vital that jumped
        is not carried forward into later readings that lack it: on a stream with gaps,
        one burst's value kept a condition's persistence running on no new reading.
        """
        policy = self.policy
        # Only a condition that could page now matters: none while an open episode's
        # conditions hold at its level (the common case of an alerting patient).
        if not raw_alarm and not policy.paging(conditions):
            return
        flagged = clean.motion is not None and clean.motion >= self.config.motion_limit
        jumps = self.view.jumps(clean, ts, cadence_ms, flagged)
        for name in jumps.new:
            self.latest.forget(name, ts)
        if jumps.hold:
            policy.hold(ts, ts + int(self.config.artefact_hold_s * 1000), conditions)

    def _detect(
        self,
        clean: VitalSample,
        news2: News2Summary,
        news2_cond: Condition | None,
        suppressed: tuple[str, ...],
        alerting: bool,
        holding: Callable[[str], bool] | None,
        conditions: list[Condition],
        evaluated: list[str],
    ) -> DetectorInfo | None:
        """Learn and score the baseline detector (the sample has a vital); frozen while the patient is alerting."""
        detector = self.detector
        detector.frozen = alerting
        try:
            result = detector.learn_and_score(clean)
        except Exception as exc:
            self.detector_error = f"{detector.NAME}: {type(exc).__name__}: {exc}"
            return None
        if not result.warm:
            return None
        if self.config.anomaly:
            band_priority = news2_cond.priority if news2_cond is not None else None
            cond = rules.anomaly_condition(
                result,
                self._news2_rise(news2.total),
                holding is not None and holding(rules.ANOMALY_KEY),
                self.config,
                band_priority,
            )
            suspect = self.view.suspect
            if cond is not None and suspect and result.named(Z_JOIN)[0] in suspect:
                # The detector still scores a vital from its last reading, and that reading
                # jumped like an artefact and has not been read again: no evidence, the
                # condition starts over (as NEWS2 no longer carries the value forward).
                cond = None
            _judge(rules.ANOMALY_KEY, cond, suppressed, conditions, evaluated)
        return new_detector_info(detector.NAME, detector.VERSION, result.score)

    def tick(self, now_ms: int) -> list[Alert]:
        """Advance timers without data (dropout, escalation, resolve hold)."""
        return self.policy.advance(now_ms)

    def acknowledge(self, alert_id: str, by: str, action: str, ts_ms: int | None) -> list[Alert]:
        return self.policy.acknowledge(alert_id, by, action, ts_ms)

    def _news2_rise(self, total: int) -> int:
        return 0 if self.news2_ref is None else round(total - self.news2_ref)

    # ---- state ------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """[version, id, last_ts, news2_ref, samples, offsets, latest, detector, policy, ward, scale,
        adt_ward, discharged_ms, sources, stream_ms, last stream readings, activity bout].

        The last `news2_median_readings` stream readings go with the state, so a worker
        restarted from a checkpoint scores NEWS2 on the same median as one that never
        stopped (without them a restart changed the level's timing, and the escalations)."""
        return orjson.dumps(
            [
                STATE_VERSION,
                self.patient_id,
                self.last_ts,
                self.news2_ref,
                self.samples,
                self.offsets,
                self.latest.to_state(),
                self.detector.to_state(),
                self.policy.to_state(),
                self.ward,
                self.spo2_scale,
                self.adt_ward,
                self.discharged_ms,
                self.sources,
                self.stream_ms,
                [list(r) for r in self.view.last(self.config.news2_median_readings)],
                self.active,
            ]
        )

    @classmethod
    def from_bytes(cls, raw: bytes, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG) -> PatientEngine:
        doc = orjson.loads(raw)
        version = doc[0]
        if version not in _STATE_VERSIONS:
            raise ValueError(f"patient state version {version} is not one of {_STATE_VERSIONS}")
        # ward and scale were appended to v1, then (v2) the ADT place and the data shapes
        doc = doc + [None] * (17 - len(doc))
        (
            _,
            patient_id,
            last_ts,
            ref,
            samples,
            offsets,
            latest,
            detector,
            policy,
            ward,
            scale,
            adt_ward,
            out,
            sources,
            stream,
            readings,
            active,
        ) = doc
        engine = cls(patient_id, config)
        engine.last_ts, engine.news2_ref, engine.samples, engine.offsets = last_ts, ref, samples, offsets
        engine.latest = LatestVitals.from_state(latest)
        engine.ward, engine.spo2_scale = ward, scale
        engine.adt_ward, engine.discharged_ms = adt_ward, out
        engine.sources = {d: [*v, 0][:4] for d, v in (sources or {}).items()}
        engine._use(engine.book.for_ward(engine.settings_ward) if engine.book is not None else engine.config)
        # after _use: the ward's detector is the one whose state this is
        if _state_matches(engine.detector, detector):
            engine.detector.load_state(detector)
        engine.policy.load_state(policy)
        engine.policy.discharged = out is not None
        if version == 1 and engine.policy.stream_samples >= 3:
            # Version 1 knew no shapes: a patient it saw streaming is taken as still streaming.
            engine.stream_ms = engine.policy.last_data_ms
        else:
            engine.stream_ms = stream
        engine.view.restore(readings or ())
        engine.active = list(active) if active else None
        engine.policy.cadence_ms = _stream_cadence(engine.sources)  # the signal-loss gap follows it
        return engine


def _stream_cadence(sources: dict[str, list[int]]) -> int:
    """The sampling interval (ms) of the stream heard last; 0 if none has streamed."""
    streams = [s for s in sources.values() if s[2] == _STREAM]
    return max(streams, key=lambda s: s[0])[3] if streams else 0


def _new_detector(cfg: PolicyConfig) -> PatientDetector:
    """The ward's detector; the default one built directly (no registry lookup per new patient)."""
    if cfg.detector == DEFAULT_DETECTOR and not cfg.detector_params:
        return BaselineDetector(warmup_samples=cfg.warmup_samples, warmup_s=cfg.warmup_s)
    detector: PatientDetector = create_detector(cfg.detector_spec, cfg.warmup_samples, cfg.warmup_s)
    return detector


def _state_matches(detector: PatientDetector, state: object) -> bool:
    """Whether a checkpointed detector state is this detector's kind: after a policy change that
    swapped the ward's detector, the old state is dropped and the new detector warms up afresh."""
    if isinstance(state, dict):
        return state.get("detector") == detector.NAME
    return isinstance(detector, BaselineDetector)


def _judge(
    key: str, cond: Condition | None, suppressed: tuple[str, ...], conditions: list[Condition], evaluated: list[str]
) -> None:
    """Record a condition's verdict; on a bad-signal sample only a positive one counts.

    Absence of evidence while SpO2/pulse are suppressed is not recovery: the
    condition's track is left as it was (neither extended nor ended).
    """
    if cond is not None:
        evaluated.append(key)
        conditions.append(cond)
    elif not suppressed:
        evaluated.append(key)
