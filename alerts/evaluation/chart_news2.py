"""The chart baseline: NEWS2 scored on every charted set, as the RCP chart intends.

A nurse scores NEWS2 each time a set is charted and calls for review when the
total is 5 or more or a single parameter scores 3 (RCP 2017: a single red
score = urgent ward-based review, 5-6 = urgent response, 7+ = emergency).
Here that is an alert that opens on the first qualifying set at the band's
priority (single 3 -> low, 5-6 -> medium, >= 7 -> high), steps up when a later
set scores a higher band (a new page), and closes on the first set that no
longer qualifies. No persistence, no artefact handling: the chart as drawn.

A charted set rarely holds every parameter, so the chart carries each one
forward while it is fresh (`CHART_FRESHNESS`: vitals 4 h, one observation
round; nursing inputs 12 h, one shift), as the paper chart's columns do.
"""

from __future__ import annotations

from collections.abc import Iterable

from alerts.evaluation.scoring import AlertMark
from alerts.model import Kind, Priority, Status
from monitor.latest import HOUR_MS, Freshness, LatestVitals
from monitor.news2 import Band
from monitor.vitals import VitalSample

CHART_FRESHNESS = Freshness(
    heart_rate=4 * HOUR_MS,
    spo2=4 * HOUR_MS,
    resp_rate=4 * HOUR_MS,
    temperature=4 * HOUR_MS,
    systolic_bp=4 * HOUR_MS,
    diastolic_bp=4 * HOUR_MS,
    on_oxygen=12 * HOUR_MS,
    consciousness=12 * HOUR_MS,
)
#: The chart's call-for-review bands and the alert priority each one pages at.
BAND_PRIORITY: dict[Band, Priority] = {
    Band.LOW_MEDIUM: Priority.LOW,
    Band.MEDIUM: Priority.MEDIUM,
    Band.HIGH: Priority.HIGH,
}


def chart_news2_alerts(
    samples: Iterable[VitalSample],
    freshness: Freshness = CHART_FRESHNESS,
) -> tuple[tuple[AlertMark, ...], int]:
    """(alert marks in emission order, highest NEWS2 total charted) of one stay."""
    view = LatestVitals()
    marks: list[AlertMark] = []
    open_id: str | None = None
    priority: Priority | None = None
    highest = 0
    for sample in samples:
        view.update(sample)
        news2 = view.score(sample.ts_ms, freshness).news2
        highest = max(highest, news2.total)
        wanted = BAND_PRIORITY.get(news2.band)
        if wanted is None:
            if open_id is not None:
                marks.append(AlertMark(open_id, Kind.NEWS2, Status.RESOLVED, priority or Priority.LOW, sample.ts_ms))
                open_id, priority = None, None
            continue
        if open_id is None:
            open_id, priority = f"chart-{sample.patient_id}-{sample.ts_ms}", wanted
            marks.append(AlertMark(open_id, Kind.NEWS2, Status.RAISED, wanted, sample.ts_ms))
        elif priority is not None and wanted.rank > priority.rank:
            priority = wanted
            marks.append(AlertMark(open_id, Kind.NEWS2, Status.ESCALATED, wanted, sample.ts_ms))
    return tuple(marks), highest
