"""Per-patient anomaly detectors, chosen by name in the policy file.

`registry` maps a name to a factory and its parameters (the seam the engine,
`wardwatch evaluate --detectors` and `wardwatch bench --detectors` use);
`river_based` wraps river's own detectors so they page on the policy's 0..1
scale and still name the vitals behind an alert. The default, `baseline-z`,
lives in `monitor.detector`.
"""

from monitor.detectors.registry import (
    DEFAULT_DETECTOR,
    DetectorConfigError,
    DetectorSpec,
    create,
    names,
    register,
    validate,
)

__all__ = ["DEFAULT_DETECTOR", "DetectorConfigError", "DetectorSpec", "create", "names", "register", "validate"]
