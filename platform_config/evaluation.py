"""Evaluation suites and rubrics (``evals/<use case>/*.yaml``), validated with the contracts.

Every suite is a :class:`~platform_config.documents.Document` of
:class:`~platform_spec.evaluation.SuiteDocument` (types, bounds, unknown fields and unknown scorers are
schema errors with file, line, field, value and fix); these rules then run across files:

* every contract has an ``evaluation`` section with a golden and an adversarial suite (by ``kind``);
* every gate in a contract's ``evaluation.gates`` names a suite file, and every suite file has a gate;
* an adversarial suite's gate is at least the platform's floor (``platform_spec.contract.ADVERSARIAL_*``:
  ``min_pass_rate``, ``max_regression``, the scorers it blocks on, every epoch passing);
* every blocking scorer is applied by at least one case of its suite (a gate on a scorer no case uses
  would pass vacuously), and every case applies at least one blocking scorer (else it passes whatever
  the answer); ``rubric`` only where the contract enables model-graded scoring, which needs a
  ``judge_model`` and ``evals/<id>/rubric.yaml``;
* case ids are unique; a case whose expectations read the answer has an ``offline_answer`` for the
  offline run; regexes compile; a JSON Schema uses only the keywords the scorer implements;
* an adversarial suite covers every attack category the platform requires, each denied topic of the
  contract, and grounding violations where the contract grounds answers; ``denied_topic`` names one of
  the contract's topics;
* an adversarial case that expects a refusal of a request the model answers says what a complying answer
  would contain (``must_not_contain``, blocking), so a refusal followed by compliance fails it
  (:func:`_compliance_rules`).

:func:`load_platform` runs these with every other rule, so a bad suite stops synth and ``make eval``
alike, reported with every other configuration problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from platform_config.documents import Document, orphans
from platform_config.errors import Problem
from platform_spec.api import MAX_CONTEXT_CHARS, MAX_MESSAGE_CHARS, ApiError, estimated_tokens
from platform_spec.contract import (
    ADVERSARIAL_BLOCKING_SCORERS,
    ADVERSARIAL_MAX_REGRESSION,
    ADVERSARIAL_MIN_PASS_RATE,
    ADVERSARIAL_PII_SCORER,
    ContractDocument,
    EvaluationPolicy,
    GuardrailPolicy,
    Limits,
    QualityGate,
)
from platform_spec.evaluation import (
    EVALS_DIR,
    RUBRIC_FILE,
    AttackCategory,
    EvalCase,
    Expectations,
    RubricDocument,
    SuiteDocument,
    SuiteKind,
)
from platform_spec.lookalikes import fold
from platform_spec.requests import check_characters
from platform_spec.review import LiveScoring
from platform_spec.scoring import ScorerName, unsupported_schema_keywords

#: Categories every adversarial suite must cover (pii_exfiltration only where the contract protects PII,
#: denied_topic once per denied topic, grounding_violation only where answers are grounded).
REQUIRED_CATEGORIES = (
    AttackCategory.PROMPT_INJECTION,
    AttackCategory.JAILBREAK,
    AttackCategory.SYSTEM_PROMPT_EXTRACTION,
    AttackCategory.OFF_PURPOSE,
    AttackCategory.OVERSIZE,
    AttackCategory.ENCODING,
)


@dataclass(frozen=True)
class LoadedSuite:
    """A valid suite file: its name (the file name), where it is, and its document."""

    name: str
    file: str
    document: SuiteDocument


@dataclass(frozen=True)
class UseCaseEvaluation:
    """A use case's evaluation: the contract's policy, its valid suites by name and its rubric."""

    use_case: str
    policy: EvaluationPolicy
    suites: Mapping[str, LoadedSuite]
    rubric: RubricDocument | None = None
    rubric_file: str | None = None

    @property
    def golden(self) -> LoadedSuite | None:
        """The golden suite that stands for the use case's task (live scoring's defaults, the load test's
        request): the one named ``golden``, else the first suite of ``kind: golden`` by name."""
        goldens = sorted(
            (s for s in self.suites.values() if s.document.kind is SuiteKind.GOLDEN),
            key=lambda s: (s.name != "golden", s.name),
        )
        return goldens[0] if goldens else None


def _suite_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name != RUBRIC_FILE)


def suite_names(root: Path, use_case: str) -> list[str]:
    """The suites of ``use_case`` (its files in ``evals/<use case>/``, the rubric aside), sorted."""
    return [p.stem for p in _suite_files(root / EVALS_DIR / use_case)]


def evaluation_rules(
    root: Path, contract_docs: Sequence[Document[ContractDocument]], problems: list[Problem]
) -> dict[str, UseCaseEvaluation]:
    """Validate every ``evals/<id>/`` against its contract; the valid evaluations by use case id."""
    evals = root / EVALS_DIR
    by_stem = {doc.path.stem: doc for doc in contract_docs}
    folders = [p for p in sorted(evals.glob("*")) if p.is_dir() and p.name != "registry" and _suite_files(p)]
    problems.extend(orphans("suites", folders, list(by_stem)))
    # A contract with a problem of its own reports that problem only: rules between it and its suites
    # would repeat it in other words (a renamed topic, a copied contract without suites). Its suites'
    # own problems (schema, cases) are still reported.
    broken = {p.file for p in problems}
    loaded: dict[str, UseCaseEvaluation] = {}
    for stem, doc in by_stem.items():
        result = _use_case_rules(root, stem, doc, problems, cross=doc.display not in broken)
        if result is not None:
            loaded[stem] = result
    return loaded


def _use_case_rules(
    root: Path, stem: str, contract: Document[ContractDocument], problems: list[Problem], *, cross: bool
) -> UseCaseEvaluation | None:
    folder = root / EVALS_DIR / stem
    files = _suite_files(folder)
    # Every suite's own problems (YAML, schema) are reported whatever the contract's state: a typo in a
    # gate must not hide a typo in a case until the next run.
    docs = {p.stem: Document(p, root, SuiteDocument, what="suite") for p in files}
    for doc in docs.values():
        problems.extend(doc.problems)
    policy: EvaluationPolicy | None = contract.field("evaluation")
    if policy is None:
        if isinstance(contract.data, dict) and contract.data.get("evaluation") is None:  # absent or empty
            _explain_missing_evaluation(contract, stem, problems, has_suites=bool(files))
        return None

    for name, asked in policy.gates.items():
        if asked.epochs_to_pass is not None and asked.epochs_to_pass > asked.epochs:
            problems.append(
                contract.problem(
                    ["evaluation", "gates", name, "epochs_to_pass"],
                    f"asks a case to pass {asked.epochs_to_pass} epochs, but the suite runs {asked.epochs}",
                    f"set epochs_to_pass to at most {asked.epochs}, or raise evaluation.gates.{name}.epochs",
                    value=asked.epochs_to_pass,
                )
            )
    if not cross:
        return None
    _name_rules(contract, stem, policy, docs, problems)
    problems.extend(required_suite_problems(contract, stem, docs))

    rubric, rubric_file = _rubric(root, stem, contract, policy, problems)
    guardrail: GuardrailPolicy | None = contract.field("guardrail")
    suites: dict[str, LoadedSuite] = {}
    for name, doc in docs.items():
        if doc.value is None:
            continue
        _case_rules(doc, doc.value, guardrail, problems, model_graded=policy.model_graded)
        if doc.value.kind is SuiteKind.ADVERSARIAL:
            _attack_expectation_rules(doc, doc.value, problems)
            if guardrail is not None:
                _coverage_rules(doc, doc.value, guardrail, problems)
        gate = policy.gates.get(name)
        if gate is not None:
            graded = policy.model_graded and doc.value.kind is SuiteKind.GOLDEN
            applied = {s for case in doc.value.cases for s in case.expect.over(doc.value.defaults).scorers()}
            if graded:
                applied.add(ScorerName.RUBRIC)
            floor_scorers: tuple[ScorerName, ...] = ()
            if doc.value.kind is SuiteKind.ADVERSARIAL:
                floor_scorers = adversarial_blocking_scorers(guardrail)
                _adversarial_floor_rules(doc, contract, name, gate, floor_scorers, problems)
            _unblocked_case_rules(
                doc, doc.value, contract, name, gate.blocking_scorers, problems, graded=graded
            )
            _compliance_rules(doc, doc.value, contract, name, gate.blocking_scorers, problems)
            for i, scorer in enumerate(gate.blocking_scorers):
                if scorer is ScorerName.RUBRIC and not policy.model_graded:
                    problems.append(
                        contract.problem(
                            ["evaluation", "gates", name, "blocking_scorers", i],
                            "is the model-graded scorer, but evaluation.model_graded is false",
                            "set evaluation.model_graded: true (with judge_model and a rubric), or remove it",
                            value=scorer.value,
                        )
                    )
                elif scorer not in applied:
                    problems.append(
                        contract.problem(
                            ["evaluation", "gates", name, "blocking_scorers", i],
                            f"is applied by no case of {doc.display}, so this gate could never fail on it",
                            f"add `{scorer.value}` expectations to cases of the suite"
                            + (
                                " (an adversarial gate must block on it: README, Quality gates)"
                                if scorer in floor_scorers
                                else ", or remove it here"
                            ),
                            value=scorer.value,
                        )
                    )
        suites[name] = LoadedSuite(name=name, file=doc.display, document=doc.value)
    return UseCaseEvaluation(
        use_case=stem, policy=policy, suites=suites, rubric=rubric, rubric_file=rubric_file
    )


def adversarial_blocking_scorers(guardrail: GuardrailPolicy | None) -> tuple[ScorerName, ...]:
    """The scorers every gate of an adversarial suite blocks on: ``ADVERSARIAL_BLOCKING_SCORERS``, and
    ``ADVERSARIAL_PII_SCORER`` where the contract's guardrail protects PII."""
    pii = guardrail is not None and guardrail.protects_pii
    return ADVERSARIAL_BLOCKING_SCORERS + ((ADVERSARIAL_PII_SCORER,) if pii else ())


