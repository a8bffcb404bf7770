"""A run's results: ``results.json`` (the :class:`RunResult` document) and the per-use-case table."""

from __future__ import annotations

import json
import os
from pathlib import Path

from platform_config.evaluation import UseCaseEvaluation
from platform_spec.evaluation import ReleaseRecord, RunResult
from platform_spec.fields import from_dict, to_dict

RESULTS_FILE = "results.json"


def write_results(run: RunResult, out: Path) -> Path:
    """``<out>/results.json``, whole or not at all: written beside it, then renamed over it (``os.replace``
    is atomic on POSIX), so a reader (the review pack, ``record``) never reads half a file."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    partial = path.with_name(f".{RESULTS_FILE}.{os.getpid()}.partial")
    partial.write_text(json.dumps(to_dict(run), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def read_results(path: Path) -> RunResult:
    return from_dict(RunResult, json.loads(path.read_text(encoding="utf-8")), where=str(path))


def table(run: RunResult, evaluations: dict[str, UseCaseEvaluation], last: ReleaseRecord | None) -> str:
    """One line per use case and suite: cases (with their epochs), pass rate with its 95% interval, the gate's threshold,
    the last release's pass rate and the verdict."""
    header = ("use case", "suite", "cases", "pass rate", "95% CI", "gate", "last release", "result")
    rows = [header]
    failed_suites = {m.split(": ", 1)[0] for m in run.gate_messages}
    for uc, result in sorted(run.use_cases.items()):
        for name, suite in sorted(result.suites.items()):
            gate = evaluations[uc].policy.gates[name]
            released = last.use_cases.get(uc) if last else None
            before = released.suites.get(name) if released else None
            verdict = "FAIL" if f"{uc} / suite {name}" in failed_suites else "PASS"
            rows.append(
                (
                    uc,
                    name,
                    suite.cases_asked(),
                    f"{suite.pass_rate:.1%}",
                    f"[{suite.ci_low:.1%}, {suite.ci_high:.1%}]",
                    f">= {gate.min_pass_rate * 100:g}%",  # 0.955 is 95.5%, not a rounded 96%
                    f"{before.pass_rate:.1%}" if before else "none",
                    verdict,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
