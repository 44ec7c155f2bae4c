"""Exertion and motion: what a stream measures while the patient moves.

Walking raises HR by 15-30 and RR by 3-7 for minutes; NEWS2 is an observation
at rest, so during activity (the device's motion index from `exertion_motion`
up) the last resting HR and RR stand, for at most `exertion_max_s` of one bout.
From `motion_limit` up the readings are artefact, RR included. Found by an
independent generator (2026-12-03): walks paged medium in ~12 % of bouts, and
flagged motion bursts paged through RR.
"""

from __future__ import annotations

from alerts.engine import PatientEngine
from alerts.model import Kind, Status
from tests.unit.test_policy_support import PID, T0, at_s, feed, of, sample, warm

START = 3600
#: A walk's plateau on a resting HR 72 / RR 15 patient: NEWS2 HR 2 + RR 3 = 5 (medium, and a single 3).
WALK = {"heart_rate": 112.0, "resp_rate": 25.0}


def clinical(alerts: list) -> list:
    return [a for a in of(alerts, Status.RAISED) if a.kind in (Kind.NEWS2, Kind.ANOMALY, Kind.THRESHOLD)]


def walk(start_s: float, minutes: float, motion: float | None, pause_every_s: float = 0.0) -> list:
    """A walk on a 5 s stream: 40 s ramp up, plateau, 60 s down; optionally a minute's
    rest at the patient's resting values at the end of every `pause_every_s`."""
    out, t, end = [], start_s, start_s + minutes * 60
    rest = {"heart_rate": 72.0, "resp_rate": 15.0}
    while t < end:
        if pause_every_s and (t - start_s) % pause_every_s >= pause_every_s - 60:
            out.append(sample(t, motion=0.1))
        else:
            k = min(1.0, (t - start_s) / 40.0, (end - t) / 60.0)
            out.append(sample(t, motion=motion, **{v: rest[v] + k * (WALK[v] - rest[v]) for v in WALK}))
        t += 5
    return out


def warm_patient() -> PatientEngine:
    engine = PatientEngine(PID)
    warm(engine, START)
    return engine


def test_a_walk_the_device_reports_as_activity_pages_nothing():
    engine = warm_patient()
    alerts = feed(engine, walk(START, 7, motion=0.4) + [sample(t) for t in range(START + 420, START + 1800, 5)])
    assert clinical(alerts) == []


def test_the_same_readings_without_an_activity_index_page():
    """The control: nothing but the motion index tells the walk from a deterioration."""
    engine = warm_patient()
    alerts = feed(engine, walk(START, 7, motion=None))
    assert [a.kind for a in clinical(alerts)] == [Kind.NEWS2]


def test_activity_that_lasts_beyond_exertion_max_s_counts_again():
    """A restless, agitated patient is a warning sign: after 10 min of activity the readings count."""
    engine = warm_patient()
    raised = clinical(feed(engine, walk(START, 25, motion=0.4)))
    assert raised and raised[0].kind is Kind.NEWS2
    assert 600 < at_s(raised[0].ts_ms) - START <= 600 + 180  # the bout's allowance, then persistence


def test_short_pauses_do_not_give_each_bout_of_restlessness_a_new_allowance():
    """4 min moving, 1 min still, over and over: one bout, whose readings count after
    `exertion_max_s`, so it pages within the first stretch of moving after 10 min, not never."""
    engine = warm_patient()
    raised = clinical(feed(engine, walk(START, 30, motion=0.4, pause_every_s=300)))
    assert raised and at_s(raised[0].ts_ms) - START <= 900
    assert engine.active is not None and engine.active[0] == T0 + START * 1000  # the first step of the first bout


def test_desaturation_while_walking_still_counts():
    engine = warm_patient()
    samples = [sample(t, motion=0.4, spo2=84.0) for t in range(START, START + 300, 5)]
    raised = clinical(feed(engine, samples))
    assert raised and at_s(raised[0].ts_ms) - START <= 60


def test_flagged_motion_makes_the_breathing_rate_artefact_too():
    """RR 34 read only while the device reports motion artefact: a technical alert, no RR page."""
    engine = warm_patient()
    alerts = feed(engine, [sample(t, motion=0.8, resp_rate=34.0) for t in range(START, START + 240, 5)])
    assert clinical(alerts) == []
    assert Kind.TECHNICAL in {a.kind for a in of(alerts, Status.RAISED)}


def test_the_activity_bout_survives_a_checkpoint():
    """A worker restarted mid-walk keeps the bout's start: the allowance is not granted twice."""
    engine = warm_patient()
    feed(engine, walk(START, 8, motion=0.4)[:-12])  # 8 min in, still walking
    restored = PatientEngine.from_bytes(engine.to_bytes())
    assert restored.active == engine.active and restored.active is not None
    assert restored.to_bytes() == engine.to_bytes()


def test_an_unflagged_burst_during_a_walk_is_still_held():
    """HR, SpO2 and RR jump together mid-walk: the jump checks see the walk's readings
    (HR 112 -> 167 is a burst), so the hard limit it crosses is held, not paged."""
    engine = warm_patient()
    before = walk(START, 4, motion=0.4)[:-12]  # the plateau, not the walk's end
    t = START + 180
    burst = [sample(t + k, motion=0.4, heart_rate=167.0, spo2=89.0, resp_rate=37.0) for k in range(0, 40, 5)]
    after = [sample(t + k, motion=0.4, **WALK) for k in range(40, 300, 5)]
    alerts = feed(engine, before + burst + after)
    assert clinical(alerts) == []
    assert engine.policy.held == 1


