"""What the robustness matrix found: one record per cell and policy, and the whole report.

Kept apart from `run` so the report and the heat map can read results without
importing the runner (which imports them to write its output).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import chi2

from alerts.evaluation.policies import Policy
from alerts.evaluation.targets import FALSE_TARGET_PER_DAY, RECALL_TARGET

WARDWATCH = Policy.WARDWATCH.value


@dataclass(frozen=True, slots=True)
class CellPolicy:
    """One policy in one cell."""

    policy: str
    recall: float | None
    episodes: int
    delay_median_min: float | None
    false_per_stable_day: float | None
    alerts_per_patient_day: float
    #: The counts behind `false_per_stable_day`, so its uncertainty can be stated.
    false_alerts: int = 0
    stable_days: float = 0.0

    def false_interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """Exact (Garwood) Poisson interval of the false-alert rate per stable patient-day.

        Why: a cell has ~6 stable patient-days, so one raise moves it by 0.17 and
        7 raises (1.17/day) are as consistent with a true rate of 1.0 as 6 are.
        The target is judged on the point estimate; this says how much that
        judgement rests on chance (Garwood, Biometrika 1936).

        >>> CellPolicy("x", 1.0, 12, 5.0, 7 / 6, 1.0, false_alerts=7, stable_days=6.0).false_interval()
        (0.469..., 2.403...)
        """
        if self.stable_days <= 0:
            return None
        k, tail = self.false_alerts, (1.0 - level) / 2.0
        low = 0.0 if k == 0 else float(chi2.ppf(tail, 2 * k)) / 2.0
        high = float(chi2.ppf(1.0 - tail, 2 * k + 2)) / 2.0
        return low / self.stable_days, high / self.stable_days


@dataclass(frozen=True, slots=True)
class CellResult:
    number: int
    name: str
    split: str
    sampling_s: float
    artefacts: str
    missing: float
    seed: int
    has_target: bool
    samples: int
    policies: tuple[CellPolicy, ...]

    def policy(self, name: str) -> CellPolicy:
        return next(p for p in self.policies if p.policy == name)

    def meets(self, name: str = WARDWATCH) -> bool | None:
        """The issue's target in this cell (None where it does not apply)."""
        if not self.has_target:
            return None
        p = self.policy(name)
        return (
            p.recall is not None
            and p.recall >= RECALL_TARGET
            and p.false_per_stable_day is not None
            and p.false_per_stable_day <= FALSE_TARGET_PER_DAY
        )

    def clearly_missed(self, name: str = WARDWATCH) -> bool:
        """Missed even allowing for chance: recall below target, or the false-alert rate's
        whole 95 % interval above it (a miss by one or two raises in ~6 days is not)."""
        if not self.has_target or self.meets(name):
            return False
        p = self.policy(name)
        if p.recall is None or p.recall < RECALL_TARGET:
            return True
        interval = p.false_interval()
        return interval is not None and interval[0] > FALSE_TARGET_PER_DAY


@dataclass(frozen=True)
class MatrixReport:
    cells: tuple[CellResult, ...]
    policies: tuple[str, ...]
    patients: int
    hours: float
    base_seed: int
    split: str
    plots: tuple[str, ...]
    runtime_s: float
    workers: int
    code_fingerprint: str

    def target_summary(self, name: str = WARDWATCH) -> tuple[int, int]:
        """(cells meeting the target, cells the target applies to) for one policy."""
        judged = [c.meets(name) for c in self.cells if c.has_target]
        return sum(bool(j) for j in judged), len(judged)
