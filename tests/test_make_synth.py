"""A failed `make synth` keeps the last good cdk.out/ and puts its own output in cdk.out.failed/.

The Makefile runs in a scratch folder with this checkout's .venv, and a stand-in `npx` plays the CDK CLI:
it writes what a failed synth leaves behind, or an assembly the compliance gate refuses. (The success path,
a real synth that replaces cdk.out/, is what `make synth` itself does.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_NPX = """#!/usr/bin/env bash
# stand-in for `npx cdk synth ... -o <dir>`: writes <dir>/validation-report.json, exits $FAKE_SYNTH_EXIT
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
mkdir -p "$out" && echo '{"pluginReports": ["a finding"]}' > "$out/validation-report.json"
exit "$FAKE_SYNTH_EXIT"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project: the Makefile, this checkout's .venv and compliance/, a fake npx, and a last good
    cdk.out/."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    # the gate runs from the checkout (`compliance` is not installed), as `make synth` runs it here
    (tmp_path / "compliance").symlink_to(ROOT / "compliance", target_is_directory=True)
    (tmp_path / "bin").mkdir()
    npx = tmp_path / "bin" / "npx"
    npx.write_text(FAKE_NPX)
    npx.chmod(0o755)
    (tmp_path / "cdk.out" / "review-pack").mkdir(parents=True)
    (tmp_path / "cdk.out" / "review-pack" / "Prod.html").write_text("the last good review pack")
    return tmp_path


def make_synth(project: Path, synth_exit: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE"))}
    env.update(PATH=f"{project / 'bin'}:{env['PATH']}", FAKE_SYNTH_EXIT=str(synth_exit))
    # -o: the installs count as done (the scratch folder shares this checkout's .venv)
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/bin/.installed",
            "-o",
            "node_modules/.installed",
            "synth",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_last_good_kept(project: Path, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert (project / "cdk.out" / "review-pack" / "Prod.html").read_text() == "the last good review pack"
    assert sorted(p.name for p in (project / "cdk.out").iterdir()) == ["review-pack"]
    assert (project / "cdk.out.failed" / "validation-report.json").exists()
    assert not (project / ".synth").exists()
    assert "cdk.out/ is unchanged" in result.stderr and "cdk.out.failed/" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_failed_synth_keeps_the_last_good_assembly(project: Path) -> None:
    # GIVEN a synth that fails (as on an unacknowledged cdk-nag finding) after writing its report
    result = make_synth(project, synth_exit=1)
    # THEN cdk.out/ is untouched and the failed run's output is in cdk.out.failed/
    assert_last_good_kept(project, result)
    assert "compliance gate" not in result.stdout  # nothing ran after the failed synth


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_an_assembly_the_gate_refuses_does_not_replace_the_last_good_one(project: Path) -> None:
    # GIVEN a synth that succeeds but leaves an assembly the compliance gate cannot pass (no manifest)
    # and an older failed run
    (project / "cdk.out.failed").mkdir()
    (project / "cdk.out.failed" / "stale").write_text("from an older run")
    result = make_synth(project, synth_exit=0)
    # THEN the gate fails, cdk.out/ is untouched, and cdk.out.failed/ holds this run's output only
    assert "compliance gate" in result.stdout
    assert_last_good_kept(project, result)
    assert not (project / "cdk.out.failed" / "stale").exists()
    assert "writing the review pack" not in result.stdout
