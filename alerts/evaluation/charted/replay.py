"""Replay one charted stay: contract parser, then every policy under test.

Each charted set is serialised as the `vitals` message a spot-check monitor or
EHR feed would send and parsed by `monitor.parse.parse_message`, so an
impossible value (SBP 0, temperature -17.8) is rejected and counted exactly
as the worker would reject it (the worker also dead-letters it). The accepted
samples go, in time order, to one `PatientEngine` per engine config (the
worker's engine, in-process), to the NEWS2-on-chart baseline and to the fixed
bedside limits. Stays are independent: this is the unit a process pool runs.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import orjson

from alerts.evaluation.chart_news2 import chart_news2_alerts
from alerts.evaluation.charted.dataset import DAY_MS, Message, Stay
from alerts.evaluation.charted.outcome import NO_ALERT, StayOutcome, level, summarise_alerts
from alerts.evaluation.fixed_limits import BEDSIDE_LIMITS, fixed_limit_alarms
from alerts.evaluation.replay import NamedConfig, run_engine
from alerts.evaluation.scoring import AlertMark
from alerts.model import Priority
from monitor.parse import parse_message
from monitor.vitals import VitalSample

CHART_NEWS2 = "news2_chart"
FIXED_LIMITS = "fixed_limits"
#: "Their last 24 h of the record": the window the death/survivor shares look at.
LAST_WINDOW_MS = DAY_MS


@dataclass(frozen=True, slots=True)
class StayTask:
    stay: Stay
    messages: tuple[Message, ...]
    configs: tuple[NamedConfig, ...]


@dataclass(frozen=True, slots=True)
class StayRun:
    """Every policy's outcome on one stay, and what the parser made of its sets."""

    stay: Stay
    sets: int
    accepted: int
    rejected: dict[str, int]
    max_news2: int
    outcomes: tuple[StayOutcome, ...]
    seconds: float

    def outcome(self, policy: str) -> StayOutcome:
        return next(o for o in self.outcomes if o.policy == policy)


def parse_sets(messages: tuple[Message, ...]) -> tuple[list[VitalSample], Counter[str]]:
    """Samples the contract parser accepts, and rejection counts by reason."""
    samples: list[VitalSample] = []
    rejected: Counter[str] = Counter()
    for doc in messages:
        result = parse_message(orjson.dumps(doc))
        samples.extend(result.samples)
        for rejection in result.rejections:
            rejected[rejection.reason.value] += 1
    return samples, rejected


def fixed_limits_outcome(samples: list[VitalSample], window_start_ms: int, news2_7_ms: int | None) -> StayOutcome:
    """Fixed limits: an alarm (medium, as a monitor sounds it) per crossing; open while outside.

    A monitor's alarm has one level, so it never counts as a high alert after NEWS2 7.
    """
    alarms = fixed_limit_alarms(samples)
    phys = [a for a in alarms if a.kind.physiological]
    outside_in_window = any(
        s.ts_ms >= window_start_ms
        and any((v := getattr(s, lim.vital)) is not None and lim.outside(v) for lim in BEDSIDE_LIMITS)
        for s in samples
    )
    return StayOutcome(
        policy=FIXED_LIMITS,
        episodes=len(phys),
        pages=len(phys),
        escalations=0,
        technical=len(alarms) - len(phys),
        max_level=max((level(a.priority) for a in phys), default=NO_ALERT),
        alerted_window=outside_in_window,
        high_within_hour_of_news2_7=None if news2_7_ms is None else False,
    )


def replay_stay(task: StayTask) -> StayRun:
    """Run every policy over one stay (a process-pool task)."""
    started = time.perf_counter()
    stay = task.stay
    window_start = stay.end_ms - LAST_WINDOW_MS
    samples, rejected = parse_sets(task.messages)
    samples = [s for s in samples if s.ts_ms < stay.end_ms]
    chart, highest = chart_news2_alerts(samples)
    news2_7 = next((m.ts_ms for m in chart if m.priority is Priority.HIGH), None)  # first set at NEWS2 >= 7
    outcomes = [fixed_limits_outcome(samples, window_start, news2_7)]
    outcomes.append(summarise_alerts(CHART_NEWS2, chart, window_start, news2_7))
    for named in task.configs:
        marks: tuple[AlertMark, ...] = run_engine(stay.patient_id, named.config, samples, stay.end_ms)
        outcomes.append(summarise_alerts(named.name, marks, window_start, news2_7))
    return StayRun(
        stay, len(task.messages), len(samples), dict(rejected), highest, tuple(outcomes), time.perf_counter() - started
    )
