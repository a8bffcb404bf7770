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

It also writes ``<assembly>/bedrock-platform-gate.json`` (which rules ran over which stacks, and how long
it took), so ``python -m compliance.check`` can tell a passing gate from one that did not run: CDK
leaves a plugin without violations out of ``validation-report.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import aws_cdk as cdk
import jsii

from compliance.assembly import StackTemplate, load_assembly
from compliance.bedrock_rules import RULE_IDS, RULES, Finding, run_rules
from compliance.report.lint import LintFinding, LintRun
from platform_config.markers import CFN_LINT_PREFIX, GATE_NAME, GATE_RESULT_FILE

#: What the gate writes beside the assembly's manifest.


def _package_version() -> str:
    try:
        return version("bedrock-platform")
    except PackageNotFoundError:
        return "0.0.0"


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
                    "rules": {rule_id: _summary(rule_id) for rule_id in RULE_IDS},
                    "cfn_lint": self._lint,
                    "stacks": sorted(by_name),
                    "seconds": round(time.perf_counter() - started, 2),
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
