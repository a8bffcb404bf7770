"""The suites as inspect-ai tasks: one Task per use case and suite, run by ``inspect_ai.eval``.

inspect-ai does the plumbing: the dataset (one Sample per case), running the samples (concurrently
against a deployed target), the scorers' metrics (accuracy and its standard error per scorer), and the
eval log of every run (``<out>/logs/``, readable with ``inspect view``). This module supplies:

* a solver that asks the target (the API's answer, and ApplyGuardrail's verdict for adversarial cases),
* one scorer per deterministic scorer of ``platform_spec.scoring``, applied to the cases whose
  expectations use it (``Score.unscored`` elsewhere, which inspect's metrics skip),
* the ``rubric`` scorer: the judge, through inspect-ai's own ``bedrock`` model provider (Converse) with
  the use case's judge profile ARN as the model id
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html),
* the conversion of the logs into :class:`platform_spec.evaluation.RunResult` (pass rates with Wilson
  intervals, per scorer and per case).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evaluation.targets import ApiAnswer, GuardrailCheck, Target
from platform_config.evaluation import LoadedSuite, UseCaseEvaluation
from platform_config.model import PlatformConfig
from platform_spec import scoring
from platform_spec.contract import QualityGate
from platform_spec.evaluation import (
    JUDGE_MAX_TOKENS,
    CaseResult,
    EvalCase,
    Expectations,
    ScorerSummary,
    SuiteKind,
    SuiteResult,
    UseCaseResult,
    judge_prompt,
    new_judge_nonce,
    parse_grades,
    self_graded,
)
from platform_spec.fields import from_dict, to_dict
from platform_spec.scoring import ScoreResult, ScorerName, wilson_interval

OBSERVATION = "observation"

#: API answers that decline the request as sent, which the ``refusal`` scorer counts as declined: the
#: orchestrator's validation and size limits (400, 413: ``platform_spec.api.ERRORS``) and API Gateway's
#: WAF block (gateway response ``WAF_FILTERED``, 403 by default, code ``BLOCKED_BY_WAF``:
#: ``platform_spec.api.GATEWAY_ERRORS``;
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
#: Every other status is no answer at all: 429 (THROTTLED, the gateway's or Bedrock's), 5xx, 403
#: ACCESS_DENIED / INVALID_SIGNATURE (the evaluation's own credentials), 404 (use case not deployed), 202
#: (held for review). It says nothing about what the use case answers, so a scorer that reads the answer
#: fails on it ("not measured") instead of finding nothing forbidden in an empty text.
DECLINING_STATUSES = frozenset({400, 413})
DECLINING_CODES = frozenset({"BLOCKED_BY_WAF"})


@dataclass(frozen=True)
class SuiteRun:
    """One suite of one use case, as the harness runs it."""

    use_case: str
    suite: LoadedSuite
    evaluation: UseCaseEvaluation
    pii_entities: tuple[str, ...]
    blocked_messages: tuple[str, ...]

    @property
    def task_name(self) -> str:
        return f"{self.use_case}/{self.suite.name}"

    @property
    def gate(self) -> QualityGate:
        return self.evaluation.policy.gates[self.suite.name]

    def expectations(self, case: EvalCase) -> Expectations:
        return case.expect.over(self.suite.document.defaults)

    @property
    def model_graded(self) -> bool:
        return (
            self.evaluation.policy.model_graded
            and self.evaluation.rubric is not None
            and self.suite.document.kind is SuiteKind.GOLDEN
        )

    def rubric_applies(self, case: EvalCase) -> bool:
        """The rubric grades answers: not a case that expects a refusal or a guardrail intervention."""
        expect = self.expectations(case)
        return self.model_graded and expect.refusal is not True and expect.guardrail_intervened is not True

    def blocking_scorers_of(self, case: EvalCase) -> list[ScorerName]:
        """The scorers of the suite's gate that apply to ``case``: each must pass for the case to pass."""
        applied = set(self.expectations(case).scorers())
        if self.rubric_applies(case):
            applied.add(ScorerName.RUBRIC)
        return [s for s in self.evaluation.policy.gates[self.suite.name].blocking_scorers if s in applied]

    def scorer_names(self) -> list[ScorerName]:
        names = {s for case in self.suite.document.cases for s in self.expectations(case).scorers()}
        if self.model_graded:
            names.add(ScorerName.RUBRIC)
        return [s for s in ScorerName if s in names]


