"""The data-shape marker from what a gateway says about how a value was measured.

HL7 v2 OBX-17 (observation method; IHE PCD-01 uses MDC's `MMEAS`
manual-measurement and `AMEAS` auto-measurement) and FHIR
`Observation.method` / `Observation.device.display` sometimes say whether a
value is a deliberate spot measurement or part of a continuous stream. When
they clearly do, the contract's `method` carries it; anything else (including
`AMEAS`, which an automatic NIBP cycle and a bedside monitor share) is left to
the engine, which infers the shape from the gaps per source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.vitals import Method

_OBSERVATION_SET = re.compile(
    r"\b(mmeas|manual|spot[- ]?check|spot|observation[ _-]?set|nurs\w*|chart\w*|intermittent)\b"
)
_CONTINUOUS = re.compile(r"\b(continuous\w*|cmeas|telemetry|wearable)\b")


def method_of(texts: Iterable[str | None]) -> Method | None:
    """`Method` named by any of `texts` (codes, displays, free text); None if none or both."""
    words = " ".join(t for t in texts if t).lower().replace("-", " ")
    if not words:
        return None
    spot, stream = bool(_OBSERVATION_SET.search(words)), bool(_CONTINUOUS.search(words))
    if spot == stream:
        return None  # silent or contradictory: infer from the data
    return Method.OBSERVATION_SET if spot else Method.CONTINUOUS
