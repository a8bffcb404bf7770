"""The quality gate: every suite's scores against its contract's thresholds and the last release.

A suite fails when its pass rate, or a blocking scorer's pass rate, is below the gate's
``min_pass_rate``, or has dropped more than ``max_regression`` since the last release recorded for the
target. Each failure is one message naming the use case, the suite, the score, its value, the threshold
and the cases that changed (newly failing since the release, or failing, without a release).

A suite the last release measured fails too when the run does not have it and was not limited to leave it
out (:func:`removed`): its file, its gate or its whole use case is gone, and deleting a failing suite must
not be how a gate passes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from platform_config.evaluation import UseCaseEvaluation
from platform_spec.evaluation import ReleaseRecord, SuiteResult, SuiteScore, UseCaseResult
from platform_spec.scoring import ScorerName

#: Rounding slack: pass rates are stored to four decimals.
_EPSILON = 1e-6


def _changed(result: SuiteResult, previous: SuiteScore | None, scorer: ScorerName | None = None) -> str:
    """The cases behind a failing score: for a blocking scorer's own pass rate, only the cases that scorer
    failed (its pass rate counts those alone), else every failing case of the suite."""
    failing = [c.id for c in result.case_results if not c.passed]
    named = (
        failing
        if scorer is None
        else [c.id for c in result.case_results if scorer in c.scores and not c.scores[scorer].passed]
    )
    if previous is None:
        return "failing cases: " + (", ".join(named) or "none")
    before = set(previous.failed_cases)
    newly = [c for c in named if c not in before]
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
            scores: list[tuple[str, float, float | None, ScorerName | None]] = [
                ("pass rate", suite.pass_rate, previous.pass_rate if previous else None, None)
            ]
            for scorer in gate.blocking_scorers:
                summary = suite.scorers.get(scorer)
                if summary is not None and summary.applied:
                    before = previous.scorers.get(scorer) if previous else None
                    scores.append((f"{scorer.value} pass rate", summary.pass_rate, before, scorer))
            for label, value, before, which in scores:
                where = f"{uc} / suite {name}: {label} {value:.1%}"
                if value + _EPSILON < gate.min_pass_rate:
                    messages.append(
                        f"{where} is below the threshold {gate.min_pass_rate:.1%} (evaluation.gates.{name}."
                        f"min_pass_rate); {_changed(suite, previous, which)}"
                    )
                elif before is not None and before - value > gate.max_regression + _EPSILON:
                    messages.append(
                        f"{where} regressed from {before:.1%} at the last release ({last.commit[:12] if last else ''}) "
                        f"by more than the {gate.max_regression:.1%} allowed (evaluation.gates.{name}.max_regression); "
                        f"threshold {gate.min_pass_rate:.1%}; {_changed(suite, previous, which)}{_measured(suite, previous)}"
                    )
    return messages


def removed(
    results: Mapping[str, UseCaseResult],
    last: ReleaseRecord | None,
    evaluations: Mapping[str, UseCaseEvaluation],
    evaluated: Collection[str],
    *,
    use_cases: Collection[str] | None = None,
    suites: Collection[str] | None = None,
    results_file: str = "<this run's results.json>",
) -> dict[str, str]:
    """Every suite ``last`` measured that ``results`` lacks, as ``{"<use case>/<suite>": gate message}``;
    each message's fix names ``results_file`` (where the run writes its results) in the record command.

    ``evaluated``: the use cases the target evaluates now (offline every evaluated use case, else those
    enabled in the environment). ``use_cases`` / ``suites``: the run's selection (``--use-case``,
    ``--suite``; ``None``: none). It is a deliberate limit only where it leaves out something the target
    evaluates, and a suite outside such a limit was left out, not removed; a selection naming everything is
    no limit, so a use case retired since the release still fails a run that names every current one (the
    readiness gate names each use case enabled in its environment).
    """
    if last is None:
        return {}
    if use_cases is not None and set(evaluated) <= set(use_cases):
        use_cases = None
    if suites is not None and {n for e in evaluations.values() for n in e.suites} <= set(suites):
        suites = None
    gone: dict[str, str] = {}
    for uc, released in sorted(last.use_cases.items()):
        if use_cases is not None and uc not in use_cases:
            continue
        ran = results[uc].suites if uc in results else {}
        for name in sorted(released.suites):
            if name in ran or (suites is not None and name not in suites):
                continue
            why = _why_gone(uc, name, last.target, evaluations, evaluated)
            whole = f" (or --removed {uc} for the whole use case)" if uc not in results else ""
            gone[f"{uc}/{name}"] = (
                f"{uc} / suite {name}: measured at the last release ({last.commit[:12]}, recorded "
                f"{last.recorded_at}) but not by this run: {why}. Fix: restore it; if the removal is intended, "
                "record this run as the new baseline deliberately: python -m evaluation record --results "
                f'{results_file} --removed {uc}/{name}{whole} --note "<why>"'
            )
    return gone


def _why_gone(
    uc: str, name: str, target: str, evaluations: Mapping[str, UseCaseEvaluation], evaluated: Collection[str]
) -> str:
    if uc not in evaluations:
        return f"there is no contracts/{uc}.yaml any more (a retired use case)"
    if uc not in evaluated:
        return f"contracts/{uc}.yaml no longer lists {target} in `environments`"
    suites = evaluations[uc].suites
    if name not in suites:
        return (
            f"evals/{uc}/{name}.yaml and its gate evaluation.gates.{name} are gone "
            f"(its suites now: {', '.join(sorted(suites))})"
        )
    return "the run has no result for it"