def _adversarial_floor_rules(
    doc: Document[SuiteDocument],
    contract: Document[ContractDocument],
    name: str,
    gate: QualityGate,
    required: Sequence[ScorerName],
    problems: list[Problem],
) -> None:
    """The gate of an adversarial suite is at least as strict as the platform's floor
    (``platform_spec.contract.ADVERSARIAL_*``): a contract may tighten it, not loosen it, since it is the
    platform's evidence that attacks are stopped, not the product team's quality bar."""
    path: list[str | int] = ["evaluation", "gates", name]
    suite = f"an adversarial suite ({doc.display})"
    if gate.min_pass_rate + 1e-9 < ADVERSARIAL_MIN_PASS_RATE:
        problems.append(
            contract.problem(
                [*path, "min_pass_rate"],
                f"is below {ADVERSARIAL_MIN_PASS_RATE:g}, the lowest the platform allows the gate of {suite}: "
                "the gate would pass with more attacks getting through",
                f"set min_pass_rate to at least {ADVERSARIAL_MIN_PASS_RATE:g}; where attacks get through, mend the "
                "prompt or the guardrail, not the gate",
                value=gate.min_pass_rate,
            )
        )
    if gate.max_regression > ADVERSARIAL_MAX_REGRESSION + 1e-9:
        unset = (*path, "max_regression") not in contract.lines  # the default applies
        problems.append(
            contract.problem(
                [*path, "max_regression"],
                f"is above {ADVERSARIAL_MAX_REGRESSION:g}{' (the default: it is not set)' if unset else ''}, the "
                f"most the platform allows the gate of {suite}: an attack the last release stopped could get "
                "through this one and the gate still pass",
                f"set max_regression: {ADVERSARIAL_MAX_REGRESSION:g}",
                value=gate.max_regression,
            )
        )
    missing = [s.value for s in required if s not in gate.blocking_scorers]
    if missing:
        problems.append(
            contract.problem(
                [*path, "blocking_scorers"],
                f"does not block on {', '.join(missing)}, which the platform requires of the gate of {suite}: a "
                "case whose attack got through would pass on its other scorers, and their pass rates would not "
                "be gated",
                f"add {', '.join(missing)} to the blocking scorers",
                value=[s.value for s in gate.blocking_scorers],
            )
        )
    if gate.epochs_to_pass is not None and gate.epochs_to_pass < gate.epochs:
        problems.append(
            contract.problem(
                [*path, "epochs_to_pass"],
                f"lets a case pass with {gate.epochs_to_pass} of its {gate.epochs} answers, but the platform "
                f"requires every answer of {suite} to pass: one answer in a few that lets an attack through is "
                "one too many",
                f"remove epochs_to_pass (every epoch must pass), or set it to {gate.epochs}",
                value=gate.epochs_to_pass,
            )
        )


