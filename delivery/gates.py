"""``python -m delivery.gates``: the three readiness gates, each PASS or HOLD, locally or in the pipeline.

    python -m delivery.gates governance [--assembly cdk.out]
    python -m delivery.gates readiness --env staging --offline [--assembly cdk.out]
    python -m delivery.gates readiness --env staging --role-arn arn:aws:iam::<acct>:role/bedrock-platform-staging-readiness
    python -m delivery.gates canary --env prod --offline [--alarm <name>@<minute>]
    python -m delivery.gates canary --env prod --role-arn arn:aws:iam::<acct>:role/bedrock-platform-prod-release

1. governance (before the first environment): the compliance gate's result of the assembly is clean (every
   cdk-nag pack, cfn-lint, the project's rules, over every stack); every contract states its purpose,
   boundary, owner, budget, risk tier and review policy; every evaluation suite passes offline.
2. readiness (after the environment before production is deployed): a signed smoke request per use case
   through the API (held, and rejected as a reviewer session, for a use case that holds answers); every alarm's notification reaches the topic's test subscription; the golden suites
   through the API and the adversarial suites against the deployed guardrail, gated by each contract
   (``python -m evaluation run --target <env>``; a run that left out a suite of the environment holds,
   so ``--use-case`` is a quick look, never a PASS); a load test at twice each contract's peak rate, bounded,
   within its success rate and p95 (the answers it made a holding use case hold are rejected as a reviewer
   session); the human review path once (``python -m human_review exercise``).
3. canary (production, after the manual approval and the deploy): the bake (``delivery.canary``): 10 % of
   live traffic on the new version for ``bake.minutes``, promoted when every critical alarm stayed quiet
   and the new version served at least ``bake.min_invocations``, rolled back on the first one in ALARM (or
   with fewer invocations). In the pipeline the delivery account's state machine runs it.

``--offline`` runs a gate against local stand-ins (README, Deploy: what each proves and what it cannot);
without it the gate runs against the environment with the caller's AWS credentials, or those of
``--role-arn`` (assumed, refreshed). Every check is printed with its verdict and written to
``gate-results/<gate>-<env>.json``. Exit status: 0 PASS, 1 HOLD (a check failed or could not run), 2 bad
usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from platform_config import ConfigError, PlatformConfig, load_platform
from platform_config.documents import load_yaml
from platform_config.naming import pascal, platform_stack_path
from platform_spec.contract import ContractDocument
from platform_spec.delivery import (
    GATE_RESULTS,
    GOVERNANCE_FIELDS,
    HUMAN_REVIEW_MODULE,
    LOAD_TEST_MULTIPLIER,
    REVIEW_POLICY_FIELD,
    BakeDecision,
    Gate,
    Output,
    Verdict,
    readiness_evaluation,
)

ROOT = Path(__file__).resolve().parents[1]
#: How long the readiness gate waits for one alarm's notification at the probe queue.
NOTIFICATION_WAIT_S = 180.0
#: The gate's session name in the role it assumes: the name its requests to the API are made under (the
#: human review walk then decides as ``human_review.exercise.REVIEWER_SESSION``, another name).
GATE_SESSION = "bedrock-platform-gate"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str = ""


@dataclass
class GateReport:
    gate: Gate
    environment: str
    mode: str
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return (
            Verdict.PASS
            if self.checks and all(c.verdict is Verdict.PASS for c in self.checks)
            else Verdict.HOLD
        )

    def add(self, name: str, verdict: Verdict, detail: str = "") -> Check:
        check = Check(name, verdict, detail)
        self.checks.append(check)
        return check

    def render(self) -> str:
        width = max((len(c.name) for c in self.checks), default=10)
        lines = [f"{self.gate} gate ({self.environment}, {self.mode})"]
        for check in self.checks:
            detail = check.detail.replace("\n", "\n" + " " * (width + 14))
            lines.append(f"  {check.name:<{width}}  {check.verdict.value:<8}  {detail}")
        lines.append(f"{self.gate}: {self.verdict.value}")
        return "\n".join(lines)

    def document(self) -> dict[str, Any]:
        return {
            "gate": self.gate.value,
            "environment": self.environment,
            "mode": self.mode,
            "verdict": self.verdict.value,
            "checks": [dataclasses.asdict(c) | {"verdict": c.verdict.value} for c in self.checks],
        }


def _verdict(ok: bool) -> Verdict:
    return Verdict.PASS if ok else Verdict.HOLD


# ==================================================================== gate 1: governance


def compliance_check(report: GateReport, assembly: Path) -> None:
    from compliance.gate_result import read_gate_result

    try:
        result = read_gate_result(assembly)
    except FileNotFoundError as error:
        report.add("compliance gate", Verdict.NOT_RUN, f"{error}")
        return
    problems = [*result.problems, *(v.render() for v in result.violations), *result.plugin_failures]
    detail = (
        f"{len(result.validated_stacks)} stacks, every cdk-nag pack, cfn-lint and {len(result.rules)} rules clean"
        if not problems
        else "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more" if len(problems) > 5 else "")
    )
    report.add("compliance gate", _verdict(not problems), detail)


def contract_checks(report: GateReport, root: Path) -> None:
    """Every contract states each of GOVERNANCE_FIELDS itself (not by default); the review policy is the
    contract section ``review`` (issue 13): without it in this checkout's contract schema the check
    cannot run, and the gate holds."""
    files = sorted((root / "contracts").glob("*.yaml"))
    stated = {path: set((load_yaml(path.read_text(encoding="utf-8")) or {}).keys()) for path in files}
    declared = {f.name for f in dataclasses.fields(ContractDocument)}
    fields = [f for f in GOVERNANCE_FIELDS if f != REVIEW_POLICY_FIELD]
    missing = [
        f"contracts/{p.name}: {', '.join(f for f in fields if f not in keys)}"
        for p, keys in stated.items()
        if not set(fields) <= keys
    ]
    report.add(
        "contracts complete",
        _verdict(bool(files) and not missing),
        f"{len(files)} contracts state {', '.join(fields)}"
        if files and not missing
        else "missing: " + "; ".join(missing or ["no contracts"]),
    )
    if REVIEW_POLICY_FIELD not in declared:
        report.add(
            "review policy",
            Verdict.NOT_RUN,
            f"the contract has no `{REVIEW_POLICY_FIELD}` section in this checkout (the human review policy of issue "
            "13), so no contract can state who reviews its outputs",
        )
        return
    without = [f"contracts/{p.name}" for p, keys in stated.items() if REVIEW_POLICY_FIELD not in keys]
    report.add(
        "review policy",
        _verdict(not without),
        f"every contract states `{REVIEW_POLICY_FIELD}`"
        if not without
        else f"{', '.join(without)} do not state `{REVIEW_POLICY_FIELD}` (the default is not a decision)",
    )


def offline_suites_check(
    report: GateReport, config: PlatformConfig, root: Path, out: Path, use_cases: Sequence[str] = ()
) -> None:
    from evaluation.__main__ import main as evaluation

    argv = ["--root", str(root), "run", "--out", str(out)] + [
        a for uc in use_cases for a in ("--use-case", uc)
    ]
    code, output = _quietly(evaluation, argv)
    left_out = _suites_left_out(config, out) if code == 0 else []
    report.add(
        "offline suites",
        _verdict(code == 0 and not left_out),
        _left_out_detail(left_out)
        if left_out
        else _last_lines(output, "every suite passed its quality gate offline"),
    )


def governance(
    root: Path, assembly: Path, *, config: PlatformConfig, out: Path, suites: bool = True
) -> GateReport:
    report = GateReport(Gate.GOVERNANCE, "all", "offline")
    compliance_check(report, assembly)
    contract_checks(report, root)
    if suites:
        offline_suites_check(report, config, root, out / "eval-offline")
    else:
        report.add("offline suites", Verdict.NOT_RUN, "left out (--no-suites)")
    return report


# ==================================================================== gate 2: readiness


def smoke_check(
    report: GateReport,
    *,
    api_url: str,
    region: str,
    credentials: Any,
    root: Path,
    use_cases: Sequence[str],
    holding: Sequence[str] = (),
    reviews: Any = None,
) -> None:
    """One signed request per use case: 200 with an answer, or, for a use case in ``holding`` (its contract
    holds answers for review), 202 with a review id (the hold is in force; a 200 there is a failure),
    which ``reviews`` (``human_review.exercise.DeployedClient``: a session of the reviewer role) then
    rejects, so the smoke request waits in no reviewer's queue."""
    from delivery.loadtest import invoke_url, request_body, signed_sender
    from human_review.exercise import INVOKE, reject_held

    failed, passed = [], []
    for use_case in use_cases:
        body = request_body(root, use_case)
        if use_case not in holding:
            codes: list[str] = []
            status, _ = signed_sender(
                invoke_url(api_url, use_case),
                body,
                region=region,
                credentials=credentials,
                timeout_s=30,
                error_codes=codes,
            )(0)
            if status != 200:
                failed.append(f"{use_case}: HTTP {status or 'no answer'}{_explained(codes)}")
            else:
                passed.append(f"{use_case} 200")
            continue
        if reviews is None:
            failed.append(
                f"{use_case}: holds answers, and the stack has no ReviewerRoleArn output to settle one"
            )
            continue
        try:
            held = reviews.caller("POST", INVOKE, {"useCaseId": use_case}, body=body)
            review_id = str(held.body.get("reviewId") or "")
            if held.status != 202 or not review_id:
                failed.append(
                    f"{use_case}: HTTP {held.status}, not 202 with a review id: its contract holds answers "
                    "for review, and this one was not held"
                )
                continue
            problem = reject_held(reviews, review_id, SMOKE_REJECTION)
            if problem is not None:
                failed.append(f"{use_case}: held, but {problem}")
            else:
                passed.append(f"{use_case} 202 held (review {review_id}, rejected)")
        except Exception as error:  # no reviewer session (AssumeRole refused), or no answer
            failed.append(f"{use_case}: {type(error).__name__}: {error}")
    report.add(
        "smoke",
        _verdict(not failed),
        f"a signed request answered {', '.join(passed)}" if not failed else "; ".join(failed),
    )


