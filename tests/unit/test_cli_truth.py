"""Help texts and terminal views that tell the truth (issue 19: commands that tell the truth)."""

from __future__ import annotations

import argparse
import re

from alerts.format import TABLE_HEADER, alert_row, table_line
from streams.cli import build_parser
from streams.config import WORKER_ENVIRONMENT


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help_and_no_default_is_shown_twice_or_as_none() -> None:
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):  # sub-commands: own help
                assert action.help, f"wardwatch {name} {action.option_strings or action.dest} has no help"
        text = re.sub(r"\s+", " ", parser.format_help())
        assert "(default: None)" not in text, name
        assert not re.search(r"default[^()]*\) \(default", text), f"wardwatch {name} shows a default twice"


def test_demo_help_example_matches_its_defaults_and_shows_the_mllp_port() -> None:
    demo = _subparsers()["demo"]
    text = demo.format_help()
    hours, speed = demo.get_default("hours"), demo.get_default("speed")
    assert f"{hours:g} simulated hours at {speed:g}x" in text
    assert "--mllp-port" in text and "2575" in text


def test_audit_quiet_is_a_switch_and_the_idle_time_has_a_clear_name() -> None:
    audit = _subparsers()["audit"]
    args = audit.parse_args(["phys-1", "--quiet", "--idle-seconds", "3"])
    assert args.quiet is True and args.idle_seconds == 3.0


def test_worker_help_lists_every_environment_variable() -> None:
    text = _subparsers()["worker"].format_help()
    for name, _, _ in WORKER_ENVIRONMENT:
        assert name in text


def test_evaluate_held_out_seeds_agree_with_the_readme() -> None:
    from tests.conftest import ROOT

    text = _subparsers()["evaluate"].format_help()
    held = re.search(r"--seeds ([\d,]+) .*held-out", text).group(1)
    assert f"--seeds {held}" in (ROOT / "README.md").read_text()


def test_table_rows_stay_aligned_whatever_the_status_or_kind() -> None:
    rows = [table_line(TABLE_HEADER)]
    for status, kind in (("raised", "news2"), ("acknowledged", "signal_loss"), ("resolved", "technical")):
        rows.append(
            table_line(
                alert_row(
                    {
                        "ts": "2026-12-02T10:00:00.000Z",
                        "status": status,
                        "priority": "medium",
                        "kind": kind,
                        "patient_id": "MRN1",
                        "news2": {"total": 5},
                        "alert_id": "phys-1",
                    }
                )
            )
        )
    starts = {row.index("MRN1") if "MRN1" in row else row.index("patient") for row in rows}
    assert len(starts) == 1, "\n".join(rows)
    assert len({row.index("phys-1") if "phys-1" in row else row.index("alert id") for row in rows}) == 1