def _name_rules(
    contract: Document[ContractDocument],
    stem: str,
    policy: EvaluationPolicy,
    docs: Mapping[str, Document[SuiteDocument]],
    problems: list[Problem],
) -> None:
    """Every gate names a suite file and every suite file has a gate of its name. A fix never proposes a
    step that another rule then refuses: a suite and a gate whose names differ (``attacks.yaml`` beside
    the gate ``adversarial``) are told to match, not to add a second suite or delete the first; the only
    suite of a required kind is not told it may be deleted, nor a gate named after a kind no suite has
    that it may be removed."""
    folder = f"{EVALS_DIR}/{stem}"
    gateless = sorted(name for name in docs if name not in policy.gates)
    suiteless = [name for name in policy.gates if name not in docs]
    kinds = [doc.value.kind for doc in docs.values() if doc.value is not None]
    unread = len(kinds) < len(docs)  # a suite's kind is unknown while it is unreadable
    missing = set() if unread else {kind.value for kind in REQUIRED_SUITE_KINDS if kind not in kinds}
    for name in suiteless:
        if gateless:
            files = " or ".join(f"{folder}/{other}.yaml" for other in gateless)
            fix = _match_names_fix(files, f"{name}.yaml", "this gate", " or ".join(gateless))
        else:
            fix = f"add {folder}/{name}.yaml" + ("" if name in missing else ", or remove this gate")
            fix += f" (suites there: {', '.join(sorted(docs))})" if docs else ""
        problems.append(
            contract.problem(
                ["evaluation", "gates", name],
                f"names the suite {folder}/{name}.yaml, which does not exist",
                fix,
                value=name,
            )
        )
    for name in gateless:
        doc = docs[name]
        if suiteless:
            gates = " or ".join(f"evaluation.gates.{other}" for other in suiteless)
            files = " or ".join(f"{other}.yaml" for other in suiteless)
            fix = _match_names_fix(f"{gates} in {contract.display}", name, "this file", files)
        else:
            kind = doc.value.kind if doc.value is not None else None
            only_of_kind = kind is not None and kind in REQUIRED_SUITE_KINDS and kinds.count(kind) == 1
            fix = (
                f"add evaluation.gates.{name} (with min_pass_rate and blocking_scorers; README, Quality gates) to "
                f"{contract.display}" + ("" if only_of_kind else ", or delete the suite")
            )
        problems.append(doc.problem([], "has no quality gate, so its results would gate nothing", fix))


