"""A run's results (``platform_spec.evaluation.RunResult``) without running its suites: for the tests whose
question is which suites a run has, not how they scored."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from platform_config.model import PlatformConfig
from platform_spec.evaluation import OFFLINE_TARGET, Provenance, RunResult, SuiteResult, UseCaseResult

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
