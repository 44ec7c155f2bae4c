"""What one policy did on one stay, reduced to the few numbers the report needs.

Reduced inside the worker process so only a small record crosses back:
alert episodes (physiological raises), pages (raises and priority step-ups;
the no-ack reminders of an unattended replay are counted apart as
escalations), the highest level reached, and whether an alert of medium or
high priority was open at any time in the stay's last `window_ms`; and, for
a stay whose charted NEWS2 reached 7, whether the policy had a high alert
open within an hour of that first set (issue #16's finding: 31 of 116).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerts.evaluation.scoring import AlertLike, page_times
from alerts.model import Priority, Status

#: Level of a stay for the AUROC: 0 no alert, 1 low, 2 medium, 3 high.
NO_ALERT = 0
MEDIUM_RANK = Priority.MEDIUM.rank
HIGH_RANK = Priority.HIGH.rank
HOUR_MS = 3_600_000
_FOREVER = 2**62


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
    high_within_hour_of_news2_7: bool | None = None  # None: charted NEWS2 never reached 7


def level(priority: Priority) -> int:
    return priority.rank + 1


def summarise_alerts(
    policy: str, alerts: Sequence[AlertLike], window_start_ms: int, news2_7_ms: int | None = None
) -> StayOutcome:
    """Reduce one policy's alert stream (emission order) over one stay.

    `news2_7_ms`: when the charted NEWS2 first reached 7 (None if never).
    """
    phys = [a for a in alerts if a.kind.physiological]
    episodes = sum(1 for a in phys if a.status is Status.RAISED)
    pages = len(page_times(phys))
    escalated = sum(1 for a in phys if a.status is Status.ESCALATED)
    return StayOutcome(
        policy=policy,
        episodes=episodes,
        pages=pages,
        escalations=escalated - (pages - episodes),  # step-ups are pages, the rest no-ack reminders
        technical=sum(1 for a in alerts if not a.kind.physiological and a.status is Status.RAISED),
        max_level=max((level(a.priority) for a in phys if a.status is not Status.RESOLVED), default=NO_ALERT),
        alerted_window=open_during(phys, window_start_ms, _FOREVER, MEDIUM_RANK),
        high_within_hour_of_news2_7=None
        if news2_7_ms is None
        else open_during(phys, news2_7_ms, news2_7_ms + HOUR_MS, HIGH_RANK),
    )


def medium_open_since(alerts: Sequence[AlertLike], since_ms: int) -> bool:
    """True when an alert at medium or high priority was open at some time >= since_ms."""
    return open_during(alerts, since_ms, _FOREVER, MEDIUM_RANK)


def open_during(alerts: Sequence[AlertLike], start_ms: int, end_ms: int, min_rank: int) -> bool:
    """True when an alert at `min_rank` or above was open at some time in [start_ms, end_ms]."""
    open_rank: dict[str, int] = {}

    def any_open() -> bool:
        return any(rank >= min_rank for rank in open_rank.values())

    checked = False
    for a in alerts:
        if a.ts_ms > end_ms:
            break
        if a.ts_ms >= start_ms and not checked:
            if any_open():  # still open when the window began
                return True
            checked = True
        if a.status is Status.RESOLVED:
            open_rank.pop(a.alert_id, None)
        else:
            open_rank[a.alert_id] = max(open_rank.get(a.alert_id, -1), a.priority.rank)
        if checked and any_open():
            return True
    return any_open()