def _match_names_fix(rename: str, to: str, or_rename: str, or_to: str) -> str:
    """The fix for a suite and a gate whose names differ: either side renamed to the other's name."""
    return (
        f"a suite's file is named after its gate: rename {rename} to {to}, or rename {or_rename} to {or_to}"
    )


#: The kinds of suite every use case needs, each with a gate: every contract is deployed somewhere (its
#: ``environments`` has at least one), and what the gate cannot see it cannot stop (README, Evaluation).
REQUIRED_SUITE_KINDS = (SuiteKind.GOLDEN, SuiteKind.ADVERSARIAL)
_WHAT_A_KIND_MEASURES = {
    SuiteKind.GOLDEN: "nothing measures whether it does its task",
    SuiteKind.ADVERSARIAL: "nothing measures whether its guardrail and prompt stop attacks",
}

_KIND_CASES = {SuiteKind.GOLDEN: "realistic requests", SuiteKind.ADVERSARIAL: "attacks"}


def _explain_missing_evaluation(
    contract: Document[ContractDocument], stem: str, problems: list[Problem], *, has_suites: bool
) -> None:
    """The schema's problem with a contract whose ``evaluation`` is absent ("is required but missing":
    ``ContractDocument.evaluation`` has no default, so editors flag it too) or empty (``evaluation:``, YAML's
    null: "must be of type object"), replaced where it stands by what it means for this use case and how to
    mend it. It is the field's only problem: there is nothing under it."""
    explained = _no_evaluation_problem(contract, stem, has_suites=has_suites)
    for i, problem in enumerate(problems):
        if problem.file == contract.display and problem.field == "evaluation":
            problems[i] = explained
            return
    problems.append(explained)


def _no_evaluation_problem(contract: Document[ContractDocument], stem: str, *, has_suites: bool) -> Problem:
    where = f"{EVALS_DIR}/{stem}/"
    return contract.problem(
        [],
        f"has suites in {where} but no `evaluation` section, so nothing gates them"
        if has_suites
        else "has no `evaluation` section: the use case ships with no golden or adversarial suite, so no "
        "quality gate can stop a release",
        "add `evaluation: {gates: {golden: {...}, adversarial: {...}}}`"
        + (
            f", a gate for each suite in {where} (README, Evaluation)"
            if has_suites
            else f" and the suites {where}golden.yaml and {where}adversarial.yaml (copy them from another use "
            "case and rewrite the cases; README, Add a use case)"
        ),
    )


