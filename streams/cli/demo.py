"""`wardwatch demo`: broker + worker + notify + simulated ward + alerts, in one terminal.

The worker, notify and the simulator run as child processes exactly as an
operator would run them (`wardwatch worker`, `wardwatch notify`, `wardwatch
simulate`); this process starts them, follows the alerts and audit topics in
the foreground, and stops everything when it stops: Ctrl-C, SIGTERM (a service
manager, `timeout`) and SIGHUP (a closed terminal) alike. Each child runs in
its own process group, which is stopped as a whole, and dies with the demo
even if the demo itself is killed (Linux parent-death signal), so no broker or
worker is left holding the demo's ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.config import Settings
from streams.kafka import BrokerError, EmbeddedBroker, free_port, set_parent_death_signal

EXIT_USAGE = 2


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "demo",
        help="run broker, worker, notify and a simulated ward; show alerts and pages live",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch demo                       # 20 patients, 8 simulated hours at 400x (72 s)\n"
        "  wardwatch demo --patients 60 --speed 600 --duration 120\n"
        "  wardwatch demo --metrics-port 9118 --web-port 6076 --mllp-port 2585 --notify-metrics-port 9119"
        "   # beside another demo\n"
        "stops everything on Ctrl-C, SIGTERM or SIGHUP; a busy port is an error (exit 2) naming the option.",
    )
    p.add_argument("--patients", type=int, default=20, help="simulated patients")
    p.add_argument("--hours", type=float, default=8.0, help="simulated span")
    p.add_argument("--speed", type=float, default=400.0, help="simulated seconds per wall second")
    p.add_argument("--deteriorating", type=float, default=0.4, help="share of patients who deteriorate")
    p.add_argument("--seed", type=int, default=11, help="cohort seed (same seed, same ward)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0 = Ctrl-C)")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=_env_port("WARDWATCH_METRICS_PORT", 9108),
        help="worker Prometheus port (env WARDWATCH_METRICS_PORT)",
    )
    p.add_argument(
        "--web-port",
        type=int,
        default=_env_port("WARDWATCH_WEB_PORT", 6066),
        help="worker web port: console, ingest, /readyz (env WARDWATCH_WEB_PORT)",
    )
    p.add_argument(
        "--mllp-port",
        type=int,
        default=_env_port("WARDWATCH_MLLP_PORT", 2575),
        help="HL7 v2 MLLP listener (env WARDWATCH_MLLP_PORT)",
    )
    p.add_argument(
        "--notify-metrics-port",
        type=int,
        default=_env_port("WARDWATCH_NOTIFY_METRICS_PORT", 9109),
        help="notify Prometheus port, 0 = off (env WARDWATCH_NOTIFY_METRICS_PORT)",
    )
    p.add_argument("--logs", default="data/demo", help="folder for the broker, worker, notify and simulator logs")
    p.set_defaults(run=run)


# ---- ports -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortOption:
    port: int
    option: str
    env: str


def demo_ports(args: argparse.Namespace) -> list[PortOption]:
    ports = [
        PortOption(args.metrics_port, "--metrics-port", "WARDWATCH_METRICS_PORT"),
        PortOption(args.web_port, "--web-port", "WARDWATCH_WEB_PORT"),
        PortOption(args.mllp_port, "--mllp-port", "WARDWATCH_MLLP_PORT"),
    ]
    if args.notify_metrics_port:
        ports.append(PortOption(args.notify_metrics_port, "--notify-metrics-port", "WARDWATCH_NOTIFY_METRICS_PORT"))
    return ports


def port_busy(port: int) -> bool:
    """True when something listens on `port` (any address): binding the wildcard address fails then."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT leftover is not "busy"
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def check_ports(ports: list[PortOption]) -> str | None:
    """One line saying which port is taken and how to choose another, or None when all are free.

    Checked before anything starts: a worker that cannot bind dies with a
    traceback in its log, and the demo would read some other process's metrics.
    """
    seen: dict[int, str] = {}
    for p in ports:
        if p.port in seen:
            return f"error: {p.option} and {seen[p.port]} are both {p.port}; give each its own port"
        seen[p.port] = p.option
        if port_busy(p.port):
            return (
                f"error: port {p.port} ({p.option}) is in use, perhaps by another wardwatch demo "
                f"(`ss -ltnp 'sport = :{p.port}'` shows which process); stop it, or choose another port "
                f"with {p.option} or {p.env}"
            )
    return None


