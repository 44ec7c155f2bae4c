"""The robustness matrix (`wardwatch evaluate --matrix`) and the `--detectors` seam."""

from __future__ import annotations

import dataclasses
import io

import orjson
import pytest

from alerts.evaluation.detectors import UnknownDetector, detector_configs, register
from alerts.evaluation.matrix import Split, build_cells, run_matrix
from alerts.evaluation.matrix.results import CellPolicy, CellResult
from alerts.evaluation.policies import EngineConfig


def test_cells_cover_every_axis_once_with_their_own_seed():
    cells = build_cells()
    assert len(cells) == 6 * 5 * 2
    assert len({c.seed for c in cells}) == len(cells)
    assert {c.shape.sampling_s for c in cells} == {1, 5, 60, 900, 3600, 14400}
    assert {c.shape.flagged_share for c in cells} == {1.0, 0.75, 0.0}
    assert {c.shape.missing for c in cells} == {0.0, 0.25}
    assert sum(c.has_target for c in cells) == 30


def test_the_split_is_fixed_by_rule_and_dev_is_the_smaller_part():
    cells = build_cells()
    dev = [c for c in cells if c.split is Split.DEV]
    assert len(dev) == 15
    assert all(c.shape.sampling_s in (1, 60, 3600) and c.shape.missing == 0 for c in dev)
    # a split on its own keeps the cells' numbers and seeds, so dev results match the full run's
    assert [(c.number, c.seed) for c in build_cells(split=Split.DEV)] == [(c.number, c.seed) for c in dev]
    # 0 % flagged artefacts are in both: the hardest case is never only tuned on or only held out
    assert {c.split for c in cells if c.shape.flagged_share == 0.0} == {Split.DEV, Split.HELD_OUT}


def result(recall: float | None, false: float | None, sampling: float = 60.0, days: float = 6.0) -> CellResult:
    raises = round((false or 0.0) * days)
    p = CellPolicy("wardwatch", recall, 6, 10.0, false, 1.0, false_alerts=raises, stable_days=days)
    return CellResult(0, "x", "dev", sampling, "none", 0.0, 7, sampling <= 60, 100, (p,))


def test_cell_target_needs_both_recall_and_false_rate():
    assert result(1.0, 1.0).meets() is True
    assert result(0.94, 0.0).meets() is False
    assert result(1.0, 1.34).meets() is False
    assert result(None, 0.0).meets() is False
    assert result(1.0, 0.0, sampling=3600).meets() is None


def test_a_miss_by_a_raise_in_six_days_is_within_chance_but_a_large_one_is_not():
    assert result(1.0, 7 / 6).clearly_missed() is False  # 7 raises in 6 days: 95 % CI 0.47-2.40
    assert result(1.0, 20 / 6).clearly_missed() is True  # 20 raises: 2.04-5.15, wholly above 1
    assert result(1.0, 7 / 6, days=600.0).clearly_missed() is True  # 700 raises in 600 days: 1.08-1.26
    assert result(0.90, 0.0).clearly_missed() is True  # recall is not excused
    assert result(1.0, 0.5).clearly_missed() is False  # met is not missed
    low, high = result(1.0, 0.0).policy("wardwatch").false_interval() or (None, None)
    assert low == 0.0 and high is not None and 0.6 < high < 0.62  # none seen in 6 days: rate below 0.61


def test_a_small_matrix_runs_end_to_end_with_a_registered_detector(tmp_path):
    register("test-strict", lambda base: dataclasses.replace(base, anomaly_threshold=0.9))
    report = run_matrix(
        tmp_path,
        patients=2,
        hours=3.0,
        sampling=(60.0, 3600.0),
        split=Split.DEV,
        workers=1,
        detectors=detector_configs(["test-strict"]),
        stream=io.StringIO(),
    )
    assert [c.sampling_s for c in report.cells] == [60.0, 3600.0] * 5
    assert report.policies == ("fixed_limits", "news2_only", "wardwatch", "wardwatch[test-strict]")
    for cell in report.cells:
        for p in cell.policies:
            assert p.recall is None or 0.0 <= p.recall <= 1.0
    md = (tmp_path / "report.md").read_text()
    assert "| dev |" in md and "wardwatch[test-strict] recall %" in md
    doc = orjson.loads((tmp_path / "report.json").read_bytes())
    assert len(doc["cells"]) == 10
    assert (tmp_path / "matrix.png").stat().st_size > 10_000


def test_an_unknown_detector_name_is_refused_with_what_is_known():
    register("test-known", lambda base: base)
    with pytest.raises(UnknownDetector, match="test-known"):
        detector_configs(["no-such-detector"])
    [named] = detector_configs(["test-known"])
    assert named.name == "wardwatch[test-known]" and isinstance(named.config, EngineConfig)


def test_cli_refuses_an_unknown_detector(capsys):
    from streams.cli import main

    with pytest.raises(SystemExit, match=r"unknown|cannot run"):
        main(["evaluate", "--matrix", "--detectors", "no-such-detector"])


def test_progress_redraws_a_few_times_a_second_not_per_task():
    from alerts.evaluation.parallel import Progress

    out = io.StringIO()
    progress = Progress("replay", 4000, out, unit="stays")
    for _ in range(4000):
        progress.step()
    text = out.getvalue()
    assert text.count("\r") < 50  # 4,000 stays in well under a second: a handful of redraws
    assert "4000/4000 stays (100 %)" in text.rsplit("\r", 1)[1]  # the last state is always shown
    assert text.endswith("\n")
