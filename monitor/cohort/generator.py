"""A labelled synthetic cohort and the ways to stream it.

`generate_cohort` only plans patients (ids, scenarios, labels, schedules);
samples are produced when a stream is iterated, so the same `Cohort` can be
replayed many times, per patient or merged, always with identical content.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from monitor.cohort.identity import draw_mrns
from monitor.cohort.messages import Message, merge_patients, patient_messages
from monitor.cohort.plan import PatientPlan, plan_patient
from monitor.cohort.spec import DEFAULT_SPEC, DETERIORATIONS, CohortSpec, PatientLabel, Scenario
from monitor.parse import build_sample
from monitor.vitals import VitalSample


@dataclass(frozen=True)
class Cohort:
    """A planned cohort: its spec, ground-truth labels and per-patient plans."""

    spec: CohortSpec
    labels: tuple[PatientLabel, ...]
    plans: tuple[PatientPlan, ...] = field(repr=False)

    @property
    def patient_ids(self) -> list[str]:
        return [label.patient_id for label in self.labels]

    def label(self, patient_id: str) -> PatientLabel:
        return self.plan(patient_id).label

    def plan(self, patient_id: str) -> PatientPlan:
        for plan in self.plans:
            if plan.label.patient_id == patient_id:
                return plan
        raise KeyError(f"no patient {patient_id!r} in this cohort")


def assign_scenarios(spec: CohortSpec, rng: np.random.Generator) -> list[Scenario]:
    """Deteriorating share spread evenly over scenarios, at random positions."""
    n_det = round(spec.n_patients * spec.deteriorating_share)
    scenarios = [DETERIORATIONS[i % len(DETERIORATIONS)] for i in range(n_det)]
    scenarios += [Scenario.STABLE] * (spec.n_patients - n_det)
    order = rng.permutation(spec.n_patients)
    return [scenarios[i] for i in order]


def generate_cohort(spec: CohortSpec = DEFAULT_SPEC) -> Cohort:
    """Plan every patient of `spec`; cheap (ms per patient), no samples yet."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0]))
    ids = draw_mrns(rng, spec.n_patients)
    scenarios = assign_scenarios(spec, rng)
    copd = rng.random(spec.n_patients) < spec.copd_share
    plans = tuple(plan_patient(spec, i, ids[i], scenarios[i], bool(copd[i])) for i in range(spec.n_patients))
    return Cohort(spec=spec, labels=tuple(p.label for p in plans), plans=plans)


def iter_plan_messages(spec: CohortSpec, plan: PatientPlan, batch_seconds: float = 5.0) -> Iterator[Message]:
    """One patient's messages in arrival order (for workers holding only a plan)."""
    for _, message in patient_messages(plan, spec.start_ms, spec.hours * 3600.0, batch_seconds):
        yield message


def iter_patient_messages(cohort: Cohort, patient_id: str, batch_seconds: float = 5.0) -> Iterator[Message]:
    """One patient's `vitals` messages, in the order they would arrive."""
    return iter_plan_messages(cohort.spec, cohort.plan(patient_id), batch_seconds)


def iter_messages(cohort: Cohort, batch_seconds: float = 5.0) -> Iterator[Message]:
    """All patients' messages merged by arrival (≈ first-sample event time)."""
    span_s = cohort.spec.hours * 3600.0
    streams = [patient_messages(p, cohort.spec.start_ms, span_s, batch_seconds) for p in cohort.plans]
    return merge_patients(streams)


def samples_of(message: Message) -> Iterator[VitalSample]:
    """Validated samples of one generated message, exactly as the parser sees them."""
    patient_id, device_id = message["patient_id"], message["device_id"]
    items = message.get("samples")
    if items is None:
        yield build_sample(message, patient_id, device_id)
        return
    for item in items:
        yield build_sample(item, patient_id, device_id)


def iter_plan_samples(spec: CohortSpec, plan: PatientPlan, batch_seconds: float = 5.0) -> Iterator[VitalSample]:
    """One patient's samples in arrival order, from a plan alone."""
    for message in iter_plan_messages(spec, plan, batch_seconds):
        yield from samples_of(message)


def iter_patient_samples(cohort: Cohort, patient_id: str, batch_seconds: float = 5.0) -> Iterator[VitalSample]:
    """One patient's stream as `VitalSample`s, in the order it would arrive
    (duplicates and slightly late samples included, as the engine must see them)."""
    return iter_plan_samples(cohort.spec, cohort.plan(patient_id), batch_seconds)
