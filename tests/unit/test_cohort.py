"""The synthetic cohort is only useful as an answer key if it is reproducible,
contract-valid, labelled consistently and physiologically plausible."""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict

import numpy as np
import pytest

from monitor.cohort import (
    DETERIORATIONS,
    CohortSpec,
    Scenario,
    generate_cohort,
    iter_messages,
    iter_patient_messages,
    iter_patient_samples,
)
from monitor.parse import ParseResult, parse_document
from monitor.vitals import Consciousness

SMALL = CohortSpec(n_patients=12, hours=4.0, seed=5)


def _first(iterator, n):
    return list(itertools.islice(iterator, n))


def test_same_seed_gives_identical_cohort_and_stream():
    a, b = generate_cohort(SMALL), generate_cohort(SMALL)
    assert a.labels == b.labels
    assert _first(iter_messages(a), 3000) == _first(iter_messages(b), 3000)


def test_different_seeds_differ():
    a = generate_cohort(SMALL)
    b = generate_cohort(CohortSpec(n_patients=12, hours=4.0, seed=6))
    assert a.patient_ids != b.patient_ids
    assert _first(iter_messages(a), 200) != _first(iter_messages(b), 200)


def test_patient_ids_look_like_mrns_and_are_unique():
    cohort = generate_cohort(CohortSpec(n_patients=300, hours=1.0))
    ids = cohort.patient_ids
    assert len(set(ids)) == 300
    assert all(re.fullmatch(r"MRN\d{7}", pid) for pid in ids)


def test_every_message_is_contract_valid():
    cohort = generate_cohort(SMALL)
    messages = samples = probe_off = 0
    for message in iter_messages(cohort):
        result = ParseResult()
        parse_document(message, result)
        assert not result.rejections, (message, result.rejections)
        messages += 1
        samples += len(result.samples)
        probe_off += sum(s.probe_off for s in result.samples)
        for sample in result.samples:
            if sample.probe_off:
                assert sample.spo2 is None and sample.heart_rate is None
    assert messages > 1000 and samples > 3 * messages / 2
    assert probe_off > 0


def test_labels_are_consistent():
    spec = CohortSpec(n_patients=100, hours=24.0, seed=3, copd_share=0.2)
    cohort = generate_cohort(spec)
    by_scenario = defaultdict(int)
    for label in cohort.labels:
        by_scenario[label.scenario] += 1
        if label.scenario is Scenario.STABLE:
            assert label.onset_ms is None and label.must_alert_by_ms is None
        else:
            assert spec.start_ms < label.onset_ms < label.must_alert_by_ms <= spec.end_ms
        assert label.spo2_scale in (1, 2)
    assert sum(by_scenario[s] for s in DETERIORATIONS) == 30
    assert all(by_scenario[s] == 6 for s in DETERIORATIONS)
    assert any(label.spo2_scale == 2 for label in cohort.labels)
    assert cohort.label(cohort.labels[5].patient_id) == cohort.labels[5]


def test_short_cohorts_still_fit_deadlines_inside_the_span():
    spec = CohortSpec(n_patients=20, hours=2.0, deteriorating_share=1.0)
    for label in generate_cohort(spec).labels:
        assert spec.start_ms < label.onset_ms < label.must_alert_by_ms <= spec.end_ms


def _windows(cohort, label):
    """Median of each vital an hour before onset vs after the deadline."""
    before, after = defaultdict(list), defaultdict(list)
    consciousness_after = []
    for sample in iter_patient_samples(cohort, label.patient_id):
        spot = sample.systolic_bp is not None
        late_end = label.must_alert_by_ms + (3 * 3_600_000 if spot else 1_200_000)
        if label.onset_ms - 3_600_000 * (3 if spot else 1) <= sample.ts_ms < label.onset_ms:
            target = before
        elif label.must_alert_by_ms <= sample.ts_ms < late_end:
            target = after
            if sample.consciousness is not None:
                consciousness_after.append(sample.consciousness)
        else:
            continue
        for name, value in sample.values().items():
            target[name].append(value)
    median = lambda d: {k: float(np.median(v)) for k, v in d.items()}  # noqa: E731
    return median(before), median(after), consciousness_after


EXPECTED = {
    Scenario.SEPSIS: {"heart_rate": +1, "resp_rate": +1, "temperature": +1, "systolic_bp": -1},
    Scenario.RESPIRATORY_FAILURE: {"spo2": -1, "resp_rate": +1},
    Scenario.HYPOVOLAEMIA: {"heart_rate": +1, "systolic_bp": -1},
    Scenario.OPIOID: {"resp_rate": -1, "spo2": -1},
    Scenario.TACHYARRHYTHMIA: {"heart_rate": +1},
}