def _explained(codes: Sequence[str]) -> str:
    """ " CODE (when it is answered)" for the API's error code of a failed request, from the documented table
    (``platform_spec.api.ERRORS``), so a failed gate says what to fix; "" without a code."""
    from platform_spec.api import ERRORS

    code = codes[-1] if codes else ""
    if not code:
        return ""
    documented = ERRORS.get(code)
    return f" {code}" + (f" ({documented.when})" if documented else "")


def notification_check(
    report: GateReport, probes: Sequence[Any], policy_problems: dict[str, str], probe_problems: list[str]
) -> None:
    from delivery.notifications import summarize

    problems = summarize(list(probes), policy_problems) + [f"probe subscription: {p}" for p in probe_problems]
    arrived = sum(1 for p in probes if p.arrived)
    report.add(
        "alarm notifications",
        _verdict(bool(probes) and not problems),
        f"{arrived} of {len(probes)} alarms: set to ALARM, notification arrived at the test subscription"
        if not problems
        else f"{len(problems)} alarm(s) cannot reach a person: " + "; ".join(problems[:6]),
    )


#: How long the deployed readiness gate lets its children run: the suites against the environment, and the
#: human review walk (which waits up to 180 s for scoring). A child that hangs (an API or a scoring function
#: that never answers, a connection nobody closes) is stopped there and holds the gate with a result
#: written, inside the build step's two hours (constructs/delivery/pipeline.py) with the smoke, alarm
#: probes and load tests beside them; without a bound the step's own timeout killed it with none.
SUITES_TIMEOUT_S: Final = 60 * 60
REVIEW_WALK_TIMEOUT_S: Final = 15 * 60


