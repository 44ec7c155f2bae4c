"""The evaluator must itself be right: hand-built alert lists with known answers,
the fixed-limit baseline on hand-built samples, and a tiny end-to-end run."""

from __future__ import annotations

import io

import orjson
import pytest

from alerts.evaluation.aggregate import Spread, aggregate_policy
from alerts.evaluation.fixed_limits import fixed_limit_alarms
from alerts.evaluation.policies import EngineConfig, Policy, engine_config
from alerts.evaluation.replay import run_engine
from alerts.evaluation.report import render_markdown
from alerts.evaluation.runner import run_evaluation
from alerts.evaluation.scoring import (
    AlertMark,
    episodes_by_patient,
    lead_minutes,
    score_patient,
    summarise,
)
from alerts.evaluation.sweep import SweepSetting, sweep_config
from alerts.model import Alert, Kind, Priority, Status
from monitor.cohort import CohortSpec, PatientLabel, Scenario
from monitor.vitals import VitalSample

START = 1_767_571_200_000
MIN = 60_000
DAY = 86_400_000
END = START + DAY


def alert(minute: float, kind: Kind = Kind.NEWS2, status: Status = Status.RAISED, n: int = 0) -> Alert:
    return Alert(f"a{n}-{minute}", "MRN1234567", "wear-1", status, Priority.MEDIUM, kind, START + int(minute * MIN))


def sick(
    pid: str = "MRN1234567", scenario: Scenario = Scenario.SEPSIS, onset: float = 600, must: float = 840
) -> PatientLabel:
    return PatientLabel(pid, scenario, START + int(onset * MIN), START + int(must * MIN), 1)


def well(pid: str = "MRN7654321") -> PatientLabel:
    return PatientLabel(pid, Scenario.STABLE, None, None, 1)


# ---- one patient --------------------------------------------------------------


def test_obvious_episode_counts_as_detected_with_its_delay():
    score = score_patient(sick(), [alert(690)], START, END)
    assert score.episode.detected
    assert score.episode.delay_min == pytest.approx(90.0)
    assert score.false_alerts == 0


def test_alert_before_onset_is_false_and_does_not_detect():
    score = score_patient(sick(), [alert(300, Kind.ANOMALY)], START, END)
    assert not score.episode.detected
    assert score.false_alerts == 1 and score.false_kinds == (Kind.ANOMALY,)
    assert score.false_exposure_days == pytest.approx(600 / 1440)


def test_alert_after_deadline_is_late_not_detected_not_false():
    score = score_patient(sick(), [alert(900)], START, END)
    assert not score.episode.detected and score.false_alerts == 0
    assert score.episode.first_after_onset_ms == START + 900 * MIN


def test_window_edges_are_inclusive():
    assert score_patient(sick(), [alert(600)], START, END).episode.delay_min == 0.0
    assert score_patient(sick(), [alert(840)], START, END).episode.detected


def test_first_raise_in_window_sets_the_delay():
    score = score_patient(sick(), [alert(800, n=2), alert(650, n=1), alert(100)], START, END)
    assert score.episode.delay_min == pytest.approx(50.0)
    assert score.false_alerts == 1


def test_technical_and_non_raise_statuses_never_detect():
    alerts = [
        alert(700, Kind.TECHNICAL),
        alert(701, Kind.SIGNAL_LOSS),
        alert(702, status=Status.ESCALATED),
        alert(703, status=Status.RESOLVED),
        alert(704, status=Status.ACKNOWLEDGED),
    ]
    score = score_patient(sick(), alerts, START, END)
    assert not score.episode.detected
    assert score.technical_raises == 2
    assert score.escalations == 1
    assert score.physiological_raises == 0


def _stepped(minute: float, priority: Priority, status: Status = Status.ESCALATED, level: int = 0) -> Alert:
    extra = {"escalation_level": level} if level else {}
    return Alert(
        "open-1", "MRN1234567", "wear-1", status, priority, Kind.ANOMALY, START + int(minute * MIN), extra=extra
    )


def test_an_open_alert_stepping_up_a_priority_in_the_window_detects():
    """Alerting (low) since before onset, paged again at high 2 min after it: caught, not missed."""
    alerts = [_stepped(500, Priority.LOW, Status.RAISED), _stepped(602, Priority.HIGH)]
    score = score_patient(sick(), alerts, START, END)
    assert score.episode.detected and score.episode.delay_min == pytest.approx(2.0)
    assert score.false_alerts == 1  # the raise before onset is still false


