"""`.ci/run` with a fake apt-get and make: it waits for the dpkg lock and installs every tool the tests use."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def test_ci_waits_for_the_dpkg_lock_and_installs_every_test_tool(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name, body in (("apt-get", f'echo "apt-get $*" >> {calls}'), ("make", f'echo "make $*" >> {calls}')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    os.symlink(shutil.which("dirname"), bin_dir / "dirname")  # the only other command the script runs
    proc = subprocess.run(
        ["/bin/bash", str(ROOT / ".ci" / "run")], env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    lines = calls.read_text().splitlines()
    apt = [line for line in lines if line.startswith("apt-get")]
    assert len(apt) == 2 and all("DPkg::Lock::Timeout=" in line for line in apt), lines
    assert "update" in apt[0] and "install" in apt[1]
    for package in ("prometheus", "docker-compose", "chromium", "chromium-driver"):
        assert f" {package}" in apt[1] + " ", package
    assert lines[-1] == "make test"
