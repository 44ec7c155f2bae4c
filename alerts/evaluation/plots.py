"""PNG figures of the evaluation: a timeline per scenario and the trade-off curve.

Matplotlib with the Agg backend (no display on CI or ward servers). Each plot
answers one question: "when did each policy page, relative to onset and
deadline, and what did the chart show?" and "what does more sensitivity cost
in false alerts?".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import overload

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alerts.evaluation.policies import Policy
from alerts.evaluation.sweep import SweepPoint
from alerts.evaluation.trace import Trace
from alerts.model import Status
from monitor.vitals import LABELS, UNITS

_COLOURS = {
    Policy.FIXED_LIMITS.value: "tab:grey",
    Policy.NEWS2_ONLY.value: "tab:orange",
    Policy.DETECTOR_ONLY.value: "tab:purple",
    Policy.WARDWATCH.value: "tab:blue",
}
_PANELS = (("heart_rate",), ("spo2",), ("resp_rate",), ("systolic_bp", "temperature"))
_WINDOW_BEFORE_H, _WINDOW_AFTER_H = 3.0, 2.0


@overload
def _hours(ms: np.ndarray, zero_ms: int) -> np.ndarray: ...
@overload
def _hours(ms: float, zero_ms: int) -> float: ...
def _hours(ms: np.ndarray | float, zero_ms: int) -> np.ndarray | float:
    """Hours from `zero_ms`: an array for an array, a numpy float (a float) for one time."""
    return (np.asarray(ms, dtype=float) - zero_ms) / 3_600_000.0


def timeline_plot(trace: Trace, path: Path) -> Path:
    """Vitals, NEWS2 and alert marks around onset (hours relative to onset)."""
    label = trace.label
    zero = label.onset_ms if label.onset_ms is not None else int(trace.minutes_ms[0])
    x = _hours(trace.minutes_ms, zero)
    if label.onset_ms is None or label.must_alert_by_ms is None:  # stable: the whole stay
        lo, hi = 0.0, float(x[-1])
    else:
        lo = -_WINDOW_BEFORE_H
        hi = float(_hours(label.must_alert_by_ms, zero)) + _WINDOW_AFTER_H
    keep = (x >= lo) & (x <= hi)
    fig, axes = plt.subplots(len(_PANELS) + 2, 1, figsize=(10, 11), sharex=True)
    # strict=False: the last two axes are NEWS2 and the alert rows, drawn below.
    for ax, names in zip(axes, _PANELS, strict=False):
        for name in names:
            y = trace.vitals[name][keep]
            style = "o" if name in ("systolic_bp", "temperature") else "-"
            target = ax if name != "temperature" else ax.twinx()
            target.plot(
                x[keep],
                y,
                style,
                ms=3,
                lw=0.8,
                label=f"{LABELS[name]} ({UNITS[name]})",
                color="tab:red" if name == "temperature" else None,
            )
            target.set_ylabel(f"{LABELS[name]}\n{UNITS[name]}", fontsize=8)
    axes[-2].step(x[keep], trace.news2[keep], where="post", color="black", lw=0.9)
    axes[-2].set_ylabel("NEWS2", fontsize=8)
    _alert_rows(axes[-1], trace, zero, lo, hi)
    for ax in axes:
        if label.onset_ms is not None and label.must_alert_by_ms is not None:  # set together
            ax.axvline(0.0, color="tab:green", lw=1.2)
            ax.axvline(_hours(label.must_alert_by_ms, zero), color="tab:red", lw=1.2, ls="--")
    axes[-1].set_xlim(lo, hi)
    axes[-1].set_xlabel(
        "hours from onset (green: onset, red dashed: must alert by)"
        if label.onset_ms
        else "hours from start of monitoring"
    )
    fig.suptitle(f"{label.scenario.value}: {label.patient_id} (SpO2 scale {label.spo2_scale})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _alert_rows(ax: Axes, trace: Trace, zero: int, lo: float, hi: float) -> None:
    """One row per policy: physiological raises as triangles, technical as dots."""
    for row, result in enumerate(trace.results):
        raised = [a for a in result.alerts if a.status is Status.RAISED]
        phys = [_hours(a.ts_ms, zero) for a in raised if a.kind.physiological]
        tech = [_hours(a.ts_ms, zero) for a in raised if not a.kind.physiological]
        colour = _COLOURS.get(result.name, "tab:blue")
        ax.plot(phys, [row] * len(phys), "v", color=colour, ms=7)
        ax.plot(tech, [row] * len(tech), ".", color=colour, alpha=0.4)
    ax.set_yticks(range(len(trace.results)), [r.name for r in trace.results], fontsize=8)
    ax.set_ylim(-0.5, len(trace.results) - 0.5)
    ax.set_xlim(lo, hi)


def tradeoff_plot(points: Sequence[SweepPoint], path: Path) -> Path:
    """Recall and median delay vs false alerts per stable patient-day, per setting and baseline."""
    fig = tradeoff_figure(points)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def tradeoff_figure(points: Sequence[SweepPoint]) -> Figure:
    """The trade-off plot's figure (two panels: recall, median delay), before it is saved."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    _tradeoff_panel(left, points, lambda p: 100 * (p.recall or 0.0), "recall before must-alert (%)")
    left.axhline(95, color="tab:green", lw=0.8, ls=":")
    _tradeoff_panel(right, points, lambda p: p.delay_median_min, "median detection delay from onset (min)")
    left.legend(fontsize=8)
    fig.suptitle("Sensitivity vs alarm burden across policy settings")
    fig.tight_layout()
    return fig


