"""`run_charted`: replay a charted dataset through every policy, score, plot, report."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from alerts.evaluation.charted.dataset import ChartedDataset, load_dataset
from alerts.evaluation.charted.replay import CHART_NEWS2, FIXED_LIMITS, StayRun, StayTask, replay_stay
from alerts.evaluation.charted.scoring import ChartedPolicyStats, max_news2_auroc, policy_stats
from alerts.evaluation.parallel import Progress, default_workers, run_tasks
from alerts.evaluation.provenance import code_fingerprint
from alerts.evaluation.replay import NamedConfig


@dataclass(frozen=True, slots=True)
class ChartedTarget:
    """One of the issue's PhysioNet targets: wardwatch against NEWS2-on-chart."""

    name: str
    ours: float | None
    chart: float | None
    met: bool | None


@dataclass(frozen=True)
class ChartedReport:
    title: str
    dataset: str
    stays: int
    deaths: int
    sets: int
    accepted: int
    rejected: dict[str, int]
    policies: tuple[ChartedPolicyStats, ...]
    max_news2_auroc: float | None
    targets: tuple[ChartedTarget, ...]
    plots: tuple[str, ...]
    runtime_s: float
    workers: int
    code_fingerprint: str

    def policy(self, name: str) -> ChartedPolicyStats:
        return next(p for p in self.policies if p.policy == name)


def charted_targets(ours: ChartedPolicyStats, chart: ChartedPolicyStats) -> tuple[ChartedTarget, ...]:
    """Deaths alerted at least as often, fewer episodes per patient-day, AUROC not below."""

    def judge(name: str, a: float | None, b: float | None, ok) -> ChartedTarget:  # type: ignore[no-untyped-def]
        return ChartedTarget(name, a, b, None if a is None or b is None else bool(ok(a, b)))

    return (
        judge(
            "deaths with a medium/high alert in last 24 h >= NEWS2-on-chart",
            ours.deaths_alerted,
            chart.deaths_alerted,
            lambda a, b: a >= b,
        ),
        judge(
            "alert episodes per patient-day < NEWS2-on-chart",
            ours.episodes_per_day,
            chart.episodes_per_day,
            lambda a, b: a < b,
        ),
        judge("AUROC of highest level >= NEWS2-on-chart", ours.auroc, chart.auroc, lambda a, b: a >= b),
    )


def replay_dataset(
    data: ChartedDataset, configs: tuple[NamedConfig, ...], workers: int, stream: TextIO | None = None
) -> list[StayRun]:
    """Every stay through every policy, in dataset order."""
    tasks = [StayTask(s, tuple(data.messages.get(s.patient_id, ())), configs) for s in data.stays]
    runs = run_tasks(replay_stay, tasks, workers, Progress("replay", len(tasks), stream, unit="stays"))
    order = {s.patient_id: i for i, s in enumerate(data.stays)}
    return sorted(runs, key=lambda r: order[r.stay.patient_id])


def run_charted(
    dataset: str | Path,
    out_dir: str | Path = "evaluation-charted",
    workers: int | None = None,
    limit: int | None = None,
    configs: tuple[NamedConfig, ...] | None = None,
    plots: bool = True,
    stream: TextIO | None = None,
) -> ChartedReport:
    """Replay `dataset` (stays.csv + samples.csv.gz); write report.md/.json and PNGs to `out_dir`."""
    from alerts.evaluation.charted.report import write_report
    from alerts.evaluation.runner import policy_configs

    started = time.perf_counter()
    workers = workers or default_workers()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(dataset, limit=limit)
    configs = configs if configs is not None else policy_configs()
    runs = replay_dataset(data, configs, workers, stream)
    names = [FIXED_LIMITS, CHART_NEWS2] + [c.name for c in configs]
    stats = tuple(policy_stats(name, runs) for name in names)
    rejected: Counter[str] = Counter()
    for r in runs:
        rejected.update(r.rejected)
    by_name = {s.policy: s for s in stats}
    ours = by_name.get("wardwatch") or stats[-1]
    plot_names: list[str] = []
    if plots:
        from alerts.evaluation.charted.plots import charted_plot

        plot_names.append(charted_plot(runs, stats, out / "charted.png").name)
    report = ChartedReport(
        title=data.title,
        dataset=str(dataset),
        stays=len(runs),
        deaths=data.deaths,
        sets=sum(r.sets for r in runs),
        accepted=sum(r.accepted for r in runs),
        rejected=dict(rejected),
        policies=stats,
        max_news2_auroc=max_news2_auroc(runs),
        targets=charted_targets(ours, by_name[CHART_NEWS2]),
        plots=tuple(plot_names),
        runtime_s=time.perf_counter() - started,
        workers=workers,
        code_fingerprint=code_fingerprint(),
    )
    write_report(report, out)
    return report