def _run_child(
    command: Sequence[str], *, env: dict[str, str], cwd: Path, timeout_s: float
) -> tuple[int, str]:
    """Run a child of the gate to its end or for ``timeout_s``: (exit status, its output); a child still
    running then is killed and reported as such (status -1, what it wrote so far, and the bound)."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as expired:
        written = "".join(
            part.decode("utf-8", "replace") if isinstance(part, bytes) else part
            for part in (expired.stdout, expired.stderr)
            if part
        )
        lines = [line.strip() for line in written.splitlines() if line.strip()]
        return -1, (
            f"- HOLD: {' '.join(command[1:4])} did not finish within {timeout_s:g} s and was stopped "
            f"(last output: {lines[-1][:300] if lines else 'none'})"
        )
    return done.returncode, done.stdout + done.stderr


def suites_check(
    report: GateReport,
    config: PlatformConfig,
    root: Path,
    environment: str,
    *,
    out: Path,
    use_cases: Sequence[str],
    argv: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout_s: float = SUITES_TIMEOUT_S,
) -> None:
    """``python -m evaluation run --target <env> --out <out>/<readiness_evaluation> --use-case ... <argv>``:
    golden suites through the API, adversarial suites through ApplyGuardrail on the deployed guardrail, every
    contract's quality gate; ``out`` is the gate's results folder. With ``env`` it runs as a child process of
    its own, stopped after ``timeout_s``."""
    out = out / readiness_evaluation(environment)
    command = [sys.executable, "-m", "evaluation", "--root", str(root), "run", "--target", environment]
    command += ["--out", str(out), *(a for uc in use_cases for a in ("--use-case", uc)), *argv]
    if env is None:
        from evaluation.__main__ import main as evaluation

        code, output = _quietly(evaluation, command[3:])
    else:
        code, output = _run_child(command, env=env, cwd=root, timeout_s=timeout_s)
    left_out = _suites_left_out(config, out) if code == 0 else []
    detail = _last_lines(
        output, "every suite passed its contract's quality gate through the deployed API and guardrail"
    )
    report.add(
        "suites (golden, adversarial)",
        _verdict(code == 0 and not left_out),
        _left_out_detail(left_out) if left_out else detail,
    )


def _left_out_detail(left_out: Sequence[str]) -> str:
    return (
        f"the run left out {', '.join(left_out)}: a run limited with --use-case or --suite passes only what it "
        "ran, so it is no verdict on the release; run the gate without --use-case"
    )


def _suites_left_out(config: PlatformConfig, out: Path) -> list[str]:
    """``<use case>/<suite>`` of every suite the environment evaluates that the run's ``results.json`` (in
    ``out``) lacks: the evaluation's own gate passes a run limited to some suites on those alone (README,
    Evaluation), and the readiness gate must not. A run that wrote no results lacks all."""
    from evaluation.registry import missing_suites
    from evaluation.report import RESULTS_FILE, read_results

    results = out / RESULTS_FILE
    if not results.is_file():
        return [f"every suite (no {results})"]
    return missing_suites(config, read_results(results))


def load_checks(
    report: GateReport,
    config: PlatformConfig,
    environment: str,
    *,
    senders: Callable[[str], Any],
    duration_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    use_cases: Sequence[str] = (),
) -> None:
    """A load test per use case at LOAD_TEST_MULTIPLIER x its peak rate, one use case at a time, bounded by
    the delivery file's duration and request count; holds below the contract's success rate or above its
    p95. ``senders(use_case)`` gives the request sender (SigV4 to the API, or a test's)."""
    from delivery.loadtest import LoadPlan, run_load, verdict

    policy = config.delivery.load_test if config.delivery is not None else None
    for contract in config.contracts_for(environment):
        if use_cases and contract.id not in use_cases:
            continue
        plan = LoadPlan(
            rate_rps=contract.release.peak_rps * LOAD_TEST_MULTIPLIER,
            duration_s=duration_s or (policy.duration_seconds if policy else 60),
            max_requests=policy.max_requests if policy else 1000,
            timeout_s=policy.timeout_seconds if policy else 30.0,
        )
        result = run_load(plan, senders(contract.id), clock=clock, sleep=sleep)
        held = verdict(
            result,
            min_success_rate=contract.release.min_success_rate,
            max_p95_ms=float(contract.latency_p95_ms),
        )
        report.add(
            f"load {contract.id}",
            _verdict(not held),
            result.render(f"{LOAD_TEST_MULTIPLIER:g} x peak {contract.release.peak_rps:g}/s")
            + ("" if not held else " -- " + "; ".join(held)),
        )


def human_review_check(
    report: GateReport,
    root: Path,
    target: str,
    *,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    timeout_s: float = REVIEW_WALK_TIMEOUT_S,
) -> None:
    """Issue 13's command, once: ``python -m human_review exercise --target <offline|env>``, stopped after
    ``timeout_s``. Without the command in this checkout the check is NOT RUN, and the gate holds."""
    spec = importlib.util.find_spec(HUMAN_REVIEW_MODULE) if env is None else None
    runner_env = {**os.environ, **(env or {})}
    if env is None and spec is None:
        report.add(
            "human review path",
            Verdict.NOT_RUN,
            f"`python -m {HUMAN_REVIEW_MODULE} exercise` is not in this checkout (issue 13's human review path)",
        )
        return
    code, output = _run_child(
        [sys.executable, "-m", HUMAN_REVIEW_MODULE, "exercise", "--target", target, *args],
        env=runner_env,
        cwd=root,
        timeout_s=timeout_s,
    )
    if code != 0 and f"No module named {HUMAN_REVIEW_MODULE}" in output:
        report.add(
            "human review path", Verdict.NOT_RUN, f"`python -m {HUMAN_REVIEW_MODULE}` is not in this checkout"
        )
        return
    report.add(
        "human review path",
        _verdict(code == 0),
        _last_lines(output, "the review path was exercised end to end"),
    )


def readiness_offline(
    root: Path,
    environment: str,
    assembly: Path,
    *,
    out: Path,
    use_cases: Sequence[str] = (),
    load_seconds: float | None = None,
    suites: bool = True,
) -> GateReport:
    """Gate 2 against local stand-ins: the API (SigV4-verifying, the real handler, the Bedrock emulator),
    moto for SNS and SQS, and the synthesized template's policies."""
    from botocore.credentials import Credentials

    from delivery.loadtest import invoke_url, request_body, signed_sender
    from delivery.notifications import carry_offline, deliverability
    from delivery.standin import serving
    from evaluation.targets import OfflineTarget, stack_name

    config = load_platform(root)
    report = GateReport(Gate.READINESS, environment, "offline")
    env = config.environment(environment)
    enabled = [c.id for c in config.contracts_for(environment) if not use_cases or c.id in use_cases]
    stack = _stack(assembly, environment)
    policy_problems, probe_problems = deliverability(stack)
    notification_check(report, carry_offline(stack), policy_problems, probe_problems)
    credentials = Credentials("offline", "offline")
    with OfflineTarget(config, enabled) as offline, serving(offline, credentials, env.region) as api:
        smoke_check(
            report, api_url=api.url, region=env.region, credentials=credentials, root=root, use_cases=enabled
        )
        if suites:
            outputs = out / "outputs.json"
            outputs.parent.mkdir(parents=True, exist_ok=True)
            outputs.write_text(
                json.dumps({stack_name(environment): _offline_outputs(offline, api.url, enabled)})
            )
            argv = ["--outputs-file", str(outputs), "--bedrock-endpoint-url", offline.endpoint_url]
            suites_check(report, config, root, environment, out=out, use_cases=enabled, argv=argv)
        else:
            report.add("suites (golden, adversarial)", Verdict.NOT_RUN, "left out (--no-suites)")
        load_checks(
            report,
            config,
            environment,
            senders=lambda uc: signed_sender(
                invoke_url(api.url, uc),
                request_body(root, uc),
                region=env.region,
                credentials=credentials,
                timeout_s=30,
            ),
            duration_s=load_seconds,
            use_cases=enabled,
        )
    human_review_check(report, root, "offline")
    return report


def _offline_outputs(offline: Any, api_url: str, use_cases: Sequence[str]) -> dict[str, str]:
    outputs = {Output.API_URL: api_url}
    for uc in use_cases:
        name = pascal(uc)
        outputs[f"{name}GuardrailId"] = offline.guardrail_arns[uc]
        outputs[f"{name}GuardrailVersion"] = "1"
        if uc in offline.judge_arns:
            outputs[f"{name}JudgeProfileArn"] = offline.judge_arns[uc]
    return outputs


#: Why the readiness gate rejects its smoke request's held answer: no caller is waiting for it.
SMOKE_REJECTION = "Smoke request of the readiness gate: held as the contract requires, not for release."
#: Why it rejects the answers its load test made a holding use case hold.
LOAD_REJECTION = "Load-test request of the readiness gate: held as the contract requires, not for release."


def readiness_deployed(
    root: Path,
    environment: str,
    assembly: Path,
    *,
    session: Any,
    out: Path,
    use_cases: Sequence[str] = (),
    load_seconds: float | None = None,
    role_arn: str | None = None,
) -> GateReport:
    """Gate 2 against the deployed environment with ``session``'s credentials: those of ``role_arn``
    where the gate assumed it (its children then assume it themselves: :func:`child_environment`)."""
    from delivery.loadtest import invoke_url, request_body, signed_sender
    from delivery.notifications import carry_deployed, deliverability, stack_alarm_names
    from evaluation.targets import describe_outputs, stack_name

    config = load_platform(root)
    report = GateReport(Gate.READINESS, environment, "deployed")
    region = config.environment(environment).region
    enabled = [c.id for c in config.contracts_for(environment) if not use_cases or c.id in use_cases]
    outputs = describe_outputs(session.client("cloudformation"), environment)
    missing = [k for k in (Output.API_URL, Output.PROBE_QUEUE_URL) if k not in outputs]
    if missing:
        report.add(
            "outputs",
            Verdict.HOLD,
            f"{stack_name(environment)} has no output {', '.join(missing)}: deploy this commit first",
        )
        return report
    credentials = session.get_credentials()
    holding = [
        c.id for c in config.contracts_for(environment) if c.id in enabled and c.review.hold_for_review
    ]
    reviews = None
    if holding and outputs.get(Output.REVIEWER_ROLE_ARN):
        from human_review.exercise import REVIEWER_SESSION, DeployedClient

        reviews = DeployedClient(
            api_url=outputs[Output.API_URL],
            region=region,
            reviewer_role_arn=outputs[Output.REVIEWER_ROLE_ARN],
            session=session,
            reviewer_name=REVIEWER_SESSION,
        )
    smoke_check(
        report,
        api_url=outputs[Output.API_URL],
        region=region,
        credentials=credentials,
        root=root,
        use_cases=enabled,
        holding=holding,
        reviews=reviews,
    )
    policy_problems, probe_problems = deliverability(_stack(assembly, environment))
    probes = carry_deployed(
        session.client("cloudwatch"),
        session.client("sqs"),
        alarm_names=stack_alarm_names(session.client("cloudformation"), stack_name(environment)),
        queue_url=outputs[Output.PROBE_QUEUE_URL],
        wait_s=NOTIFICATION_WAIT_S,
    )
    notification_check(report, probes, policy_problems, probe_problems)
    outputs_file = out / "outputs.json"
    outputs_file.parent.mkdir(parents=True, exist_ok=True)
    outputs_file.write_text(json.dumps({stack_name(environment): outputs}))
    argv = ["--outputs-file", str(outputs_file)]
    suites_check(
        report,
        config,
        root,
        environment,
        out=out,
        use_cases=enabled,
        argv=argv,
        env=child_environment(credentials, region, folder=out, role_arn=role_arn),
    )
    held: list[str] = []
    load_checks(
        report,
        config,
        environment,
        senders=lambda uc: signed_sender(
            invoke_url(outputs[Output.API_URL], uc),
            request_body(root, uc),
            region=region,
            credentials=credentials,
            timeout_s=30,
            held=held if uc in holding else None,
        ),
        duration_s=load_seconds,
        use_cases=enabled,
    )
    settle_check(report, reviews, held)
    human_review_check(
        report,
        root,
        environment,
        # after the suites and load tests: frozen again where it is not a profile
        env=child_environment(credentials, region, folder=out, role_arn=role_arn),
        args=["--outputs-file", str(outputs_file)],
    )
    return report


#: Where a process's own credentials come from, as botocore's provider names it (``Credentials.method``),
#: and the ``credential_source`` a profile names it by: the only sources a profile can assume a role from
#: without keys written into it (https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html).
#: CodeBuild gives a build its service role through the container endpoint, as ECS does.
_PROFILE_SOURCES = {"container-role": "EcsContainer", "iam-role": "Ec2InstanceMetadata"}
#: The profile a child of the gate runs under where it assumes the gate's role itself (child_environment).
CHILD_PROFILE = "bedrock-platform-gate"
_KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def _own_credential_source() -> str | None:
    """The ``credential_source`` naming where this process's own credentials come from, or None where a
    profile cannot name it (keys in the environment, a profile of the user's, SSO)."""
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    return _PROFILE_SOURCES.get(getattr(credentials, "method", "") or "")


def child_environment(
    credentials: Any, region: str, *, folder: Path, role_arn: str | None = None
) -> dict[str, str]:
    """The environment of a child process of the gate (the suites, the human review walk): this one's,
    with the gate's role session for the child.

    The gate's role session is chained (the pipeline step's role assumes it), so it lasts at most an hour
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html#id_roles_use_view-role-max-session).
    Where the gate assumed ``role_arn`` from credentials a profile can name (a CodeBuild step: the
    container endpoint), the child gets a profile (written to ``folder``) that assumes the role itself from
    the same source, under the gate's session name: botocore's assume-role provider then refreshes the
    child's keys before they expire, however long it runs. Elsewhere (the gate run by a person with keys or
    a profile of theirs) the child gets ``credentials`` frozen as it starts: botocore refreshes them first
    when they are within its refresh window (15 minutes), so a child started late in a long gate does not
    start with keys about to expire, but a child that itself runs longer than its keys fails."""
    environment = {**os.environ, "AWS_REGION": region}
    source = _own_credential_source() if role_arn else None
    if source is not None:
        profile = folder / "child-aws-config"
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(
            f"[profile {CHILD_PROFILE}]\nrole_arn = {role_arn}\nrole_session_name = {GATE_SESSION}\n"
            f"credential_source = {source}\nregion = {region}\n",
            encoding="utf-8",
        )
        for variable in _KEY_VARIABLES:  # keys in the environment come first in botocore's chain
            environment.pop(variable, None)
        return {**environment, "AWS_CONFIG_FILE": str(profile), "AWS_PROFILE": CHILD_PROFILE}
    frozen = credentials.get_frozen_credentials()
    environment.update(
        AWS_ACCESS_KEY_ID=frozen.access_key,
        AWS_SECRET_ACCESS_KEY=frozen.secret_key,
        AWS_SESSION_TOKEN=frozen.token or "",
    )
    environment.pop("AWS_PROFILE", None)
    return environment


def settle_check(report: GateReport, reviews: Any, held: Sequence[str]) -> None:
    """Reject, as a session of the reviewer role (``reviews``), every answer the load test made a use case
    that holds answers hold (``held``: their review ids), so none waits in the reviewers' queue."""
    if not held:
        return
    if reviews is None:
        report.add(
            "held load-test answers",
            Verdict.HOLD,
            f"{len(held)} of {len(held)} held answer(s) left pending: the stack has no ReviewerRoleArn output "
            "to settle them",
        )
        return
    from human_review.exercise import reject_held

    failed = [
        f"{review_id}: {problem}"
        for review_id in held
        if (problem := reject_held(reviews, review_id, LOAD_REJECTION)) is not None
    ]
    report.add(
        "held load-test answers",
        _verdict(not failed),
        f"{len(held)} held answer(s) rejected as the reviewer session"
        if not failed
        else f"{len(failed)} of {len(held)} held answer(s) left pending: " + "; ".join(failed[:5]),
    )


# ==================================================================== gate 3: canary


def canary_check(report: GateReport, trail: Sequence[Any]) -> None:
    last = trail[-1]
    checks = len(trail) - 1
    ok = last.decision in (BakeDecision.PROMOTED, BakeDecision.SKIP)
    report.add("canary bake", _verdict(ok), f"{last.decision.value} after {checks} checks: {last.detail}")


def parse_plants(values: Sequence[str]) -> list[tuple[str, float]]:
    """``<alarm logical ID or name>@<minute>`` -> (alarm, seconds into the bake)."""
    plants = []
    for value in values:
        alarm, _, minute = value.rpartition("@")
        if not alarm or not minute.replace(".", "", 1).isdigit():
            raise ValueError(f"--alarm {value!r}: write <alarm>@<minute>, e.g. --alarm Api5xx@30")
        plants.append((alarm, float(minute) * 60))
    return plants


def canary_offline(
    root: Path,
    environment: str,
    assembly: Path,
    *,
    plants: Sequence[tuple[str, float]] = (),
    bake_minutes: float | None = None,
    poll_minutes: float | None = None,
) -> tuple[GateReport, list[Any], dict[str, Any]]:
    """Gate 3 against production in moto, on a simulated clock: begin, check every poll until the bake ends.
    Before each check, the poll's requests at the production contracts' declared peak (``release.peak_rps``
    summed) go through the live alias, split as its routing says. Returns the report, the bake's states and
    where the live alias ended."""
    from delivery.canary import critical_alarms_of, offline_production, run_bake

    config = load_platform(root)
    policy = config.delivery.bake if config.delivery is not None else None
    bake_s = (bake_minutes if bake_minutes is not None else (policy.minutes if policy else 60)) * 60
    poll_s = (poll_minutes if poll_minutes is not None else (policy.poll_minutes if policy else 5)) * 60
    alarms = critical_alarms_of(_stack(assembly, environment))
    unknown = [alarm for alarm, _ in plants if not any(alarm in a for a in alarms)]
    if unknown:
        raise ValueError(
            f"--alarm {', '.join(unknown)}: not a critical alarm of {environment} (they are: {', '.join(alarms)})"
        )
    peak_rps = sum(contract.release.peak_rps for contract in config.contracts_for(environment))
    clock = _SimulatedClock()
    report = GateReport(Gate.CANARY, environment, "offline")
    with offline_production(environment, alarms, region=config.environment(environment).region) as production:

        def plant(elapsed: float) -> None:
            production.serve(round(peak_rps * poll_s), at=clock() - poll_s / 2)
            for alarm, at in plants:
                if elapsed >= at:
                    production.set_alarm(next(a for a in alarms if alarm in a), "ALARM")

        trail = run_bake(
            production.clients,
            environment=environment,
            stack_name=production.stack_name,
            bake_seconds=bake_s,
            poll_seconds=poll_s,
            clock=clock,
            sleep=clock.sleep,
            before_check=plant,
            policy=policy,
        )
        live = dict(production.live())
    canary_check(report, trail)
    return report, trail, live


class _SimulatedClock:
    """Time that passes only when the bake waits: a 72-hour bake checks in milliseconds."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def _exit_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit while this runs (in the main thread; elsewhere Python cannot
    handle signals): their default action ends the process with no Python code run, and a bake run by hand
    must roll its canary back when its terminal closes or its container stops (``run_bake``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, _: Any) -> None:
        raise SystemExit(128 + number)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def canary_deployed(root: Path, environment: str, *, session: Any) -> tuple[GateReport, list[Any]]:
    """Gate 3 against production with ``session``'s credentials (the release role), on the real clock:
    it returns when the bake ends (``bake.minutes``). Interrupted (Ctrl-C, SIGTERM, SIGHUP), it rolls the
    canary back before it stops: no state machine stands behind it to clear the canary's share."""
    from delivery.canary import run_bake
    from evaluation.targets import stack_name
    from lambdas.canary_bake.bake import Clients

    config = load_platform(root)
    if config.delivery is None:
        raise ValueError("no delivery/pipeline.yaml: the bake's time comes from it")
    clients = Clients(
        cloudformation=session.client("cloudformation"),
        lambda_=session.client("lambda"),
        cloudwatch=session.client("cloudwatch"),
        ssm=session.client("ssm"),
    )
    with _exit_on_termination():
        trail = run_bake(
            clients,
            environment=environment,
            stack_name=stack_name(environment),
            bake_seconds=config.delivery.bake.minutes * 60,
            poll_seconds=config.delivery.bake.poll_minutes * 60,
            policy=config.delivery.bake,
        )
    report = GateReport(Gate.CANARY, environment, "deployed")
    canary_check(report, trail)
    return report, trail


# ==================================================================== helpers


def _stack(assembly: Path, environment: str) -> Any:
    from compliance.assembly import load_assembly

    name = platform_stack_path(environment)
    for stack in load_assembly(assembly):
        if stack.name == name:
            return stack
    raise FileNotFoundError(f"{assembly} has no stack {name}: run `make synth` first (or pass --assembly)")


def _quietly(function: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = function(argv)
    return code, buffer.getvalue()


def _last_lines(output: str, success: str, count: int = 4) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    failures = [
        line for line in lines if line.startswith("- ") or "FAIL" in line or "HOLD" in line or "below" in line
    ]
    if not failures:
        return success
    return " | ".join(failures[:count]) + (
        f" | ... {len(failures) - count} more" if len(failures) > count else ""
    )


def assumed_session(role_arn: str, region: str) -> Any:
    """A boto3 session whose credentials come from assuming ``role_arn`` and are refreshed before they
    expire (botocore's assume-role provider: a chained role session lasts at most an hour)."""
    import boto3
    import botocore.session
    from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

    source = botocore.session.get_session()
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=source.create_client,
        source_credentials=source.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": GATE_SESSION},
    )
    core = botocore.session.get_session()
    core._credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    core.set_config_variable("region", region)
    return boto3.Session(botocore_session=core, region_name=region)


@contextlib.contextmanager
def _results_folder(out: Path | None) -> Iterator[Path]:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        yield out
    else:
        with tempfile.TemporaryDirectory(prefix="bedrock-gate-") as folder:
            yield Path(folder)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.gates",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("gate", choices=[g.value for g in Gate])
    parser.add_argument("--env", help="the environment (readiness, canary)")
    parser.add_argument(
        "--assembly", type=Path, default=Path("cdk.out"), help="the synthesized assembly (make synth)"
    )
    parser.add_argument("--offline", action="store_true", help="against local stand-ins, no AWS")
    parser.add_argument("--role-arn", help="assume this role for the environment's calls (the pipeline does)")
    parser.add_argument(
        "--use-case",
        action="append",
        default=[],
        help="readiness: only this use case (repeatable; a quick look: the suites check, and so the gate, holds)",
    )
    parser.add_argument(
        "--load-seconds", type=float, help="readiness: load-test each use case this long instead"
    )
    parser.add_argument(
        "--no-suites",
        action="store_true",
        help="governance, readiness --offline: leave the suites out (a quick look: the gate holds)",
    )
    parser.add_argument(
        "--alarm", action="append", default=[], help="canary --offline: set <alarm>@<minute> to ALARM"
    )
    parser.add_argument("--bake-minutes", type=float, help="canary --offline: bake this long instead")
    parser.add_argument("--poll-minutes", type=float, help="canary --offline: check this often instead")
    parser.add_argument("--out", type=Path, default=Path(GATE_RESULTS), help="where results are written")
    parser.add_argument("--root", type=Path, default=ROOT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("INSPECT_DISPLAY", "none")
    root = args.root.resolve()
    try:
        config = load_platform(root)
    except ConfigError as error:
        print(error.report(f"the {args.gate} gate did not run"), file=sys.stderr)
        return 2
    gate = Gate(args.gate)
    if gate is not Gate.GOVERNANCE:
        known = [env.name for env in config.environments]
        if args.env not in known:
            print(f"{gate} needs --env, one of {', '.join(known)} (got {args.env!r})", file=sys.stderr)
            return 2
    out = args.out.resolve()
    try:
        with _results_folder(out) as folder:
            report = _run(gate, args, root, config, folder)
            path = folder / f"{gate.value}-{args.env or 'all'}.json"
            path.write_text(json.dumps(report.document(), indent=1) + "\n", encoding="utf-8")
    except (ValueError, FileNotFoundError, LookupError) as error:
        print(f"{gate}: {error}", file=sys.stderr)
        return 2
    print(report.render())
    return 0 if report.verdict is Verdict.PASS else 1


def _run(gate: Gate, args: argparse.Namespace, root: Path, config: PlatformConfig, out: Path) -> GateReport:
    assembly = args.assembly.resolve()
    if gate is Gate.GOVERNANCE:
        return governance(root, assembly, config=config, out=out, suites=not args.no_suites)
    if gate is Gate.READINESS:
        if args.offline:
            return readiness_offline(
                root,
                args.env,
                assembly,
                out=out,
                use_cases=args.use_case,
                load_seconds=args.load_seconds,
                suites=not args.no_suites,
            )
        session = _session(args, config)
        return readiness_deployed(
            root,
            args.env,
            assembly,
            session=session,
            out=out,
            use_cases=args.use_case,
            load_seconds=args.load_seconds,
            role_arn=args.role_arn,
        )
    if args.offline:
        report, _, _ = canary_offline(
            root,
            args.env,
            assembly,
            plants=parse_plants(args.alarm),
            bake_minutes=args.bake_minutes,
            poll_minutes=args.poll_minutes,
        )
        return report
    report, _ = canary_deployed(root, args.env, session=_session(args, config))
    return report


def _session(args: argparse.Namespace, config: PlatformConfig) -> Any:
    import boto3

    from evaluation.targets import require_credentials

    region = config.environment(args.env).region
    session = boto3.Session(region_name=region)
    require_credentials(session, args.env)  # yours, or those that assume --role-arn
    return assumed_session(args.role_arn, region) if args.role_arn else session


if __name__ == "__main__":
    sys.exit(main())
