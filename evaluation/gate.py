"""The quality gate: every suite's scores against its contract's thresholds and the last release.

A suite fails when its pass rate, or a blocking scorer's pass rate, is below the gate's
``min_pass_rate``, or has dropped more than ``max_regression`` since the last release recorded for the
target. Each failure is one message naming the use case, the suite, the score, its value, the threshold
and the cases that changed (newly failing since the release, or failing, without a release).
"""

from __future__ import annotations

from collections.abc import Mapping

from platform_config.evaluation import UseCaseEvaluation
from platform_spec.evaluation import ReleaseRecord, SuiteResult, SuiteScore, UseCaseResult

#: Rounding slack: pass rates are stored to four decimals.
_EPSILON = 1e-6


def _changed(result: SuiteResult, previous: SuiteScore | None) -> str:
    failing = [c.id for c in result.case_results if not c.passed]
    if previous is None:
        return "failing cases: " + (", ".join(failing) or "none")
    before = set(previous.failed_cases)
    newly = [c for c in failing if c not in before]
    fixed = [c for c in previous.failed_cases if c not in failing]
    parts = ["cases that changed since the release: newly failing " + (", ".join(newly) or "none")]
    if fixed:
        parts.append("now passing " + ", ".join(fixed))
    return "; ".join(parts)


def _measured(result: SuiteResult, previous: SuiteScore | None) -> str:
    """Where the release's pass rate was measured asking each case another number of times (a gate's
    epochs changed): a drop may be the stricter measure, not the release."""
    if previous is None or (previous.epochs, previous.epochs_needed) == (result.epochs, result.epochs_needed):
        return ""
    return (
        f"; the release was measured with {_asked(previous.epochs, previous.epochs_needed)} a case and this run "
        f"with {_asked(result.epochs, result.epochs_needed)}: if the change of epochs is deliberate, record this "
        "run as the new baseline (python -m evaluation record)"
    )


def _asked(epochs: int, needed: int) -> str:
    if epochs == 1:
        return "one answer"
    return f"{epochs} answers ({needed} to pass)"


def check(
    results: Mapping[str, UseCaseResult],
    evaluations: Mapping[str, UseCaseEvaluation],
    last: ReleaseRecord | None,
) -> list[str]:
    """Every gate failure of a run, as messages (empty: the gate passes)."""
    messages = []
    for uc, result in sorted(results.items()):
        released = last.use_cases.get(uc) if last is not None else None
        for name, suite in sorted(result.suites.items()):
            gate = evaluations[uc].policy.gates[name]
            previous = released.suites.get(name) if released is not None else None
            scores = [("pass rate", suite.pass_rate, previous.pass_rate if previous else None)]
            for scorer in gate.blocking_scorers:
                summary = suite.scorers.get(scorer)
                if summary is not None and summary.applied:
                    before = previous.scorers.get(scorer) if previous else None
                    scores.append((f"{scorer.value} pass rate", summary.pass_rate, before))
            for label, value, before in scores:
                where = f"{uc} / suite {name}: {label} {value:.1%}"
                if value + _EPSILON < gate.min_pass_rate:
                    messages.append(
                        f"{where} is below the threshold {gate.min_pass_rate:.1%} (evaluation.gates.{name}."
                        f"min_pass_rate); {_changed(suite, previous)}"
                    )
                elif before is not None and before - value > gate.max_regression + _EPSILON:
                    messages.append(
                        f"{where} regressed from {before:.1%} at the last release ({last.commit[:12] if last else ''}) "
                        f"by more than the {gate.max_regression:.1%} allowed (evaluation.gates.{name}.max_regression); "
                        f"threshold {gate.min_pass_rate:.1%}; {_changed(suite, previous)}{_measured(suite, previous)}"
                    )
    return messages