# ---- children and signals --------------------------------------------------


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP while children start: unwinds like Ctrl-C so the same cleanup runs.

    Once the demo follows the topics, the event loop takes these signals
    instead (`_follow`): an exception raised inside a running task would end
    as a "Task exception was never retrieved" traceback.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame: object) -> None:
    # The first signal stops the demo; later ones are ignored, or they would cut the cleanup short.
    # `timeout` under make sends two or three within milliseconds (to make, from make, to the group).
    ignore_stop_signals()
    raise Stopped(signum)


def _announce(signum: int) -> None:
    name = "Ctrl-C" if signum == signal.SIGINT else f"{signal.Signals(signum).name} received"
    print(f"\nstopping ({name})…", file=sys.stderr, flush=True)


def install_stop_signals() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)


def ignore_stop_signals() -> None:
    """While stopping, a second signal must not cut the cleanup short (and leave orphans)."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def _child(args: list[str], env: dict[str, str], log: Path | None) -> subprocess.Popen:
    # The child gets its own copy of the log's descriptor; the parent's is closed once Popen returns.
    with open(log, "ab") if log else contextlib.nullcontext() as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=set_parent_death_signal,
        )


def stop_all(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM each child's whole process group, wait for all at once, then SIGKILL what is left."""
    live = [p for p in procs if p.poll() is None]
    for proc in live:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in live:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in procs:  # a grandchild that outlived its parent still holds the group id
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session: the child's pid is its group id


# ---- run -------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    busy = check_ports(demo_ports(args))
    if busy:
        print(busy, file=sys.stderr)
        return EXIT_USAGE
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    install_stop_signals()
    broker: EmbeddedBroker | None = None
    children: list[subprocess.Popen] = []
    try:
        try:
            broker = EmbeddedBroker(port=free_port(), log_path=logs / "broker.log").start()
        except BrokerError as exc:
            print(f"error: could not start the embedded broker: {exc}; see {logs}/broker.log", file=sys.stderr)
            return 1
        env = _child_env(args, broker.bootstrap, logs)
        started = time.monotonic()
        _banner(args, broker.bootstrap, logs)
        worker = _child(["worker"], env, logs / "worker.log")
        children.append(worker)
        children.append(
            _child(
                ["notify", "--metrics-port", str(args.notify_metrics_port), "--max-age", "0"], env, logs / "notify.log"
            )
        )
        # The ward starts once the worker takes input: a backlog built while it joined its group was
        # caught up partition by partition, minutes of event time apart, and the lines came out of order.
        if not _wait_ready(args.web_port, worker, logs):
            return 1
        children.append(
            _child(
                [
                    "simulate",
                    "--patients",
                    str(args.patients),
                    "--hours",
                    str(args.hours),
                    "--speed",
                    str(args.speed),
                    "--deteriorating",
                    str(args.deteriorating),
                    "--seed",
                    str(args.seed),
                    "--quiet",
                ],
                env,
                logs / "simulate.log",
            )
        )
        return asyncio.run(_follow(env, args, started, worker))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP as Stopped, before the loop took over
        ignore_stop_signals()
        _announce(exc.signum if isinstance(exc, Stopped) else signal.SIGINT)
        return 0
    finally:
        ignore_stop_signals()
        stop_all(list(reversed(children)))  # simulator, notify, then the worker (it commits on SIGTERM)
        if broker is not None:
            broker.stop()