def test_the_readings_just_after_a_walk_are_still_the_walks():
    """HR and RR take minutes to settle, and an activity index that dips below 0.3 for one
    reading mid-walk must not let that reading stand for the rest of the walk (in NEWS2;
    the baseline detector has its own exertion rule)."""
    engine = warm_patient()
    samples = walk(START, 6, motion=0.4)
    dipped = [
        sample(
            s.ts_ms / 1000 - T0 / 1000,
            motion=0.25 if i % 12 == 5 else s.motion,
            heart_rate=s.heart_rate,
            resp_rate=s.resp_rate,
        )
        for i, s in enumerate(samples)
    ]
    settling = [sample(START + 360 + k, motion=0.05, **WALK) for k in range(0, 100, 5)]
    rested = [sample(t) for t in range(START + 460, START + 1800, 5)]
    assert [a for a in clinical(feed(engine, dipped + settling + rested)) if a.kind is Kind.NEWS2] == []


def test_a_flagged_motion_artefact_is_not_a_walk():
    """A device-flagged burst (motion >= 0.6) is artefact, not activity: the readings after it
    are the patient's at once (they were left out for two minutes as a walk's recovery, and a
    bleed paged after its must-alert time on the independent generator)."""
    engine = warm_patient()
    feed(
        engine,
        [sample(t, motion=0.9, heart_rate=150.0, spo2=85.0, resp_rate=32.0) for t in range(START, START + 20, 5)],
    )
    assert engine.active is None
    raised = clinical(
        feed(engine, [sample(t, heart_rate=112.0, resp_rate=25.0) for t in range(START + 20, START + 400, 5)])
    )
    assert raised and at_s(raised[0].ts_ms) - (START + 20) <= 120 + 30


def test_the_values_carried_into_a_walk_are_the_minutes_before_not_a_burst():
    """A burst (HR, SpO2, RR jump) runs into the start of a walk: the values that stand for the
    walk are the median of the two minutes before, not the burst's last reading."""
    engine = warm_patient()
    burst = [sample(t, heart_rate=114.0, spo2=90.0, resp_rate=27.0) for t in range(START, START + 15, 5)]
    walking = [sample(t, motion=0.45, heart_rate=100.0, resp_rate=20.0) for t in range(START + 15, START + 400, 5)]
    alerts = feed(engine, burst + walking)
    assert clinical(alerts) == []
    assert engine.latest.get("resp_rate")[0] == 15.0


def test_activity_resumed_in_a_burst_carries_the_minutes_before_not_the_burst():
    """Robustness matrix, 96 patients, 1 s stream, 30-60 s unflagged bursts: the patient had
    been active minutes before (same bout), a burst began at rest and its motion index touched
    `exertion_motion` half-way through. The burst's HR 120 / RR 26 then stood for NEWS2 through
    the recovery minutes, and NEWS2 5 paged after the hold with HR 65 / RR 19 on the monitor."""
    engine = warm_patient()
    stroll = [sample(t, motion=0.4) for t in range(START, START + 30)]  # a short stroll, resting values
    rest = [sample(t, motion=0.05) for t in range(START + 30, START + 200)]  # > recovery, < rest
    burst = [
        sample(t, motion=0.45 if t == START + 218 else 0.05, heart_rate=120.0, spo2=92.0, resp_rate=26.0)
        for t in range(START + 200, START + 245)
    ]
    after = [sample(t, motion=0.05) for t in range(START + 245, START + 900)]
    alerts = feed(engine, stroll + rest + burst + after)
    assert clinical(alerts) == [], [a.reasons for a in clinical(alerts)]


def test_activity_resumed_after_a_burst_that_filled_half_the_window_carries_the_rest_before_it():
    """Robustness matrix, 96 patients, 1 s stream, 30-60 s unflagged bursts (2026-12-03): a 60 s
    burst filled half of the two minutes whose median stands for resumed activity, the median
    was the burst's HR 127 / RR 25, and NEWS2 5 paged 2 min later on a patient at HR 74 / RR 17.
    The resting value is trimmed from the lower quartile: motion only pushes HR and RR up."""
    engine = warm_patient()
    stroll = [sample(t, motion=0.4) for t in range(START, START + 30)]
    rest = [sample(t, motion=0.05) for t in range(START + 30, START + 150)]
    burst = [
        sample(t, motion=0.05, heart_rate=127.0, spo2=90.0, resp_rate=25.0) for t in range(START + 150, START + 210)
    ]
    settle = [sample(t, motion=0.05) for t in range(START + 210, START + 220)]
    active = [sample(t, motion=0.4) for t in range(START + 220, START + 900)]
    alerts = feed(engine, stroll + rest + burst + settle + active)
    assert clinical(alerts) == [], [a.reasons for a in clinical(alerts)]
    assert engine.latest.get("heart_rate")[0] < 90 and engine.latest.get("resp_rate")[0] < 20
