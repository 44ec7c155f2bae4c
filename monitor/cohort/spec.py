"""What a synthetic cohort is asked to be, and the ground truth it carries.

A cohort is defined entirely by a `CohortSpec`: the same spec always yields the
same patients, samples and labels, so an evaluation run can be repeated and a
held-out seed stays meaningful. Labels are the answer key the evaluator scores
alerts against; they never travel on the wire.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: 2026-01-05T00:00:00Z, a Monday: a fixed start so plots and ids are stable.
DEFAULT_START_MS = 1_767_571_200_000


class Scenario(str, enum.Enum):
    """The clinical course a synthetic patient follows."""

    STABLE = "stable"
    SEPSIS = "sepsis"
    RESPIRATORY_FAILURE = "respiratory_failure"
    HYPOVOLAEMIA = "hypovolaemia"
    OPIOID = "opioid"
    TACHYARRHYTHMIA = "tachyarrhythmia"

    @property
    def deteriorating(self) -> bool:
        return self is not Scenario.STABLE


#: Deterioration scenarios in a fixed order, so assignment is reproducible.
DETERIORATIONS: tuple[Scenario, ...] = tuple(s for s in Scenario if s.deteriorating)


@dataclass(frozen=True, slots=True)
class CohortSpec:
    """Everything that determines a cohort; two equal specs give equal cohorts.

    `deteriorating_share` of patients follow one of the deterioration scenarios
    (spread evenly across them); `copd_share` have a scale-2 SpO2 target.
    `wearable_interval_s` bounds the per-device sampling period; spot checks
    (BP, temperature, nursing input) come every `spot_check_min` minutes.
    `artifacts=False` gives clean data, for tests that want pure physiology.
    """

    n_patients: int = 200
    hours: float = 24.0
    seed: int = 7
    deteriorating_share: float = 0.3
    copd_share: float = 0.1
    start_ms: int = DEFAULT_START_MS
    artifacts: bool = True
    wearable_interval_s: tuple[int, int] = (1, 5)
    spot_check_min: tuple[float, float] = (15.0, 60.0)

    def __post_init__(self) -> None:
        if self.n_patients < 1:
            raise ValueError("n_patients must be at least 1")
        if self.hours <= 0:
            raise ValueError("hours must be positive")
        if not 0.0 <= self.deteriorating_share <= 1.0:
            raise ValueError("deteriorating_share must be within 0..1")
        low, high = self.wearable_interval_s
        if not 1 <= low <= high:
            raise ValueError("wearable_interval_s must be (low, high) with 1 <= low <= high")

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.hours * 3_600_000)


#: The default cohort, as a default argument (frozen, so one shared instance is safe).
DEFAULT_SPEC = CohortSpec()


@dataclass(frozen=True, slots=True)
class PatientLabel:
    """Ground truth for one patient.

    `onset_ms` is when the deterioration starts to change physiology;
    `must_alert_by_ms` is when it has become clinically unambiguous (the point
    a ward team must already have been called). Both are None for stable
    patients. `spo2_scale` is the patient's NEWS2 SpO2 scale (2 = COPD target).
    """

    patient_id: str
    scenario: Scenario
    onset_ms: int | None
    must_alert_by_ms: int | None
    spo2_scale: int = 1
