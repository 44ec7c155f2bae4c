"""Every command answers --help with an example; the pure packages stay pure."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

from streams.cli import COMMANDS, build_parser


def _available() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_core_commands_exist():
    assert {"broker", "worker", "simulate", "alerts", "ack", "demo"} <= set(_available())


@pytest.mark.parametrize("command", _available())
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out.lower() and f"wardwatch {command}" in out


def test_top_level_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "streams.cli", "--help"], capture_output=True, text=True).stdout
    assert "demo" in out and "example" in out


def test_unreachable_broker_is_a_clear_error_not_a_traceback():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "simulate",
            "--patients",
            "1",
            "--hours",
            "0.01",
            "--bootstrap",
            "127.0.0.1:1",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "127.0.0.1:1" in proc.stderr and "Traceback" not in proc.stderr


def test_monitor_and_alerts_import_neither_faust_nor_aiokafka():
    names = []
    for package in ("monitor", "alerts"):
        pkg = importlib.import_module(package)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")]
    code = (
        f"import importlib, sys\nfor n in {names!r}: importlib.import_module(n)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('faust', 'aiokafka', 'mode')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"pure packages pulled in: {out}"


def test_commands_table_names_real_modules_or_pending_ones():
    for module in COMMANDS.values():
        assert module.startswith("streams.")
