"""One table and one plot comparing anomaly detectors (`wardwatch evaluate --compare --detectors a,b,c`).

Each detector runs as the whole wardwatch policy (`wardwatch[name]`: NEWS2,
hard limits and the detector, as a ward would run it) and, on the cohort, as
the detector alone (`detector_only`, which isolates what the detector itself
adds). The same data for all of them:

* the labelled cohort (seeds given): recall, median delay to the page, false
  alert episodes per stable patient-day;
* the robustness matrix (evalx's `run_matrix`): cells with sampling <= 1 min
  meeting the target (recall >= 95 %, <= 1 false alert per stable patient-day);
* real charted stays (evalx's `run_charted`, e.g. PhysioNet 2012): AUROC of each
  stay's highest alert level for in-hospital death, alert episodes per
  patient-day;
* cost, measured by the caller (`streams.bench.detectors`): domain µs per
  sample and checkpoint bytes per patient.

Pure: no Kafka; the cost figures are passed in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from alerts.evaluation.detectors import detector_config
from alerts.evaluation.policies import Policy, engine_config
from alerts.evaluation.replay import NamedConfig
from monitor.cohort import CohortSpec


@dataclass
class DetectorRow:
    detector: str
    recall: float | None = None
    delay_median_min: float | None = None
    false_per_stable_day: float | None = None
    only_recall: float | None = None
    only_false_per_stable_day: float | None = None
    matrix_met: int | None = None
    matrix_judged: int | None = None
    auroc: float | None = None
    episodes_per_day: float | None = None
    us_per_sample: float | None = None
    bytes_per_patient: float | None = None
    bytes_max: int | None = None


def policy_name(detector: str) -> str:
    return f"wardwatch[{detector}]"


def compare_configs(names: Sequence[str]) -> tuple[NamedConfig, ...]:
    """wardwatch[name] for each detector (the whole policy with that detector)."""
    return tuple(NamedConfig(policy_name(n), detector_config(n)) for n in names)


def cohort_figures(
    names: Sequence[str],
    spec: CohortSpec,
    seeds: Sequence[int],
    workers: int,
    rows: dict[str, DetectorRow],
    alone: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Recall, delay and false alerts on the labelled cohort, per detector, over all seeds."""
    from alerts.evaluation.runner import replay_cohort, score_runs

    configs = (NamedConfig(Policy.NEWS2_ONLY.value, engine_config(Policy.NEWS2_ONLY)), *compare_configs(names))
    if alone:  # doubles the run time: river detectors cost 3-5x the default per sample
        configs += tuple(
            NamedConfig(f"only[{n}]", engine_config(Policy.DETECTOR_ONLY, detector_config(n))) for n in names
        )
    per_name: dict[str, list[Any]] = {c.name: [] for c in configs}
    for seed in seeds:
        seed_spec = dataclasses.replace(spec, seed=seed)
        runs = replay_cohort(seed_spec, configs, workers, f"compare seed {seed}", stream)
        for stats in score_runs(seed_spec, runs, [c.name for c in configs]):
            per_name[stats.policy].append(stats)
    for n in names:
        row = rows[n]
        row.recall, row.delay_median_min, row.false_per_stable_day = _pool(per_name[policy_name(n)])
        if alone:
            row.only_recall, _, row.only_false_per_stable_day = _pool(per_name[f"only[{n}]"])


