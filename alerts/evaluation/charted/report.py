"""Render a ChartedReport as Markdown (for people) and JSON (for machines)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:  # only for annotations: the runner imports this module to write the report (no runtime cycle)
    from alerts.evaluation.charted.runner import ChartedReport

ATTRIBUTION = (
    "PhysioNet/CinC Challenge 2012 set-a (Silva I, Moody G, Scott DJ, Celi LA, Mark RG. Predicting "
    "In-Hospital Mortality of ICU Patients: The PhysioNet/Computing in Cardiology Challenge 2012. "
    "Computing in Cardiology 2012;39:245-248), derived from MIMIC-II; Open Data Commons Attribution "
    "License v1.0 (ODC-By)."
)
TITLES = {
    "fixed_limits": "Fixed bedside limits",
    "news2_chart": "NEWS2 on every charted set (>= 5 or a single 3)",
    "news2_only": "wardwatch engine, NEWS2 only",
    "detector_only": "wardwatch engine, detector only",
    "wardwatch": "wardwatch (combined)",
}
DEFINITIONS = """\
- Every charted set is sent through the contract parser as a `vitals` message; rejected sets (impossible
  values such as SBP 0) are counted by reason and never reach a policy, as in the worker.
- **Episodes**: physiological alerts raised. **Pages**: raises plus priority step-ups of an open alert.
  **Escalations**: no-ack reminders (nobody acknowledges in a replay, so every timer runs).
- **Deaths / survivors alerted**: share with a medium or high alert open at some time in the last 24 h
  of their record (the record is the first 48 h of the stay, so this is hours 24-48).
- **AUROC**: each stay's highest alert level (0 none, 1 low, 2 medium, 3 high; fixed limits have one
  level) as a score for in-hospital death; ties count one half. 0.5 is chance.
- **NEWS2 on chart**: NEWS2 scored on every set with each parameter carried forward while fresh
  (vitals 4 h, nursing inputs 12 h); an alert opens at >= 5 or a single 3 at the band's priority, steps
  up with the band, closes on the first set below. **Fixed limits**: HR < 50 / > 120, SpO2 < 90,
  RR < 8 / > 30, SBP < 90 / > 180, T > 38.5, an alarm per crossing.
"""


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def policy_table(report: ChartedReport) -> list[str]:
    lines = [
        "| policy | episodes / pt-day | pages / pt-day | escalations / pt-day | deaths alerted last 24 h % "
        "| survivors alerted last 24 h % | AUROC highest level | stays with any alert % "
        "| high alert within 1 h of charted NEWS2 >= 7 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report.policies:
        lines.append(
            f"| {TITLES.get(p.policy, p.policy)} | {_num(p.episodes_per_day)} | {_num(p.pages_per_day)} "
            f"| {_num(p.escalations_per_day)} | {_pct(p.deaths_alerted)} | {_pct(p.survivors_alerted)} "
            f"| {_num(p.auroc, 3)} | {_pct(p.stays_alerted)} "
            f"| {p.high_within_hour_of_news2_7}/{p.news2_7_stays} |"
        )
    return lines


def render_markdown(report: ChartedReport) -> str:
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(report.rejected.items())) or "none"
    lines = [
        "# wardwatch charted-data replay",
        "",
        f"Dataset: `{report.dataset}` ({report.title}). {report.stays} stays, {report.deaths} in-hospital "
        f"deaths; {report.sets} charted sets, {report.accepted} accepted by the contract parser, rejected: "
        f"{rejected}.",
        "",
        f"Code fingerprint `{report.code_fingerprint}`; {report.workers} worker(s), {report.runtime_s:.0f} s.",
        "",
        "## Policies",
        "",
        *policy_table(report),
        "",
        f"AUROC of the highest charted NEWS2 total (a continuous score, not a policy): "
        f"{_num(report.max_news2_auroc, 3)}.",
        "",
        "## Targets (issue #16): wardwatch vs NEWS2 on chart",
        "",
        "| target | wardwatch | NEWS2 on chart | met |",
        "|---|---|---|---|",
    ]
    for t in report.targets:
        state = "n/a" if t.met is None else ("met" if t.met else "MISSED")
        lines.append(f"| {t.name} | {_num(t.ours, 3)} | {_num(t.chart, 3)} | {state} |")
    lines += [""]
    if report.plots:
        lines += ["## Plots", ""] + [f"![{name}]({name})" for name in report.plots] + [""]
    lines += ["## Definitions", "", DEFINITIONS, "## Data", "", ATTRIBUTION, ""]
    return "\n".join(lines)


def report_json(report: ChartedReport) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def write_report(report: ChartedReport, out_dir: Path) -> tuple[Path, Path]:
    md, js = out_dir / "report.md", out_dir / "report.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_bytes(report_json(report))
    return md, js