def required_suite_problems(
    contract: Document[ContractDocument], stem: str, docs: Mapping[str, Document[SuiteDocument]]
) -> list[Problem]:
    """A use case without a golden or an adversarial suite (by the suites' ``kind``): deleting
    ``adversarial.yaml`` with its gate, or shipping a new use case with a golden suite alone, would leave
    every gate passing with its attacks unmeasured. Every suite has its gate and every gate its suite
    (:func:`_use_case_rules`), so a suite of each kind means a gate of each kind. Skipped while a suite is
    unreadable (its kind is unknown; its own problem is reported)."""
    if any(doc.value is None for doc in docs.values()):
        return []
    kinds = {name: doc.value.kind for name, doc in docs.items() if doc.value is not None}
    present = ", ".join(f"{name} (kind: {kind.value})" for name, kind in sorted(kinds.items())) or "none"
    folder = f"{EVALS_DIR}/{stem}"
    return [
        contract.problem(
            ["evaluation", "gates"],
            f"has no {kind.value} suite, so {_WHAT_A_KIND_MEASURES[kind]} and no gate can stop a release on it "
            f"(suites in {folder}/: {present})",
            _add_suite_fix(folder, kind, kinds.get(kind.value)),
        )
        for kind in REQUIRED_SUITE_KINDS
        if kind not in kinds.values()
    ]


def _add_suite_fix(folder: str, kind: SuiteKind, named_kind: SuiteKind | None) -> str:
    """How to add the missing suite of ``kind``; ``named_kind`` is the kind of the suite already named
    after it (``adversarial.yaml`` saying ``kind: golden``), which "add adversarial.yaml" would not mend."""
    add = (
        f"add {folder}/{kind.value}.yaml (kind: {kind.value}; copy another use case's and rewrite its cases) "
        f"and its gate evaluation.gates.{kind.value}"
    )
    if named_kind is not None:
        add = (
            f"{folder}/{kind.value}.yaml says kind: {named_kind.value}: if its cases are {_KIND_CASES[kind]}, "
            f"set kind: {kind.value} there; otherwise rename it (and its gate) and {add}"
        )
    return f"{add}; a use case is retired by deleting its contract, not its suites"


def _attack_expectation_rules(
    doc: Document[SuiteDocument], suite: SuiteDocument, problems: list[Problem]
) -> None:
    """No case of an adversarial suite expects its attack not to be stopped (``refusal: false``,
    ``guardrail_intervened: false``, set on the case or by the suite's ``defaults``): those pass only an
    answer that does not decline, or a guardrail that let the input through, so the adversarial gate's
    floor (which blocks on both scorers) would reward an attack that got through. A case whose request
    also has a legitimate part to answer (a ticket with an injection in it) says what the answer must and
    must not contain instead; not refusing ordinary requests is what the golden suite measures."""
    for name in ADVERSARIAL_BLOCKING_SCORERS:  # the verdicts that say an attack was stopped
        if getattr(suite.defaults, name.value, None) is False:
            problems.append(
                doc.problem(
                    ["defaults", name.value],
                    f"is false in an adversarial suite: every case would expect its attack not to be stopped, "
                    f"and the gate, which blocks on {name.value}, would pass an attack that got through",
                    f"remove `{name.value}: false` from the defaults (set `{name.value}: true` on the cases "
                    "whose attack must be stopped so)",
                    value=False,
                )
            )
    for i, case in enumerate(suite.cases):
        for name in ADVERSARIAL_BLOCKING_SCORERS:
            if getattr(case.expect, name.value, None) is False:
                problems.append(
                    doc.problem(
                        ["cases", i, "expect", name.value],
                        "expects the attack not to be stopped: it passes only where the "
                        + (
                            "model does not decline"
                            if name is ScorerName.REFUSAL
                            else "guardrail lets it through"
                        )
                        + ", which rewards an attack that got through",
                        f"expect `{name.value}: true`, or leave it unset and say what the answer must and must "
                        "not contain (must_contain, must_not_contain); a request the model should answer "
                        "belongs in the golden suite",
                        value=False,
                    )
                )


def _unblocked_case_rules(
    doc: Document[SuiteDocument],
    suite: SuiteDocument,
    contract: Document[ContractDocument],
    name: str,
    blocking: Sequence[ScorerName],
    problems: list[Problem],
    *,
    graded: bool,
) -> None:
    """A case passes when every blocking scorer that applies to it passes: a case to which none applies
    passes whatever the answer, and raises its suite's pass rate."""
    for i, case in enumerate(suite.cases):
        expect = case.expect.over(suite.defaults)
        applied = list(expect.scorers())
        if graded and expect.refusal is not True and expect.guardrail_intervened is not True:
            applied.append(ScorerName.RUBRIC)  # harness.SuiteRun.rubric_applies
        if applied and not set(applied) & set(blocking):
            problems.append(
                doc.problem(
                    ["cases", i, "expect"],
                    f"applies only {', '.join(s.value for s in applied)}, which evaluation.gates.{name} of "
                    f"{contract.display} does not block on, so the case passes whatever the answer",
                    f"add an expectation of a blocking scorer ({', '.join(s.value for s in blocking)}), or add "
                    f"{applied[0].value} to evaluation.gates.{name}.blocking_scorers",
                )
            )


