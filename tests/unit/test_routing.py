"""Routing file, rota and the escalation chain, walked in event time (no broker, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.model import Priority
from alerts.routing import (
    Redaction,
    RoutingError,
    advance,
    due_page,
    escalate,
    first_page,
    load_routing,
    parse_routing,
    start_chase,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "routing.example.toml"


def ms(text: str) -> int:
    """Epoch ms of a UTC time; 2026-11-25 is a Wednesday (GMT = Europe/London in November)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def routing():
    return load_routing(str(EXAMPLE))


def names(page) -> list[str]:
    return sorted({r.person for r in page.recipients})


def test_example_file_parses_and_hash_identifies_it(routing):
    assert routing.timezone == "Europe/London" and routing.default_ward == "7A"
    assert routing.channels["pager"].redaction is Redaction.MINIMAL
    assert routing.channels["pager"].secret_env == "WARDWATCH_PAGER_SECRET"
    assert len(routing.sha256) == 64 and routing.sha256 == load_routing(str(EXAMPLE)).sha256
    assert [s.after_s for s in routing.chain("7A", Priority.HIGH)] == [0, 180, 360]
    assert routing.chain("7A-HDU", Priority.HIGH)[0].roles == ("nurse", "charge_nurse")
    assert routing.chain("7A-HDU", Priority.LOW) == routing.chain("7A", Priority.LOW)


def test_rota_by_weekday_and_time_with_night_shift_past_midnight(routing):
    on = lambda role, when: [p.id for p in routing.on_call(role, "7A", ms(when))]  # noqa: E731
    assert on("nurse", "2026-11-25T10:00") == ["ada"]  # Wednesday day shift
    assert on("nurse", "2026-11-25T19:45") == ["ada", "ben"]  # handover overlap
    assert on("nurse", "2026-11-26T03:00") == ["ben"]  # night shift wraps past midnight
    assert on("nurse", "2026-11-28T10:00") == ["ben"]  # Saturday
    assert on("charge_nurse", "2026-11-25T23:00") == ["night_charge"]  # hospital-wide role
    assert on("rapid_response", "2026-11-29T04:00") == ["rrt"]
    assert routing.on_call("nurse", "8B", ms("2026-11-25T10:00")) == ()


def test_escalation_chain_walked_in_event_time(routing):
    t0 = ms("2026-11-25T10:00")
    chase = start_chase("phys-1", "MRN-1", "7A", Priority.HIGH, t0, t0)
    page = first_page(routing, chase, t0)
    assert (page.stage, names(page)) == ("raised", ["ada"])
    assert {r.channel for r in page.recipients} == {"pager", "clinical_app"}
    chase = advance(chase.with_paged([r.key for r in page.recipients]), page)
    assert due_page(routing, chase, t0 + 179_000) is None
    page = due_page(routing, chase, t0 + 180_000)
    assert (page.step, page.stage, names(page)) == (1, "escalated-1-high", ["chen"])
    assert "3 min" in page.reason
    chase = advance(chase, page)
    assert due_page(routing, chase, t0 + 300_000) is None
    page = due_page(routing, chase, t0 + 360_000)
    assert (page.step, names(page)) == (2, ["chen", "rrt"])
    chase = advance(chase, page)
    assert due_page(routing, chase, t0 + 3_600_000) is None  # end of the chain


def test_acknowledgement_stops_the_chase(routing):
    t0 = ms("2026-11-25T10:00")
    chase = start_chase("phys-1", "MRN-1", "7A", Priority.HIGH, t0, t0)
    chase = replace(chase, acked_ms=t0 + 60_000)
    assert due_page(routing, chase, t0 + 600_000) is None


def test_an_overdue_chase_pages_only_the_highest_due_step(routing):
    t0 = ms("2026-11-25T10:00")
    chase = start_chase("phys-1", "MRN-1", "7A", Priority.HIGH, t0, t0)
    assert due_page(routing, chase, t0 + 400_000).step == 2


def test_worker_escalation_level_and_priority_rise(routing):
    t0 = ms("2026-11-25T10:00")
    chase = start_chase("phys-1", "MRN-1", "7A", Priority.MEDIUM, t0, t0)
    chase, page = escalate(routing, chase, Priority.MEDIUM, 1, t0 + 60_000)
    assert (chase.step, page.stage, names(page)) == (1, "escalated-1-medium", ["chen"])
    chase, page = escalate(routing, chase, Priority.HIGH, None, t0 + 90_000)  # priority rise: re-page at high
    assert (chase.priority, chase.step, page.stage, names(page)) == (Priority.HIGH, 1, "escalated-1-high", ["chen"])
    chase, page = escalate(routing, chase, Priority.HIGH, 9, t0 + 99_000)  # beyond the chain: its last step
    assert (chase.step, names(page)) == (2, ["chen", "rrt"])


def test_timer_and_worker_escalation_to_the_same_step_share_a_dedupe_stage(routing):
    t0 = ms("2026-11-25T10:00")
    chase = start_chase("phys-1", "MRN-1", "7A", Priority.HIGH, t0, t0)
    timer = due_page(routing, chase, t0 + 200_000)
    _, worker = escalate(routing, chase, Priority.HIGH, 1, t0 + 200_000)
    assert timer.stage == worker.stage and timer.recipients == worker.recipients


def test_nobody_on_call_falls_through_to_the_next_step():
    routing = parse_routing(
        _MINI.replace('role = "nurse"\nperson = "n"\ndays = "daily"', 'role = "nurse"\nperson = "n"\ndays = "sat"')
    )
    t0 = ms("2026-11-25T10:00")  # a Wednesday: no nurse
    page = first_page(routing, start_chase("a", "p", "w", Priority.HIGH, t0, t0), t0)
    assert (page.step, names(page)) == (1, ["c"])


def test_demo_default_routing_needs_no_file():
    routing = load_routing(None)
    assert set(routing.channels) == {"console"} and routing.sha256


@pytest.mark.parametrize(
    "change, message",
    [
        (('channel = "log"', 'channel = "sms"'), "channel 'sms' is not in [channels]"),
        (('type = "console"', 'type = "fax"'), "type must be webhook or console"),
        (("after_minutes = 5", "after_minutes = -5"), "must not decrease"),
        (('low = [{ role = "nurse" }]', ""), "every priority needs a default chain"),
        (('from = "00:00"', 'from = "25:00"'), "is not a time of day"),
        (('days = "daily"', 'days = "someday"'), "is not one of mon"),
        (("version = 1", "version = 2"), "unsupported routing version"),
    ],
)
def test_routing_errors_name_the_entry(change, message):
    with pytest.raises(RoutingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_routing(_MINI.replace(*change))


_MINI = """
version = 1
timezone = "UTC"
[channels.log]
type = "console"
[people.n]
contacts = [{ channel = "log", address = "n" }]
[people.c]
contacts = [{ channel = "log", address = "c" }]
[[rota]]
role = "nurse"
person = "n"
days = "daily"
from = "00:00"
to = "24:00"
[[rota]]
role = "charge"
person = "c"
[escalation]
high = [{ role = "nurse" }, { role = "charge", after_minutes = 5 }]
medium = [{ role = "nurse" }]
low = [{ role = "nurse" }]
"""
