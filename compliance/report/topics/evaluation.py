"""Evaluation: what was measured on this environment, the release registry, and every failing case side by
side with its expectations (issue 12's suites, ``python -m evaluation``).

Unlike the other topics this one does not read the cloud assembly: evaluation runs are artifacts of their
own. It reads ``results.json`` of the latest run against the environment (``eval-results/<env>/``, written
by ``python -m evaluation run --target <env>``), or, when there is none, of the offline run
(``eval-results/offline/``, ``make eval``), flagged as emulator numbers; and the release registry
``evals/registry/<env>.jsonl``. ``python -m compliance.report --evaluation-results <file>`` reads another
results file. Only the standard library and ``platform_spec`` are used (never inspect-ai).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from stat import S_ISREG
from typing import ClassVar

import yaml

from compliance.report.document import BAD, OK, WARN, Cell, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment
from compliance.report.topic import FAIL, NOT_RUN, PASS, EvidenceCheck, RenderContext, Topic
from platform_config.delivery import DELIVERY_FILE
from platform_config.documents import load_yaml
from platform_config.evaluation import suite_names
from platform_spec.delivery import readiness_and_production
from platform_spec.evaluation import (
    OFFLINE_TARGET,
    REGISTRY_DIR,
    Expectations,
    ReleaseRecord,
    RunResult,
)
from platform_spec.fields import SpecError, from_dict, to_dict

PROJECT_ROOT = Path(__file__).resolve().parents[3]
RESULTS_DIR = "eval-results"
_CLIP = 400


@dataclass(frozen=True)
class EvaluationFacts:
    target: str  # the environment's name in environments/ (the evaluation's --target)
    run: RunResult | None  # limited to the use cases this environment deploys
    records: tuple[ReleaseRecord, ...]
    #: "<use case> / suite <suite>" for each suite of a use case this environment deploys that the run has
    #: no result of (a run limited with --use-case or --suite, or older than a new suite): its gate is
    #: not shown to be met.
    not_evaluated: tuple[str, ...] = ()
    #: The commit this pack describes (40 hex digits; None when unknown): a run against a deployed
    #: environment is evidence for it only when it measured that commit.
    candidate: str | None = None
    #: The pack was written from a checkout whose files differ from ``candidate`` (its header says "+
    #: uncommitted changes"): its assembly is not that commit, so no run is evidence for it.
    candidate_changed: bool = False
    #: The environments a deployed run may have measured to be evidence for this one (``target`` itself, and
    #: for the delivery pipeline's production environment the readiness gate's: :func:`evidence_targets`);
    #: empty means ``target`` alone.
    accepted_targets: tuple[str, ...] = ()


class EvaluationTopic(Topic[EvaluationFacts]):
    id: ClassVar[str] = "evaluation"
    title: ClassVar[str] = "Evaluation"

    def __init__(
        self,
        *,
        results: Path | None = None,
        root: Path = PROJECT_ROOT,
        candidate: str | None = None,
        candidate_changed: bool = False,
    ) -> None:
        self.results = results
        self.root = root
        self.candidate = candidate
        self.candidate_changed = candidate_changed

    def extract(self, env: Environment) -> EvaluationFacts:
        target = env.name.lower()
        run = _read_run(self.results or self.root / RESULTS_DIR / target / "results.json")
        if run is None and self.results is None:
            run = _read_run(self.root / RESULTS_DIR / OFFLINE_TARGET / "results.json")
        deployed = set(env.use_cases)
        if run is not None and deployed:
            run = replace(run, use_cases={uc: r for uc, r in run.use_cases.items() if uc in deployed})
        missing: tuple[str, ...] = ()
        if run is not None:
            missing = tuple(
                f"{uc} / suite {suite}"
                for uc in sorted(deployed)
                for suite in suite_names(self.root, uc)
                if suite not in (run.use_cases[uc].suites if uc in run.use_cases else {})
            )
        return EvaluationFacts(
            target,
            run,
            tuple(_records(self.root, target)),
            missing,
            self.candidate,
            self.candidate_changed,
            evidence_targets(self.root, target),
        )

    def render(self, facts: EvaluationFacts, ctx: RenderContext) -> Section:
        return evaluation_section(facts)

    def counts(self, facts: EvaluationFacts) -> list[tuple[str, str]]:
        if facts.run is None:
            return [("Evaluation", "no results")]
        suites = [s for r in facts.run.use_cases.values() for s in r.suites.values()]
        failing = sum(1 for s in suites if s.passed < s.cases)
        gate = "gate failed" if facts.run.gate_messages else "gate passed"
        if facts.not_evaluated:
            gate += f" on those, {len(facts.not_evaluated)} not evaluated"
        return [
            ("Evaluation", f"{len(suites)} suites ({facts.run.mode}), {failing} with failing cases, {gate}")
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "EVAL-QUALITY-GATE": EvidenceCheck("every use case's suites meet its quality gate", _gate_passed)
        }


def _gate_passed(facts: EvaluationFacts) -> tuple[str, str]:
    if facts.run is None:
        return NOT_RUN, "no evaluation results for this environment"
    if facts.run.mode != "offline":
        # First: whatever a run of another commit found, it is no evidence for this one.
        other = _other_commit(facts, facts.run)
        if other:
            return NOT_RUN, other
    if facts.run.gate_messages:
        return FAIL, "; ".join(facts.run.gate_messages)
    if facts.not_evaluated:
        return NOT_RUN, "the run has no results of " + ", ".join(facts.not_evaluated)
    if facts.run.mode == "offline":
        # The offline run's answers are the emulator's (written per case) and its guardrail is emulated: it
        # proves the harness and catches a weakened prompt or guardrail, never the deployed model's quality.
        return NOT_RUN, (
            f"only the offline run (emulator answers, emulated guardrail; {facts.run.started_at}) met the gates: "
            f"nothing was measured against a deployed environment (python -m evaluation run --target "
            f"{facts.target}, or the readiness gate's run of this commit: --evaluation-results <its results.json>)"
        )
    return PASS, (
        f"quality gates met (run against {facts.run.target}, commit {facts.run.commit[:12]}, "
        f"{facts.run.started_at})"
    )


def evidence_targets(root: Path, target: str) -> tuple[str, ...]:
    """``target``, and where it is the delivery pipeline's production environment (the last of
    ``delivery/pipeline.yaml``'s environments) the one before it: the readiness gate measures the candidate
    there, and the pipeline hands that run to production's pack. A run against any other environment
    measured another deployment (another region, account or configuration): no evidence for this one."""
    path = root / DELIVERY_FILE
    try:
        order = load_yaml(path.read_text(encoding="utf-8")).get("environments") if path.is_file() else None
    except (OSError, ValueError, AttributeError, yaml.YAMLError):  # the loader reports a bad file
        order = None
    if isinstance(order, list) and len(order) >= 2:
        readiness, production = readiness_and_production(order)
        if production == target:
            return (target, str(readiness))
    return (target,)


def _other_commit(facts: EvaluationFacts, run: RunResult) -> str:
    """Why ``run`` (against a deployed environment) is not shown to have measured the commit this pack
    describes, or the environment it is for; "" when it did."""
    accepted = facts.accepted_targets or (facts.target,)
    if run.target not in accepted:
        return (
            f"the run measured {run.target}, this pack is of {facts.target}: a run against another environment "
            f"measured another deployment. Fix: pass the results.json of a run against {' or '.join(accepted)}"
            + (" (the readiness gate's, for production)" if len(accepted) > 1 else "")
        )
    measured = f"the run against {run.target} measured commit {run.commit[:12]}"
    if facts.candidate is None:
        return (
            f"{measured}, and this pack's commit is unknown, so the run cannot be shown to have measured it. "
            "Fix: write the pack in the git checkout (the delivery pipeline's steps get SOURCE_COMMIT), or "
            "pass --commit"
        )
    if facts.candidate_changed:
        return (
            f"{measured}, this pack is of commit {facts.candidate[:12]} with uncommitted changes: its assembly "
            "is not that commit, so no run can be shown to have measured it. Fix: commit the changes (or write "
            "the pack in a clean checkout of the commit), then write the pack again"
        )
    if run.commit != facts.candidate:
        # both in full: two commits (or a commit and a prefix of it) may share their first 12 digits
        return (
            f"the run against {run.target} measured commit {run.commit}, this pack is of commit "
            f"{facts.candidate}: a run of another commit is no "
            f"evidence for this one. Fix: run the suites against {facts.target} from this commit (the readiness "
            "gate of the same pipeline execution does) and pass its results.json with --evaluation-results"
        )
    if run.dirty:
        # the suites, gates and contracts it ran with were the checkout's files, not the commit's
        return (
            f"{measured} with uncommitted changes: it ran with files that are not that commit, so it is no "
            f"evidence for it. Fix: run the suites against {run.target} from a clean checkout of the commit "
            "(the readiness gate of the same pipeline execution does) and pass its results.json with "
            "--evaluation-results"
        )
    return ""


def evaluation_section(facts: EvaluationFacts) -> Section:
    """The "Evaluation" section of one environment's facts."""
    section = Section("evaluation", "Evaluation")
    if facts.run is None:
        section.add(
            Paragraph(
                f"No evaluation results: run `python -m evaluation run --target {facts.target}` after deploying, or "
                "`make eval` for the offline run, then write the pack again.",
                flag=WARN,
            )
        )
    else:
        if facts.not_evaluated:
            section.add(
                Paragraph(
                    "Not evaluated by this run (no gate is shown to be met for them): "
                    + ", ".join(facts.not_evaluated)
                    + f". Run `python -m evaluation run --target {facts.target}` for every use case and suite "
                    "(no --use-case or --suite), then write the pack again.",
                    flag=WARN,
                )
            )
        _run_tables(section, facts.run, facts.target)
    _registry_table(section, list(facts.records), facts.target)
    return section