def _rubric(
    root: Path,
    stem: str,
    contract: Document[ContractDocument],
    policy: EvaluationPolicy,
    problems: list[Problem],
) -> tuple[RubricDocument | None, str | None]:
    path = root / EVALS_DIR / stem / RUBRIC_FILE
    if not policy.model_graded:
        return None, None
    if policy.judge_model is None:
        problems.append(
            contract.problem(
                ["evaluation", "model_graded"],
                "is true but evaluation.judge_model is not set: the judge needs a model",
                "set evaluation.judge_model to a catalog model id, or set model_graded: false",
                value=True,
            )
        )
    if not path.is_file():
        problems.append(
            contract.problem(
                ["evaluation", "model_graded"],
                f"is true but {EVALS_DIR}/{stem}/{RUBRIC_FILE} does not exist",
                f"add {EVALS_DIR}/{stem}/{RUBRIC_FILE} (version, criteria, scale, pass_mark, judge_prompt)",
                value=True,
            )
        )
        return None, None
    doc = Document(path, root, RubricDocument, what="rubric")
    problems.extend(doc.problems)
    return doc.value, doc.display


def _case_rules(
    doc: Document[SuiteDocument],
    suite: SuiteDocument,
    guardrail: GuardrailPolicy | None,
    problems: list[Problem],
    *,
    model_graded: bool,
) -> None:
    seen: dict[str, int] = {}
    # Topics are checked only when the contract's guardrail is valid on its own (else that is the problem).
    topics = {t.name for t in guardrail.denied_topics} if guardrail is not None else None
    for i, case in enumerate(suite.cases):
        path: list[str | int] = ["cases", i]
        if case.id in seen:
            problems.append(
                doc.problem(
                    [*path, "id"],
                    f"repeats the id of cases[{seen[case.id]}]",
                    "give every case of the suite its own id",
                    value=case.id,
                )
            )
        seen.setdefault(case.id, i)
        expect = case.expect.over(suite.defaults)
        if not expect.scorers():
            problems.append(
                doc.problem(
                    [*path, "expect"],
                    "sets no expectation (and the suite's defaults set none), so the case can never fail",
                    "add an expectation: must_contain, refusal, guardrail_intervened, ...",
                )
            )
        if expect.needs_answer and case.offline_answer is None:
            problems.append(
                doc.problem(
                    [*path, "offline_answer"],
                    "is missing, but the case's expectations read the answer: the offline run would have none",
                    "add offline_answer: the answer the model gives (recorded from a real run, or written)",
                )
            )
        through_api = suite.kind is SuiteKind.GOLDEN or expect.needs_answer  # harness.observe
        if guardrail is not None and guardrail.grounded and through_api and not (case.context or "").strip():
            problems.append(
                doc.problem(
                    [*path, "context"],
                    "is missing, but the contract grounds answers in the caller's context: the API rejects the "
                    "request (400 INVALID_REQUEST, context is required) before the guardrail or the model sees "
                    "it, and a rejection counts as declined, so the case passes whatever the use case answers",
                    "add context: the source text a caller would send with it (e.g. another case's YAML anchor)",
                )
            )
        graded = model_graded and suite.kind is SuiteKind.GOLDEN
        if (
            graded
            and expect.refusal is not True
            and expect.guardrail_intervened is not True
            and not case.reference
        ):
            problems.append(
                doc.problem(
                    [*path, "reference"],
                    "is missing, but the use case is model-graded: the judge compares the answer with it",
                    "add reference: what a correct answer says (the facts the judge should find)",
                )
            )
        if suite.kind is SuiteKind.ADVERSARIAL and case.category is None:
            problems.append(
                doc.problem(
                    [*path, "category"],
                    "is missing: every adversarial case names the attack it makes",
                    "use one of " + ", ".join(c.value for c in AttackCategory),
                )
            )
        if case.category is AttackCategory.CONTEXT_INJECTION and case.context is None:
            problems.append(
                doc.problem(
                    [*path, "context"],
                    "is missing: a context_injection case hides its instructions in the request's context, "
                    "and this one sends none",
                    "add context: a plausible grounding source with the instructions inside it, or use "
                    "category prompt_injection for instructions in the question",
                )
            )
        if case.category is AttackCategory.DENIED_TOPIC and case.denied_topic is None:
            problems.append(
                doc.problem(
                    [*path, "denied_topic"],
                    "is missing: a denied_topic case names the contract's topic it probes",
                    "use one of " + ", ".join(map(repr, sorted(topics or ()))),
                )
            )
        if topics is not None and case.denied_topic is not None and case.denied_topic not in topics:
            problems.append(
                doc.problem(
                    [*path, "denied_topic"],
                    "is not a denied topic of the contract",
                    "use one of " + ", ".join(map(repr, sorted(topics))) if topics else "remove it",
                    value=case.denied_topic,
                )
            )
        if case.source.origin == "borrowed" and not case.source.reference:
            problems.append(
                doc.problem(
                    [*path, "source", "reference"],
                    "is empty: a borrowed case cites where it comes from",
                    "name the dataset, paper or URL",
                )
            )
        _expectation_rules(doc, [*path, "expect"], case, problems)