def _wait_ready(web_port: int, worker: subprocess.Popen, logs: Path, timeout_s: float = 120.0) -> bool:
    """Wait for the worker's /readyz, saying every few seconds what it waits for; False if it died."""
    url = f"http://127.0.0.1:{web_port}/readyz"
    began = last_said = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if worker.poll() is not None:
            print(f"error: the worker exited with code {worker.returncode}; see {logs}/worker.log", file=sys.stderr)
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except (OSError, ValueError):
            pass
        if time.monotonic() - last_said >= 5:
            last_said = time.monotonic()
            print(
                f"-- worker: starting for {last_said - began:.0f} s (joining its consumer group); the ward "
                f"starts when it is ready; see {logs}/worker.log",
                flush=True,
            )
        time.sleep(0.3)
    print(
        f"warning: the worker is not ready after {timeout_s:.0f} s; starting the ward anyway (see {logs}/worker.log)",
        file=sys.stderr,
    )
    return True


def _child_env(args: argparse.Namespace, bootstrap: str, logs: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WARDWATCH_KAFKA_BOOTSTRAP": bootstrap,
        "WARDWATCH_FAST_REBALANCE": "1",
        "WARDWATCH_METRICS_PORT": str(args.metrics_port),
        "WARDWATCH_WEB_PORT": str(args.web_port),
        "WARDWATCH_MLLP_PORT": str(args.mllp_port),
        "WARDWATCH_DATA_DIR": str(logs / "state"),
        "WARDWATCH_APP_ID": "wardwatch-demo",
        # Loopback only: the console and ingest run without tokens for the demo.
        "WARDWATCH_WEB_HOST": "127.0.0.1",
        "WARDWATCH_CONSOLE_INSECURE": "1",
        "WARDWATCH_INGEST_INSECURE": "1",
    }


def _banner(args: argparse.Namespace, bootstrap: str, logs: Path) -> None:
    notify_metrics = f"http://127.0.0.1:{args.notify_metrics_port}/metrics" if args.notify_metrics_port else "off"
    print(f"broker      {bootstrap} (embedded tansu, memory only: gone when the demo stops)")
    print(f"metrics     http://127.0.0.1:{args.metrics_port}/metrics   (Prometheus)")
    print(f"console     http://127.0.0.1:{args.web_port}/console   (alerts live, acknowledge in the browser)")
    print(f"worker web  http://127.0.0.1:{args.web_port}/readyz")
    print(f"HL7 MLLP    127.0.0.1:{args.mllp_port}")
    print(f"notify      console channel (pages in {logs}/notify.log), metrics {notify_metrics}")
    print(
        f"audit       WARDWATCH_KAFKA_BOOTSTRAP={bootstrap} wardwatch audit ALERT_OR_PATIENT_ID   (while the demo runs)"
    )
    print(f"logs        {logs}/  ·  Ctrl-C stops everything", flush=True)


async def _follow(env: dict[str, str], args: argparse.Namespace, started: float, worker: subprocess.Popen) -> int:
    from streams.cli.demo_view import DemoView
    from streams.kafka import consumer

    loop = asyncio.get_running_loop()
    stop: list[int] = []  # the signal that asked us to stop

    def on_signal(signum: int) -> None:
        if not stop:
            stop.append(signum)
            _announce(signum)

    stop_signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    for sig in stop_signals:
        loop.add_signal_handler(sig, on_signal, sig)
    settings = Settings.from_env(bootstrap=env["WARDWATCH_KAFKA_BOOTSTRAP"])
    status = _Status(args.metrics_port, worker, logs=args.logs, web_port=args.web_port)
    cons = None
    try:
        cons = await consumer(
            settings, settings.topics.alerts, settings.topics.audit, auto_offset_reset="earliest", group_id=None
        )
        partitions = len(cons.partitions_for_topic(settings.topics.alerts) or ())
        view = DemoView(settings.topics.alerts, colour=sys.stdout.isatty(), started=started, partitions=partitions)
        while not stop and (not args.duration or time.monotonic() - started < args.duration):
            status.maybe_print()
            if worker.poll() is not None:
                print(
                    f"error: the worker exited with code {worker.returncode}; see {args.logs}/worker.log",
                    file=sys.stderr,
                )
                return 1
            batch = await cons.getmany(timeout_ms=250)
            records = [r for recs in batch.values() for r in recs]
            for line in view.lines([(r.topic, orjson.loads(r.value), r.partition) for r in records]):
                print(line, flush=True)
        for line in view.lines([], flush=True):
            print(line, flush=True)
    finally:
        for sig in stop_signals:  # back to ignoring them (not to the default, which would kill us mid-cleanup)
            loop.remove_signal_handler(sig)
        ignore_stop_signals()
        if cons is not None:
            await cons.stop()
        status.maybe_print(force=True)
    return 0


