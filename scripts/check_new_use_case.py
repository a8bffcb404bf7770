"""Prove that adding a use case as the README says does not break `make test` (the evaluation gate and the
test suite).

    .venv/bin/python scripts/check_new_use_case.py            # or: make check-new-use-case (~4 min)
    .venv/bin/python scripts/check_new_use_case.py -- -x tests/infra   # pytest arguments after --

Copies the repository (the files git tracks or would track, as they are in the work tree) to a temporary
folder, adds for every contract in contracts/ a copy under a new id (`copy-of-<id>`, with its prompt and
suites), exactly as the README's "Add a use case" steps do, commits the copy, and runs every evaluation
suite (`make eval`) and the test suite there with this checkout's .venv and node_modules. Tests must
derive what they expect from the configuration they load, so the suite passes with six use cases as it
does with three; a test that counts today's files fails here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "copy-of-"


def copy_repository(target: Path) -> None:
    """The work tree's files that git tracks or would track (not .venv, node_modules, cdk.out, caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def link_installs(target: Path) -> None:
    """This checkout's .venv and node_modules, linked (after the commit: git would track the links)."""
    for shared in (".venv", "node_modules"):
        (target / shared).symlink_to(ROOT / shared, target_is_directory=True)


def add_copies_of_every_contract(root: Path) -> list[str]:
    """README "Add a use case", step 1, for every contract: copy it, its prompt and its evaluation suites,
    set the new id."""
    added = []
    for contract in sorted((root / "contracts").glob("*.yaml")):
        old = contract.stem
        new = f"{PREFIX}{old}"
        text, count = re.subn(rf"(?m)^id: {re.escape(old)}$", f"id: {new}", contract.read_text("utf-8"))
        if count != 1:
            raise SystemExit(f"{contract}: expected one line 'id: {old}', found {count}")
        (root / "contracts" / f"{new}.yaml").write_text(text, encoding="utf-8")
        shutil.copy2(root / "prompts" / f"{old}.yaml", root / "prompts" / f"{new}.yaml")
        if (root / "evals" / old).is_dir():
            shutil.copytree(root / "evals" / old, root / "evals" / new)
        added.append(new)
    return added


def commit(root: Path, message: str) -> None:
    """Commit everything in the copy (a git repository from the first call on), as a product team's
    checkout is once the change is committed (the review pack and its tests read the commit from git)."""
    identity = ("-c", "user.name=check-use-case", "-c", "user.email=check-use-case@localhost")
    for command in (
        *([] if (root / ".git").exists() else [["git", "init", "--quiet"]]),
        ["git", "add", "--all"],
        ["git", *identity, "commit", "--quiet", "--no-verify", "-m", message],
    ):
        subprocess.run(command, cwd=root, check=True, capture_output=True)


def evaluate_and_test(copy: Path, pytest_args: list[str], situation: str) -> int:
    """`make test`'s two steps that read the configuration, in ``copy`` with this checkout's .venv: every
    evaluation suite (make eval), then the test suite (ruff and mypy read code only, which the copies
    these checks make do not change). Prints each step's verdict; the exit status of the first failing."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = str(ROOT / ".venv" / "bin" / "python")
    command = [
        *(python, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        # the one test about where the code lives: .venv's editable install maps bedrock_constructs to
        # this checkout's constructs/, not to the copy's
        *(
            "--deselect",
            "tests/infra/test_imports.py::test_the_repository_folder_is_importable_as_bedrock_constructs",
        ),
    ]
    evaluation = subprocess.run([python, "-m", "evaluation", "run"], cwd=copy, env=env, check=False)
    result = subprocess.run([*command, *pytest_args], cwd=copy, env=env, check=False)
    for step, code in (("make eval", evaluation.returncode), ("the test suite", result.returncode)):
        verdict = "passes" if code == 0 else "FAILS"
        print(f"==> {step} {verdict} {situation} (exit {code})")
    return evaluation.returncode or result.returncode


def parse_with_pytest_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``argv`` parsed by ``parser`` with the arguments for pytest (after ``--``) as ``pytest_args``."""
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    return parser.parse_args(argv)


def has_venv(prog: str) -> bool:
    """Whether this checkout has its .venv (the copies run with it); if not, says so and how to fix it."""
    if (ROOT / ".venv" / "bin" / "python").exists():
        return True
    print(f"{prog}: no .venv yet. Fix: make install", file=sys.stderr)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/check_new_use_case.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print its path")
    args = parse_with_pytest_args(parser, argv)
    if not has_venv("check_new_use_case"):
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bedrock-new-use-case-"))
    try:
        copy_repository(tmp)
        added = add_copies_of_every_contract(tmp)
        commit(tmp, f"Add use cases {', '.join(added)}")
        link_installs(tmp)
        print(
            f"==> added {', '.join(added)} in a copy of the repository; running make eval and the test suite (~4 min)"
        )
        return evaluate_and_test(tmp, args.pytest_args, f"with {len(added)} added use cases")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
