"""The escalation chain advances on time whatever the delivery of an earlier step is doing (issue #15 item 3).

A real local HTTP paging gateway, the real broker, `wardwatch notify` as a process killed with SIGKILL
mid-retry. Before the fix the chase was saved only after every retry of the first page had finished, and the
timers only saw saved chases: the charge nurse was paged ~30 s and rapid response ~45 s after the first page
(15 s / 30 s configured), and with a gateway that stays down nothing escalated at all.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import produce_sync
from tests.integration.test_notify import (  # noqa: F401  gateway, notify: test_notify's fixtures, used by name
    Gateway,
    ack_msg,
    alert_msg,
    audit_json,
    gateway,
    notify,
    wait_for,
)

pytestmark = pytest.mark.integration

CHARGE_S, RAPID_S = 15.0, 30.0
SLACK_S = 3.0  # the timer ticks every 0.2 s; a delivery takes a few ms; start-up is not in the window


def chain_routing(tmp_path: Path, port: int, max_attempts: int, backoff_base_s: float, backoff_cap_s: float) -> Path:
    """deploy/routing.example.toml's high chain (nurse, charge nurse, rapid response), with seconds-long timers."""
    path = tmp_path / "routing.toml"
    path.write_text(f"""
version = 1
timezone = "UTC"
default_ward = "7A"
console_url = "http://console.test"
[delivery]
max_attempts = {max_attempts}
backoff_base_s = {backoff_base_s}
backoff_cap_s = {backoff_cap_s}
[channels.pager]
type = "webhook"
url = "http://127.0.0.1:{port}/page"
secret_env = "TEST_PAGER_SECRET"
redaction = "minimal"
timeout_s = 5
[people.ada]
name = "Nurse Ada"
contacts = [{{ channel = "pager", address = "4411" }}]
[people.chen]
name = "Charge nurse Chen"
contacts = [{{ channel = "pager", address = "4400" }}]
[people.rrt]
name = "Rapid response team"
contacts = [{{ channel = "pager", address = "2222" }}]
[[rota]]
role = "nurse"
person = "ada"
ward = "7A"
[[rota]]
role = "charge_nurse"
person = "chen"
[[rota]]
role = "rapid_response"
person = "rrt"
[escalation]
high = [{{ role = "nurse" }}, {{ role = "charge_nurse", after_minutes = {CHARGE_S / 60} }},
        {{ role = "rapid_response", after_minutes = {RAPID_S / 60} }}]
medium = [{{ role = "nurse" }}]
low = [{{ role = "nurse" }}]
""")
    return path


def first_request(gw, stage: str) -> float | None:
    return next((r.at for r in gw.received if r.body["stage"] == stage), None)


def test_chain_keeps_its_schedule_with_a_failing_gateway_and_notify_killed_mid_retry(
    broker,
    gateway,  # noqa: F811  the fixture imported above
    notify,  # noqa: F811  the fixture imported above
    tmp_path,
):
    gw = gateway(fail_first=4)  # the first page needs 5 attempts (~1 + 2 + 4 + 4 s of backoff)
    routing = chain_routing(tmp_path, gw.port, max_attempts=8, backoff_base_s=2.0, backoff_cap_s=4.0)
    proc = notify(routing)
    aid, pid = "phys-00000000000000e5ca1a", "MRN-ESC-1"
    produce_sync(broker.bootstrap, "alerts", [alert_msg(aid, pid, "raised")])
    wait_for(lambda: len(gw.received) >= 2, 30, "two failed attempts of the first page", proc.log)
    first_page = first_request(gw, "raised")
    proc.stop(signal.SIGKILL)  # mid-retry: the first page is not delivered yet
    restarted = notify(routing)
    wait_for(
        lambda: first_request(gw, "escalated-2-high") is not None, RAPID_S + 20, "rapid response page", restarted.log
    )
    charge = first_request(gw, "escalated-1-high") - first_page
    rapid = first_request(gw, "escalated-2-high") - first_page
    print(
        f"\nfirst page attempted at 0 s; charge nurse paged at {charge:.1f} s, rapid response at {rapid:.1f} s "
        f"(configured {CHARGE_S:g} / {RAPID_S:g} s; notify SIGKILLed and restarted mid-retry)"
    )
    assert abs(charge - CHARGE_S) <= SLACK_S, restarted.log()[-3000:]
    assert abs(rapid - RAPID_S) <= SLACK_S, restarted.log()[-3000:]
    wait_for(
        lambda: {"raised", "escalated-1-high", "escalated-2-high"} <= {r.body["stage"] for r in gw.accepted()},
        30,
        "every page delivered in the end",
        restarted.log,
    )
    assert sorted(r.body["recipient"]["person"] for r in gw.pages().values()) == ["ada", "chen", "rrt"]


