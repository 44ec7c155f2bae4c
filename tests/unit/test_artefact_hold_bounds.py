"""The unflagged-artefact hold can delay a page once, never silence a patient.

Each test is a finding of the hostile review of 2026-12-03 (scripts kept in the
closing note): a real, sustained deterioration whose readings keep "jumping"
was held again at every jump, for as long as it lasted. The bounds: a condition
present at its level since before the last hold gets no new one, only the motion
signature counts as a jump (HR up, SpO2 down, RR up), a vital that jumped again
at its next reading is the patient's value, and a swapped device keeps the
stream's cadence.
"""

from __future__ import annotations

from alerts.config import PolicyConfig
from alerts.engine import PatientEngine
from alerts.model import Alert, Status
from tests.unit.test_policy_support import PID, at_s, feed, sample, span

WELL_UNTIL = 3 * 3600
MINUTE = 60.5  # a bedside monitor's "once a minute"


def _first_page(alerts: list[Alert], start_s: float) -> float | None:
    """Seconds from `start_s` to the first physiological raise, None if none."""
    for a in alerts:
        if a.status is Status.RAISED and a.kind.physiological:
            return at_s(a.ts_ms) - start_s
    return None


def _apnoea(phase: float) -> tuple[float, float, float]:
    """(HR, SpO2, RR) through one apnoea cycle: RR 4 and SpO2 falling to 80, then recovery."""
    if phase < 0.5:
        return 58.0, float(round(94 - 14 * phase / 0.5)), 4.0
    return 96.0, float(round(80 + 14 * min(1.0, (phase - 0.5) / 0.15))), 24.0


def test_repeated_apnoea_with_desaturation_pages_as_without_the_hold():
    """Opioid respiratory depression: RR 4 and SpO2 down to 80 every 90 s for an hour. Each
    apnoea (RR and SpO2 falling together) was taken for a burst and held, and each recovery
    jumped against a reference between the two levels: no page in 60 min, SpO2 < 85 for 600 s."""
    for config in (PolicyConfig(), PolicyConfig(artefact_hold_s=0.0)):
        engine = PatientEngine(PID, config)
        feed(engine, span(0, WELL_UNTIL, step_s=5))
        event = []
        for i in range(int(3600 / 5)):
            hr, spo2, rr = _apnoea((i * 5 % 90) / 90)
            event.append(sample(WELL_UNTIL + i * 5, heart_rate=hr, spo2=spo2, resp_rate=rr))
        delay = _first_page(feed(engine, event), WELL_UNTIL)
        assert delay is not None and delay <= 35, (config.artefact_hold_s, delay)


def test_a_probe_glitching_every_half_minute_does_not_hold_a_real_rr_36_for_long():
    """RR 36 from onset; one reading in six shows HR 120 / SpO2 88 with no motion flag. Every
    glitch after a clean reading started a new run and a new 90 s hold: no page in 30 min."""
    engine = PatientEngine(PID)
    feed(engine, span(0, WELL_UNTIL, step_s=5))
    event = []
    for k in range(int(1800 / 5)):
        glitch = {"heart_rate": 120.0, "spo2": 88.0} if k % 6 == 5 else {}
        event.append(sample(WELL_UNTIL + k * 5, resp_rate=36.0, **glitch))
    alerts = feed(engine, event)
    delay = _first_page(alerts, WELL_UNTIL)
    assert delay is not None and delay <= 30 + PolicyConfig().artefact_hold_s  # its own persistence, at most one hold
    assert engine.policy.held <= 1


def test_heart_and_breathing_stopping_are_never_held_as_artefact():
    """HR 30, SpO2 70, RR 6 at once is a collapse, not motion: it pages on its hard limits
    without the 90 s hold (HR and RR falling are not the motion signature)."""
    engine = PatientEngine(PID)
    feed(engine, span(0, WELL_UNTIL, step_s=5))
    alerts = feed(engine, span(WELL_UNTIL, WELL_UNTIL + 600, step_s=5, heart_rate=30.0, spo2=70.0, resp_rate=6.0))
    delay = _first_page(alerts, WELL_UNTIL)
    assert delay is not None and delay <= 35
    assert engine.policy.held == 0


def test_a_sparse_vital_that_jumped_again_at_its_next_reading_is_the_patients_value():
    """A monitor reading once a minute whose RR comes every third reading: real RR 30 from
    onset. Each RR reading started a new run and was forgotten as a burst's, so NEWS2 saw RR
    on its own reading only and paged at 605 s (242 s without the artefact rules). Now the
    first is forgotten and the second, jumped the same way, stands."""
    engine = PatientEngine(PID)
    n0 = int(WELL_UNTIL / MINUTE)
    feed(engine, [sample(i * MINUTE, **({} if i % 3 == 0 else {"resp_rate": None})) for i in range(n0)])
    start = n0 * MINUTE
    event = [sample(i * MINUTE, resp_rate=30.0 if i % 3 == 0 else None) for i in range(n0, n0 + 40)]
    delay = _first_page(feed(engine, event), start)
    assert delay is not None and delay <= 3 * 3 * MINUTE  # one more RR reading than without the rules


def test_a_swapped_monitor_keeps_the_streams_cadence():
    """A once-a-minute monitor swapped at the first bad reading: the new device id started at
    cadence 0, so its conditions were not stretched over the sampling interval and every track
    began again at the swap (high page at 181.5 s instead of 121 s)."""
    timings = []
    for swapped in (False, True):
        engine = PatientEngine(PID)
        n0 = int(WELL_UNTIL / MINUTE)
        feed(engine, [sample(i * MINUTE) for i in range(n0)])
        start = n0 * MINUTE
        bad = {"heart_rate": 150.0, "spo2": 84.0, "resp_rate": 30.0}
        event = [sample(start, **bad)] + [
            sample(start + k * MINUTE, device="mon-2" if swapped else "wear-1", **bad) for k in range(1, 8)
        ]
        timings.append(_first_page(feed(engine, event), start))
    assert timings[0] is not None and timings[1] == timings[0]
