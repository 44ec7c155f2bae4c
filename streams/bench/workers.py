"""Real `wardwatch worker` subprocesses for the bench, and reading their /metrics.

The bench never imports the worker: it runs `python -m streams.cli worker`
exactly as a deployment does, with its own app id, topics and ports, so the
figures include everything production pays (Faust, the checkpoint sensor,
metrics, the web server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
#: prometheus_client's process collector (the worker registers it): user + system CPU seconds.
CPU_METRIC = "process_cpu_seconds_total"


@dataclass(frozen=True)
class BenchTopics:
    """Topic names private to one bench run, so runs on a shared broker never mix."""

    prefix: str

    @property
    def vitals(self) -> str:
        return f"{self.prefix}-vitals"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-dlq"

    def env(self) -> dict[str, str]:
        return {
            "WARDWATCH_TOPIC_VITALS": self.vitals,
            "WARDWATCH_TOPIC_ALERTS": self.alerts,
            "WARDWATCH_TOPIC_DLQ": self.dlq,
            "WARDWATCH_TOPIC_ACKS": f"{self.prefix}-acks",
            "WARDWATCH_TOPIC_AUDIT": f"{self.prefix}-audit",
            "WARDWATCH_TOPIC_NOTIFY_DLQ": f"{self.prefix}-notify-dlq",
        }


def parse_metric(text: str, name: str) -> float:
    """Sum of every sample of `name` (all label sets) in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head == name or head.startswith(name + "{"):
            total += float(value)
    return total


@dataclass
class BenchWorker:
    bootstrap: str
    app_id: str
    topics: BenchTopics
    workdir: Path
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.metrics_port = free_port()
        self.web_port = free_port()
        self.log_path = self.workdir / f"{self.app_id}-{self.web_port}.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "WARDWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
            "WARDWATCH_APP_ID": self.app_id,
            "WARDWATCH_METRICS_PORT": str(self.metrics_port),
            "WARDWATCH_WEB_PORT": str(self.web_port),
            "WARDWATCH_WEB_HOST": "127.0.0.1",
            "WARDWATCH_MLLP_PORT": str(free_port()),
            "WARDWATCH_DATA_DIR": str(self.workdir / f"data-{self.app_id}"),
            "WARDWATCH_FAST_REBALANCE": "1",
            "WARDWATCH_PARTITIONS": str(self.partitions),
            "WARDWATCH_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **self.topics.env(),
            **self.extra_env,
        }

    def start(self) -> BenchWorker:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"worker {self.app_id} exited {self.proc.returncode}:\n{self.log_tail()}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/readyz", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 120.0, poll: float = 0.05) -> float:
        """Block until /readyz answers 200; return seconds since start()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready():
                return time.monotonic() - self.started_at
            time.sleep(poll)
        raise RuntimeError(f"worker {self.app_id} not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def metrics_url(self, *names: str) -> str:
        """/metrics restricted to `names` (prometheus_client's `name[]`): the worker renders only
        those. A whole exposition cost the timed worker ~7 ms of CPU a scrape (py-spy, 3.5 % of
        its CPU at 5 scrapes a second), which the baseline it is compared with never pays."""
        query = urllib.parse.urlencode([("name[]", name) for name in names])
        return f"http://127.0.0.1:{self.metrics_port}/metrics?{query}"

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(self.metrics_url(name), timeout=5) as resp:
            return parse_metric(resp.read().decode(), name)

    def try_metric(self, name: str) -> float | None:
        try:
            return self.metric(name)
        except OSError:
            return None

    def try_metrics(self, *names: str) -> tuple[float, ...] | None:
        """Several metrics from one scrape (None while /metrics is not up yet)."""
        try:
            with urllib.request.urlopen(self.metrics_url(*names), timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        return tuple(parse_metric(text, name) for name in names)

    def wait_metric(
        self,
        name: str,
        at_least: float,
        timeout: float = 300.0,
        poll: float = 0.05,
        on_poll: Callable[[float], None] | None = None,
        cpu: list[tuple[float, float]] | None = None,
    ) -> list[tuple[float, float]]:
        """Poll `name` until it reaches `at_least`; return the (monotonic time, value) trace.

        With `cpu`, the worker's `process_cpu_seconds_total` from the same
        scrapes is appended to it as (monotonic time, cpu seconds).
        """
        trace: list[tuple[float, float]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            values = self.try_metrics(name, CPU_METRIC)
            now = time.monotonic()
            if values is not None:
                value = values[0]
                trace.append((now, value))
                if cpu is not None:
                    cpu.append((now, values[1]))
                if on_poll:
                    on_poll(value)
                if value >= at_least:
                    return trace
            time.sleep(poll)
        last = trace[-1][1] if trace else None
        raise RuntimeError(
            f"{name} of {self.app_id} stayed at {last} < {at_least} for {timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> BenchWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def last_busy_scrape(
    points: Sequence[tuple[float, ...]], start: tuple[float, ...], total: float
) -> tuple[float, ...] | None:
    """The last scrape (time, count, ...) after `start` that still saw work left, if it is a second
    or more after `start`: where `saturation_rate` and `cpu_rate` close their window."""
    busy = [p for p in points if start[1] < p[1] < total]
    return busy[-1] if busy and busy[-1][0] - start[0] >= 1.0 else None


def saturation_rate(trace: list[tuple[float, float]], total: float) -> tuple[float, float, float]:
    """(samples/s, samples counted, seconds) from the first poll that saw work to the end.

    Start-up is excluded: the window opens at the first scrape where the
    counter is above zero, and the samples already done by then are not
    counted. It closes at the last scrape that still saw work left, when
    there is one a second or more later: both ends are then scrapes inside
    the saturated run, so the poll interval biases neither (closing at the
    first scrape that saw the total would count up to one interval of
    waiting). Otherwise (a run of a few polls) it closes at that first scrape.
    """
    start = next(((t, v) for t, v in trace if v > 0), None)
    if start is None:
        return 0.0, 0.0, 0.0
    last = last_busy_scrape(trace, start, total)
    if last is not None:
        last_t, last_v = last[0], last[1]
        return (last_v - start[1]) / (last_t - start[0]), last_v - start[1], last_t - start[0]
    end_t = next((t for t, v in trace if v >= total), trace[-1][0])
    done = total - start[1]
    seconds = end_t - start[0]
    if done <= 0:  # all of it landed between two polls: fall back to the last idle poll
        idle = [t for t, v in trace if v == 0]
        if idle:
            done, seconds = total, end_t - idle[-1]
    if seconds <= 0 or done <= 0:
        return 0.0, done, seconds
    return done / seconds, done, seconds