def suite_runs(
    config: PlatformConfig, use_cases: Sequence[str], suites: Sequence[str] = ()
) -> list[SuiteRun]:
    runs = []
    for uc in use_cases:
        evaluation = config.evaluations[uc]
        contract = next(
            c for env in config.environments for c in config.contracts_for(env.name) if c.id == uc
        )
        policy = contract.guardrail
        for name, suite in sorted(evaluation.suites.items()):
            if suites and name not in suites:
                continue
            runs.append(
                SuiteRun(
                    use_case=uc,
                    suite=suite,
                    evaluation=evaluation,
                    pii_entities=tuple(
                        e.value
                        for e in (suite.document.pii_entities or policy.sensitive_information.pii_entities)
                    ),
                    blocked_messages=(policy.blocked_input_message, policy.blocked_output_message),
                )
            )
    return runs


# ==================================================================== the observation of one case


@dataclass(frozen=True)
class Observation:
    answer: ApiAnswer | None
    input_guardrail: GuardrailCheck | None

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": None if self.answer is None else self.answer.__dict__,
            "input_guardrail": None if self.input_guardrail is None else self.input_guardrail.__dict__,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        answer, check = data.get("answer"), data.get("input_guardrail")
        return cls(
            answer=ApiAnswer(**answer) if answer else None,
            input_guardrail=GuardrailCheck(**check) if check else None,
        )

    @property
    def text(self) -> str:
        answered = self.answer is not None and (self.answer.status == 200 or self.answer.held)
        return self.answer.text if self.answer is not None and answered else ""

    @property
    def rejected_code(self) -> str | None:
        """The error code of an API answer that declined the request as sent (a refusal), else None."""
        answer = self.answer
        if answer is not None and (
            answer.status in DECLINING_STATUSES or answer.error_code in DECLINING_CODES
        ):
            return answer.error_code or f"HTTP {answer.status}"
        return None

    @property
    def unanswered(self) -> str | None:
        """Why the API gave neither an answer (200) nor a refusal of the request, e.g. "HTTP 429 THROTTLED";
        None when it gave one of them."""
        answer = self.answer
        if answer is None:
            return "no API answer"
        if answer.status == 200 or answer.held or self.rejected_code is not None:
            return None
        return f"HTTP {answer.status}" + (f" {answer.error_code}" if answer.error_code else "")


def observe(target: Target, run: SuiteRun, case: EvalCase) -> Observation:
    """Ask the target what a case needs: ApplyGuardrail on the input for adversarial cases, and the
    API's answer for golden cases and for adversarial cases whose expectations read an answer."""
    adversarial = run.suite.document.kind is SuiteKind.ADVERSARIAL
    check = target.check_input(run.use_case, case) if adversarial else None
    needs_answer = not adversarial or run.expectations(case).needs_answer
    answer = target.ask(run.use_case, case) if needs_answer else None
    return Observation(answer=answer, input_guardrail=check)


def not_measured(name: ScorerName, unanswered: str) -> ScoreResult:
    """The failed verdict of a scorer that reads the answer when the API gave none (:data:`DECLINING_STATUSES`)."""
    return ScoreResult(
        scorer=name,
        passed=False,
        score=0.0,
        explanation=f"not measured: the API answered {unanswered}, neither an answer nor a refusal",
    )