def _pool(stats: list[Any]) -> tuple[float | None, float | None, float | None]:
    """Recall over all episodes, median of the seeds' median delays, false alerts over all stable days."""
    episodes = sum(s.overall.episodes for s in stats)
    detected = sum(s.overall.detected for s in stats)
    delays = sorted(s.overall.delay_median_min for s in stats if s.overall.delay_median_min is not None)
    days = sum(s.stable_patient_days for s in stats)
    false = sum((s.false_per_stable_day or 0.0) * s.stable_patient_days for s in stats)
    return (
        detected / episodes if episodes else None,
        delays[len(delays) // 2] if delays else None,
        false / days if days else None,
    )


#: Sampling intervals of the matrix cells the comparison runs: the judged 1-min cells and the
#: charted 1-h ones. The 1 s and 5 s cells cost 60x more samples, times five detectors.
COMPARE_SAMPLING_S = (60.0, 3600.0)


def matrix_figures(
    names: Sequence[str],
    out: Path,
    rows: dict[str, DetectorRow],
    quick: bool,
    workers: int,
    base_seed: int,
    sampling: tuple[float, ...] = COMPARE_SAMPLING_S,
    stream: TextIO | None = None,
) -> None:
    from alerts.evaluation.matrix import run_matrix

    report = run_matrix(
        out / "matrix",
        base_seed=base_seed,
        quick=quick,
        workers=workers,
        detectors=compare_configs(names),
        stream=stream,
        sampling=sampling,
    )
    for n in names:
        rows[n].matrix_met, rows[n].matrix_judged = report.target_summary(policy_name(n))


def charted_figures(
    names: Sequence[str],
    dataset: str | Path,
    out: Path,
    rows: dict[str, DetectorRow],
    workers: int,
    limit: int | None,
    stream: TextIO | None = None,
) -> None:
    from alerts.evaluation.charted import run_charted

    report = run_charted(
        dataset, out / "charted", workers=workers, limit=limit, configs=compare_configs(names), stream=stream
    )
    for n in names:
        stats = report.policy(policy_name(n))
        rows[n].auroc, rows[n].episodes_per_day = stats.auroc, stats.episodes_per_day


def _f(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def table(rows: Sequence[DetectorRow]) -> str:
    lines = [
        "| detector | recall | median delay (min) | false alerts / stable pt-day | detector alone: recall, "
        "false / day | matrix cells met (≤ 1 min) | AUROC real data | episodes / pt-day real | µs / sample "
        "| bytes / patient (max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        matrix = "–" if r.matrix_judged is None else f"{r.matrix_met}/{r.matrix_judged}"
        size = "–" if r.bytes_per_patient is None else f"{r.bytes_per_patient:,.0f} ({r.bytes_max:,})"
        alone = f"{_f(r.only_recall, '.3f')}, {_f(r.only_false_per_stable_day, '.2f')}"
        lines.append(
            f"| {r.detector} | {_f(r.recall, '.3f')} | {_f(r.delay_median_min, '.1f')} | "
            f"{_f(r.false_per_stable_day, '.2f')} | {alone} | {matrix} | {_f(r.auroc, '.3f')} | "
            f"{_f(r.episodes_per_day, '.2f')} | {_f(r.us_per_sample, '.1f')} | {size} |"
        )
    return "\n".join(lines)


def write(rows: Sequence[DetectorRow], out: Path, notes: Sequence[str] = (), plots: bool = True) -> list[Path]:
    """compare.md, compare.json and compare.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    md = ["# Detector comparison", "", table(rows), ""] + [f"- {n}" for n in notes]
    (out / "compare.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out / "compare.json").write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1), encoding="utf-8")
    paths = [out / "compare.md", out / "compare.json"]
    if plots:
        paths.append(plot(rows, out / "compare.png"))
    return paths


def plot(rows: Sequence[DetectorRow], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("recall (cohort)", "recall", (0, 1.05)),
        ("false alerts / stable pt-day", "false_per_stable_day", None),
        ("AUROC, real data", "auroc", (0.4, 1.0)),
        ("domain µs / sample", "us_per_sample", None),
        ("bytes / patient", "bytes_per_patient", None),
        ("median delay (min)", "delay_median_min", None),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    names = [r.detector for r in rows]
    for ax, (title, attr, ylim) in zip(axes.flat, panels, strict=True):
        values = [getattr(r, attr) for r in rows]
        ax.bar(
            names,
            [v if v is not None else 0 for v in values],
            color=["#1f77b4" if n == "baseline-z" else "#999999" for n in names],
        )
        for i, v in enumerate(values):
            ax.text(i, (v or 0), "n/a" if v is None else f"{v:.3g}", ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        if ylim:
            ax.set_ylim(*ylim)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    if "us_per_sample" in [p[1] for p in panels]:
        axes.flat[3].axhline(20.0, color="red", lw=0.8, ls="--")  # the domain budget
    if "bytes_per_patient" in [p[1] for p in panels]:
        axes.flat[4].axhline(16 * 1024, color="red", lw=0.8, ls="--")  # the checkpoint budget
    fig.suptitle("Anomaly detectors on the same data (wardwatch policy with each detector)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
