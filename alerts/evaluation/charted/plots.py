"""One figure for the charted replay: ROC of each policy's highest level, and the burden.

Left: ROC points of "highest alert level >= k" for in-hospital death, one
line per policy (a policy with one level, like fixed limits, is one point).
Right: share of deaths vs survivors alerted (medium/high) in their last 24 h
next to alert episodes per patient-day: what each policy buys and costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from alerts.evaluation.charted.replay import StayRun
from alerts.evaluation.charted.scoring import ChartedPolicyStats


def roc_points(levels: Sequence[int], died: Sequence[bool]) -> tuple[list[float], list[float]]:
    """(FPR, TPR) of 'level >= k' for every k, from (1, 1) down to (0, 0)."""
    lv = np.asarray(levels)
    d = np.asarray(died, dtype=bool)
    fpr, tpr = [1.0], [1.0]
    for k in sorted(set(lv.tolist()) | {0}):
        if k == 0:
            continue
        hit = lv >= k
        fpr.append(float(hit[~d].mean()) if (~d).any() else 0.0)
        tpr.append(float(hit[d].mean()) if d.any() else 0.0)
    fpr.append(0.0)
    tpr.append(0.0)
    return fpr, tpr


def charted_plot(runs: Sequence[StayRun], stats: Sequence[ChartedPolicyStats], path: Path) -> Path:
    died = [r.stay.died for r in runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for s in stats:
        fpr, tpr = roc_points([r.outcome(s.policy).max_level for r in runs], died)
        auc = "–" if s.auroc is None else f"{s.auroc:.2f}"
        left.plot(fpr, tpr, "-o", ms=4, label=f"{s.policy} (AUROC {auc})")
    left.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    left.set_xlabel("survivors reaching the level (FPR)")
    left.set_ylabel("deaths reaching the level (TPR)")
    left.set_title("Highest alert level of a stay vs in-hospital death")
    left.legend(fontsize=8, loc="lower right")
    x = np.arange(len(stats))
    width = 0.38
    right.bar(
        x - width / 2,
        [100 * (s.deaths_alerted or 0) for s in stats],
        width,
        label="deaths alerted (%)",
        color="tab:red",
    )
    right.bar(
        x + width / 2,
        [100 * (s.survivors_alerted or 0) for s in stats],
        width,
        label="survivors alerted (%)",
        color="tab:blue",
    )
    right.set_xticks(x, [s.policy for s in stats], rotation=20, fontsize=8)
    right.set_ylabel("medium/high alert in last 24 h of record (%)")
    right.set_ylim(0, 118)  # room for the legends above the bars
    twin = right.twinx()
    twin.plot(x, [s.episodes_per_day for s in stats], "kD", label="episodes / patient-day")
    twin.set_ylabel("alert episodes per patient-day")
    right.legend(fontsize=8, loc="upper left")
    twin.legend(fontsize=8, loc="upper right")
    right.set_title("What each policy buys (deaths) and costs (survivors, burden)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
