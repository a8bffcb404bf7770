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
from platform_spec.delivery import SOURCE_COMMIT_VARIABLE

COMMIT = "0123456789abcdef0123456789abcdef01234567"


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


def test_a_pipeline_step_outside_git_is_the_commit_its_execution_carries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the delivery pipeline's checkout: the source artifact, no .git, SOURCE_COMMIT from the source action
    (tmp_path / "contracts").mkdir()
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, COMMIT.upper())
    # THEN the run and the pack name that commit, unchanged (it said "unknown" in every pipeline step)
    assert git_state(tmp_path) == (COMMIT, False)
    assert git_commit(tmp_path) == COMMIT


def test_a_malformed_or_missing_source_commit_is_unknown_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, "#{Source_Source_NS.CommitId}")  # a variable left unresolved
    assert git_state(tmp_path) == ("unknown", True)
    assert "SOURCE_COMMIT is '#{Source_Source_NS.CommitId}', not a 40-digit commit" in git_commit(tmp_path)
    monkeypatch.delenv(SOURCE_COMMIT_VARIABLE)
    assert git_commit(tmp_path) == (
        "unknown (not a git checkout (or git is not installed), and SOURCE_COMMIT is not set; pass --commit)"
    )


def test_git_is_the_truth_where_there_is_a_checkout(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, COMMIT)
    commit, dirty = git_state(repo)
    assert commit != COMMIT and len(commit) == 40 and not dirty


def test_an_export_unpacked_inside_another_repository_is_not_that_repository_s_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an export of the project (no .git: a tarball, the pipeline's source zip) unpacked in a folder of
    # some other repository, which tracks none of its files
    other = tmp_path / "workspace"
    other.mkdir()
    (other / "notes.md").write_text("mine\n")
    _git(other, "init", "-q")
    _git(other, "add", "-A")
    _git(other, "commit", "-q", "-m", "someone else's work")
    export = other / "bedrock-platform"
    (export / "contracts").mkdir(parents=True)
    (export / "contracts/policy-qa.yaml").write_text("id: policy-qa\n")
    # THEN the run and the pack do not name the other repository's commit: SOURCE_COMMIT where given
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, COMMIT)
    assert git_state(export) == (COMMIT, False)
    # else unknown, saying why
    monkeypatch.delenv(SOURCE_COMMIT_VARIABLE)
    assert git_state(export) == ("unknown", True)
    assert "tracks none of the files here" in git_commit(export)


def test_a_project_tracked_in_a_folder_of_a_larger_repository_is_that_repository_s_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the project committed in a folder of a monorepo
    (tmp_path / "infra/bedrock-platform/contracts").mkdir(parents=True)
    (tmp_path / "infra/bedrock-platform/contracts/policy-qa.yaml").write_text("id: policy-qa\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "monorepo")
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, COMMIT)
    # THEN the monorepo's commit is the project's (git is the truth where it tracks the files)
    commit, dirty = git_state(tmp_path / "infra/bedrock-platform")
    assert commit != COMMIT and len(commit) == 40 and not dirty


def test_an_ignored_output_folder_of_the_checkout_is_the_checkout_s_commit(repo: Path) -> None:
    # GIVEN the folder make synth writes the assembly and the review pack in (.synth/, git-ignored like
    # eval-results/ here): it tracks no file, but it is an output of this checkout, not an export
    out = repo / "eval-results" / "cdk.out"
    out.mkdir(parents=True)
    (repo / "contracts/order-triage.yaml").write_text("id: order-triage\n")  # and the checkout has a change
    # THEN the pack written there names the checkout's commit (it said "unknown ... tracks none of the files")
    assert git_commit(out) == git_commit(repo) and git_commit(repo).endswith("+ uncommitted changes")
    assert git_state(out) == git_state(repo)


def test_an_export_unpacked_in_an_ignored_folder_is_not_the_checkout_s_commit(repo: Path) -> None:
    # GIVEN a project export (its own contracts, no .git) unpacked in a folder this repository ignores
    export = repo / "eval-results" / "export"
    (export / "contracts").mkdir(parents=True)
    (export / "contracts/policy-qa.yaml").write_text("id: policy-qa\nchanged: true\n")
    # THEN it is not taken for an output of this checkout: its commit is unknown, as for any export
    assert git_commit(export).startswith("unknown ("), git_commit(export)
