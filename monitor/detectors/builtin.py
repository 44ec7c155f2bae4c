"""The detectors a policy file can name out of the box (`BUILTINS`, registered by the registry).

Each factory's keyword arguments are the parameters a `[detector_params]`
table may set; `warmup_samples` and `warmup_s` come from the policy itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from river import anomaly, preprocessing

from monitor.detectors.default import baseline_z
from monitor.detectors.river_based import RiverDetector

#: The calibration quantile every river detector takes (see river_based).
Q = 0.995


def _number(name: str, value: object, low: float, high: float | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < low
        or (high is not None and value > high)
    ):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")


def _hst_model(n_trees: int, height: int, window_size: int, seed: int):  # type: ignore[no-untyped-def]
    # Vitals on fixed physiological ranges would put a patient in one corner of the unit
    # cube; MinMaxScaler spreads the patient's own range over it, as HST expects.
    return preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
        n_trees=n_trees, height=height, window_size=window_size, seed=seed
    )


def hst(
    *,
    warmup_samples: int = 120,
    warmup_s: float = 900.0,
    n_trees: int = 10,
    height: int = 6,
    window_size: int = 120,
    seed: int = 42,
    q: float = Q,
) -> RiverDetector:
    """river HalfSpaceTrees behind MinMaxScaler over all vitals, attributed by leaving one vital out."""
    for name, value, low in (("n_trees", n_trees, 1), ("height", height, 1), ("window_size", window_size, 1)):
        _number(name, value, low)
    return RiverDetector(
        "hst",
        partial(_hst_model, int(n_trees), int(height), int(window_size), int(seed)),
        per_vital=False,
        supervised=False,
        q=q,
        warmup_samples=warmup_samples,
        warmup_s=warmup_s,
    )


def _svm_model(nu: float):  # type: ignore[no-untyped-def]
    return preprocessing.StandardScaler() | anomaly.OneClassSVM(nu=nu)


def oneclass_svm(*, warmup_samples: int = 120, warmup_s: float = 900.0, nu: float = 0.2, q: float = Q) -> RiverDetector:
    """river OneClassSVM behind StandardScaler over all vitals, attributed by leaving one vital out."""
    _number("nu", nu, 0.0, 1.0)
    return RiverDetector(
        "oneclass-svm",
        partial(_svm_model, float(nu)),
        per_vital=False,
        supervised=False,
        q=q,
        warmup_samples=warmup_samples,
        warmup_s=warmup_s,
    )


def _gaussian_model(window_size: int | None):  # type: ignore[no-untyped-def]
    return anomaly.GaussianScorer(window_size=window_size, grace_period=1)  # type: ignore[no-untyped-call]


def gaussian(
    *, warmup_samples: int = 120, warmup_s: float = 900.0, window_size: int = 0, q: float = Q
) -> RiverDetector:
    """river GaussianScorer per vital (window_size 0 = all history), the vitals named by their own scores."""
    _number("window_size", window_size, 0)
    return RiverDetector(
        "gaussian",
        partial(_gaussian_model, int(window_size) or None),
        per_vital=True,
        supervised=True,
        q=q,
        warmup_samples=warmup_samples,
        warmup_s=warmup_s,
    )


def sad(*, warmup_samples: int = 120, warmup_s: float = 900.0, q: float = Q) -> RiverDetector:
    """river StandardAbsoluteDeviation per vital, the vitals named by their own scores."""
    return RiverDetector(
        "sad",
        anomaly.StandardAbsoluteDeviation,
        per_vital=True,
        supervised=True,
        q=q,
        warmup_samples=warmup_samples,
        warmup_s=warmup_s,
    )


#: What the registry registers on first use (a table, not register() calls: no import cycle).
BUILTINS: dict[str, Callable[..., Any]] = {
    "baseline-z": baseline_z,
    "hst": hst,
    "oneclass-svm": oneclass_svm,
    "gaussian": gaussian,
    "sad": sad,
}
