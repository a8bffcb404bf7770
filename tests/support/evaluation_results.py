"""A run's results (``platform_spec.evaluation.RunResult``) without running its suites: for the tests whose
question is which suites a run has, not how they scored. And the release a test compares a named example
with (:func:`last_release_measuring`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.registry import append_record, read_records
from platform_config.model import PlatformConfig
from platform_spec.evaluation import (
    OFFLINE_TARGET,
    Provenance,
    ReleaseRecord,
    RunResult,
    SuiteResult,
    UseCaseResult,
)
from tests.support.contracts import ROOT

_PROVENANCE = Provenance(
    prompt_version="v1",
    model_source="m",
    fallback_source="f",
    guardrail_version="1",
    guardrail_fingerprint="0" * 16,
)


def passing(
    config: PlatformConfig, use_cases: Collection[str] | None = None, suites: Collection[str] | None = None
) -> dict[str, UseCaseResult]:
    """What a run of ``config``'s suites (those selected: every one by default) gives when every case
    passes."""
    return {
        uc: UseCaseResult(
            use_case=uc,
            provenance=_PROVENANCE,
            suites={
                name: SuiteResult(
                    suite=name,
                    kind=suite.document.kind,
                    cases=len(suite.document.cases),
                    passed=len(suite.document.cases),
                    pass_rate=1.0,
                    ci_low=0.8,
                    ci_high=1.0,
                    scorers={},
                    case_results=(),
                )
                for name, suite in evaluation.suites.items()
                if suites is None or name in suites
            },
        )
        for uc, evaluation in config.evaluations.items()
        if use_cases is None or uc in use_cases
    }


def run_result(
    use_cases: dict[str, UseCaseResult], *, target: str = OFFLINE_TARGET, **fields: Any
) -> RunResult:
    """A run's results document of ``use_cases``, as ``python -m evaluation run`` writes it (gate passed
    unless ``fields`` say otherwise)."""
    return RunResult(
        **{
            "target": target,
            "mode": "offline" if target == OFFLINE_TARGET else "deployed",
            "commit": "1" * 40,
            "dirty": False,
            "started_at": "2026-12-02T00:00:00Z",
            "use_cases": use_cases,
            "gate_passed": True,
            **fields,
        }
    )


def last_release_measuring(root: Path, use_case: str) -> ReleaseRecord:
    """The last line of ``root``'s offline registry, one that measured ``use_case``: for the tests whose GIVEN
    is a release that measured a named example, in a configuration copy they may change
    (``copy_configuration``; never the repository's own registry).

    While the repository ships the example, that is the last line as it is. Where a fork retired it
    (README "Quality gates": ``record --removed``), the last line measures it no more, and the copy has the
    tests' own copy of the example (byte-equal to what was shipped and measured): appends the last line
    with the example's release from the newest line that measured it, as the release before the
    retirement measured it, and returns that."""
    if root.resolve() == ROOT:
        raise ValueError(f"{root}: the repository's own registry; pass a copy (copy_configuration)")
    records = read_records(root, OFFLINE_TARGET)
    if not records:
        raise ValueError(f"{root}: no offline release recorded (evals/registry/{OFFLINE_TARGET}.jsonl)")
    last = records[-1]
    if use_case in last.use_cases:
        return last
    measured = next((r.use_cases[use_case] for r in reversed(records) if use_case in r.use_cases), None)
    if measured is None:
        raise ValueError(f"{root}: no offline release ever measured {use_case}")
    restored = dataclasses.replace(
        last,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        use_cases={**last.use_cases, use_case: measured},
        removed=tuple(name for name in last.removed if name.split("/", 1)[0] != use_case),
        note=f"tests: {use_case} as the release before its retirement measured it",
    )
    append_record(root, restored)
    return restored
