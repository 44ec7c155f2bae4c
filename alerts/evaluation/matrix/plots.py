"""The matrix as one heat-map figure: policies down, metrics across, cells inside.

Each panel is sampling interval (columns) x artefact profile and missingness
(rows); numbers are printed in the cells. Dev cells (where settings may be
chosen) are outlined; everything else is held out. The red line on the
columns marks the sampling range the issue's target applies to (<= 1 min).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Rectangle

from alerts.evaluation.matrix.cells import SAMPLING_S, TARGET_MAX_SAMPLING_S, sampling_label
from alerts.evaluation.matrix.results import CellPolicy, MatrixReport

#: (title, value of a cell, colour map, norm, format)
_Metric = tuple[str, Callable[[CellPolicy], float | None], str, Normalize, str]
_METRICS: tuple[_Metric, ...] = (
    (
        "recall before must-alert (%)",
        lambda p: None if p.recall is None else 100 * p.recall,
        "RdYlGn",
        Normalize(0, 100),
        "{:.0f}",
    ),
    ("false alerts / stable pt-day", lambda p: p.false_per_stable_day, "RdYlGn_r", LogNorm(0.1, 30), "{:.1f}"),
    ("median delay from onset (min)", lambda p: p.delay_median_min, "viridis_r", Normalize(0, 240), "{:.0f}"),
)


def _rows(report: MatrixReport) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    for c in report.cells:
        key = (c.artefacts, c.missing)
        if key not in seen:
            seen.append(key)
    return seen


def heatmap_plot(report: MatrixReport, path: Path) -> Path:
    rows = _rows(report)
    cols = [s for s in SAMPLING_S if any(c.sampling_s == s for c in report.cells)]
    index = {(c.artefacts, c.missing, c.sampling_s): c for c in report.cells}
    n_pol = len(report.policies)
    fig, axes = plt.subplots(
        n_pol, len(_METRICS), figsize=(6.2 * len(_METRICS), 0.42 * len(rows) * n_pol + 1.8), squeeze=False
    )
    for r, policy in enumerate(report.policies):
        for m, (title, value, cmap, norm, fmt) in enumerate(_METRICS):
            ax = axes[r][m]
            grid = np.full((len(rows), len(cols)), np.nan)
            for i, (art, miss) in enumerate(rows):
                for j, s in enumerate(cols):
                    cell = index.get((art, miss, s))
                    if cell is None:
                        continue
                    v = value(cell.policy(policy))
                    if v is not None:
                        grid[i, j] = max(v, 0.1) if isinstance(norm, LogNorm) else v
                        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7)
                    if cell.split == "dev":
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6, ec="black"))
            ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
            target_cols = [j for j, s in enumerate(cols) if s <= TARGET_MAX_SAMPLING_S]
            if target_cols:
                ax.axvline(max(target_cols) + 0.5, color="tab:red", lw=1.5)
            ax.set_xticks(range(len(cols)), [sampling_label(s) for s in cols], fontsize=8)
            ax.set_yticks(range(len(rows)), [f"{a}, miss {m:.0%}" for a, m in rows], fontsize=7)
            ax.set_title(f"{policy}: {title}", fontsize=9)
    fig.suptitle(
        f"Robustness matrix ({report.patients} patients x {report.hours:g} h per cell; outlined = dev "
        f"cells, rest held out; left of red line: target applies)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
