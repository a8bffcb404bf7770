"""cfn-lint over an environment's templates (``compliance.check.cfn_lint``), one process per stack.

cfn-lint is CPU-bound and takes about a second per template, so each stack is linted by its own
``python -m compliance.report.lint`` process (plain subprocesses: no multiprocessing, which would re-import
the caller's main module). The result is exactly ``compliance.check.cfn_lint(stack)``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from compliance.assembly import StackTemplate
from compliance.check import cfn_lint

#: Where ``bedrock_constructs.lint.ignore_cfn_lint_check`` records why a check is ignored (template
#: resource ``Metadata``). Kept here so reading a report does not import aws-cdk-lib.
REASONS_KEY = "bedrock-platform:cfn-lint"
_ROOT = Path(__file__).resolve().parents[2]


class LintRun:
    """cfn-lint running on some stacks; :meth:`wait` collects the findings.

    The stacks are split into one batch per CPU: the first batch is linted in this process when
    :meth:`wait` is called, the others by ``python -m compliance.report.lint`` worker processes started
    right away (plain subprocesses: multiprocessing would re-import the caller's main module).
    """

    def __init__(self, stacks: Sequence[StackTemplate], *, parallel: bool = True) -> None:
        self.stacks = list(stacks)
        batches = max(1, min(len(self.stacks), os.cpu_count() or 1)) if parallel else 1
        self.local = self.stacks[::batches]
        self.workers: list[tuple[list[StackTemplate], subprocess.Popen[str]]] = []
        pythonpath = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
        for offset in range(1, batches):
            batch = self.stacks[offset::batches]
            command = [sys.executable, "-m", "compliance.report.lint"]
            for stack in batch:
                command += [str(stack.path), stack.region, stack.name]
            self.workers.append(
                (
                    batch,
                    subprocess.Popen(
                        command,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env={**os.environ, "PYTHONPATH": pythonpath},
                    ),
                )
            )

    def wait(self) -> dict[str, list[str]]:
        """Findings by stack name (each template linted for its stack's own region), in stack order."""
        results = {stack.name: cfn_lint(stack) for stack in self.local}
        for batch, worker in self.workers:
            out, err = worker.communicate()
            if worker.returncode != 0:
                raise RuntimeError(f"cfn-lint of {[s.name for s in batch]} failed: {err.strip()[-2000:]}")
            results.update({name: [str(line) for line in lines] for name, lines in json.loads(out).items()})
        return {stack.name: results[stack.name] for stack in self.stacks}


def lint_stacks(stacks: Sequence[StackTemplate], *, parallel: bool = True) -> dict[str, list[str]]:
    """cfn-lint findings by stack name, each template linted for its stack's own region."""
    return LintRun(stacks, parallel=parallel).wait()


def _main(argv: list[str]) -> int:
    """Worker: ``<template> <region> <stack name>`` triples in, findings by stack name (JSON) out."""
    results = {}
    for template, region, name in zip(argv[0::3], argv[1::3], argv[2::3], strict=True):
        stack = StackTemplate(name=name, account="", region=region, path=Path(template), template={})
        results[name] = cfn_lint(stack)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
