"""`wardwatch evaluate --compare --detectors a,b`: one table and plot over the same data."""

from __future__ import annotations

import orjson

from streams.cli import main


def test_compare_writes_one_table_and_plot_for_every_detector(tmp_path, capsys):
    rc = main(
        [
            "evaluate",
            "--compare",
            "--detectors",
            "baseline-z,sad",
            "--no-matrix",
            "--quick",
            "--patients",
            "2",
            "--hours",
            "2",
            "--limit",
            "4",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    md = (tmp_path / "compare.md").read_text()
    assert "| baseline-z |" in md and "| sad |" in md and "AUROC real data" in md
    rows = orjson.loads((tmp_path / "compare.json").read_bytes())
    assert [r["detector"] for r in rows] == ["baseline-z", "sad"]
    assert all(r["us_per_sample"] > 0 and r["bytes_per_patient"] > 0 for r in rows)
    assert (tmp_path / "compare.png").stat().st_size > 10_000
    assert (tmp_path / "charted" / "report.md").exists()


def test_compare_refuses_an_unknown_detector(capsys):
    assert main(["evaluate", "--compare", "--detectors", "baseline-z,isolation-forrest"]) == 2
    assert "isolation-forrest" in capsys.readouterr().err