def test_a_no_ack_reminder_at_the_same_priority_does_not_detect():
    alerts = [
        _stepped(500, Priority.MEDIUM, Status.RAISED),
        _stepped(510, Priority.MEDIUM, level=1),
        _stepped(620, Priority.MEDIUM, level=2),
    ]
    score = score_patient(sick(), alerts, START, END)
    assert not score.episode.detected and score.episode.first_after_onset_ms is None


def test_a_step_up_before_onset_does_not_detect():
    alerts = [_stepped(500, Priority.LOW, Status.RAISED), _stepped(590, Priority.HIGH)]
    assert not score_patient(sick(), alerts, START, END).episode.detected


def test_every_physiological_kind_detects():
    for kind in (Kind.NEWS2, Kind.ANOMALY, Kind.THRESHOLD):
        assert score_patient(sick(), [alert(700, kind)], START, END).episode.detected


def test_any_raise_on_a_stable_patient_is_false():
    score = score_patient(well(), [alert(10), alert(500, Kind.ANOMALY), alert(20, Kind.TECHNICAL)], START, END)
    assert score.episode is None
    assert score.false_alerts == 2 and score.technical_raises == 1
    assert score.days == pytest.approx(1.0)


def test_scoring_accepts_compact_marks():
    mark = AlertMark.of(alert(700))
    assert score_patient(sick(), [mark], START, END).episode.detected


# ---- arithmetic over patients -----------------------------------------------


def test_recall_delay_and_false_rate_arithmetic():
    scores = [
        score_patient(sick("MRN0000001", onset=600, must=840), [alert(630)], START, END),  # 30 min
        score_patient(sick("MRN0000002", onset=600, must=840), [alert(690)], START, END),  # 90 min
        score_patient(sick("MRN0000003", onset=600, must=840), [], START, END),  # missed
        score_patient(sick("MRN0000004", Scenario.OPIOID, 600, 645), [alert(610)], START, END),  # 10 min
        score_patient(well("MRN0000005"), [alert(1), alert(2), alert(3, Kind.TECHNICAL)], START, END),
        score_patient(well("MRN0000006"), [], START, END),
    ]
    stats = summarise("x", scores)
    assert stats.overall.episodes == 4 and stats.overall.detected == 3
    assert stats.overall.recall == pytest.approx(0.75)
    assert stats.overall.delay_median_min == pytest.approx(30.0)
    sepsis = stats.scenario("sepsis")
    assert sepsis.recall == pytest.approx(2 / 3)
    assert sepsis.delay_median_min == pytest.approx(60.0)
    assert sepsis.delay_p90_min == pytest.approx(30 + 0.9 * 60)
    assert stats.scenario("opioid").recall == 1.0
    assert stats.scenario("hypovolaemia").recall is None
    assert stats.stable_patient_days == pytest.approx(2.0)
    assert stats.false_per_stable_day == pytest.approx(1.0)
    assert stats.false_pre_onset_per_day == pytest.approx(0.0)
    by_kind = {r.kind: r.per_day for r in stats.false_stable_by_kind}
    assert by_kind == {"news2": pytest.approx(1.0), "anomaly": 0.0, "threshold": 0.0}
    assert stats.alerts_per_patient_day == pytest.approx(5 / 6)
    assert stats.technical_per_patient_day == pytest.approx(1 / 6)


def test_lead_time_against_news2_only():
    ours = [
        score_patient(sick("MRN0000001"), [alert(640)], START, END),
        score_patient(sick("MRN0000002"), [alert(700)], START, END),
    ]
    news2 = [
        score_patient(sick("MRN0000001"), [alert(700)], START, END),
        score_patient(sick("MRN0000002"), [alert(990)], START, END),
    ]  # late, after deadline
    reference = episodes_by_patient(news2)
    assert lead_minutes(ours[0].episode, reference["MRN0000001"]) == pytest.approx(60.0)
    stats = summarise("ours", ours, reference)
    assert stats.overall.lead_n == 2
    assert stats.overall.lead_median_min == pytest.approx((60 + 290) / 2)
    assert summarise("news2", news2, reference).overall.lead_median_min == 0.0


def test_lead_time_is_unknown_when_either_never_raised():
    ours = score_patient(sick(), [alert(640)], START, END)
    never = score_patient(sick(), [], START, END)
    assert lead_minutes(ours.episode, never.episode) is None
    assert lead_minutes(ours.episode, None) is None


