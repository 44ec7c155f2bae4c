"""NEWS2 on a stream scores a robust view: the median of the last readings (issue #16 item 1).

A patient on oxygen whose RR wanders 18-21 touches NEWS2 5 on one reading in
four; once a NEWS2 track was alive (it holds at 3 or more), one such reading
confirmed a medium page. The median of the last 5 readings (within 2 min) is
the stream's observation set; a change that lasts moves it within 2 readings.
"""

from __future__ import annotations

from alerts.config import PolicyConfig
from alerts.engine import PatientEngine
from alerts.model import Priority, Status
from tests.unit.test_policy_support import PID, at_s, feed, of, sample

START = 3600
#: On oxygen (2) with SBP 105 (1): NEWS2 3 at rest, 5 whenever one reading shows RR 21.
ON_O2 = {"on_oxygen": True, "systolic_bp": 105.0}


def wandering(start: int, end: int) -> list:
    """RR 18, 19, 20, 21, ... every 5 s: one reading in four scores 2."""
    return [sample(t, resp_rate=18.0 + (t // 5) % 4, **ON_O2) for t in range(start, end, 5)]


def test_a_wandering_rr_on_oxygen_does_not_page_on_its_single_high_readings():
    engine = PatientEngine(PID)
    feed(engine, [sample(t, **ON_O2) for t in range(0, START, 5)])
    assert of(feed(engine, wandering(START, START + 4 * 3600)), Status.RAISED) == []


def test_without_the_median_the_same_stream_pages():
    """The control: `news2_median_readings = 1` scores each reading as it comes."""
    engine = PatientEngine(PID, PolicyConfig(news2_median_readings=1))
    feed(engine, [sample(t, **ON_O2) for t in range(0, START, 5)])
    raised = of(feed(engine, wandering(START, START + 4 * 3600)), Status.RAISED)
    assert [a.priority for a in raised][:1] == [Priority.MEDIUM]


def test_a_lasting_rise_pages_two_readings_later_than_raw_scoring_would():
    engine = PatientEngine(PID)
    feed(engine, [sample(t, **ON_O2) for t in range(0, START, 5)])
    raised = of(feed(engine, [sample(t, resp_rate=22.0, **ON_O2) for t in range(START, START + 600, 5)]), Status.RAISED)
    assert [a.priority for a in raised] == [Priority.MEDIUM]
    assert 120 <= at_s(raised[0].ts_ms) - START <= 120 + 2 * 5


def _held_at_3_then(burst: list) -> list:
    """NEWS2 5 for 10 s starts a NEWS2 track, 10 min at NEWS2 3 keep it alive (hysteresis:
    it holds at 3 or more), then `burst`, then calm again."""
    engine = PatientEngine(PID, PolicyConfig(anomaly=False))
    feed(engine, [sample(t, **ON_O2) for t in range(0, START)])
    feed(engine, [sample(t, resp_rate=22.0, **ON_O2) for t in range(START, START + 10)])
    feed(engine, [sample(t, **ON_O2) for t in range(START + 10, START + 610)])
    assert "news2" in engine.policy.tracks  # alive at 3 by hysteresis
    t = START + 610
    return of(feed(engine, burst(t) + [sample(x, **ON_O2) for x in range(t + 20, t + 900)]), Status.RAISED)


def test_a_20_s_burst_does_not_confirm_on_a_track_kept_alive_at_a_lower_level():
    """A flagged 20 s motion burst (HR/SpO2 suppressed, RR 28 scores 3: NEWS2 6) on a patient
    whose NEWS2 track lived 10 min at 3: the medium band's 120 s count from the burst, not
    from the track (before: paged medium on the burst's first readings)."""

    def burst(t: int) -> list:
        return [sample(x, resp_rate=28.0, motion=0.9, **ON_O2) for x in range(t, t + 20)]

    assert _held_at_3_then(burst) == []


def test_the_same_rise_that_lasts_pages_at_its_level():
    def lasting(t: int) -> list:
        return [sample(x, resp_rate=28.0, **ON_O2) for x in range(t, t + 300)]

    raised = _held_at_3_then(lasting)
    assert [a.priority for a in raised] == [Priority.MEDIUM]


def test_a_checkpointed_engine_scores_the_same_median_as_one_that_never_stopped():
    """The last readings behind the median go with the state: a worker restarted from a
    checkpoint in the middle of a deterioration pages at the same times as one that never
    stopped (without them the first readings after the restart were scored raw, a level
    began a reading earlier and every escalation moved: the kill -9 durability test)."""

    def deteriorating(start: int, end: int) -> list:
        return [
            sample(t, heart_rate=72 + 0.8 * t / 60, spo2=max(80.0, 97 - 0.25 * t / 60), resp_rate=15 + 0.15 * t / 60)
            for t in range(start, end, 5)
        ]

    whole = PatientEngine(PID)
    expected = feed(whole, deteriorating(0, 3600))
    first = PatientEngine(PID)
    got = feed(first, deteriorating(0, 1800))
    restored = PatientEngine.from_bytes(first.to_bytes())
    assert list(restored.view.recent) == list(first.view.recent)[-5:]
    got += feed(restored, deteriorating(1800, 3600))
    assert [(a.status, a.priority, a.ts_ms) for a in got] == [(a.status, a.priority, a.ts_ms) for a in expected]
