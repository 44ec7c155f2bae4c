"""The console's in-memory view model: latest state per alert, sorting, bounded charts."""

from __future__ import annotations

import itertools

from streams.console.view import ConsoleView, bands_from_reasons

T0 = 1_764_064_800_000


def alert(
    alert_id: str, status: str, priority: str = "medium", pid: str = "MRN-1", emitted: str = "10:00:00", **extra
) -> dict:
    return {
        "alert_id": alert_id,
        "patient_id": pid,
        "device_id": "wear-1",
        "status": status,
        "priority": priority,
        "kind": "anomaly",
        "ts": f"2025-11-25T{emitted}.000Z",
        "emitted_at": f"2026-11-25T{emitted}.000Z",
        "reasons": [
            {
                "vital": "spo2",
                "value": 88,
                "baseline": 96.0,
                "score": 4.0,
                "text": "SpO2 88 % below own baseline 96 % (4.0 SD)",
            }
        ],
        "news2": {"total": 7, "components": {"spo2": 3, "resp_rate": 2, "heart_rate": 2}, "band": "high"},
        "detector": None,
        **extra,
    }


def test_latest_state_per_alert_and_resolved_leaves_open_for_recent():
    view = ConsoleView(recent_limit=2)
    card = view.apply_alert(alert("a1", "raised", "high"))
    assert card["notify"] is True and card["status"] == "raised"
    acked = view.apply_alert(alert("a1", "acknowledged", "high", acknowledged_by="RN Lee"))
    assert acked["acknowledged"] and acked["acknowledged_by"] == "RN Lee" and not acked["notify"]
    assert [c["alert_id"] for c in view.open_alerts()] == ["a1"]
    view.apply_alert(alert("a1", "resolved", "high"))
    assert view.open_alerts() == []
    assert [c["alert_id"] for c in view.recent] == ["a1"]
    # A replayed duplicate of a closed episode does not reopen it.
    assert view.apply_alert(alert("a1", "raised", "high")) is None
    assert view.open == {}
    for i in range(3):
        view.apply_alert(alert(f"r{i}", "resolved"))
    assert len(view.recent) == 2


def test_duplicate_raised_after_ack_keeps_ack_but_escalation_asks_again():
    view = ConsoleView()
    view.apply_alert(alert("a1", "raised", "medium"))
    view.apply_alert(alert("a1", "acknowledged", "medium"))
    again = view.apply_alert(alert("a1", "raised", "medium"))
    assert again["acknowledged"] and again["status"] == "acknowledged" and not again["notify"]
    worse = view.apply_alert(alert("a1", "escalated", "high"))
    assert not worse["acknowledged"] and worse["priority"] == "high" and worse["notify"]


def test_sorted_by_priority_then_unacknowledged_then_oldest():
    view = ConsoleView()
    view.apply_alert(alert("low-old", "raised", "low", pid="A", emitted="09:00:00"))
    view.apply_alert(alert("high-new", "raised", "high", pid="B", emitted="10:30:00"))
    view.apply_alert(alert("high-old", "raised", "high", pid="C", emitted="10:00:00"))
    view.apply_alert(alert("high-acked", "raised", "high", pid="D", emitted="08:00:00"))
    view.apply_alert(alert("high-acked", "acknowledged", "high", pid="D", emitted="08:01:00"))
    view.apply_alert(alert("med", "raised", "medium", pid="E"))
    assert [c["alert_id"] for c in view.open_alerts()] == ["high-old", "high-new", "high-acked", "med", "low-old"]


def test_garbage_is_ignored():
    view = ConsoleView()
    for doc in (None, [], {"alert_id": "x"}, {"alert_id": "x", "status": "snoozed"}, {"status": "raised"}):
        assert view.apply_alert(doc) is None
    assert view.apply_vitals({"samples": [{"ts": T0, "spo2": 90}]}) is None
    assert view.apply_vitals({"patient_id": "P", "ts": "yesterday", "spo2": 90}) is None
    assert view.apply_vitals({"patient_id": "P", "ts": T0, "spo2": "low", "on_oxygen": True}) is None


