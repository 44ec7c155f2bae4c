"""Audit records and the episode timeline rebuilt from them (pure)."""

from __future__ import annotations

from alerts.audit import AuditRecord, AuditType, Outcome, parse_record, render_table, timelines

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z


def alert(status: str, at_s: float, aid: str = "phys-1", pid: str = "MRN-1", **kw) -> AuditRecord:
    t = T0 + int(at_s * 1000)
    return AuditRecord(
        AuditType.ALERT,
        aid,
        pid,
        t,
        t + 5,
        event_ms=t,
        wall_ms=t,
        status=status,
        priority=kw.pop("priority", "high"),
        kind="news2",
        ward="7A",
        **kw,
    ).with_id()


def delivery(at_s: float, name: str, outcome: Outcome, attempt: int = 1, stage: str = "raised") -> AuditRecord:
    t = T0 + int(at_s * 1000)
    return AuditRecord(
        AuditType.DELIVERY,
        "phys-1",
        "MRN-1",
        t,
        t,
        event_ms=T0,
        wall_ms=t,
        stage=stage,
        recipient=f"{name}/pager",
        name=name,
        role="nurse",
        channel="pager",
        attempt=attempt,
        outcome=outcome,
        detail="HTTP 500" if outcome is Outcome.FAILED else "HTTP 200",
    ).with_id()


def scenario() -> list[AuditRecord]:
    config = AuditRecord(
        AuditType.CONFIG,
        "",
        "",
        T0 - 60_000,
        T0 - 60_000,
        wall_ms=T0 - 60_000,
        routing_sha256="ab" * 32,
        routing_source="routing.toml",
    ).with_id()
    ack = AuditRecord(
        AuditType.ACK,
        "phys-1",
        "MRN-1",
        T0 + 250_000,
        T0 + 250_001,
        event_ms=T0 + 180_000,
        wall_ms=T0 + 250_000,
        by="Chen",
        action="acknowledge",
        source="pager",
    ).with_id()
    return [
        config,
        alert("raised", 0, reasons=("SpO2 88 %",)),
        delivery(0.1, "Ada", Outcome.FAILED),
        delivery(0.5, "Ada", Outcome.DELIVERED, attempt=2),
        alert("escalated", 180, escalation_level=1),
        delivery(180.1, "Chen", Outcome.DELIVERED, stage="escalated-1-high"),
        ack,
        alert("acknowledged", 250.5, by="Chen"),
        alert("resolved", 900),
        alert("raised", 50, aid="tech-9", priority="medium"),  # another episode of the same patient
        alert("raised", 10, aid="phys-2", pid="MRN-2"),  # another patient
    ]


def test_record_round_trips_through_the_wire():
    for record in scenario():
        wire = record.to_wire()
        assert wire["schema"] == 1 and wire["type"] == record.type.value and wire["id"] == record.id
        assert parse_record(record.to_bytes()) == record


def test_timeline_of_an_alert_is_what_happened_in_order():
    records = scenario()
    (episode,) = timelines(records[::-1], "phys-1")  # arrival order does not matter
    assert [e.event for e in episode.entries] == [
        "raised",
        "delivery failed",
        "delivered",
        "escalated",
        "delivered",
        "ack",
        "acknowledged",
        "resolved",
    ]
    assert episode.paged == ("Ada", "Chen")
    assert episode.acknowledged_by == "Chen"
    assert episode.routing_sha256 == "ab" * 32
    wire = episode.to_wire()
    assert (wire["time_to_acknowledge_s"], wire["time_to_resolve_s"]) == (250.0, 900.0)
    assert wire["raised_at"] == "2025-11-25T10:00:00.000Z"
    assert "attempt 2" in episode.entries[2].detail and "HTTP 500" in episode.entries[1].detail
    assert episode.entries[5].detail == "acknowledge by Chen via pager"


