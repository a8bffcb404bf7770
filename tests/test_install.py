"""The locked install: uv.lock matches pyproject.toml, `make` refuses a stale lock with the fix, and the uv
that bootstraps the install is the locked one, hash-checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from locked_uv import LockError, uv_requirement  # noqa: E402

UV = ROOT / ".venv" / "bin" / "uv"
needs_uv = pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make install`")


@needs_uv
def test_the_committed_lock_matches_pyproject() -> None:
    result = subprocess.run(
        [str(UV), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@needs_uv
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_refuses_a_lock_that_disagrees_with_pyproject(tmp_path: Path) -> None:
    # GIVEN a dependency added to pyproject.toml without re-locking
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy2(ROOT / "uv.lock", tmp_path / "uv.lock")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = pyproject.replace('"PyYAML==6.0.3",', '"PyYAML==6.0.3",\n    "tomli-w==1.2.0",', 1)
    assert "tomli-w" in pyproject
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    # WHEN make installs (the check runs before anything is installed into the shared .venv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "UV_"))}
    result = subprocess.run(
        ["make", "--no-print-directory", ".venv/bin/.installed"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it stops with what is wrong and the command that fixes it
    assert result.returncode != 0
    assert "pyproject.toml and uv.lock disagree" in result.stderr
    assert "Fix: make lock" in result.stderr
    assert "installing Python packages" not in result.stdout


def test_the_bootstrap_installs_the_locked_uv_with_every_wheel_hash() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (locked,) = [p for p in lock["package"] if p["name"] == "uv"]
    pinned = re.search(r'"uv==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == locked["version"]

    requirement = uv_requirement((ROOT / "uv.lock").read_text())

    assert requirement.startswith(f"uv=={locked['version']} \\\n")
    hashes = set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", requirement))
    assert hashes == {wheel["hash"] for wheel in locked["wheels"]}


def test_the_bootstrap_refuses_a_lock_without_uv() -> None:
    with pytest.raises(LockError, match=r"pins 0 versions of uv.*Fix: .*make lock"):
        uv_requirement('version = 1\n[[package]]\nname = "pyyaml"\nversion = "6.0.3"\n')