def test_vitals_are_downsampled_to_one_point_per_step_over_the_window():
    view = ConsoleView(window_s=600, step_s=30)
    samples = [
        {"ts": T0 + i * 5000, "heart_rate": 70 + i, "spo2": 97, "quality": {"probe_off": i == 3}} for i in range(360)
    ]  # 30 min at 5 s
    assert view.apply_vitals({"patient_id": "P", "device_id": "d", "samples": samples}) == "P"
    chart = view.chart("P")
    assert set(chart) == {"heart_rate", "spo2"}
    hr = chart["heart_rate"]
    assert len(hr) == 20  # 600 s / 30 s
    assert hr[-1] == [T0 + 359 * 5000 // 30000 * 30000, 70 + 359]  # the last value of its step
    assert all(b[0] - a[0] == 30000 for a, b in itertools.pairwise(hr))
    # single-reading form, RFC 3339 time
    view.apply_vitals({"patient_id": "Q", "ts": "2025-11-25T10:00:00Z", "resp_rate": 18})
    assert view.chart("Q") == {"resp_rate": [[T0, 18.0]]}


def test_charts_are_bounded_but_alerting_patients_are_kept():
    view = ConsoleView(max_patients=3)
    view.apply_alert(alert("a", "raised", pid="P0"))
    for i in range(10):
        view.apply_vitals({"patient_id": f"P{i}", "ts": T0, "heart_rate": 80})
    assert view.tracked_patients == 3
    assert view.chart("P0")  # pinned by its open alert
    assert view.chart("P9") and not view.chart("P1")
    snap = view.snapshot()
    assert list(snap["charts"]) == ["P0"] and snap["open"][0]["alert_id"] == "a"


def test_open_alerts_are_bounded():
    view = ConsoleView(max_open=3)
    for i in range(5):
        view.apply_alert(alert(f"a{i}", "raised", "high" if i == 0 else "low", pid=f"P{i}"))
    assert len(view.open) == 3 and "a0" in view.open
    assert view.patients_with_open_alerts() == {c["patient_id"] for c in view.open.values()}


def test_baseline_band_from_reasons():
    bands = bands_from_reasons(
        [
            {
                "vital": "spo2",
                "value": 88,
                "baseline": 96.0,
                "limit": 91,
                "score": 3,
                "text": "SpO2 88 % (limit 91 %, baseline 96 %) scores 3",
            },  # NEWS2 points, not a z
            {
                "vital": "spo2",
                "value": 88,
                "baseline": 96.0,
                "limit": 92.0,
                "score": 4.0,
                "text": "SpO2 88 % below own baseline 96 % (limit 92 %, 4.0 SD)",
            },
            {"vital": "heart_rate", "value": 131, "limit": 130, "text": "Heart rate 131 /min above limit 130 /min"},
            {"vital": "heart_rate", "value": 131, "limit": 131, "score": 3, "text": "Heart rate 131 /min scores 3"},
            {"vital": "news2", "value": 7, "score": 7, "text": "NEWS2 7"},
            {"vital": "resp_rate", "value": 24, "score": 2, "text": "scores 2"},
        ]
    )
    assert bands == {
        "spo2": {"baseline": 96.0, "low": 92.0, "high": 100.0, "limit": 91.0},
        "heart_rate": {"limit": 130.0},
    }


def test_hub_fans_out_alerts_and_chart_updates_and_drops_a_slow_browser():
    import orjson

    from streams.config import Settings
    from streams.console.web import SUBSCRIBER_QUEUE, ConsoleHub

    hub = ConsoleHub(Settings())
    queue = hub.subscribe()
    hub.on_vitals(orjson.dumps({"patient_id": "MRN-1", "ts": T0, "heart_rate": 80}))
    hub.on_alert(orjson.dumps(alert("a1", "raised", "high")))
    hub.on_alert(b"{not json")
    message = queue.get_nowait()
    assert message.startswith(b"event: alert\ndata: ") and queue.empty()
    payload = orjson.loads(message.split(b"data: ", 1)[1])
    assert payload["card"]["notify"] and payload["chart"] == {"heart_rate": [[T0, 80.0]]}
    hub.on_vitals(orjson.dumps({"patient_id": "MRN-1", "ts": T0 + 60_000, "heart_rate": 90}))
    hub.on_vitals(orjson.dumps({"patient_id": "MRN-2", "ts": T0, "heart_rate": 70}))  # no alert: no push
    hub.flush_charts()
    pushed = queue.get_nowait()
    assert pushed.startswith(b"event: vitals\n") and b"MRN-1" in pushed and queue.empty()
    for _i in range(SUBSCRIBER_QUEUE + 1):
        hub.broadcast("vitals", {"patient_id": "x"})
    assert queue not in hub.subscribers
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert items[-1] is None  # the stream handler ends; the browser reconnects for a snapshot


def test_future_dated_points_are_not_plotted_and_do_not_push_real_points_off_the_chart():
    import time

    view = ConsoleView(window_s=600, step_s=30, future_tolerance_s=60)
    now = int(time.time() * 1000)
    view.apply_vitals({"patient_id": "P", "ts": "9999-12-31T23:59:59Z", "heart_rate": 70})
    view.apply_vitals({"patient_id": "P", "ts": now + 3_600_000, "heart_rate": 71})
    view.apply_vitals(
        {
            "patient_id": "P",
            "samples": [{"ts": now - 60_000, "heart_rate": 120}, {"ts": now + 30_000, "heart_rate": 121}],
        }
    )
    points = view.chart("P")["heart_rate"]
    assert [v for _, v in points] == [120.0, 121.0]  # within the tolerance is plotted; beyond is not
    assert max(t for t, _ in points) <= now + 60_000
