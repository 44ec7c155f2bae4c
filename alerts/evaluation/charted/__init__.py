"""Replay of real charted vitals (e.g. PhysioNet 2012 ICU stays) through the engine.

A charted dataset is two files: `stays.csv` (one row per stay with its
in-hospital outcome) and `samples.csv.gz` (one row per charted set, minutes
since admission). Every set goes through the contract parser as a `vitals`
message and into the same `PatientEngine` the worker runs; the report compares
wardwatch with NEWS2 scored on every charted set and fixed bedside limits.
Pure (no Kafka): `run_charted` is what `wardwatch evaluate --dataset` calls.
"""

from alerts.evaluation.charted.dataset import ChartedDataset, Stay, load_dataset
from alerts.evaluation.charted.runner import ChartedReport, run_charted

__all__ = ["ChartedDataset", "ChartedReport", "Stay", "load_dataset", "run_charted"]
