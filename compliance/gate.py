"""The compliance gate: this project's rules and cfn-lint as a CDK policy-validation plugin.

``stacks.platform.build_platform`` adds it to the App next to the cdk-nag packs, so every synth applies
it: ``npx cdk synth '**'``, ``cdk deploy`` (which synthesizes first), ``make synth``, ``python app.py`` and
the tests. CDK runs each plugin after the templates are written, with every stack of the App, and:

- fails synth on any violation, printing the rule, the resource (construct path and logical ID), the
  message and the fix; ``cdk.out/validation-report.json`` holds the same report;
- drops a violation that is acknowledged on the resource or one of its parents, exactly as for
  cdk-nag: ``bedrock_constructs.nag.acknowledge(resource, "BedrockPlatform::<RULE>", reason)``.

The gate checks:

- every rule in :data:`compliance.bedrock_rules.RULES`, over the whole assembly (some rules compare
  stacks, e.g. one invocation logging setting per account and region);
- cfn-lint on every template, for its stack's own region: every error and warning is a violation
  ``CFN-LINT-<check>`` (``bedrock_constructs.lint.ignore_cfn_lint_check`` ignores a check on one
  resource, with its reason in the template).

It also writes ``<assembly>/bedrock-platform-gate.json``: which rules ran over which stacks, whether
cfn-lint ran, how long it took, the versions of the tools (aws-cdk-lib, cdk-nag, cfn-lint, the CDK CLI
that ran the app), every acknowledgment with the resources it covers, and every cfn-lint check a template
ignores with its reason. With CDK's ``validation-report.json`` (unacknowledged violations only; CDK leaves
a plugin without violations out of it) that is the gate's one result: ``python -m compliance.check``,
the review pack and the tests read it (:mod:`compliance.gate_result`), and nothing runs a check again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from compliance.assembly import StackTemplate, load_assembly, template_digest
from compliance.assembly_meta import stack_artifacts
from compliance.bedrock_rules import RULE_IDS, RULES, Finding, run_rules
from compliance.lint import LintFinding, LintRun, lint_ignores
from platform_config.markers import CFN_LINT_PREFIX, GATE_NAME, GATE_RESULT_FILE

#: The Python distributions whose versions the gate records (what synthesized and checked the assembly).
TOOL_DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "cdk-nag", "cfn-lint", "bedrock-platform")
#: The CDK CLI tells the app it runs which CLI it is through this variable (checked with aws-cdk
#: 2.1148.1: it also sets CDK_OUTDIR, CDK_CONTEXT_JSON and CDK_CLI_ASM_VERSION). Unset when the app runs
#: without the CLI (``python app.py``, the tests). Recorded in the gate's result only: no template reads it.
CLI_VERSION_VARIABLE = "CDK_CLI_VERSION"


def _package_version() -> str:
    try:
        return version("bedrock-platform")
    except PackageNotFoundError:
        return "0.0.0"


def tool_versions() -> dict[str, str | None]:
    """The version of every tool that took part in this synth (None: not installed / not run by it)."""
    versions: dict[str, str | None] = {}
    for distribution in TOOL_DISTRIBUTIONS:
        try:
            versions[distribution] = version(distribution)
        except PackageNotFoundError:
            versions[distribution] = None
    versions["aws-cdk CLI"] = os.environ.get(CLI_VERSION_VARIABLE)
    versions["python"] = platform.python_version()
    return versions


def _acknowledgments(outdir: Path, stacks: Sequence[StackTemplate]) -> list[dict[str, Any]]:
    """Every acknowledgment CDK recorded on a construct of ``stacks``, with the resources it covers."""
    artifacts = stack_artifacts(outdir)
    return [
        dataclasses.asdict(ack)
        for stack in stacks
        if stack.name in artifacts
        for ack in artifacts[stack.name].acknowledgments(stack.template)
    ]


def _lint_finding(stack: StackTemplate, finding: LintFinding) -> Finding:
    return Finding(
        f"{CFN_LINT_PREFIX}{finding.check}",
        stack.name,
        finding.resource,
        f"{finding.message} (template line {finding.line})",
        "fix the template, or ignore this check on this one resource with a reason through "
        "bedrock_constructs.lint.ignore_cfn_lint_check",
    )


def gate_findings(stacks: Sequence[StackTemplate], *, lint: bool = True) -> list[Finding]:
    """Everything the gate reports for ``stacks``: every rule, then cfn-lint (unless ``lint`` is false)."""
    # Worker processes lint (one per CPU) while the rules run in this process.
    lint_run = LintRun(stacks, in_process=False) if lint else None
    findings = [f for rule_findings in run_rules(stacks).values() for f in rule_findings]
    if lint_run is not None:
        results = lint_run.findings()
        findings += [_lint_finding(stack, f) for stack in stacks for f in results[stack.name]]
    return findings


def _violation(finding: Finding, stacks_by_name: dict[str, StackTemplate]) -> cdk.PolicyViolation:
    stack = stacks_by_name.get(finding.stack)
    if stack is not None and finding.resource in stack.resources:
        resource = cdk.PolicyViolatingResource(
            resource_logical_id=finding.resource, template_path=str(stack.path), locations=["Properties"]
        )
    else:
        # About a stack, or an account and region: report it on the stack (or the first stack there).
        owner = stack or next(
            (s for s in stacks_by_name.values() if f"aws://{s.account}/{s.region}" == finding.stack), None
        )
        resource = cdk.PolicyViolatingResource(
            construct_path=owner.name if owner else finding.stack, locations=["Template"]
        )
    return cdk.PolicyViolation(
        rule_name=finding.rule,
        description=finding.message,
        fix=finding.fix or None,
        severity="error",
        violating_resources=[resource],
    )


@jsii.implements(cdk.IPolicyValidationPlugin)
class ComplianceGate:
    """This project's rules and cfn-lint as one CDK policy-validation plugin.

    Implements the stable ``IPolicyValidationPlugin`` (what ``Validations.add_plugins`` takes): its
    context lists each stack with its own account and region, which the per-account rules need.
    ``lint=False`` leaves cfn-lint out (for tests of the rules alone).
    """

    def __init__(self, *, lint: bool = True) -> None:
        self._lint = lint

    @property
    def name(self) -> str:
        return GATE_NAME

    @property
    def version(self) -> str:
        return _package_version()

    @property
    def rule_ids(self) -> list[str]:
        return list(RULE_IDS)

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        started = time.perf_counter()
        app = context.app_construct
        outdir = Path(app.outdir) if isinstance(app, cdk.Stage) else Path(context.template_paths[0]).parent
        wanted = {str(Path(p).resolve()) for p in context.template_paths}
        stacks = [s for s in load_assembly(outdir) if str(s.path.resolve()) in wanted]
        findings = gate_findings(stacks, lint=self._lint)
        by_name = {s.name: s for s in stacks}
        (outdir / GATE_RESULT_FILE).write_text(
            json.dumps(
                {
                    "plugin": GATE_NAME,
                    "version": self.version,
                    "tools": tool_versions(),
                    "rules": {rule_id: _summary(rule_id) for rule_id in RULE_IDS},
                    "cfn_lint": self._lint,
                    "stacks": sorted(by_name),
                    # what each template was when checked: a template changed since is not what passed
                    "templates": {s.name: template_digest(s.path) for s in stacks},
                    "seconds": round(time.perf_counter() - started, 2),
                    "acknowledgments": _acknowledgments(outdir, stacks),
                    "cfn_lint_ignores": [
                        dataclasses.asdict(ignore) for stack in stacks for ignore in lint_ignores(stack)
                    ],
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        return cdk.PolicyValidationPluginReport(
            success=not findings,
            violations=[_violation(f, by_name) for f in findings],
            plugin_version=self.version,
        )


def _summary(rule_id: str) -> str:
    rule = RULES.get(rule_id)
    doc = (rule.__doc__ if rule else None) or {
        "BEDROCK-GUARDRAIL-VERSION": "Every guardrail has a published version."
    }.get(rule_id, "")
    return " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")


def add_gate(scope: cdk.Stage, *, lint: bool = True) -> ComplianceGate:
    """Run the compliance gate over every stack under ``scope`` (normally the App) at every synth."""
    gate = ComplianceGate(lint=lint)
    cdk.Validations.of(scope).add_plugins(gate)
    return gate
