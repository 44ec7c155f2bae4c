"""The live alert console in a real headless browser, against a real broker and worker.

Opens /console?token=… (login by cookie), makes the worker raise a real alert
from a deteriorating patient's vitals, sees the card arrive over SSE without a
reload (with its chart and the attention cue), clicks Acknowledge, and checks
across the pipeline that the worker published `acknowledged` for that alert
and no `escalated` after it. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import orjson
import pytest

from tests.conftest import ARTIFACTS, consume_sync, produce_sync
from tests.integration.test_pipeline import batches, drifting_patient

pytestmark = pytest.mark.integration

TOKEN = "t0ken"
PATIENT = "MRN-204417"
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _browser_paths() -> tuple[str | None, str | None]:
    browser = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
    return browser, shutil.which("chromedriver")


@pytest.fixture
def driver():
    browser, chromedriver = _browser_paths()
    if not (browser and chromedriver):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are required under CI (apt-get install chromium chromium-driver)")
        pytest.skip(
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver); "
            "this test always runs under CI=true"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="wardwatch-chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1000")
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(fn, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # stale elements while the list re-renders
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_console_shows_a_new_alert_live_and_acknowledges_it(broker, worker_factory, driver):
    from selenium.webdriver.common.by import By

    worker = worker_factory(WARDWATCH_CONSOLE_TOKENS=TOKEN, WARDWATCH_INGEST_TOKENS="ingest-only")
    base = f"http://127.0.0.1:{worker.web_port}"
    ARTIFACTS.mkdir(exist_ok=True)

    # Login: the token in the URL becomes an HttpOnly cookie and leaves the address bar.
    driver.get(f"{base}/console?token={TOKEN}")
    assert driver.current_url == f"{base}/console"
    cookie = driver.get_cookie("wardwatch_session")
    assert cookie and cookie["httpOnly"] and TOKEN not in cookie["value"]  # a session, not the credential
    wait_for(
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-conn") == "conn-live",
        30,
        "the live stream",
    )
    assert driver.find_element(By.ID, "empty").is_displayed()
    driver.find_element(By.ID, "by").send_keys("RN Okafor")
    driver.find_element(By.ID, "sound").click()  # a user gesture allows the WebAudio beep
    driver.execute_script("window.__noReload = 42;")

    # A deteriorating patient: the worker really raises (and escalates) the alert.
    messages = batches(PATIENT, drifting_patient(PATIENT))
    produce_sync(broker.bootstrap, "vitals", messages)
    worker.wait_metric("wardwatch_samples_processed_total", sum(len(orjson.loads(v)["samples"]) for _, v in messages))

    selector = f'.card[data-patient-id="{PATIENT}"]'
    card = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, selector + ".p-high"), 60, "a high alert card")[0]
    assert driver.execute_script("return window.__noReload") == 42  # arrived live, no reload
    alert_id = card.get_attribute("data-alert-id")
    text = card.text
    assert "NEWS2" in text and "SpO2" in text and "Acknowledge" in text
    assert card.find_elements(By.CSS_SELECTOR, "ul.reasons li")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, selector + " .chart svg polyline"), 20, "the vitals chart")
    assert driver.find_elements(By.CSS_SELECTOR, selector + " .chart svg rect.band")  # baseline band
    body = driver.find_element(By.TAG_NAME, "body")
    assert int(body.get_attribute("data-flashes") or 0) >= 1  # the visual cue fired
    assert int(body.get_attribute("data-beeps") or 0) >= 1  # and the beep was played
    wait_for(
        lambda: "on" not in driver.find_element(By.ID, "toast").get_attribute("class").split(),
        8,
        "the cue to fade before the screenshot",
    )
    time.sleep(0.3)
    driver.save_screenshot(str(ARTIFACTS / "console.png"))

    # Readable on a phone: one column, nothing wider than the screen.
    driver.set_window_size(390, 844)
    assert wait_for(
        lambda: driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
        5,
        "no horizontal scroll",
    )
    driver.save_screenshot(str(ARTIFACTS / "console-phone.png"))
    driver.set_window_size(1280, 1000)

    # Acknowledge: POST -> alert-acks -> worker -> `acknowledged` on alerts -> SSE -> the card.
    driver.find_element(By.CSS_SELECTOR, f'{selector} button[data-action="acknowledge"]').click()
    wait_for(
        lambda: "acknowledged by RN Okafor" in driver.find_element(By.CSS_SELECTOR, selector).text,
        60,
        "the card to show the acknowledgement",
    )
    driver.save_screenshot(str(ARTIFACTS / "console-acknowledged.png"))

    acks = consume_sync(broker.bootstrap, "alert-acks", lambda rs: any(r["alert_id"] == alert_id for r in rs), 20)
    assert [(a["patient_id"], a["action"], a["by"]) for a in acks if a["alert_id"] == alert_id] == [
        (PATIENT, "acknowledge", "RN Okafor")
    ]
    alerts = consume_sync(
        broker.bootstrap,
        "alerts",
        lambda rs: any(r["alert_id"] == alert_id and r["status"] == "acknowledged" for r in rs),
        30,
    )
    time.sleep(4)  # would an escalation still follow?
    alerts = consume_sync(broker.bootstrap, "alerts", lambda rs: False, 3)
    mine = [a["status"] for a in alerts if a["alert_id"] == alert_id]
    assert "acknowledged" in mine, mine
    assert "escalated" not in mine[mine.index("acknowledged") :], mine
    assert "ERROR" not in worker.log(), worker.log()[-3000:]


def test_standalone_console_sees_every_partition_publishes_acks_and_stops_promptly(broker, tmp_path):
    """`wardwatch console` without a worker: all patients from all partitions, acks keyed by patient."""
    import asyncio
    import json
    import signal
    import subprocess
    import sys
    import urllib.request

    from streams.config import Settings
    from streams.kafka.broker import free_port
    from streams.kafka.topics import ensure_topics
    from tests.conftest import ROOT

    asyncio.run(ensure_topics(Settings.from_env(bootstrap=broker.bootstrap)))
    patients = [f"MRN-{i:04d}" for i in range(8)]
    produce_sync(
        broker.bootstrap,
        "alerts",
        [
            (
                p.encode(),
                orjson.dumps(
                    {
                        "alert_id": f"phys-{p}",
                        "patient_id": p,
                        "device_id": "d",
                        "status": "raised",
                        "priority": "high" if i % 2 else "medium",
                        "kind": "news2",
                        "ts": "2025-11-25T10:00:00.000Z",
                        "emitted_at": "2025-11-25T10:00:01.000Z",
                        "reasons": [{"vital": "spo2", "value": 90, "text": "SpO2 90 % scores 3"}],
                        "news2": {"total": 5, "components": {"spo2": 3}, "band": "medium"},
                        "detector": None,
                    }
                ),
            )
            for i, p in enumerate(patients)
        ],
    )
    produce_sync(
        broker.bootstrap,
        "alerts",
        [
            (
                b"MRN-0000",
                orjson.dumps(
                    {
                        "alert_id": "phys-MRN-0000",
                        "patient_id": "MRN-0000",
                        "status": "resolved",
                        "priority": "medium",
                        "kind": "news2",
                        "ts": "2025-11-25T10:30:00.000Z",
                        "reasons": [],
                    }
                ),
            )
        ],
    )
    port = free_port()
    env = {**os.environ, "WARDWATCH_KAFKA_BOOTSTRAP": broker.bootstrap, "WARDWATCH_CONSOLE_TOKENS": "a,t0ken"}
    with open(tmp_path / "console.log", "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "console", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def state() -> dict:
        with urllib.request.urlopen(urllib.request.Request(base + "/console/api/state", headers=auth), timeout=2) as r:
            return json.loads(r.read())

    try:
        snap = wait_for(lambda: (s := state()) and len(s["open"]) == 7 and s, 30, "7 open alerts")
        assert {c["patient_id"] for c in snap["open"]} == set(patients[1:])
        assert [c["priority"] for c in snap["open"]][:4] == ["high"] * 4  # sorted by priority
        assert [c["alert_id"] for c in snap["recent"]] == ["phys-MRN-0000"]
        request = urllib.request.Request(
            base + "/console/api/ack",
            method="POST",
            headers={**auth, "Content-Type": "application/json"},
            data=json.dumps(
                {"alert_id": "phys-MRN-0003", "patient_id": "MRN-0003", "action": "resolve", "by": "Dr Hale"}
            ).encode(),
        )
        with urllib.request.urlopen(request, timeout=20) as resp:
            assert resp.status == 202

        async def acks() -> list:
            from aiokafka import AIOKafkaConsumer

            cons = AIOKafkaConsumer(
                "alert-acks", bootstrap_servers=broker.bootstrap, group_id=None, auto_offset_reset="earliest"
            )
            await cons.start()
            try:
                out: list = []
                deadline = time.monotonic() + 20
                while not out and time.monotonic() < deadline:
                    for recs in (await cons.getmany(timeout_ms=300)).values():
                        out += [(r.key, orjson.loads(r.value)) for r in recs]
                return out
            finally:
                await cons.stop()

        [(key, ack)] = asyncio.run(acks())
        assert key == b"MRN-0003"
        assert {k: ack[k] for k in ("alert_id", "patient_id", "action", "by")} == {
            "alert_id": "phys-MRN-0003",
            "patient_id": "MRN-0003",
            "action": "resolve",
            "by": "Dr Hale",
        }
        # A browser still listening must not hold up shutdown.
        stream = urllib.request.urlopen(urllib.request.Request(base + "/console/api/stream", headers=auth), timeout=5)
        assert stream.readline().startswith(b"retry:")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 8
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
