"""What the robustness matrix found: one record per cell and policy, and the whole report.

Kept apart from `run` so the report and the heat map can read results without
importing the runner (which imports them to write its output).
"""

from __future__ import annotations

from dataclasses import dataclass

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