def test_a_page_that_cannot_be_delivered_escalates_at_once_with_the_reason_audited(
    broker,
    gateway,  # noqa: F811  the fixture imported above
    notify,  # noqa: F811  the fixture imported above
    tmp_path,
):
    gw = gateway(fail_first=10**6)  # the gateway stays down
    routing = chain_routing(tmp_path, gw.port, max_attempts=3, backoff_base_s=0.2, backoff_cap_s=0.4)
    proc = notify(routing)
    aid, pid = "phys-00000000000000dead01", "MRN-ESC-2"
    started = time.time()
    produce_sync(broker.bootstrap, "alerts", [alert_msg(aid, pid, "raised")])
    wait_for(lambda: first_request(gw, "escalated-2-high") is not None, 10, "escalation past a dead gateway", proc.log)
    assert first_request(gw, "escalated-1-high") - started < CHARGE_S / 2  # long before the timer
    wait_for(
        lambda: proc.metric("wardwatch_notify_deliveries_total", 'outcome="undeliverable"') == 3,
        10,
        "three undeliverable pages",
        proc.log,
    )
    proc.stop()
    (episode,) = audit_json(broker.bootstrap, aid)["episodes"]
    early = [e["detail"] for e in episode["events"] if e["event"] == "escalated early"]
    assert early == [
        "escalation step 1 (high): page to Nurse Ada could not be delivered",
        "escalation step 2 (high): escalation step 1 (high) to Charge nurse Chen could not be delivered",
    ]


class StandDownsHang(Gateway):
    """A gateway that hangs on stand-down pages (longer than the channel's 5 s timeout, so notify retries)."""

    async def handle(self, request):
        if b'"stage":"acknowledged"' in await request.read():
            await asyncio.sleep(6)
        return await super().handle(request)


def test_a_slow_stand_down_of_one_alert_does_not_hold_back_another_alerts_escalation(
    broker,
    notify,  # noqa: F811  the fixture imported above
    tmp_path,
):
    gw = StandDownsHang().start()
    try:
        routing = chain_routing(tmp_path, gw.port, max_attempts=6, backoff_base_s=1.0, backoff_cap_s=2.0)
        proc = notify(routing)
        quiet, waiting = ("phys-000000000000000a0001", "MRN-ESC-3"), ("phys-000000000000000b0002", "MRN-ESC-4")
        produce_sync(broker.bootstrap, "alerts", [alert_msg(*quiet, "raised"), alert_msg(*waiting, "raised")])
        wait_for(lambda: len(gw.pages()) == 2, 15, "both first pages", proc.log)
        first_page = min(r.at for r in gw.accepted())
        produce_sync(broker.bootstrap, "alert-acks", [ack_msg(*quiet, "Nurse Ada")])
        produce_sync(broker.bootstrap, "alerts", [alert_msg(*quiet, "acknowledged", acknowledged_by="Nurse Ada")])
        wait_for(
            lambda: any(r.body["stage"] == "escalated-1-high" for r in gw.accepted()),
            CHARGE_S + 20,
            "the other alert's escalation",
            proc.log,
        )
        escalation = next(r for r in gw.accepted() if r.body["stage"] == "escalated-1-high")
        assert escalation.body["alert_id"] == waiting[0]
        assert abs(escalation.at - first_page - CHARGE_S) <= SLACK_S, (escalation.at - first_page, proc.log()[-3000:])
    finally:
        gw.stop()