def test_spread_over_seeds():
    s = Spread.of([0.9, 1.0, None, 0.95])
    assert s.mean == pytest.approx(0.95) and s.n == 3
    assert s.sd == pytest.approx(0.05) and (s.low, s.high) == (0.9, 1.0)
    assert Spread.of([None]).mean is None
    assert Spread.of([2.0]).sd == 0.0


def test_aggregate_over_seeds():
    a = summarise("p", [score_patient(sick(), [alert(630)], START, END), score_patient(well(), [], START, END)])
    b = summarise("p", [score_patient(sick(), [], START, END), score_patient(well(), [alert(5)], START, END)])
    agg = aggregate_policy([a, b])
    assert agg.overall.recall.mean == pytest.approx(0.5)
    assert agg.false_per_stable_day.mean == pytest.approx(0.5)
    assert agg.scenario("sepsis").episodes == 2


# ---- fixed bedside limits ---------------------------------------------------------


def sample(second: float, **values) -> VitalSample:
    return VitalSample("MRN1234567", "wear-1", START + int(second * 1000), **values)


def test_fixed_limits_count_alarm_onsets_not_samples():
    samples = [
        sample(0, heart_rate=80, spo2=97),
        sample(1, heart_rate=125, spo2=97),  # HR onset
        sample(2, heart_rate=130, spo2=89),  # SpO2 onset, HR continuing
        sample(3, heart_rate=128, spo2=88),
        sample(4, heart_rate=100, spo2=95),  # both clear
        sample(5, heart_rate=121, spo2=95),  # HR onset again
        sample(6, systolic_bp=85, temperature=38.6),  # two spot-check onsets
    ]
    alarms = fixed_limit_alarms(samples)
    assert [a.ts_ms - START for a in alarms] == [1000, 2000, 5000, 6000, 6000]
    assert all(a.kind is Kind.THRESHOLD and a.status is Status.RAISED for a in alarms)
    assert len({a.alert_id for a in alarms}) == len(alarms)


def test_fixed_limits_lower_the_spo2_limit_for_scale_two_patients():
    samples = [
        sample(0, spo2=89),  # scale not yet charted: default limit 90 alarms
        sample(1, spo2=95),
        sample(2, systolic_bp=130, spo2_scale=2),
        sample(3, spo2=88),  # fine on a COPD target
        sample(4, spo2=84),  # below the lowered limit
    ]
    assert [a.ts_ms - START for a in fixed_limit_alarms(samples)] == [0, 4000]


def test_fixed_limits_treat_probe_off_as_technical():
    samples = [
        sample(0, spo2=97, heart_rate=70),
        VitalSample("MRN1234567", "wear-1", START + 1000, resp_rate=16, probe_off=True),
        VitalSample("MRN1234567", "wear-1", START + 2000, resp_rate=16, probe_off=True),
        sample(3, spo2=97, heart_rate=70),
    ]
    alarms = fixed_limit_alarms(samples)
    assert [a.kind for a in alarms] == [Kind.TECHNICAL]


def test_fixed_limits_fire_on_unflagged_artifacts_where_the_policy_waits():
    spike = [sample(i, heart_rate=75, spo2=97, resp_rate=15) for i in range(600)]
    spike[300] = sample(300, heart_rate=170, spo2=82, resp_rate=15)
    assert len(fixed_limit_alarms(spike)) == 2
    phys = [a for a in run_engine("MRN1234567", EngineConfig(), spike, START + 600_000) if a.kind.physiological]
    assert phys == []


# ---- engine-backed policies ----------------------------------------------------------


def test_policy_configs_switch_sources():
    news2 = engine_config(Policy.NEWS2_ONLY)
    assert news2.news2 and not news2.anomaly and not news2.threshold
    detector = engine_config(Policy.DETECTOR_ONLY)
    assert detector.anomaly and not detector.news2 and not detector.threshold
    assert engine_config(Policy.WARDWATCH) == EngineConfig()
    with pytest.raises(ValueError):
        engine_config(Policy.FIXED_LIMITS)


def test_sweep_config_moves_threshold_and_persistence():
    base = EngineConfig()
    cfg = sweep_config(SweepSetting(0.7, 2.0), base)
    assert cfg.anomaly_threshold == 0.7
    assert cfg.anomaly_clear < cfg.anomaly_threshold
    assert cfg.news2_persistence_s == pytest.approx(2 * base.news2_persistence_s)