def test_scenarios_move_the_right_vitals_the_right_way():
    spec = CohortSpec(n_patients=10, hours=24.0, seed=9, deteriorating_share=1.0, artifacts=False)
    cohort = generate_cohort(spec)
    for label in cohort.labels:
        before, after, consciousness = _windows(cohort, label)
        for vital, sign in EXPECTED[label.scenario].items():
            change = after[vital] - before[vital]
            assert change * sign > 0, (label.scenario, vital, before[vital], after[vital])
        if label.scenario is Scenario.TACHYARRHYTHMIA:
            assert after["heart_rate"] >= 130
        if label.scenario is Scenario.OPIOID:
            assert after["resp_rate"] <= 9
            assert any(c is not Consciousness.A for c in consciousness)


def test_stable_patients_are_mostly_in_normal_news2_ranges():
    spec = CohortSpec(n_patients=10, hours=24.0, seed=4, deteriorating_share=0.0, copd_share=0.0)
    cohort = generate_cohort(spec)
    values = defaultdict(list)
    for pid in cohort.patient_ids:
        for sample in iter_patient_samples(cohort, pid):
            if not sample.probe_off and (sample.motion or 0) < 0.6:
                for name, value in sample.values().items():
                    values[name].append(value)
    normal = {
        "heart_rate": (51, 90, 0.85),
        "spo2": (96, 100, 0.85),
        "resp_rate": (12, 20, 0.9),
        "temperature": (36.1, 38.0, 0.95),
        "systolic_bp": (111, 219, 0.85),
    }
    for name, (low, high, share) in normal.items():
        x = np.asarray(values[name])
        assert np.mean((x >= low) & (x <= high)) >= share, name


def test_copd_patients_sit_on_a_scale_two_target():
    spec = CohortSpec(n_patients=20, hours=3.0, seed=2, deteriorating_share=0.0, copd_share=1.0, artifacts=False)
    cohort = generate_cohort(spec)
    pid = cohort.patient_ids[0]
    samples = list(iter_patient_samples(cohort, pid))
    spo2 = [s.spo2 for s in samples if s.spo2 is not None]
    assert 87 <= np.median(spo2) <= 93
    assert all(s.spo2_scale == 2 for s in samples if s.systolic_bp is not None)


def test_artifacts_present_at_plausible_rates():
    spec = CohortSpec(n_patients=40, hours=12.0, seed=8)
    cohort = generate_cohort(spec)
    total = probe_off = motion = duplicates = late = swapped = gaps = 0
    for pid in cohort.patient_ids:
        seen: set[tuple[int, str]] = set()
        latest = 0
        wearables: set[str] = set()
        previous_wearable_ts = None
        for sample in iter_patient_samples(cohort, pid):
            total += 1
            key = (sample.ts_ms, sample.device_id)
            duplicates += key in seen
            seen.add(key)
            late += sample.ts_ms < latest - 500
            latest = max(latest, sample.ts_ms)
            probe_off += sample.probe_off
            motion += (sample.motion or 0) >= 0.6
            if sample.device_id.startswith("wear-"):
                wearables.add(sample.device_id)
                if previous_wearable_ts is not None and sample.ts_ms - previous_wearable_ts > 60_000:
                    gaps += 1
                previous_wearable_ts = max(previous_wearable_ts or 0, sample.ts_ms)
        swapped += len(wearables) > 1
    assert 0.001 < probe_off / total < 0.08
    assert 0.001 < motion / total < 0.08
    assert duplicates > 0 and duplicates / total < 0.02
    assert late > 0 and late / total < 0.05
    assert swapped >= 1
    assert gaps >= 20


def test_messages_are_batched_per_device_and_roughly_time_ordered():
    cohort = generate_cohort(SMALL)
    latest = 0
    for message in itertools.islice(iter_messages(cohort, batch_seconds=5.0), 5000):
        samples = message.get("samples")
        if samples:
            assert samples[-1]["ts"] - samples[0]["ts"] < 5000
            first = samples[0]["ts"]
        else:
            first = message["ts"]
        assert first >= latest - 10_000  # late delivery is seconds, never more
        latest = max(latest, first)


def test_single_form_when_batching_is_off():
    cohort = generate_cohort(SMALL)
    message = next(iter_patient_messages(cohort, cohort.patient_ids[0], batch_seconds=0))
    assert "samples" not in message and isinstance(message["ts"], int)


def test_streams_are_lazy():
    cohort = generate_cohort(CohortSpec(n_patients=200, hours=24.0))
    started = time.perf_counter()
    assert len(_first(iter_messages(cohort), 100)) == 100
    assert time.perf_counter() - started < 5.0