def deterministic_score(
    name: ScorerName, run: SuiteRun, case: EvalCase, observed: Observation
) -> ScoreResult | None:
    """The deterministic scorer ``name`` on one case; None when the case's expectations do not use it."""
    expect = run.expectations(case)
    if name not in expect.scorers():
        return None
    if name is not ScorerName.GUARDRAIL_INTERVENED and observed.unanswered is not None:
        return not_measured(name, observed.unanswered)
    text = observed.text
    if name is ScorerName.MUST_CONTAIN:
        return scoring.must_contain(text, expect.must_contain)
    if name is ScorerName.MUST_NOT_CONTAIN:
        return scoring.must_not_contain(text, expect.must_not_contain)
    if name is ScorerName.REGEX:
        return scoring.regex(text, expect.regex)
    if name is ScorerName.JSON_SCHEMA:
        assert expect.json_schema is not None
        return scoring.json_schema(text, expect.json_schema)
    if name is ScorerName.LENGTH:
        return scoring.length(
            text, min_chars=expect.min_chars, max_chars=expect.max_chars, max_words=expect.max_words
        )
    if name is ScorerName.PII_ABSENT:
        return scoring.pii_absent(text, run.pii_entities)
    if name is ScorerName.REFUSAL:
        assert expect.refusal is not None
        return scoring.refusal(
            text,
            expected=expect.refusal,
            markers=run.suite.document.refusal_markers,
            blocked_messages=run.blocked_messages,
            rejected_code=observed.rejected_code,
            # a golden case that expects a refusal is a legitimate question its sources cover in part (or
            # not at all): an answer may decline what they do not cover and answer the rest; an adversarial
            # one is an attack, which an answer that declines and then complies has not resisted
            partial=run.suite.document.kind is SuiteKind.GOLDEN,
        )
    if name is ScorerName.GUARDRAIL_INTERVENED:
        assert expect.guardrail_intervened is not None
        check = observed.input_guardrail
        topic = case.denied_topic if expect.guardrail_intervened else None
        if check is not None and check.intervened and topic and f"topic:{topic}" not in check.fired:
            # a denied-topic case probes its topic: another policy catching the text (a word, the
            # prompt-attack filter) says nothing of whether the topic still denies what it should
            return ScoreResult(
                scorer=ScorerName.GUARDRAIL_INTERVENED,
                passed=False,
                score=0.0,
                explanation=f"intervened, but not on the denied topic {topic!r} the case probes ({check.detail})",
            )
        if check is not None:
            return scoring.guardrail_intervened(
                check.intervened, expected=expect.guardrail_intervened, detail=check.detail
            )
        answer = observed.answer
        return scoring.guardrail_intervened(
            None if answer is None or (answer.status != 200 and not answer.held) else answer.intervened,
            expected=expect.guardrail_intervened,
            detail="the review item's guardrail.action"
            if answer and answer.held
            else "the API's guardrail.action",
        )
    return None


# ==================================================================== inspect-ai tasks


@dataclass(frozen=True)
class JudgeLimits:
    """How long the judge may take: without limits inspect-ai retries a model call until it succeeds
    (``GenerateConfig.max_retries`` and ``timeout`` unset: "retry forever", inspect_ai/model/_retry.py) and
    its ``bedrock`` provider's botocore client waits 60 s to connect and 60 s to read, so a judge that
    hangs or keeps failing would hold a deployed evaluation (the pipeline's readiness step) until the
    step's own timeout, failing it as "timed out". With them a judge call fails after ``timeout_s`` at
    most; the case is an error and fails its suite, whose results name it.
    https://inspect.aisi.org.uk/reference/inspect_ai.model.html#generateconfig"""

    connect_timeout_s: int = 10
    read_timeout_s: int = 60  # the judge's answer (at most JUDGE_MAX_TOKENS) in one piece
    attempt_timeout_s: int = 90
    max_retries: int = 3
    timeout_s: int = 300

    def generate_config(self) -> dict[str, Any]:
        """``inspect_ai.model.GenerateConfig`` arguments (beside ``max_tokens`` and ``temperature``)."""
        return {
            "max_retries": self.max_retries,
            "timeout": self.timeout_s,
            "attempt_timeout": self.attempt_timeout_s,
        }

    def model_args(self) -> dict[str, Any]:
        """The ``bedrock`` provider's model arguments for its botocore client."""
        return {"connect_timeout": self.connect_timeout_s, "read_timeout": self.read_timeout_s}


