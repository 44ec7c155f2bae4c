"""Labelled synthetic ward cohort: stable and deteriorating patients with
realistic rhythm, noise and artifacts, streamed as contract messages.

Pure and seeded: `generate_cohort(CohortSpec(seed=...))` is reproducible, and
samples are generated lazily so a 200-patient day never sits in memory.
"""

from monitor.cohort.generator import (
    Cohort,
    generate_cohort,
    iter_messages,
    iter_patient_messages,
    iter_patient_samples,
    iter_plan_messages,
    iter_plan_samples,
    samples_of,
)
from monitor.cohort.plan import PatientPlan, plan_patient
from monitor.cohort.spec import DEFAULT_SPEC, DEFAULT_START_MS, DETERIORATIONS, CohortSpec, PatientLabel, Scenario

__all__ = [
    "DEFAULT_SPEC",
    "DEFAULT_START_MS",
    "DETERIORATIONS",
    "Cohort",
    "CohortSpec",
    "PatientLabel",
    "PatientPlan",
    "Scenario",
    "generate_cohort",
    "iter_messages",
    "iter_patient_messages",
    "iter_patient_samples",
    "iter_plan_messages",
    "iter_plan_samples",
    "plan_patient",
    "samples_of",
]
