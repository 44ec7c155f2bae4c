"""`run_matrix`: every cell's cohort, re-shaped, through every policy; scored per cell.

Work is one (cell, patient) pair per task on a process pool, the slow 1 s
cells first so two cores stay busy to the end. Scoring is the evaluator's own
(`scoring.score_patient` / `summarise`): a cell's recall, median delay and false
alerts per stable patient-day mean exactly what they mean in `wardwatch evaluate`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from alerts.evaluation.fixed_limits import fixed_limit_alarms
from alerts.evaluation.matrix.cells import SAMPLING_S, Cell, Split, build_cells
from alerts.evaluation.matrix.results import WARDWATCH, CellPolicy, CellResult, MatrixReport
from alerts.evaluation.parallel import Progress, default_workers, run_tasks
from alerts.evaluation.policies import Policy, engine_config
from alerts.evaluation.provenance import code_fingerprint
from alerts.evaluation.replay import NamedConfig, PatientRun, PolicyAlerts, run_engine
from alerts.evaluation.scoring import AlertMark, episodes_by_patient, score_patient, summarise
from monitor.cohort import CohortSpec, PatientPlan, generate_cohort
from monitor.cohort.shapes import base_spec, iter_shaped_samples

#: A cell's cohort, half deteriorating: 24 patients x 12 h give 12 episodes and 6 stable patient-days, so
#: one false raise moves a cell by 0.17 per stable patient-day (12 patients moved it by 0.33 and one unlucky
#: raise decided the target). All 60 cells: 12.6 M samples x 2 engine configs, ~10 min on 2 idle cores.
CELL_PATIENTS, CELL_HOURS, CELL_DETERIORATING = 24, 12.0, 0.5
QUICK_PATIENTS, QUICK_HOURS = 6, 8.0


@dataclass(frozen=True, slots=True)
class CellTask:
    cell: Cell
    spec: CohortSpec
    plan: PatientPlan
    configs: tuple[NamedConfig, ...]


def matrix_configs(detectors: Sequence[NamedConfig] = ()) -> tuple[NamedConfig, ...]:
    """NEWS2-only and wardwatch through the engine, plus any detector variants."""
    return (
        NamedConfig(Policy.NEWS2_ONLY.value, engine_config(Policy.NEWS2_ONLY)),
        NamedConfig(WARDWATCH, engine_config(Policy.WARDWATCH)),
        *detectors,
    )


def replay_cell_patient(task: CellTask) -> tuple[int, PatientRun]:
    """One patient of one cell through every policy (a process-pool task)."""
    started = time.perf_counter()
    spec, plan = task.spec, task.plan
    samples = list(iter_shaped_samples(spec, plan, task.cell.shape, task.cell.seed))
    pid = plan.label.patient_id
    results = [PolicyAlerts(c.name, run_engine(pid, c.config, samples, spec.end_ms)) for c in task.configs]
    fixed = tuple(AlertMark.of(a) for a in fixed_limit_alarms(samples))
    results.insert(0, PolicyAlerts(Policy.FIXED_LIMITS.value, fixed))
    return task.cell.number, PatientRun(plan.label, tuple(results), len(samples), time.perf_counter() - started)


def cell_spec(cell: Cell, patients: int, hours: float) -> CohortSpec:
    spec = CohortSpec(n_patients=patients, hours=hours, seed=cell.seed, deteriorating_share=CELL_DETERIORATING)
    return base_spec(spec, cell.shape)


def score_cell(cell: Cell, spec: CohortSpec, runs: Sequence[PatientRun], names: Sequence[str]) -> CellResult:
    scores = {n: [score_patient(r.label, r.alerts(n), spec.start_ms, spec.end_ms) for r in runs] for n in names}
    reference = episodes_by_patient(scores[Policy.NEWS2_ONLY.value])
    policies = []
    for n in names:
        stats = summarise(n, scores[n], reference)
        policies.append(
            CellPolicy(
                n,
                stats.overall.recall,
                stats.overall.episodes,
                stats.overall.delay_median_min,
                stats.false_per_stable_day,
                stats.alerts_per_patient_day,
                stats.false_stable_alerts,
                stats.stable_patient_days,
            )
        )
    return CellResult(
        cell.number,
        cell.name,
        cell.split.value,
        cell.shape.sampling_s,
        cell.artefacts,
        cell.shape.missing,
        cell.seed,
        cell.has_target,
        sum(r.samples for r in runs),
        tuple(policies),
    )


def run_matrix(
    out_dir: str | Path = "evaluation-matrix",
    patients: int = CELL_PATIENTS,
    hours: float = CELL_HOURS,
    base_seed: int = 7,
    split: Split | None = None,
    quick: bool = False,
    workers: int | None = None,
    detectors: Sequence[NamedConfig] = (),
    plots: bool = True,
    stream: TextIO | None = None,
    sampling: tuple[float, ...] = SAMPLING_S,
) -> MatrixReport:
    """Run every cell (or one split's), write report.md/.json and the heat map to `out_dir`."""
    from alerts.evaluation.matrix.report import write_report

    started = time.perf_counter()
    workers = workers or default_workers()
    if quick:
        patients, hours = min(patients, QUICK_PATIENTS), min(hours, QUICK_HOURS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = build_cells(base_seed, sampling=sampling, split=split)
    configs = matrix_configs(detectors)
    specs = {c.number: cell_spec(c, patients, hours) for c in cells}
    tasks = [
        CellTask(c, specs[c.number], plan, configs) for c in cells for plan in generate_cohort(specs[c.number]).plans
    ]
    tasks.sort(key=lambda t: t.cell.shape.sampling_s)  # the costly 1 s cells first: no lone straggler at the end
    done = run_tasks(replay_cell_patient, tasks, workers, Progress(f"matrix ({len(cells)} cells)", len(tasks), stream))
    by_cell: dict[int, list[PatientRun]] = defaultdict(list)
    for number, run in done:
        by_cell[number].append(run)
    names = [Policy.FIXED_LIMITS.value] + [c.name for c in configs]
    results = []
    for cell in cells:
        runs = sorted(by_cell[cell.number], key=lambda r: r.label.patient_id)
        results.append(score_cell(cell, specs[cell.number], runs, names))
    plot_names: list[str] = []
    report = MatrixReport(
        tuple(results),
        tuple(names),
        patients,
        hours,
        base_seed,
        "all" if split is None else split.value,
        (),
        0.0,
        workers,
        code_fingerprint(),
    )
    if plots:
        from alerts.evaluation.matrix.plots import heatmap_plot

        plot_names.append(heatmap_plot(report, out / "matrix.png").name)
    report = MatrixReport(
        tuple(results),
        tuple(names),
        patients,
        hours,
        base_seed,
        report.split,
        tuple(plot_names),
        time.perf_counter() - started,
        workers,
        report.code_fingerprint,
    )
    write_report(report, out)
    return report
