"""`wardwatch demo`: broker + worker + simulated ward + alerts, in one terminal.

The worker and the simulator run as child processes exactly as an operator
would run them (`wardwatch worker`, `wardwatch simulate`); this process starts
them, follows the alerts topic in the foreground, and stops everything on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from streams.kafka import BrokerError, EmbeddedBroker, free_port
from streams.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "demo", help="run broker, worker and a simulated ward; show alerts live",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch demo                       # 20 patients, 6 simulated hours at 300x\n"
        "  wardwatch demo --patients 60 --speed 600 --duration 120",
    )
    p.add_argument("--patients", type=int, default=20)
    p.add_argument("--hours", type=float, default=8.0, help="simulated span")
    p.add_argument("--speed", type=float, default=400.0, help="simulated seconds per wall second")
    p.add_argument("--deteriorating", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0 = Ctrl-C)")
    p.add_argument("--metrics-port", type=int, default=9108)
    p.add_argument("--web-port", type=int, default=6066)
    p.add_argument("--logs", default="data/demo", help="folder for the broker and worker logs")
    p.set_defaults(run=run)


def _child(args: list[str], env: dict[str, str], log: Path | None) -> subprocess.Popen:
    out = open(log, "ab") if log else None
    return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT if out else None, start_new_session=True)


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args: argparse.Namespace) -> int:
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    try:
        broker = EmbeddedBroker(port=free_port(), log_path=logs / "broker.log").start()
    except BrokerError as exc:
        print(f"error: could not start the embedded broker: {exc}", file=sys.stderr)
        return 1
    env = {**os.environ, "WARDWATCH_KAFKA_BOOTSTRAP": broker.bootstrap, "WARDWATCH_FAST_REBALANCE": "1",
           "WARDWATCH_METRICS_PORT": str(args.metrics_port), "WARDWATCH_WEB_PORT": str(args.web_port),
           "WARDWATCH_DATA_DIR": str(logs / "state"), "WARDWATCH_APP_ID": "wardwatch-demo",
           # Loopback only: the console and ingest run without tokens for the demo.
           "WARDWATCH_WEB_HOST": "127.0.0.1", "WARDWATCH_CONSOLE_INSECURE": "1", "WARDWATCH_INGEST_INSECURE": "1"}
    worker = simulator = None
    started = time.monotonic()
    print(f"broker      {broker.bootstrap} (embedded tansu, memory only)")
    print(f"metrics     http://127.0.0.1:{args.metrics_port}/metrics   (Prometheus)")
    print(f"console     http://127.0.0.1:{args.web_port}/console   (alerts live, acknowledge in the browser)")
    print(f"worker web  http://127.0.0.1:{args.web_port}/readyz")
    print(f"logs        {logs}/  ·  Ctrl-C stops everything", flush=True)
    try:
        worker = _child(["worker"], env, logs / "worker.log")
        simulator = _child(["simulate", "--patients", str(args.patients), "--hours", str(args.hours),
                            "--speed", str(args.speed), "--deteriorating", str(args.deteriorating),
                            "--seed", str(args.seed), "--quiet"], env, logs / "simulate.log")
        return asyncio.run(_follow(env, args, started, worker))
    except KeyboardInterrupt:
        print("\nstopping…", file=sys.stderr)
        return 0
    finally:
        _stop(simulator)
        _stop(worker)
        broker.stop()


async def _follow(env: dict[str, str], args: argparse.Namespace, started: float, worker: subprocess.Popen) -> int:
    from alerts.format import alert_line
    from streams.kafka import consumer

    settings = Settings.from_env(bootstrap=env["WARDWATCH_KAFKA_BOOTSTRAP"])
    cons = await consumer(settings, settings.topics.alerts, auto_offset_reset="earliest", group_id=None)
    first = True
    colour = sys.stdout.isatty()
    status = _Status(args.metrics_port)
    try:
        while not args.duration or time.monotonic() - started < args.duration:
            status.maybe_print()
            if worker.poll() is not None:
                print(f"error: the worker exited with code {worker.returncode}; see {args.logs}/worker.log",
                      file=sys.stderr)
                return 1
            batch = await cons.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    doc = orjson.loads(record.value)
                    if first:
                        print(f"first alert after {time.monotonic() - started:.1f} s", flush=True)
                        first = False
                    print(alert_line(doc, colour), flush=True)
    finally:
        await cons.stop()
        status.maybe_print(force=True)
    return 0


class _Status:
    """Every 10 s, one line from the worker's own metrics: how much it has processed."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.last = (time.monotonic(), 0.0)
        self.first_seen: tuple[float, float] | None = None

    def _samples(self) -> float:
        import urllib.request

        with urllib.request.urlopen(self.url, timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("wardwatch_samples_processed_total "):
                    return float(line.split()[1])
        return 0.0

    def maybe_print(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last[0] < 10:
            return
        try:
            samples = self._samples()
        except OSError:
            return
        rate = (samples - self.last[1]) / max(now - self.last[0], 1e-9)
        if self.first_seen is None and samples > 0:
            self.first_seen = (now, samples)
        average = ""
        if self.first_seen and now > self.first_seen[0]:
            average = f", {(samples - self.first_seen[1]) / (now - self.first_seen[0]):,.0f}/s average"
        print(f"-- worker: {samples:,.0f} samples processed ({rate:,.0f}/s now{average})", file=sys.stderr, flush=True)
        self.last = (now, samples)