def _tradeoff_panel(
    ax: Axes, points: Sequence[SweepPoint], y: Callable[[SweepPoint], float | None], ylabel: str
) -> None:
    sweep = [p for p in points if p.setting is not None and y(p) is not None]
    ax.plot(
        [_gap(p.false_per_stable_day) for p in sweep],
        [_gap(y(p)) for p in sweep],
        "-o",
        color=_COLOURS[Policy.WARDWATCH.value],
        label="wardwatch settings",
    )
    for p in points:
        if p.setting is None and y(p) is not None:
            colour = _COLOURS.get(p.name, "black")
            ax.plot([_gap(p.false_per_stable_day)], [_gap(y(p))], "s", color=colour, label=p.name)
    ax.axvline(1.0, color="tab:red", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=1.0)
    widest = max([p.false_per_stable_day or 0.0 for p in points] + [2.0])
    ax.set_xlim(0.0, widest * 1.6)
    _label_apart(ax, [(p.name, p.false_per_stable_day, y(p)) for p in sweep])
    ax.set_xlabel("false alerts per stable patient-day (symlog; red: target 1)")
    ax.set_ylabel(ylabel)


#: Labels closer than this on screen (pixels: across, up) are left out: settings that
#: land on one point (every one at 100 % recall) piled their names into one smudge.
_LABEL_APART_PX = (60.0, 12.0)


def _label_apart(ax: Axes, labelled: Sequence[tuple[str, float | None, float | None]]) -> None:
    """Name each point unless it would overprint a name already placed (the line still shows it)."""
    ax.figure.canvas.draw()  # final limits, so data -> pixels is what is drawn
    placed: list[tuple[float, float]] = []
    for name, x, y in sorted(labelled, key=lambda t: t[1] or 0.0):
        if x is None or y is None:
            continue
        px, py = ax.transData.transform((x, y))
        if any(abs(px - qx) < _LABEL_APART_PX[0] and abs(py - qy) < _LABEL_APART_PX[1] for qx, qy in placed):
            continue
        placed.append((px, py))
        ax.annotate(name, (x, y), fontsize=7, textcoords="offset points", xytext=(4, -8))


def _gap(value: float | None) -> float:
    """A missing number as matplotlib draws None anyway: nan, a gap in the line."""
    return math.nan if value is None else value
