"""Prove that retiring a shipped use case as the README says does not break `make test` (the evaluation
gate and the test suite): the mirror image of `make check-new-use-case`.

    .venv/bin/python scripts/check_retired_use_case.py          # or: make check-retired-use-case (~5 min each)
    .venv/bin/python scripts/check_retired_use_case.py --use-case policy-qa -- -x tests/lambdas

For each use case named (default: every contract in contracts/, one at a time, each in its own copy),
copies the repository (the files git tracks or would track, as they are in the work tree) to a temporary
folder, commits it, and retires the use case there exactly as the README's "Quality gates" section says:
deletes its contract, its prompt and its evaluation suites; runs every suite (`make eval`), which must fail
on the suites the last release measured and this run no longer has; records that run as the new baseline
with `record --removed <id> --note ...`; commits the retirement with the registry line; then runs every
evaluation suite and the test suite with this checkout's .venv and node_modules. Tests must find a use
case with the property they need among the contracts present, or write one into a configuration root of
their own, so the suite passes with two examples as it does with three; a test that names a shipped use
case fails here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# the sibling script's helpers, whether this file runs as `python scripts/...` (its folder first on sys.path)
# or through runpy (tests/test_entry_points.py)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_new_use_case import (
    ROOT,
    commit,
    copy_repository,
    evaluate_and_test,
    has_venv,
    link_installs,
    parse_with_pytest_args,
)

NOTE = "retired by scripts/check_retired_use_case.py (a copy of the repository)"


def retire(root: Path, use_case: str) -> None:
    """README "Quality gates", retiring offline, first step: the contract, the prompt and the suites."""
    contract = root / "contracts" / f"{use_case}.yaml"
    if not contract.is_file():
        present = ", ".join(sorted(p.stem for p in (root / "contracts").glob("*.yaml")))
        raise SystemExit(f"--use-case {use_case}: no contracts/{use_case}.yaml. Fix: name one of: {present}")
    contract.unlink()
    (root / "prompts" / f"{use_case}.yaml").unlink(missing_ok=True)
    shutil.rmtree(root / "evals" / use_case, ignore_errors=True)


def record_retirement(root: Path, use_case: str) -> int:
    """README "Quality gates": `make eval` fails on the retired use case's suites the last release measured;
    `record --removed <id>` takes that run as the new baseline. Returns 0, or the failing step's status."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    python = str(ROOT / ".venv" / "bin" / "python")
    run = subprocess.run(
        [python, "-m", "evaluation", "run"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if run.returncode == 0 or f"{use_case} / suite" not in run.stdout + run.stderr:
        # the gate must hold a retirement until it is recorded; if it does not, say so and stop
        print(run.stdout, run.stderr, sep="\n")
        print(f"==> make eval did not fail on the retired {use_case}'s suites (exit {run.returncode})")
        return run.returncode or 1
    print(
        f"==> make eval fails on the retired {use_case}'s suites until the retirement is recorded, as expected"
    )
    record = subprocess.run(
        [
            *(python, "-m", "evaluation", "record"),
            *("--results", "eval-results/offline/results.json", "--removed", use_case, "--note", NOTE),
        ],
        cwd=root,
        env=env,
        check=False,
    )
    return record.returncode


def check(use_case: str, pytest_args: list[str], keep: bool) -> int:
    tmp = Path(tempfile.mkdtemp(prefix=f"bedrock-retired-{use_case}-"))
    try:
        copy_repository(tmp)
        commit(tmp, "The repository before the retirement")
        retire(tmp, use_case)
        code = record_retirement(tmp, use_case)
        if code:
            return code
        commit(tmp, f"Retire {use_case}")
        link_installs(tmp)
        print(
            f"==> retired {use_case} in a copy of the repository; running make eval and the test suite (~4 min)"
        )
        # mypy reads this folder's scripts as top-level modules it cannot import: the status is typed here
        status: int = evaluate_and_test(tmp, pytest_args, f"with {use_case} retired")
        return status
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/check_retired_use_case.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--use-case",
        action="append",
        default=[],
        metavar="ID",
        help="retire this use case (repeatable, each in its own copy; default: every contract, in turn)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies and print their paths")
    args = parse_with_pytest_args(parser, argv)
    if not has_venv("check_retired_use_case"):
        return 2
    use_cases = args.use_case or sorted(p.stem for p in (ROOT / "contracts").glob("*.yaml"))
    codes = {use_case: check(use_case, args.pytest_args, args.keep) for use_case in use_cases}
    for use_case, code in codes.items():
        print(f"==> with {use_case} retired: {'passes' if code == 0 else 'FAILS'} (exit {code})")
    return next((code for code in codes.values() if code), 0)


if __name__ == "__main__":
    sys.exit(main())
