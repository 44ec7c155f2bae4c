"""Pages the engine held back, counted by the rule that held them.

A page that was due but held (today: a multi-vital jump faster than
physiology, "artefact suspected") is not silent: each hold is counted here,
and the worker exports the counts as `wardwatch_pages_held_total{rule}`.
Process-wide counters (monotonic, like a Prometheus counter), so this pure
package needs no metrics library and the evaluator can read them too.
"""

from __future__ import annotations

import enum


class HoldRule(str, enum.Enum):
    """Why a page was held back (a closed set: the metric's `rule` label)."""

    ARTEFACT_SUSPECTED = "artefact_suspected"


#: Holds since the process started, per rule.
HELD: dict[HoldRule, int] = dict.fromkeys(HoldRule, 0)


def count(rule: HoldRule) -> None:
    HELD[rule] += 1
