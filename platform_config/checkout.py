"""Which commit a checkout is: what an evaluation run records it measured and what a review pack's header
names. One answer for both, so the pack can tell whether a run measured the candidate it describes.

- In a git work tree that tracks the files at ``root`` (the project's own repository, or a larger one with
  the project in a folder): ``git rev-parse HEAD``, changed when ``git status --porcelain`` lists modified or
  untracked files (a new use case not yet committed is new files; ignored outputs such as ``cdk.out`` do
  not count). A folder the work tree ignores (``.synth/``, where ``make synth`` writes the assembly and the
  review pack) is an output of that checkout: its commit, unless it holds a configuration of its own
  (``cdk.json`` or ``contracts/``: an export unpacked there). An export unpacked in a folder of some other
  repository, which tracks none of its files, is not that repository's commit: it is read as if there were
  no git.
- Elsewhere, the commit in ``SOURCE_COMMIT`` (``platform_spec.delivery.SOURCE_COMMIT_VARIABLE``), which
  every step of the delivery pipeline gets from its source action's ``CommitId`` variable: the steps run in
  the source artifact, a zip of the commit without ``.git``
  (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html),
  plus what earlier steps built (ignored outputs again), so it is that commit, unchanged.
- Neither: unknown.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from platform_spec.delivery import SOURCE_COMMIT_VARIABLE

UNKNOWN = "unknown"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(text: str) -> bool:
    """Whether ``text`` is a full commit id (40 lower-case hex digits)."""
    return _COMMIT.fullmatch(text) is not None


@dataclass(frozen=True)
class Revision:
    commit: str  # 40 hex digits, or UNKNOWN
    changed: bool  # the files differ from the commit (always True when the commit is unknown)
    source: str  # where the commit came from: "git", SOURCE_COMMIT_VARIABLE, or why it is unknown

    @property
    def known(self) -> bool:
        return self.commit != UNKNOWN


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=check)


def _ignored(root: Path) -> bool:
    """Whether the work tree ignores the folder ``root`` (``git check-ignore`` exits 0 for an ignored path)."""
    return _git(root, "check-ignore", "-q", ".", check=False).returncode == 0


def _has_configuration(root: Path) -> bool:
    """Whether ``root`` holds a project configuration of its own (``cdk.json`` or ``contracts/``), as an
    export of the project does and an output folder (an assembly, a review pack) does not."""
    return (root / "cdk.json").is_file() or (root / "contracts").is_dir()


def revision(root: Path) -> Revision:
    """The commit the checkout at ``root`` is (see the module docstring)."""
    no_git = "not a git checkout (or git is not installed)"
    try:
        head = _git(root, "rev-parse", "HEAD").stdout.strip()
        # one tracked path is enough: `git ls-files` lists what the index tracks under the working folder
        if _git(root, "ls-files", "--", ".").stdout.strip():
            # untracked files too: a new use case is new files
            return Revision(head, bool(_git(root, "status", "--porcelain").stdout.strip()), "git")
        top = _git(root, "rev-parse", "--show-toplevel").stdout.strip()
        if _ignored(root) and not _has_configuration(root):
            # a folder the work tree ignores is its output (make synth writes the assembly and the review
            # pack in .synth/): the checkout's commit, as for cdk.out; a folder with a configuration of its
            # own (an export unpacked there) is not
            return revision(Path(top))
        no_git = f"the git repository at {top} tracks none of the files here (an export unpacked in it)"
    except (OSError, subprocess.SubprocessError):
        pass
    given = os.environ.get(SOURCE_COMMIT_VARIABLE, "").strip()
    if is_commit(given.lower()):
        return Revision(given.lower(), False, SOURCE_COMMIT_VARIABLE)
    why = (
        f"{SOURCE_COMMIT_VARIABLE} is {given!r}, not a 40-digit commit"
        if given
        else f"{SOURCE_COMMIT_VARIABLE} is not set"
    )
    return Revision(UNKNOWN, True, f"{no_git}, and {why}")
