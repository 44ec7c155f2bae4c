"""`run_evaluation`: replay cohorts through every policy, score, sweep, plot, report.

The orchestration only: cohorts come from `monitor.cohort`, per-patient work
from `replay`, arithmetic from `scoring`/`aggregate`, files from `report` and
`plots`. Seeds are evaluated one after another, patients in parallel.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from alerts.engine import EngineConfig
from alerts.evaluation.aggregate import PolicySpread, aggregate_policy
from alerts.evaluation.parallel import Progress, default_workers, run_tasks
from alerts.evaluation.policies import ALL_POLICIES, Policy, engine_config
from alerts.evaluation.provenance import code_fingerprint
from alerts.evaluation.replay import NamedConfig, PatientRun, ReplayTask, replay_patient
from alerts.evaluation.scoring import PolicyStats, episodes_by_patient, score_patient, summarise
from alerts.evaluation.sweep import QUICK_SETTINGS, SETTINGS, SweepPoint, SweepSetting, sweep_config
from alerts.evaluation.targets import TargetCheck, check_targets
from monitor.cohort import DEFAULT_SPEC, CohortSpec, Scenario, generate_cohort

#: Quick mode (CI, smoke runs): a small ward for half a day.
QUICK_PATIENTS, QUICK_HOURS = 30, 12.0
#: The sweep cohort: fewer patients, more of them deteriorating.
SWEEP_PATIENTS, SWEEP_SHARE = 40, 0.5
QUICK_SWEEP_PATIENTS = 16


@dataclass(frozen=True, slots=True)
class SeedResult:
    seed: int
    patients: int
    hours: float
    samples: int
    seconds: float
    policies: tuple[PolicyStats, ...]

    def policy(self, name: str) -> PolicyStats:
        return next(p for p in self.policies if p.policy == name)


@dataclass(frozen=True)
class EvaluationReport:
    """Everything `wardwatch evaluate` found, ready to render."""

    spec: CohortSpec
    seeds: tuple[int, ...]
    quick: bool
    results: tuple[SeedResult, ...]
    policies: tuple[PolicySpread, ...]
    targets: tuple[TargetCheck, ...]
    sweep: tuple[SweepPoint, ...]
    sweep_spec: CohortSpec | None
    plots: tuple[str, ...]
    runtime_s: float
    engine_config: str
    workers: int
    code_fingerprint: str

    def policy(self, name: str) -> PolicySpread:
        return next(p for p in self.policies if p.policy == name)


def policy_configs(base: Any = None) -> tuple[NamedConfig, ...]:
    """The engine-backed policies, named by their `Policy` value."""
    return tuple(NamedConfig(p.value, engine_config(p, base)) for p in ALL_POLICIES if p.uses_engine)


def replay_cohort(
    spec: CohortSpec, configs: tuple[NamedConfig, ...], workers: int, label: str, stream: TextIO | None = None
) -> list[PatientRun]:
    """Every patient of `spec` through every config, in patient order."""
    cohort = generate_cohort(spec)
    tasks = [ReplayTask(spec, plan, configs) for plan in cohort.plans]
    runs = run_tasks(replay_patient, tasks, workers, Progress(label, len(tasks), stream))
    order = {pid: i for i, pid in enumerate(cohort.patient_ids)}
    return sorted(runs, key=lambda r: order[r.label.patient_id])


def score_runs(spec: CohortSpec, runs: Sequence[PatientRun], names: Sequence[str]) -> tuple[PolicyStats, ...]:
    """PolicyStats per name, lead time measured against NEWS2-only when present."""
    scores = {
        name: [score_patient(r.label, r.alerts(name), spec.start_ms, spec.end_ms) for r in runs] for name in names
    }
    reference_name = Policy.NEWS2_ONLY.value
    reference = episodes_by_patient(scores[reference_name]) if reference_name in scores else None
    return tuple(summarise(name, scores[name], reference) for name in names)


def evaluate_seed(spec: CohortSpec, workers: int, stream: TextIO | None = None) -> tuple[SeedResult, list[PatientRun]]:
    started = time.perf_counter()
    runs = replay_cohort(spec, policy_configs(), workers, f"seed {spec.seed}", stream)
    stats = score_runs(spec, runs, [p.value for p in ALL_POLICIES])
    result = SeedResult(
        spec.seed, spec.n_patients, spec.hours, sum(r.samples for r in runs), time.perf_counter() - started, stats
    )
    return result, runs


def run_sweep(
    spec: CohortSpec, settings: Sequence[SweepSetting], workers: int, stream: TextIO | None = None
) -> tuple[SweepPoint, ...]:
    """Recall and false-alert rate per setting, plus the baselines for reference."""
    configs = tuple(NamedConfig(s.name, sweep_config(s)) for s in settings)
    configs += (NamedConfig(Policy.NEWS2_ONLY.value, engine_config(Policy.NEWS2_ONLY)),)
    runs = replay_cohort(spec, configs, workers, "sweep", stream)
    names = [Policy.FIXED_LIMITS.value] + [c.name for c in configs]
    stats = {s.policy: s for s in score_runs(spec, runs, names)}
    by_name: dict[str, SweepSetting | None] = {s.name: s for s in settings}
    return tuple(
        SweepPoint(
            name,
            by_name.get(name),
            stats[name].overall.recall,
            stats[name].false_per_stable_day,
            stats[name].alerts_per_patient_day,
            stats[name].overall.delay_median_min,
        )
        for name in names
    )


def make_timelines(spec: CohortSpec, out_dir: Path) -> list[Path]:
    """One timeline PNG per scenario (first patient of each) plus one stable patient."""
    from alerts.evaluation.plots import timeline_plot
    from alerts.evaluation.trace import trace_patient

    cohort = generate_cohort(spec)
    configs = policy_configs()
    paths = []
    for scenario in Scenario:
        plan = next((p for p in cohort.plans if p.label.scenario is scenario), None)
        if plan is not None:
            trace = trace_patient(spec, plan, configs, EngineConfig())
            paths.append(timeline_plot(trace, out_dir / f"timeline_{scenario.value}.png"))
    return paths


def quick_spec(spec: CohortSpec) -> CohortSpec:
    """The CI-sized version of `spec`: same seed and shares, capped size and length."""
    return dataclasses.replace(
        spec, n_patients=min(spec.n_patients, QUICK_PATIENTS), hours=min(spec.hours, QUICK_HOURS)
    )


def run_evaluation(
    spec: CohortSpec = DEFAULT_SPEC,
    out_dir: str | Path = "evaluation",
    seeds: Sequence[int] = (7, 8, 9),
    quick: bool = False,
    workers: int | None = None,
    sweep: bool = True,
    plots: bool = True,
    stream: TextIO | None = None,
) -> EvaluationReport:
    """Evaluate every policy on one cohort per seed; write report.md/.json and PNGs."""
    from alerts.evaluation.report import write_report

    started = time.perf_counter()
    workers = workers or default_workers()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if quick:
        spec = quick_spec(spec)
    results = [evaluate_seed(dataclasses.replace(spec, seed=seed), workers, stream)[0] for seed in seeds]
    policies = tuple(aggregate_policy([r.policy(p.value) for r in results]) for p in ALL_POLICIES)
    sweep_spec = None
    points: tuple[SweepPoint, ...] = ()
    if sweep:
        sweep_spec = dataclasses.replace(
            spec,
            seed=seeds[0],
            deteriorating_share=SWEEP_SHARE,
            n_patients=min(spec.n_patients, QUICK_SWEEP_PATIENTS if quick else SWEEP_PATIENTS),
        )
        points = run_sweep(sweep_spec, QUICK_SETTINGS if quick else SETTINGS, workers, stream)
    plot_paths: list[Path] = []
    if plots:
        from alerts.evaluation.plots import tradeoff_plot

        plot_paths = make_timelines(dataclasses.replace(spec, seed=seeds[0]), out)
        if points:
            plot_paths.append(tradeoff_plot(points, out / "tradeoff.png"))
    report = EvaluationReport(
        spec=spec,
        seeds=tuple(seeds),
        quick=quick,
        results=tuple(results),
        policies=policies,
        targets=check_targets(policies, len(seeds)),
        sweep=points,
        sweep_spec=sweep_spec,
        plots=tuple(p.name for p in plot_paths),
        runtime_s=time.perf_counter() - started,
        engine_config=repr(EngineConfig()),
        workers=workers,
        code_fingerprint=code_fingerprint(),
    )
    write_report(report, out)
    return report
