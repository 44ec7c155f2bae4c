"""A deliberately failing detector for the guard-rail tests, named in a policy file as
"tests.failing_detector:make": the default detector, except that it raises on any sample of
a patient whose id contains "BOOM" (as a buggy third-party detector might on odd input)."""

from __future__ import annotations

from monitor.detector import BaselineDetector
from monitor.vitals import VitalSample


class FailingDetector(BaselineDetector):
    NAME = "failing-test"

    def learn_and_score(self, sample: VitalSample, skip: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
        if "BOOM" in sample.patient_id:
            raise RuntimeError("deliberate test failure")
        return super().learn_and_score(sample, skip)


def make(*, warmup_samples: int = 120, warmup_s: float = 900.0) -> FailingDetector:
    return FailingDetector(warmup_samples, warmup_s)
