"""The alarm-burden report: raw condition onsets vs what the policy pages, on a small synthetic ward."""

from __future__ import annotations

from alerts.fatigue_report import fatigue_figures, format_figures
from monitor.cohort import CohortSpec


def test_the_policy_pages_far_less_than_a_bare_monitor_would_sound():
    spec = CohortSpec(n_patients=3, hours=3.0, seed=11, deteriorating_share=0.34)
    figures = fatigue_figures(spec)
    assert len(figures.patients) == 3 and figures.patient_days == 3 * 3 / 24
    assert figures.raw > 0 and figures.raised < figures.raw
    assert figures.notifications >= figures.raised
    assert 0.0 <= figures.alerted_share() <= 1.0
    text = format_figures(figures)
    assert "per patient-day" in text and "deteriorating patients alerted" in text
