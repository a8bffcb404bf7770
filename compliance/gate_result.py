"""The one result of the compliance gate, read back from a synthesized cloud assembly.

Every check runs once, at synth, as a CDK policy-validation plugin (the cdk-nag packs and
``compliance.gate``: this project's rules and cfn-lint). What they found is in two files of the assembly:

- ``validation-report.json`` (written by CDK): every unacknowledged violation, by plugin. CDK lists a plugin
  only when it has violations, so a clean run holds ``"pluginReports": []``.
- ``bedrock-platform-gate.json`` (written by the gate): which rules ran over which stacks, whether cfn-lint
  ran, the versions of the tools that synthesized and checked the assembly, every acknowledgment (cdk-nag's
  and the gate's, with the resources each covers) and every cfn-lint check a template ignores, with its
  reason. A missing file, or a stack it does not list, means synth skipped the gate.

``python -m compliance.check``, the review pack (``compliance.report``) and the tests read the gate's result
through :func:`read_gate_result`; none of them runs a check again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compliance.assembly import template_digest, template_files
from compliance.assembly_meta import Acknowledgment, stage_of
from compliance.lint import LintIgnore
from platform_config.markers import CFN_LINT_PREFIX, GATE_NAME, GATE_RESULT_FILE

__all__ = ["Acknowledgment", "GateResult", "LintIgnore", "Violation", "read_gate_result"]

VALIDATION_REPORT = "validation-report.json"


@dataclass(frozen=True)
class Violation:
    """One unacknowledged finding of one plugin on one construct (from ``validation-report.json``)."""

    plugin: str  # "AwsSolutions", "BedrockPlatform", ...
    rule: str  # "AwsSolutions-S1", "BEDROCK-COST-TAGS", "CFN-LINT-W3005"
    construct_path: str  # "Prod/Platform/Bucket/Resource" (no leading "/"), or "Prod/Platform"
    logical_id: str  # "" when the finding is about a stack or an account and region
    message: str
    fix: str = ""

    @property
    def stage(self) -> str:
        return stage_of(self.construct_path)

    def render(self) -> str:
        where = self.construct_path + (f" ({self.logical_id})" if self.logical_id else "")
        return f"{self.rule} on {where}: {self.message}" + (f" Fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class GateResult:
    """What the compliance gate found in an assembly (or in one Stage of it: :meth:`for_stage`)."""

    assembly: Path
    stacks: tuple[str, ...]  # every stack of the assembly (or of the Stage)
    ran: bool  # the gate wrote its result
    validation_report: bool  # CDK wrote validation-report.json (it runs every plugin)
    validated_stacks: tuple[str, ...] = ()
    version: str = ""
    tools: Mapping[str, str | None] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)  # rule id -> what it checks
    cfn_lint_ran: bool = False
    seconds: float | None = None
    violations: tuple[Violation, ...] = ()
    plugin_failures: tuple[str, ...] = ()  # plugins that failed without reporting violations
    acknowledgments: tuple[Acknowledgment, ...] = ()
    lint_ignores: tuple[LintIgnore, ...] = ()
    #: stacks whose template file differs from the one the gate checked (its recorded SHA-256)
    changed_templates: tuple[str, ...] = ()

    @property
    def problems(self) -> list[str]:
        """Why this result cannot be trusted (empty when the gate covered every stack)."""
        if not self.ran:
            return [
                f"{self.assembly / GATE_RESULT_FILE} is missing: synth did not run the compliance gate "
                "(is compliance-checks off?)"
            ]
        uncovered = sorted(set(self.stacks) - set(self.validated_stacks))
        if uncovered:
            return [f"the compliance gate did not validate {uncovered}: synth did not select them"]
        if self.changed_templates:
            return [
                f"the template of {list(self.changed_templates)} changed after the compliance gate checked it: "
                "its result is not about this template. Fix: synthesize again (make synth) instead of editing "
                "templates in the assembly"
            ]
        return []

    def nag_findings(self) -> dict[str, list[Violation]]:
        """Unacknowledged findings by plugin, every plugin but the gate: the cdk-nag packs, and the two CDK
        adds itself where they found something, "CloudFormation Validate" (CDK fails synth on its errors,
        as cdk.json sets ``@aws-cdk/core:validateAgainstDefaultRules``, but only prints its warnings) and
        "Construct Annotations" (construct libraries' warnings, which CDK prints); here all count like
        any other finding."""
        found: dict[str, list[Violation]] = {}
        for violation in self.violations:
            if violation.plugin != GATE_NAME:
                found.setdefault(violation.plugin, []).append(violation)
        return found

    def rule_findings(self) -> dict[str, list[Violation]]:
        """Unacknowledged findings of every rule the gate ran (cfn-lint's apart), by rule id."""
        found: dict[str, list[Violation]] = {rule: [] for rule in self.rules}
        for violation in self.violations:
            if violation.plugin == GATE_NAME and not violation.rule.startswith(CFN_LINT_PREFIX):
                found.setdefault(violation.rule, []).append(violation)
        return found

    def lint_findings(self) -> list[Violation]:
        """Unacknowledged cfn-lint errors and warnings (``CFN-LINT-<check>``)."""
        return [v for v in self.violations if v.plugin == GATE_NAME and v.rule.startswith(CFN_LINT_PREFIX)]

    @property
    def passed(self) -> bool:
        return not (self.problems or self.violations or self.plugin_failures)

    def for_stage(self, stage: str) -> GateResult:
        """The part of this result about the stacks of one Stage (environment)."""
        return replace(
            self,
            stacks=tuple(s for s in self.stacks if stage_of(s) == stage),
            validated_stacks=tuple(s for s in self.validated_stacks if stage_of(s) == stage),
            violations=tuple(v for v in self.violations if v.stage == stage),
            acknowledgments=tuple(a for a in self.acknowledgments if stage_of(a.stack) == stage),
            lint_ignores=tuple(i for i in self.lint_ignores if stage_of(i.stack) == stage),
            changed_templates=tuple(s for s in self.changed_templates if stage_of(s) == stage),
        )


def _violations(report: dict[str, Any]) -> tuple[list[Violation], list[str]]:
    violations, failures = [], []
    for plugin in report.get("pluginReports", []):
        name = str(plugin.get("pluginName", "?"))
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                resource = construct.get("cloudFormationResource") or {}
                violations.append(
                    Violation(
                        plugin=name,
                        rule=str(violation.get("ruleName", "?")),
                        construct_path=str(construct.get("constructPath") or "").lstrip("/"),
                        logical_id=str(resource.get("logicalId") or ""),
                        message=str(violation.get("description", "")),
                        fix=str(violation.get("suggestedFix") or violation.get("fix") or ""),
                    )
                )
        if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
            failures.append(f"{name}: {(plugin.get('metadata') or {}).get('error', 'failed')}")
    return violations, failures


def read_gate_result(assembly_dir: Path | str) -> GateResult:
    """The gate's result for every stack of the assembly at ``assembly_dir``.

    Raises FileNotFoundError when ``assembly_dir`` is not a cloud assembly."""
    directory = Path(assembly_dir)
    if not (directory / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{directory} is not a cloud assembly (no manifest.json); run `make synth` first"
        )
    # The stacks' names, from the manifests alone (their metadata files are not needed here).
    stacks = tuple(template_files(directory))
    report_path = directory / VALIDATION_REPORT
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    violations, failures = _violations(report)
    result_path = directory / GATE_RESULT_FILE
    if not result_path.is_file():
        return GateResult(
            directory,
            stacks,
            ran=False,
            validation_report=report_path.is_file(),
            violations=tuple(violations),
            plugin_failures=tuple(failures),
        )
    gate = json.loads(result_path.read_text(encoding="utf-8"))
    checked = gate.get("templates") or {}
    # The manifests name the template files: their digests need no template parsed (loading the whole
    # assembly here was ~55 ms of every read of a gate result, the review pack reading one per Stage).
    changed = tuple(
        name
        for name, path in template_files(directory).items()
        if name in checked and checked[name] != template_digest(path)
    )
    return GateResult(
        directory,
        stacks,
        ran=True,
        validation_report=report_path.is_file(),
        validated_stacks=tuple(gate.get("stacks") or ()),
        version=str(gate.get("version", "")),
        tools=dict(gate.get("tools") or {}),
        rules=dict(gate.get("rules") or {}),
        cfn_lint_ran=bool(gate.get("cfn_lint")),
        seconds=gate.get("seconds"),
        violations=tuple(violations),
        plugin_failures=tuple(failures),
        acknowledgments=tuple(
            Acknowledgment(
                stack=str(a["stack"]),
                construct_path=str(a["construct_path"]),
                finding=str(a["finding"]),
                reason=str(a["reason"]),
                resources=tuple(a.get("resources") or ()),
            )
            for a in gate.get("acknowledgments") or ()
        ),
        lint_ignores=tuple(
            LintIgnore(str(i["stack"]), str(i["resource"]), str(i["check"]), i.get("reason"))
            for i in gate.get("cfn_lint_ignores") or ()
        ),
        changed_templates=changed,
    )