class _Status:
    """Every 10 s, one line from the worker's own metrics: how much it has processed.

    Before the worker is ready it says what the worker waits for (joining its
    consumer group takes seconds), so the first minute is never silent. Counts
    are only read from a metrics endpoint whose process started with our
    worker: an old worker still holding the port must not be reported as ours.
    """

    def __init__(self, port: int, worker: subprocess.Popen, logs: str, web_port: int | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.readyz = f"http://127.0.0.1:{web_port}/readyz" if web_port else None
        self.worker, self.logs = worker, logs
        self.spawned = time.time()
        self.born = time.monotonic()
        self.last = (time.monotonic(), 0.0)
        self.first_seen: tuple[float, float] | None = None
        self.ready = False

    def _metrics(self) -> dict[str, float]:
        import urllib.request

        wanted = ("wardwatch_samples_processed_total", "process_start_time_seconds")
        out: dict[str, float] = {}
        with urllib.request.urlopen(self.url, timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name in wanted:
                    out[name] = float(value)
        return out

    def ours(self, metrics: dict[str, float]) -> bool:
        """The endpoint's process started when we spawned the worker (not minutes before)."""
        start = metrics.get("process_start_time_seconds")
        return start is not None and abs(start - self.spawned) < 10

    def maybe_print(self, force: bool = False) -> None:
        now = time.monotonic()
        period = 10 if self.ready else 5
        if not force and now - self.last[0] < period:
            return
        try:
            metrics = self._metrics()
        except OSError:
            metrics = {}
        if not metrics or not self.ours(metrics):
            if not force:
                self._waiting(now)
            return
        samples = metrics.get("wardwatch_samples_processed_total", 0.0)
        self.ready = self.ready or samples > 0
        rate = (samples - self.last[1]) / max(now - self.last[0], 1e-9)
        if self.first_seen is None and samples > 0:
            self.first_seen = (now, samples)
        average = ""
        if self.first_seen and now > self.first_seen[0]:
            average = f", {(samples - self.first_seen[1]) / (now - self.first_seen[0]):,.0f}/s average"
        if samples == 0 and not force:
            self._waiting(now)
            return
        print(f"-- worker: {samples:,.0f} samples processed ({rate:,.0f}/s now{average})", file=sys.stderr, flush=True)
        self.last = (now, samples)

    def _waiting(self, now: float) -> None:
        print(
            f"-- worker: starting for {now - self.born:.0f} s: {self._what()} (no samples yet); "
            f"see {self.logs}/worker.log",
            file=sys.stderr,
            flush=True,
        )
        self.last = (now, self.last[1])

    def _what(self) -> str:
        """What the worker waits for, from its /readyz once its web server is up."""
        import urllib.error
        import urllib.request

        if self.readyz:
            try:
                with urllib.request.urlopen(self.readyz, timeout=1) as resp:
                    body = orjson.loads(resp.read())
            except urllib.error.HTTPError as exc:  # 503 while not ready: the body says why
                body = orjson.loads(exc.read() or b"{}")
            except (OSError, ValueError):
                body = None
            if isinstance(body, dict):
                if body.get("ready"):
                    return "ready, waiting for the simulator's first samples"
                if not body.get("partitions"):
                    return "web server up, joining its consumer group (waiting for partitions)"
                waiting = ", ".join(body.get("waiting_for") or []) or "table recovery"
                return f"partitions {body['partitions']} assigned, waiting for {waiting}"
        return "connecting to the broker and creating topics"
