"""`wardwatch demo` as a service manager, `timeout` or a closed terminal stops it.

Runs the real demo (embedded broker, worker, notify, simulator) on free
ports, sends SIGTERM or SIGHUP, and checks that every child is gone and every
port is free again: before the fix the children lived on with PPID 1.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.cli.demo import port_busy
from streams.kafka import free_port
from tests.conftest import ROOT


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
    raise AssertionError(f"demo never printed {needle!r}:\n{''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_demo_stopped_by_signal_leaves_no_process_and_frees_its_ports(tmp_path: Path, sig: int) -> None:
    ports = {
        "--metrics-port": free_port(),
        "--web-port": free_port(),
        "--mllp-port": free_port(),
        "--notify-metrics-port": free_port(),
    }
    cmd = [
        sys.executable,
        "-m",
        "streams.cli",
        "demo",
        "--patients",
        "4",
        "--hours",
        "2",
        "--speed",
        "200",
        "--logs",
        str(tmp_path / "demo"),
    ]
    for option, port in ports.items():
        cmd += [option, str(port)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_for_line(proc, "samples processed", timeout=90)  # worker up and consuming
        children = _children(proc.pid)
        assert len(children) == 4, f"broker, worker, notify, simulator expected: {children}"
        for _ in range(10):  # `timeout` under make sends two or three within milliseconds; later ones land in cleanup
            proc.send_signal(sig)
            time.sleep(0.03)
        out, _ = proc.communicate(timeout=40)
        assert proc.returncode == 0, out
        assert f"{signal.Signals(sig).name} received" in out
        assert "Traceback" not in out and "never retrieved" not in out, out
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in children):
            time.sleep(0.1)
        assert not [p for p in children if _alive(p)], "children outlived the demo"
        assert not [port for port in ports.values() if port_busy(port)], "a demo port is still held"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