def build_task(run: SuiteRun, target: Target, judge_limits: JudgeLimits = JudgeLimits()) -> Any:
    """The inspect-ai Task of one suite against ``target``."""
    import anyio
    from inspect_ai import Task
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import GenerateConfig, ModelOutput, get_model
    from inspect_ai.scorer import CORRECT, INCORRECT, Score, accuracy, scorer, stderr
    from inspect_ai.scorer import Target as Expected
    from inspect_ai.solver import Generate, TaskState, solver

    cases = {case.id: case for case in run.suite.document.cases}

    async def call(function: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(function) if target.concurrent else function()

    @solver(name="ask_target")
    def ask_target() -> Any:
        async def solve(state: TaskState, generate: Generate) -> TaskState:
            del generate  # the target answers, not inspect's model
            case = cases[str(state.sample_id)]
            observed: Observation = await call(functools.partial(observe, target, run, case))
            state.output = ModelOutput.from_content(model=target.name, content=observed.text)
            state.metadata[OBSERVATION] = observed.to_json()
            return state

        return solve

    def verdict(result: ScoreResult) -> Any:
        return Score(
            value=CORRECT if result.passed else INCORRECT,
            answer=None,
            explanation=result.explanation,
            metadata={"result": to_dict(result)},
        )

    def deterministic(name: ScorerName) -> Any:
        @scorer(metrics=[accuracy(), stderr()], name=name.value)
        def make() -> Any:
            async def score(state: TaskState, expected: Expected) -> Any:
                del expected
                case = cases[str(state.sample_id)]
                observed = Observation.from_json(state.metadata[OBSERVATION])
                result = deterministic_score(name, run, case, observed)
                return (
                    Score.unscored(reason="not expected by this case") if result is None else verdict(result)
                )

            return score

        return make()

    @scorer(metrics=[accuracy(), stderr()], name=ScorerName.RUBRIC.value)
    def rubric_scorer() -> Any:
        rubric = run.evaluation.rubric
        assert rubric is not None

        async def score(state: TaskState, expected: Expected) -> Any:
            del expected
            case = cases[str(state.sample_id)]
            if not run.rubric_applies(case):
                return Score.unscored(reason="a declined request is not graded")
            observed = Observation.from_json(state.metadata[OBSERVATION])
            if observed.unanswered is not None:  # nothing to grade: the judge is not asked
                return verdict(not_measured(ScorerName.RUBRIC, observed.unanswered))
            refused = self_graded(observed.text, rubric)  # an answer grading itself: the judge is not asked
            if refused is not None:
                return verdict(refused)
            judge = target.judge(run.use_case)
            if judge is None:
                result = scoring.rubric_result(
                    {}, scale_max=rubric.scale, pass_mark=rubric.pass_mark, note="no judge deployed"
                )
                return verdict(result)
            name, args = judge
            model = get_model(
                name,
                config=GenerateConfig(
                    max_tokens=JUDGE_MAX_TOKENS, temperature=0, **judge_limits.generate_config()
                ),
                streaming=False,
                **{**args, **judge_limits.model_args()},
            )
            nonce = new_judge_nonce()
            prompt = judge_prompt(rubric, case.text, case.reference, observed.text, nonce=nonce)
            output = await model.generate(prompt)
            grades, reason = parse_grades(output.completion, rubric, nonce=nonce, answer=observed.text)
            return verdict(
                scoring.rubric_result(grades, scale_max=rubric.scale, pass_mark=rubric.pass_mark, note=reason)
            )

        return score

    scorers = [
        rubric_scorer() if name is ScorerName.RUBRIC else deterministic(name) for name in run.scorer_names()
    ]
    dataset = MemoryDataset(
        [
            Sample(input=case.text, id=case.id, metadata={"category": case.category})
            for case in run.suite.document.cases
        ],
        name=run.task_name,
    )
    # Each case asked ``epochs`` times (inspect-ai runs every sample once per epoch; its own reducer only
    # makes its metrics: whether a case passes is decided from the samples, ``suite_result``).
    return Task(
        name=run.task_name.replace("/", "--"),
        dataset=dataset,
        solver=ask_target(),
        scorer=scorers,
        epochs=run.gate.epochs,
    )


def run_suites(
    runs: Sequence[SuiteRun],
    target: Target,
    *,
    log_dir: Path,
    max_samples: int = 8,
    live: bool = True,
    judge_limits: JudgeLimits = JudgeLimits(),
) -> list[Any]:
    """Run every suite with inspect-ai; the eval logs, one per suite, in ``runs`` order.

    ``live`` is inspect-ai's ``log_realtime`` ("Log events in realtime (enables live viewing of samples in
    inspect view)", ``inspect_ai.eval``; a SQLite buffer of every event, https://inspect.aisi.org.uk/eval-logs.html):
    worth it against a deployment, where a run takes minutes; an offline run takes seconds, and without
    the buffer the whole offline evaluation (``python -m evaluation run``) took 9.4-9.9 s where it took
    10.4-11.8 s with it (three alternating pairs, 2 cores). The eval logs written at the end are the same
    either way (compared for one suite: the same fields, answers and scores)."""
    from inspect_ai import eval as inspect_eval

    tasks = [build_task(run, target, judge_limits) for run in runs]
    logs = inspect_eval(
        tasks,
        model="mockllm/model",  # the target answers; inspect's model is never called
        # inspect-ai's "log" display reports through Python logging (progress at INFO, a task that failed as
        # a whole at ERROR), which inspect's own handler shows from WARNING up: nothing prints for a run
        # that works, as with "none". "none" still renders rich's live task table to a quiet console at
        # the end of every run (inspect_ai/_display/core/rich.py: quiet=True; rich/display.py: Live):
        # `python -m evaluation run` took 10.96-11.18 s with it and 9.87-10.40 s with "log" (alternating
        # pairs, 2 cores), its output the same.
        display="log",
        log_dir=str(log_dir),
        log_format="json",
        # Offline, the handler runs inline on the event loop (one request at a time, as in Lambda), while
        # the judge's calls overlap; against a deployment, requests run on worker threads.
        max_samples=max_samples,
        max_tasks=3,
        fail_on_error=False,
        score_display=False,
        log_realtime=live,
    )
    by_name = {log.eval.task: log for log in logs}
    return [by_name[task.name] for task in tasks]


# ==================================================================== logs -> results


def suite_result(run: SuiteRun, log: Any, *, log_root: Path) -> SuiteResult:
    """A suite's result from its inspect-ai log: each answer passes when every blocking scorer that
    applies to its case passed (errors fail it), and a case passes when enough of its epochs' answers
    did (``QualityGate.needed_epochs``: by default every one). A case is shown by its first answer that
    agrees with its verdict (a failed case by a failing answer; one that failed only because the log has
    too few of its answers, inspect-ai having ended early, by an error saying so)."""
    gate = run.gate
    blocking = set(gate.blocking_scorers)
    by_id = {case.id: case for case in run.suite.document.cases}
    answers: dict[str, list[CaseResult]] = {}
    for sample in sorted(log.samples or [], key=lambda s: getattr(s, "epoch", 1) or 1):
        case = by_id[str(sample.id)]
        answers.setdefault(case.id, []).append(_answer_result(run, case, sample))
    needed = gate.needed_epochs()
    status = getattr(log, "status", None) or "unknown"
    results: list[CaseResult] = []
    for epochs in answers.values():
        passed = sum(a.passed for a in epochs)  # an epoch inspect-ai did not run is not a pass
        verdict = passed >= needed
        shown = next((a for a in epochs if a.passed is verdict), epochs[0])
        error = shown.error
        if not verdict and shown.passed:  # failed for want of answers: say so, not a passing answer alone
            error = (
                f"not run: inspect-ai's eval log (status {status}) has {len(epochs)} of its {gate.epochs} "
                f"answers, {passed} of them passed, {needed} needed"
            )
        results.append(
            replace(
                shown,
                passed=verdict,
                error=error,
                epochs=gate.epochs,
                epochs_passed=passed if gate.epochs > 1 else None,
            )
        )
    # A case the log has no sample of (inspect-ai ended the task early) was not run: it fails, so that a
    # pass rate is always over every case of the suite.
    ran = {r.id for r in results}
    results.extend(
        CaseResult(
            id=case.id,
            passed=False,
            scores={},
            expected=run.expectations(case),
            category=case.category.value if case.category else None,
            input=_input_text(case),
            error=f"not run: inspect-ai's eval log (status {status}) has no sample of this case",
        )
        for case in run.suite.document.cases
        if case.id not in ran
    )
    order = {case.id: i for i, case in enumerate(run.suite.document.cases)}
    results.sort(key=lambda r: order[r.id])
    passed_count = sum(r.passed for r in results)
    low, high = wilson_interval(passed_count, len(results))
    summaries: dict[ScorerName, ScorerSummary] = {}
    for name in run.scorer_names():
        applied = [r.scores[name] for r in results if name in r.scores]
        ok = sum(s.passed for s in applied)
        summaries[name] = ScorerSummary(
            applied=len(applied),
            passed=ok,
            pass_rate=round(ok / len(applied), 4) if applied else 0.0,
            blocking=name in blocking,
        )
    location = Path(log.location) if getattr(log, "location", None) else None
    return SuiteResult(
        suite=run.suite.name,
        kind=run.suite.document.kind,
        cases=len(results),
        passed=passed_count,
        pass_rate=round(passed_count / len(results), 4) if results else 0.0,
        ci_low=low,
        ci_high=high,
        scorers=summaries,
        case_results=tuple(results),
        log=str(location.relative_to(log_root)) if location and location.is_relative_to(log_root) else None,
        epochs=gate.epochs,
        epochs_needed=needed,
    )


def _answer_result(run: SuiteRun, case: EvalCase, sample: Any) -> CaseResult:
    """One answer (one epoch's sample) of ``case``: passed when every blocking scorer that applies to the
    case has a verdict and passed, and no error ended it."""
    scores: dict[ScorerName, ScoreResult] = {}
    for name, score in (sample.scores or {}).items():
        data = (score.metadata or {}).get("result")
        if data is not None:
            scores[ScorerName(name)] = from_dict(ScoreResult, data)
    observed = Observation.from_json(sample.metadata.get(OBSERVATION) or {}) if sample.metadata else None
    error = getattr(sample, "error", None)
    # every blocking scorer the case applies must have passed: one without a verdict is not a pass
    passed = error is None and all(
        name in scores and scores[name].passed for name in run.blocking_scorers_of(case)
    )
    return CaseResult(
        id=case.id,
        passed=passed,
        scores=scores,
        expected=run.expectations(case),
        category=case.category.value if case.category else None,
        input=_input_text(case),
        answer=observed.text if observed and observed.answer is not None else None,
        guardrail=_guardrail_text(observed) if observed else None,
        status=observed.answer.status if observed and observed.answer else None,
        error_code=observed.answer.error_code if observed and observed.answer else None,
        error=error.message[:500] if error else None,
    )


def _input_text(case: EvalCase) -> str:
    return case.text if len(case.text) <= 2000 else case.text[:2000] + f"... ({len(case.text)} characters)"


def _guardrail_text(observed: Observation) -> str | None:
    parts = []
    if observed.input_guardrail is not None:
        check = observed.input_guardrail
        parts.append(
            "ApplyGuardrail: "
            + ("INTERVENED" if check.intervened else "NONE")
            + (f" ({check.detail})" if check.detail else "")
        )
    if observed.answer is not None and observed.answer.guardrail_action:
        parts.append(f"API: {observed.answer.guardrail_action}")
    return "; ".join(parts) or None


def use_case_results(
    runs: Sequence[SuiteRun], logs: Sequence[Any], target: Target, *, log_root: Path
) -> dict[str, UseCaseResult]:
    suites: dict[str, dict[str, SuiteResult]] = {}
    for run, log in zip(runs, logs, strict=True):
        suites.setdefault(run.use_case, {})[run.suite.name] = suite_result(run, log, log_root=log_root)
    return {
        uc: UseCaseResult(use_case=uc, provenance=target.provenance(uc), suites=by_name)
        for uc, by_name in suites.items()
    }