def test_an_obvious_deterioration_through_the_engine_is_detected():
    """One hour of normal vitals, then SpO2 82 %, RR 30, HR 130 with a nurse's
    spot check: every engine policy must page inside the window."""
    samples = []
    for i in range(0, 3600, 2):
        samples.append(sample(i, heart_rate=72, spo2=97, resp_rate=15, motion=0.05))
        if i % 1800 == 0:
            samples.append(sample(i + 1, systolic_bp=125, diastolic_bp=80, temperature=36.8, consciousness="A"))
    for i in range(3600, 3600 + 1800, 2):
        samples.append(sample(i, heart_rate=130, spo2=82, resp_rate=30, motion=0.05))
    samples.append(sample(3601, systolic_bp=95, diastolic_bp=60, temperature=38.4, consciousness="A"))
    samples.sort(key=lambda s: s.ts_ms)
    label = PatientLabel("MRN1234567", Scenario.RESPIRATORY_FAILURE, START + 3600_000, START + 5400_000, 1)
    for policy in (Policy.NEWS2_ONLY, Policy.WARDWATCH):
        alerts = run_engine("MRN1234567", engine_config(policy), samples, START + 5400_000)
        score = score_patient(label, alerts, START, START + 5400_000)
        assert score.episode.detected, policy
        assert score.false_alerts == 0, policy


# ---- end to end ----------------------------------------------------------------------


def test_tiny_end_to_end_run_writes_report_json_and_plots(tmp_path):
    spec = CohortSpec(n_patients=6, hours=3.0, deteriorating_share=0.5)
    progress = io.StringIO()
    report = run_evaluation(spec, tmp_path, seeds=(7, 8), quick=True, workers=2, stream=progress)
    assert (tmp_path / "report.md").read_text().startswith("# wardwatch")
    doc = orjson.loads((tmp_path / "report.json").read_bytes())
    assert [p["policy"] for p in doc["policies"]] == [p.value for p in Policy]
    assert doc["seeds"] == [7, 8]
    assert (tmp_path / "tradeoff.png").stat().st_size > 1000
    timelines = sorted(tmp_path.glob("timeline_*.png"))
    assert timelines and all(p.stat().st_size > 1000 for p in timelines)
    assert set(report.plots) == {p.name for p in tmp_path.glob("*.png")}
    assert "100 %" in progress.getvalue()
    fixed = report.policy(Policy.FIXED_LIMITS.value)
    ours = report.policy(Policy.WARDWATCH.value)
    # The status quo pages far more than the policy does, on the same data.
    assert fixed.alerts_per_patient_day.mean > ours.alerts_per_patient_day.mean
    assert "| wardwatch (combined) |" in render_markdown(report)


def test_cli_parses_and_runs_quick(tmp_path, capsys):
    from streams.cli import build_parser

    args = build_parser().parse_args(
        [
            "evaluate",
            "--patients",
            "4",
            "--hours",
            "2",
            "--seeds",
            "3",
            "--quick",
            "--no-sweep",
            "--no-plots",
            "--json",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert args.seeds == (3,)
    assert args.run(args) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["spec"]["n_patients"] == 4 and doc["sweep"] == []


def test_quick_mode_caps_the_cohort():
    from alerts.evaluation.runner import quick_spec

    small = quick_spec(CohortSpec(n_patients=500, hours=48.0, seed=11))
    assert small.n_patients <= 30 and small.hours <= 12 and small.seed == 11
    assert quick_spec(CohortSpec(n_patients=4, hours=2.0)) == CohortSpec(n_patients=4, hours=2.0)


def test_tradeoff_plot_does_not_overprint_setting_names() -> None:
    """Settings that all reach 100 % recall land on one line: their names must not pile into a smudge."""
    from matplotlib import pyplot as plt

    from alerts.evaluation.plots import tradeoff_figure
    from alerts.evaluation.sweep import SweepPoint, SweepSetting

    points = [
        SweepPoint(f"thr {t} x1", SweepSetting(t, 1.0), 1.0, f, 1.0, 60.0 - 30 * t)
        for t, f in ((0.5, 0.50), (0.6, 0.20), (0.7, 0.15), (0.8, 0.0))
    ]
    fig = tradeoff_figure(points)
    try:
        recall_panel, delay_panel = ([t.get_text() for t in ax.texts] for ax in fig.axes)
    finally:
        plt.close(fig)
    assert 1 <= len(recall_panel) < len(points)  # 0.15 and 0.20 at 100 % sit a few pixels apart
    assert len(delay_panel) >= 2
