"""Render an EvaluationReport as Markdown (for people) and JSON (for machines).

Numbers are shown as mean ± SD over seeds with the per-seed values further
down, so a reader sees both the headline and whether it holds up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from alerts.evaluation.aggregate import GroupSpread, PolicySpread, Spread
from alerts.evaluation.policies import Policy

if TYPE_CHECKING:  # only for annotations: runner imports this module to write the report (no runtime cycle)
    from alerts.evaluation.runner import EvaluationReport

_TITLES = {p.value: p.title for p in Policy}

DEFINITIONS = """\
- **Detected**: a physiological alert (news2, anomaly or threshold) *pages* between onset and the
  must-alert time: it is raised, or an alert already open steps up to a higher priority (a new page
  that needs its own acknowledgement; a no-ack reminder at the same priority does not count).
  **Delay**: page − onset. Recall = detected / episodes.
- **Lead vs NEWS2-only**: per episode, NEWS2-only's first page after onset minus this policy's
  (positive = earlier); median over episodes where both paged.
- **False alert**: a physiological raise on a stable patient (per stable patient-day), or before onset
  on a deteriorating one (per pre-onset patient-day). Raises after the deadline are late, not false.
- **Technical** (probe off, motion, signal loss) are counted apart. **Escalations** are re-pages of an
  open physiological episode (no one acknowledges in a replay, so timers run).
- **Fixed bedside limits**: HR < 50 / > 120, SpO2 < 90, RR < 8 / > 30, SBP < 90 / > 180, T > 38.5;
  every crossing is an alarm at once, counted at its onset; probe-off is its technical alarm.
