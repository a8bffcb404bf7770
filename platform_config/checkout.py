"""Which commit a checkout is: what an evaluation run records it measured and what a review pack's header
names. One answer for both, so the pack can tell whether a run measured the candidate it describes.

- In a git work tree: ``git rev-parse HEAD``, changed when ``git status --porcelain`` lists modified or
  untracked files (a new use case not yet committed is new files; ignored outputs such as ``cdk.out`` do
  not count).
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


@dataclass(frozen=True)
class Revision:
    commit: str  # 40 hex digits, or UNKNOWN
    changed: bool  # the files differ from the commit (always True when the commit is unknown)
    source: str  # where the commit came from: "git", SOURCE_COMMIT_VARIABLE, or why it is unknown

    @property
    def known(self) -> bool:
        return self.commit != UNKNOWN


def revision(root: Path) -> Revision:
    """The commit the checkout at ``root`` is (see the module docstring)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"],  # untracked files too: a new use case is new files
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return Revision(head, bool(status.strip()), "git")
    except (OSError, subprocess.SubprocessError):
        pass
    given = os.environ.get(SOURCE_COMMIT_VARIABLE, "").strip()
    if _COMMIT.fullmatch(given.lower()):
        return Revision(given.lower(), False, SOURCE_COMMIT_VARIABLE)
    why = (
        f"{SOURCE_COMMIT_VARIABLE} is {given!r}, not a 40-digit commit"
        if given
        else f"{SOURCE_COMMIT_VARIABLE} is not set"
    )
    return Revision(UNKNOWN, True, f"not a git checkout (or git is not installed), and {why}")