def _clip(text: str | None, limit: int = _CLIP) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_run(path: Path) -> RunResult | None:
    """The run recorded in ``path``, or None. Every environment's extract reads the same file: it is
    parsed once per version of the file (its path, size and modification time)."""
    try:
        status = path.stat()
    except OSError:
        return None
    if not S_ISREG(status.st_mode):
        return None
    return _parse_run(str(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parse_run(path: str, size: int, mtime_ns: int) -> RunResult | None:
    del size, mtime_ns  # the cache key: a rewritten file is parsed again
    try:
        return from_dict(RunResult, json.loads(Path(path).read_text(encoding="utf-8")), where=path)
    except (OSError, ValueError, SpecError):
        return None


def _records(root: Path, target: str) -> list[ReleaseRecord]:
    path = root / REGISTRY_DIR / f"{target}.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(from_dict(ReleaseRecord, json.loads(line), where=str(path)))
            except (ValueError, SpecError):
                continue
    return records


def _expected(expect: Expectations) -> str:
    """The expectations of a case in plain words: every field that is set."""
    blank = to_dict(Expectations())
    parts = []
    for name, value in to_dict(expect).items():
        if value != blank[name]:
            parts.append(f"{name}: {value if isinstance(value, str) else json.dumps(value)}")
    return "; ".join(parts)


def _run_tables(section: Section, run: RunResult, target: str) -> None:
    where = (
        "THE OFFLINE EMULATOR (deterministic answers, emulated guardrail): it proves the harness and catches a weakened prompt or guardrail, not the real model's quality"
        if run.mode == "offline"
        else f"the deployed environment {run.target} (its API, guardrail versions and judge)"
    )
    section.add(
        Paragraph(
            f"Latest run: target {run.target}, measured on {where}; commit {run.commit[:12]}"
            + (" with uncommitted changes" if run.dirty else "")
            + f", started {run.started_at}; compared with the release recorded {run.compared_with or 'never (no release yet)'}.",
            flag=WARN if run.mode == "offline" and target != OFFLINE_TARGET else None,
        )
    )
    if run.gate_messages:
        for message in run.gate_messages:
            section.add(Paragraph(f"Gate failure: {message}", flag=BAD))
    suites = Table(
        "evaluation-suites",
        [
            "use case",
            "suite",
            "cases",
            "pass rate",
            "95% CI (Wilson)",
            "scorers",
            "prompt",
            "models (fallback)",
            "guardrail version, fingerprint",
        ],
        caption="Pass rate: cases that passed every blocking scorer (a case asked more than once, cases x3, in "
        "as many of its answers as the gate needs). Scorers: pass rate of each, blocking ones marked *.",
    )
    failures = Table(
        "evaluation-failures",
        ["use case / suite / case", "input", "expected", "answer", "guardrail", "what failed"],
        caption="Every failing case, with its expectations beside the answer (of a case asked more than once: "
        "an answer that failed).",
        empty="No failing case.",
    )
    for uc, result in sorted(run.use_cases.items()):
        provenance = result.provenance
        for name, suite in sorted(result.suites.items()):
            scorers = ", ".join(
                f"{scorer.value}{'*' if summary.blocking else ''} {summary.pass_rate:.0%}"
                for scorer, summary in suite.scorers.items()
            )
            failed = suite.passed < suite.cases
            suites.rows.append(
                [
                    code(uc),
                    cell(name),
                    cell(suite.cases_asked()),
                    cell(
                        f"{suite.pass_rate:.1%}",
                        flag=BAD if failed and run.gate_messages else OK if not failed else WARN,
                    ),
                    cell(f"{suite.ci_low:.1%} - {suite.ci_high:.1%}"),
                    cell(scorers),
                    code(
                        provenance.prompt_version
                        + (f" ({provenance.prompt_arn})" if provenance.prompt_arn else "")
                    ),
                    code(f"{provenance.model_source} ({provenance.fallback_source})"),
                    code(f"{provenance.guardrail_version}, {provenance.guardrail_fingerprint}"),
                ]
            )
            for case in suite.case_results:
                if case.passed:
                    continue
                what = "; ".join(
                    [f"{s.value}: {r.explanation}" for s, r in case.scores.items() if not r.passed]
                    + ([f"error: {case.error}"] if case.error else [])
                    + (
                        [
                            f"passed {case.epochs_passed} of its {case.epochs} answers, {suite.epochs_needed} needed"
                        ]
                        if case.epochs > 1
                        else []
                    )
                )
                failures.rows.append(
                    [
                        code(f"{uc} / {name} / {case.id}"),
                        cell(_clip(case.input)),
                        cell(_expected(case.expected)),
                        cell(
                            _clip(case.answer)
                            if case.answer is not None
                            else f"(no answer: HTTP {case.status} {case.error_code or ''})".strip()
                        ),
                        cell(case.guardrail or ""),
                        Cell(what, flag=BAD),
                    ]
                )
    section.add(suites)
    section.add(failures)


def _registry_table(section: Section, records: list[ReleaseRecord], target: str) -> None:
    table = Table(
        "evaluation-registry",
        [
            "recorded",
            "commit",
            "use case",
            "prompt",
            "models (fallback)",
            "guardrail version, fingerprint",
            "pass rates",
            "note, suites removed",
        ],
        caption=f"Releases recorded for {target} ({REGISTRY_DIR}/{target}.jsonl), newest first; a suite the "
        "record before measured leaves the baseline only when a record names it as removed (record --removed).",
        empty=f"No release recorded for {target} yet (`python -m evaluation record` after a deploy).",
    )
    for record in reversed(records):
        for uc, release in sorted(record.use_cases.items()):
            provenance = release.provenance
            rates = ", ".join(
                f"{name} {score.pass_rate:.1%}" for name, score in sorted(release.suites.items())
            )
            table.rows.append(
                [
                    cell(record.recorded_at),
                    code(record.commit[:12] + ("+dirty" if record.dirty else "")),
                    code(uc),
                    code(
                        provenance.prompt_version
                        + (f" ({provenance.prompt_arn})" if provenance.prompt_arn else "")
                    ),
                    code(f"{provenance.model_source} ({provenance.fallback_source})"),
                    code(f"{provenance.guardrail_version}, {provenance.guardrail_fingerprint}"),
                    cell(rates),
                    cell(
                        "; ".join(
                            filter(
                                None,
                                [
                                    record.note,
                                    "removed: " + ", ".join(record.removed) if record.removed else "",
                                ],
                            )
                        ),
                        flag=WARN if record.removed else None,
                    ),
                ]
            )
    section.add(table)


TOPIC = EvaluationTopic()
