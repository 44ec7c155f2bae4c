"""Render a MatrixReport as Markdown (one table, dev and held-out marked) and JSON."""

from __future__ import annotations

from pathlib import Path

import orjson

from alerts.evaluation.matrix.cells import sampling_label
from alerts.evaluation.matrix.results import WARDWATCH, CellResult, MatrixReport

DEFINITIONS = """\
- Each cell replays its own labelled cohort (half deteriorating, five scenarios) re-shaped by
  `monitor/cohort/shapes.py`: sampling interval; artefact bursts of 10-30 s (long: 30-60 s) at 3 per
  hour in which HR rises 25-60, SpO2 falls 4-12 and RR rises 5-15 together, the given share flagged by
  the device (`quality.motion` >= 0.7), the rest unflagged; each value left out with the missing share.
  From 15 min up the patient is observed in sets only (latest value of every vital at each round).
- **Recall**: episodes paged between onset and the must-alert time; **delay**: median page − onset;
  **false / stable pt-day**: physiological raises on stable patients — the same definitions as
  `wardwatch evaluate`.
- **Split**: dev = sampling 1 s, 1 min or 1 h without missingness (settings may be chosen there);
  everything else is held out. **Target** (issue #16, cells sampled <= 1 min): recall >= 95 % and
  <= 1 false alert per stable patient-day. A miss is **MISSED** when it is more than chance (recall
  below target, or the exact Poisson 95 % interval of the false-alert rate wholly above 1 per day);
  with ~6 stable patient-days a cell, 7 raises (1.17/day) are not.
"""


def _f(x: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "–" if x is None else f"{x * scale:.{digits}f}"


def matrix_table(report: MatrixReport) -> list[str]:
    head = "| # | split | sampling | artefacts | missing |"
    rule = "|---|---|---|---|---|"
    for p in report.policies:
        head += f" {p} recall % | {p} delay min | {p} false/day |"
        rule += "---|---|---|"
    head += f" {WARDWATCH} false/day 95 % CI | target |"
    rule += "---|---|"
    lines = [head, rule]
    for c in report.cells:
        row = f"| {c.number} | {c.split} | {sampling_label(c.sampling_s)} | {c.artefacts} | {c.missing:.0%} |"
        for p in report.policies:
            s = c.policy(p)
            delay, false = _f(s.delay_median_min, digits=0), _f(s.false_per_stable_day, digits=2)
            row += f" {_f(s.recall, 100, 0)} | {delay} | {false} |"
        interval = c.policy(WARDWATCH).false_interval()
        row += " – |" if interval is None else f" {interval[0]:.2f}–{interval[1]:.2f} |"
        row += f" {_verdict(c)} |"
        lines.append(row)
    return lines


def render_markdown(report: MatrixReport) -> str:
    lines = [
        "# wardwatch robustness matrix",
        "",
        f"{len(report.cells)} cells ({report.split}), {report.patients} patients x {report.hours:g} h each, "
        f"base seed {report.base_seed}; code fingerprint `{report.code_fingerprint}`; {report.workers} worker(s), "
        f"{report.runtime_s:.0f} s.",
        "",
        "## Target (cells sampled <= 1 min): recall >= 95 % and <= 1 false alert per stable patient-day",
        "",
        "| policy | cells met (all) | dev | held-out |",
        "|---|---|---|---|",
    ]
    for p in report.policies:
        lines.append(
            f"| {p} | {_count(report, p, None)} | {_count(report, p, 'dev')} | {_count(report, p, 'held-out')} |"
        )
    lines += ["", _chance_line(report), "", "## Cells", "", *matrix_table(report), ""]
    if report.plots:
        lines += ["## Heat map", ""] + [f"![{n}]({n})" for n in report.plots] + [""]
    lines += ["## Definitions", "", DEFINITIONS]
    return "\n".join(lines)


def _verdict(c: CellResult) -> str:
    met = c.meets(WARDWATCH)
    if met is None:
        return "–"
    return "met" if met else ("**MISSED**" if c.clearly_missed() else "missed, within chance")


def _chance_line(report: MatrixReport) -> str:
    """How many of wardwatch's misses are more than chance: a cell has ~6 stable patient-days."""
    missed = [c for c in report.cells if c.meets(WARDWATCH) is False]
    clear = [c.number for c in missed if c.clearly_missed()]
    return (
        f"{WARDWATCH} misses {len(missed)} cell(s); {len(clear)} of them clearly "
        f"(recall below target, or the false-alert rate's whole 95 % interval above it){': ' if clear else ''}"
        f"{', '.join(map(str, clear))}. The others are within chance."
    )


def _count(report: MatrixReport, policy: str, split: str | None) -> str:
    judged = [c.meets(policy) for c in report.cells if c.has_target and (split is None or c.split == split)]
    return f"{sum(bool(j) for j in judged)}/{len(judged)}" if judged else "–"


def report_json(report: MatrixReport) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)


def write_report(report: MatrixReport, out_dir: Path) -> tuple[Path, Path]:
    md, js = out_dir / "report.md", out_dir / "report.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_bytes(report_json(report))
    return md, js
