"""What one policy did on one stay, reduced to the few numbers the report needs.

Reduced inside the worker process so only a small record crosses back:
alert episodes (physiological raises), pages (raises and priority step-ups;
the no-ack reminders of an unattended replay are counted apart as
escalations), the highest level reached, and whether an alert of medium or
high priority was open at any time in the stay's last `window_ms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerts.evaluation.scoring import AlertLike, page_times
from alerts.model import Priority, Status

#: Level of a stay for the AUROC: 0 no alert, 1 low, 2 medium, 3 high.
NO_ALERT = 0
MEDIUM_RANK = Priority.MEDIUM.rank


@dataclass(frozen=True, slots=True)
class StayOutcome:
    """One policy on one stay."""

    policy: str
    episodes: int
    pages: int
    escalations: int
    technical: int
    max_level: int
    alerted_window: bool  # a medium/high alert was open during the last window


def level(priority: Priority) -> int:
    return priority.rank + 1


def summarise_alerts(policy: str, alerts: Sequence[AlertLike], window_start_ms: int) -> StayOutcome:
    """Reduce one policy's alert stream (emission order) over one stay."""
    phys = [a for a in alerts if a.kind.physiological]
    return StayOutcome(
        policy=policy,
        episodes=sum(1 for a in phys if a.status is Status.RAISED),
        pages=len(page_times(phys)),
        escalations=sum(1 for a in phys if a.status is Status.ESCALATED),
        technical=sum(1 for a in alerts if not a.kind.physiological and a.status is Status.RAISED),
        max_level=max((level(a.priority) for a in phys if a.status is not Status.RESOLVED), default=NO_ALERT),
        alerted_window=medium_open_since(phys, window_start_ms),
    )


def medium_open_since(alerts: Sequence[AlertLike], since_ms: int) -> bool:
    """True when an alert at medium or high priority was open at some time >= since_ms."""
    open_rank: dict[str, int] = {}

    def any_medium() -> bool:
        return any(rank >= MEDIUM_RANK for rank in open_rank.values())

    checked = False
    for a in alerts:
        if a.ts_ms >= since_ms and not checked:
            if any_medium():  # still open when the window began
                return True
            checked = True
        if a.status is Status.RESOLVED:
            open_rank.pop(a.alert_id, None)
        else:
            open_rank[a.alert_id] = max(open_rank.get(a.alert_id, -1), a.priority.rank)
        if checked and any_medium():
            return True
    return any_medium()
