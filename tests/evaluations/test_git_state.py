"""What a run and a review pack say they measured: the commit, and whether the checkout differs from it.

A new use case is new files (README, Add a use case): until they are committed, a run or a pack that
measured them must not claim to be the commit alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from compliance.report.__main__ import git_commit
from evaluation.registry import git_state


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".gitignore").write_text("eval-results/\n")
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/policy-qa.yaml").write_text("id: policy-qa\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def test_a_clean_checkout_is_its_commit(repo: Path) -> None:
    (repo / "eval-results").mkdir()
    (repo / "eval-results/results.json").write_text("{}")  # ignored output: not a change
    commit, dirty = git_state(repo)
    assert len(commit) == 40 and not dirty
    assert git_commit(repo) == commit


def test_an_uncommitted_new_use_case_marks_the_run_and_the_pack(repo: Path) -> None:
    # GIVEN a product team's new contract, not yet committed (git add or not)
    (repo / "contracts/order-triage.yaml").write_text("id: order-triage\n")
    # THEN the evaluation run and the review pack both say the checkout differs from HEAD
    commit, dirty = git_state(repo)
    assert dirty, "an untracked contract was measured as the commit alone"
    assert git_commit(repo) == f"{commit} + uncommitted changes"
