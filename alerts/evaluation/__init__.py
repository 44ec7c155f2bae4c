"""Detection-quality evaluation: replay labelled synthetic cohorts through
wardwatch's engine and classic baselines, and score them against the labels.

Pure (no Kafka): `run_evaluation` is what `wardwatch evaluate` calls.
"""

from alerts.evaluation.policies import ALL_POLICIES, Policy
from alerts.evaluation.runner import EvaluationReport, SeedResult, run_evaluation

__all__ = ["ALL_POLICIES", "EvaluationReport", "Policy", "SeedResult", "run_evaluation"]
