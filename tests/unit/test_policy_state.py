"""Policy and engine state: explicit, compact, and a restored engine decides exactly like the original."""

from __future__ import annotations

import orjson

from alerts.config import PolicyConfig
from alerts.engine import PatientEngine
from alerts.model import EpisodeClass, Status
from alerts.policy import AlertPolicy
from tests.unit.test_policy_support import PID, WARM_S, feed, of, span, warm


def _mid_episode() -> PatientEngine:
    """Warm, desaturated and acknowledged, probe off (technical open), tracks pending."""
    engine = PatientEngine(PID)
    warm(engine)
    raised = of(feed(engine, span(WARM_S, WARM_S + 60, step_s=1, spo2=80.0)), Status.RAISED)
    engine.acknowledge(raised[0].alert_id, "nurse.kim", "acknowledge", None)
    feed(engine, span(WARM_S + 60, WARM_S + 120, step_s=2, probe_off=True))
    return engine


def test_policy_state_round_trips_through_json():
    engine = _mid_episode()
    state = engine.policy.to_state()
    assert engine.policy.episodes and engine.policy.tracks
    again = AlertPolicy(PID, engine.config).load_state(orjson.loads(orjson.dumps(state)))
    assert again.to_state() == state
    assert {e.episode_class for e in again.episodes.values()} == {EpisodeClass.PHYSIOLOGICAL, EpisodeClass.TECHNICAL}
    assert again.episodes[EpisodeClass.PHYSIOLOGICAL].status is Status.ACKNOWLEDGED


def test_engine_state_is_compact_and_a_restored_engine_continues_identically():
    engine = _mid_episode()
    blob = engine.to_bytes()
    assert len(blob) < 4096
    restored = PatientEngine.from_bytes(blob)
    assert restored.to_bytes() == blob
    rest = span(WARM_S + 120, WARM_S + 2400, step_s=3, spo2=80.0) + span(WARM_S + 2400, WARM_S + 4800)
    assert feed(restored, rest) == feed(engine, rest)


def test_a_state_written_before_the_appended_fields_still_loads():
    engine = _mid_episode()
    state = engine.policy.to_state()
    old = state[:8]  # version-1 layout: no stream count, device or suppression yet
    old[2] = [t[:4] for t in old[2]]
    old[3] = [e[:13] for e in old[3]]
    policy = AlertPolicy(PID, PolicyConfig()).load_state(old)
    assert policy.stream_samples >= 3 and set(policy.tracks) == set(engine.policy.tracks)


def test_observe_quiet_is_observe_of_a_sample_without_conditions() -> None:
    """The engine's shortcut for a well patient leaves the same state and alerts as `observe`."""
    from alerts.config import DEFAULT_CONFIG
    from alerts.model import DetectorInfo, News2Summary
    from alerts.policy import AlertPolicy, Observation

    full, quiet = AlertPolicy("MRN-1", DEFAULT_CONFIG), AlertPolicy("MRN-1", DEFAULT_CONFIG)
    news2 = News2Summary(1, {"resp_rate": 1}, "low")
    info = DetectorInfo("baseline-z", "2", 0.0)
    # a stream, a gap long enough for a signal loss, then data again
    times = [0, 5_000, 10_000, 15_000, 20_000, 200_000, 205_000, 203_000, 210_000, 215_000, 900_000, 905_000]
    for i, ts in enumerate(times):
        continuous = i != 4
        if i == 8:  # a tick ahead of the data (the worker's clock), then data again
            assert full.advance(ts + 60_000) == quiet.advance(ts + 60_000)
        obs = Observation(ts, "wear-1", ("news2",), (), news2, info if i % 2 else None, ())
        a = full.observe(obs, continuous)
        b = quiet.observe_quiet(ts, "wear-1", news2, info if i % 2 else None, (), continuous)
        assert a == b
        assert full.to_state() == quiet.to_state()
        if full.episodes:  # the quiet path only applies to a policy with nothing open
            break
    assert full.stream_samples == quiet.stream_samples and full.now_ms == quiet.now_ms
    assert full.to_state() == quiet.to_state()
