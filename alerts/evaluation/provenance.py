"""Which detection code produced a report: a fingerprint of the domain sources.

Evaluation numbers are only comparable between runs of the same engine,
detector and policy; the engine evolves, so every report names the exact
source it measured (a hash of `monitor/` and `alerts/` except this package).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_PACKAGES = ("monitor", "alerts")


def code_fingerprint(root: Path = _ROOT) -> str:
    """12 hex digits of SHA-256 over every domain .py file (path and content)."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "evaluation" in path.relative_to(root).parts:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