"""


def fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"


def fmt_spread(s: Spread, scale: float = 1.0, digits: int = 1) -> str:
    if s.mean is None:
        return "–"
    if s.n <= 1 or s.sd is None:  # sd is None only with no values (mean None too)
        return fmt(s.mean, scale, digits)
    return f"{s.mean * scale:.{digits}f} ± {s.sd * scale:.{digits}f}"


def _overall_table(policies: tuple[PolicySpread, ...]) -> list[str]:
    lines = [
        "| policy | recall % | delay median (min) | delay p90 (min) | lead vs NEWS2-only (min) "
        "| false / stable pt-day | false pre-onset / pt-day | physiological alerts / pt-day "
        "| technical / pt-day | escalations / pt-day |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in policies:
        o = p.overall
        lines.append(
            f"| {_TITLES.get(p.policy, p.policy)} | {fmt_spread(o.recall, 100)} | {fmt_spread(o.delay_median_min)} "
            f"| {fmt_spread(o.delay_p90_min)} | {fmt_spread(o.lead_median_min)} "
            f"| {fmt_spread(p.false_per_stable_day, digits=2)} | {fmt_spread(p.false_pre_onset_per_day, digits=2)} "
            f"| {fmt_spread(p.alerts_per_patient_day, digits=2)} | {fmt_spread(p.technical_per_patient_day, digits=2)} "
            f"| {fmt_spread(p.escalations_per_patient_day, digits=2)} |"
        )
    return lines


def _false_kind_table(policies: tuple[PolicySpread, ...]) -> list[str]:
    kinds = [kind for kind, _ in policies[0].false_stable_by_kind]
    lines = ["| policy | " + " | ".join(f"opened by {k}" for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for p in policies:
        cells = " | ".join(fmt_spread(spread, digits=2) for _, spread in p.false_stable_by_kind)
        lines.append(f"| {_TITLES.get(p.policy, p.policy)} | {cells} |")
    return lines


def _scenario_table(policies: tuple[PolicySpread, ...]) -> list[str]:
    lines = [
        "| scenario | policy | episodes | recall % | delay median (min) | delay p90 (min) | lead vs NEWS2-only (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, group in enumerate(policies[0].scenarios):
        for p in policies:
            g: GroupSpread = p.scenarios[i]
            lines.append(
                f"| {group.scenario} | {_TITLES.get(p.policy, p.policy)} | {g.episodes} | {fmt_spread(g.recall, 100)} "
                f"| {fmt_spread(g.delay_median_min)} | {fmt_spread(g.delay_p90_min)} "
                f"| {fmt_spread(g.lead_median_min)} |"
            )
    return lines


def _seed_table(report: EvaluationReport) -> list[str]:
    lines = [
        "| seed | samples | runtime (s) | policy | recall % | delay median (min) | false / stable pt-day "
        "| physiological alerts / pt-day | technical / pt-day |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        for p in r.policies:
            lines.append(
                f"| {r.seed} | {r.samples:,} | {r.seconds:.0f} | {_TITLES.get(p.policy, p.policy)} "
                f"| {fmt(p.overall.recall, 100)} | {fmt(p.overall.delay_median_min)} "
                f"| {fmt(p.false_per_stable_day, digits=2)} | {fmt(p.alerts_per_patient_day, digits=2)} "
                f"| {fmt(p.technical_per_patient_day, digits=2)} |"
            )
    return lines


def _sweep_table(report: EvaluationReport) -> list[str]:
    if not report.sweep or report.sweep_spec is None:
        return []
    s = report.sweep_spec
    lines = [
        "## Trade-off across policy settings",
        "",
        f"Sweep cohort: {s.n_patients} patients × {s.hours:g} h, seed {s.seed}, "
        f"{s.deteriorating_share:.0%} deteriorating. Setting = detector raise threshold and a scale on "
        "the NEWS2/anomaly persistence delays.",
        "",
        "| setting | recall % | false / stable pt-day | physiological alerts / pt-day | delay median (min) |",
        "|---|---|---|---|---|",
    ]
    for p in report.sweep:
        lines.append(
            f"| {_TITLES.get(p.name, p.name)} | {fmt(p.recall, 100)} | {fmt(p.false_per_stable_day, digits=2)} "
            f"| {fmt(p.alerts_per_patient_day, digits=2)} | {fmt(p.delay_median_min)} |"
        )
    return [*lines, ""]


def render_markdown(report: EvaluationReport) -> str:
    """The whole report as one Markdown document."""
    s = report.spec
    samples = sum(r.samples for r in report.results)
    lines = [
        "# wardwatch detection-quality evaluation",
        "",
        f"Cohort per seed: {s.n_patients} patients × {s.hours:g} h, {s.deteriorating_share:.0%} deteriorating, "
        f"artifacts {'on' if s.artifacts else 'off'}, wearable every {s.wearable_interval_s[0]}–"
        f"{s.wearable_interval_s[1]} s. Seeds: {', '.join(map(str, report.seeds))}"
        f"{' (quick mode)' if report.quick else ''}. {samples:,} samples replayed in "
        f"{report.runtime_s:.0f} s on {report.workers} worker(s). Domain code fingerprint "
        f"`{report.code_fingerprint}` (numbers compare only between runs with the same one).",
        "",
        "## Targets (wardwatch combined policy)",
        "",
        "| target | goal | value | met |",
        "|---|---|---|---|",
    ]
    for t in report.targets:
        scale = 100 if "recall" in t.name else 1
        met = "–" if t.met is None else ("yes" if t.met else "**no**")
        lines.append(f"| {t.name} | {t.target} | {fmt(t.value, scale, 2)} | {met} |")
    lines += ["", "## Overall (mean ± SD over seeds)", "", *_overall_table(report.policies), ""]
    lines += [
        "### False alerts per stable patient-day, by the kind that opened them",
        "",
        *_false_kind_table(report.policies),
        "",
    ]
    lines += ["## Per scenario", "", *_scenario_table(report.policies), ""]
    lines += ["## Per seed", "", *_seed_table(report), ""]
    lines += _sweep_table(report)
    if report.plots:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in report.plots] + [""]
    lines += ["## Definitions", "", DEFINITIONS, "## Engine configuration", "", f"`{report.engine_config}`", ""]
    return "\n".join(lines)


def report_json(report: EvaluationReport) -> bytes:
    """All numbers as JSON (dataclasses serialised field by field)."""
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def write_report(report: EvaluationReport, out_dir: Path) -> tuple[Path, Path]:
    md, js = out_dir / "report.md", out_dir / "report.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_bytes(report_json(report))
    return md, js