def test_replayed_facts_count_once():
    records = scenario()
    replayed = [*records, alert("raised", 0, reasons=("SpO2 88 %",)), alert("resolved", 900)]
    (episode,) = timelines(replayed, "phys-1")
    assert [e.event for e in episode.entries].count("raised") == 1
    assert [e.event for e in episode.entries].count("resolved") == 1


def test_patient_query_returns_each_of_its_episodes():
    episodes = timelines(scenario(), "MRN-1")
    assert [e.alert_id for e in episodes] == ["phys-1", "tech-9"]
    assert timelines(scenario(), "nobody") == []


def test_table_view_reads_as_a_timeline():
    text = render_table(timelines(scenario(), "phys-1"))
    assert text.splitlines()[0].startswith("alert phys-1  patient MRN-1  ward 7A  routing sha256:abababababab")
    assert "delivered        page to Ada (nurse) via pager, attempt 2" in text
    assert "escalation step 1 (high) to Chen (nurse)" in text
    assert "time to acknowledge: 4.2 min" in text and "time to resolve: 15.0 min" in text


def test_simulated_event_time_and_wall_clock_are_never_mixed():
    """The demo's ward runs at 400x: the ack 8 s after the page must read 8 s, listed after the page.

    Before: the `acknowledged` alert (event time 87.9 min after the raise) was listed after the ack by
    wall clock, and time to acknowledge came out as 87.9 min.
    """
    wall0 = T0 + 86_400_000  # a day after the simulated events
    raised = AuditRecord(
        AuditType.ALERT,
        "phys-1",
        "MRN-1",
        T0,
        wall0 + 3,
        event_ms=T0,
        wall_ms=wall0,
        status="raised",
        priority="high",
        kind="news2",
    ).with_id()
    page = AuditRecord(
        AuditType.DELIVERY,
        "phys-1",
        "MRN-1",
        wall0 + 50,
        wall0 + 50,
        event_ms=T0,
        wall_ms=wall0 + 50,
        stage="raised",
        recipient="ada/console",
        name="Ada",
        channel="console",
        attempt=1,
        outcome=Outcome.DELIVERED,
    ).with_id()
    ack = AuditRecord(
        AuditType.ACK,
        "phys-1",
        "MRN-1",
        wall0 + 8_000,
        wall0 + 8_010,
        event_ms=T0,
        wall_ms=wall0 + 8_000,
        by="Ada",
        action="acknowledge",
        source="cli",
    ).with_id()
    acked = AuditRecord(
        AuditType.ALERT,
        "phys-1",
        "MRN-1",
        T0 + 5_274_000,
        wall0 + 9_500,
        event_ms=T0 + 5_274_000,
        wall_ms=wall0 + 9_000,
        status="acknowledged",
        priority="high",
        kind="news2",
        by="Ada",
    ).with_id()
    (episode,) = timelines([acked, ack, page, raised], "phys-1")
    assert [e.event for e in episode.entries] == ["raised", "delivered", "ack", "acknowledged"]
    walls = [e.wall_ms for e in episode.entries]
    assert walls == sorted(walls)
    wire = episode.to_wire()
    assert wire["time_to_acknowledge_s"] == 8.0 and wire["durations_clock"] == "wall"
    assert all(e["wall_ts"] and e["event_ts"] for e in wire["events"])
    text = render_table([episode])
    assert "wall clock" in text and "event time" in text and "time to acknowledge: 8 s" in text
    assert "87.9 min" not in text


def test_records_written_before_the_two_clocks_still_read_right():
    old = {
        "schema": 1,
        "type": "ack",
        "id": "0123456789abcdef",
        "alert_id": "phys-1",
        "patient_id": "MRN-1",
        "ts": "2025-11-25T10:04:10.000Z",
        "recorded_at": "2025-11-25T10:04:10.001Z",
        "by": "Chen",
        "action": "acknowledge",
    }
    record = parse_record(__import__("orjson").dumps(old))
    assert record.wall == T0 + 250_000 and record.event is None