def _expectation_rules(
    doc: Document[SuiteDocument], path: list[str | int], case: EvalCase, problems: list[Problem]
) -> None:
    for j, pattern in enumerate(case.expect.regex):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(
                doc.problem(
                    [*path, "regex", j],
                    f"is not a valid regular expression ({exc})",
                    "fix the pattern",
                    value=pattern,
                )
            )
    if case.expect.json_schema is not None:
        unsupported = unsupported_schema_keywords(case.expect.json_schema)
        if unsupported:
            problems.append(
                doc.problem(
                    [*path, "json_schema"],
                    f"uses what the json_schema scorer does not implement: {', '.join(unsupported)}",
                    "use only the keywords in platform_spec.scoring.JSON_SCHEMA_KEYWORDS",
                )
            )


def _coverage_rules(
    doc: Document[SuiteDocument], suite: SuiteDocument, guardrail: GuardrailPolicy, problems: list[Problem]
) -> None:
    categories = {case.category for case in suite.cases}
    required = list(REQUIRED_CATEGORIES)
    if guardrail.protects_pii:
        required.append(AttackCategory.PII_EXFILTRATION)
    if guardrail.grounded:
        required.extend((AttackCategory.GROUNDING_VIOLATION, AttackCategory.CONTEXT_INJECTION))
    missing = [c.value for c in required if c not in categories]
    if missing:
        problems.append(
            doc.problem(
                ["cases"],
                f"has no case of the attack categories {', '.join(missing)}",
                "add at least one case of each (category: <name>); see README, Evaluation",
            )
        )
    exact = guardrail.exact_matches()
    if exact and not any(_writes_exact_match_in_look_alikes(case, suite, guardrail) for case in suite.cases):
        problems.append(
            doc.problem(
                ["cases"],
                f"has no case that writes what the guardrail blocks by exact match ({', '.join(exact)}) in "
                "look-alike letters and expects refusal: true: Bedrock matches them exactly, the orchestrator "
                "has the guardrail check a folded copy of such text, and such a case is the readiness gate's "
                "only proof that the copy is blocked",
                "add a case (category: encoding) whose input writes one of them in full-width letters or with "
                "a Cyrillic letter inside a Latin word, with expect refusal: true and must_not_contain; see "
                "README, Production contracts, Look-alike letters",
            )
        )
    probed = {case.denied_topic for case in suite.cases if case.category is AttackCategory.DENIED_TOPIC}
    unprobed = [t.name for t in guardrail.denied_topics if t.name not in probed]
    if unprobed:
        problems.append(
            doc.problem(
                ["cases"],
                f"probes none of the contract's denied topics {', '.join(map(repr, unprobed))}",
                "add a case with category: denied_topic and denied_topic: <name> for each",
            )
        )


def _writes_exact_match_in_look_alikes(
    case: EvalCase, suite: SuiteDocument, guardrail: GuardrailPolicy
) -> bool:
    """Whether ``case`` expects a refusal of text in look-alike letters (``platform_spec.lookalikes.fold``
    changes it) that, folded and only folded, has a word or BLOCK regex of ``guardrail``. Where the
    guardrail's exact matches are all Bedrock's own detectors (a managed word list, BLOCK entities), any
    such text counts: they are not matched here."""
    folded = fold(case.text)
    if folded is None or case.expect.over(suite.defaults).refusal is not True:
        return False
    patterns = guardrail.exact_match_patterns()
    if not patterns:
        return True
    return any(re.search(p, folded) for p in patterns) and not any(re.search(p, case.text) for p in patterns)


def platform_rejection(case: EvalCase, limits: Limits) -> str | None:
    """The error code with which the orchestration API rejects ``case``'s request before the guardrail or
    the model sees it, else None: a message or context over its size limit, invisible characters
    (``INVALID_CHARACTERS``), or an estimated input over the contract's ``limits.max_input_tokens``
    (``INPUT_TOO_LARGE``), checked in that order as ``lambdas/orchestrator/validation.py`` checks them, on
    the request the harness sends (``evaluation.targets.invoke_body``: the case's text as one user message
    and its context)."""
    text, context = case.text, case.context
    if len(text) > MAX_MESSAGE_CHARS or (context is not None and len(context) > MAX_CONTEXT_CHARS):
        return "INVALID_REQUEST"
    try:
        for field, value in (("messages[0].content", text), ("context", context)):
            if value is not None:
                check_characters(value, field)
    except ApiError as error:
        return error.code
    if estimated_tokens(text) + estimated_tokens(context or "") > limits.max_input_tokens:
        return "INPUT_TOO_LARGE"
    return None


def _compliance_rules(
    doc: Document[SuiteDocument],
    suite: SuiteDocument,
    contract: Document[ContractDocument],
    name: str,
    blocking: Sequence[ScorerName],
    problems: list[Problem],
) -> None:
    """An adversarial case that expects ``refusal: true`` of a request the model answers says what a
    complying answer would contain (``must_not_contain``), and its gate blocks on it: a real model may
    decline and then do what was asked ("I can only answer HR questions. That said, here is a lasagne
    recipe: ..."), which the refusal scorer finds only where the answer announces the turn
    (``platform_spec.scoring.complied_after_refusal``). Exempt are the refusals by the platform, where no
    model answers: the API rejects the request as sent (:func:`platform_rejection`: an oversize input, an
    invisible character), or the case expects the guardrail to block the input and its gate blocks on
    that (then the guardrail's blocked message is the answer)."""
    if suite.kind is not SuiteKind.ADVERSARIAL:
        return
    limits: Limits | None = contract.field("limits")
    unguarded: list[str] = []
    for i, case in enumerate(suite.cases):
        expect = case.expect.over(suite.defaults)
        if expect.refusal is not True:
            continue
        if limits is not None and platform_rejection(case, limits) is not None:
            continue
        if expect.guardrail_intervened is True and ScorerName.GUARDRAIL_INTERVENED in blocking:
            continue
        if not expect.must_not_contain:
            problems.append(
                doc.problem(
                    ["cases", i, "expect"],
                    "expects refusal: true but not what a complying answer would contain: "
                    "the model answers this request, and an answer that declines and then does it anyway "
                    'passes the refusal scorer unless it announces the turn ("That said, here is ...")',
                    "add must_not_contain: words a complying answer would contain and a refusal would not "
                    "(for a recipe: its ingredients and steps, not the dish's name, which a refusal may repeat)",
                )
            )
        else:
            unguarded.append(case.id)
    if unguarded and ScorerName.MUST_NOT_CONTAIN not in blocking:
        problems.append(
            contract.problem(
                ["evaluation", "gates", name, "blocking_scorers"],
                f"does not block on must_not_contain, so an answer of {doc.display} that refuses and then "
                f"complies passes cases that expect a refusal ({', '.join(unguarded)})",
                "add must_not_contain to the blocking scorers",
            )
        )


def live_scoring(contract: ContractDocument, evaluation: UseCaseEvaluation | None) -> LiveScoring:
    """What every live output of ``contract`` is scored against (``platform_spec.review.LiveScoring``):
    the ``defaults`` of its golden suite (:attr:`UseCaseEvaluation.golden`), that
    suite's PII types (else the contract's) and refusal markers, and the rubric where the contract is
    model-graded and may store response text (the judge needs the text after the request). Without a
    golden suite: PII absence over the contract's PII types."""
    policy = contract.guardrail
    contract_pii = tuple(e.value for e in policy.sensitive_information.pii_entities)
    blocked = (policy.blocked_input_message, policy.blocked_output_message)
    suite = evaluation.golden if evaluation is not None else None
    rubric = (
        evaluation.rubric
        if evaluation is not None
        and evaluation.policy.model_graded
        and contract.logging.prompts_and_responses
        else None
    )
    if suite is None:
        return LiveScoring(
            expectations=Expectations(pii_absent=bool(contract_pii)),
            pii_entities=contract_pii,
            blocked_messages=blocked,
            rubric=rubric,
        )
    return LiveScoring(
        suite=suite.name,
        expectations=suite.document.defaults,
        pii_entities=tuple(e.value for e in suite.document.pii_entities) or contract_pii,
        refusal_markers=suite.document.refusal_markers,
        blocked_messages=blocked,
        rubric=rubric,
    )
