"""The compliance gate: what the checks that ran at synth found in this environment, read from their one
result (:mod:`compliance.gate_result`): every cdk-nag pack, cfn-lint and each of this project's rules, and
the stacks and resource types they covered. Nothing is checked again here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from compliance.bedrock_rules import RULE_IDS
from compliance.gate_result import GateResult, Violation
from compliance.report.document import BAD, Section, Table, cell, code, status
from compliance.report.environment import Environment
from compliance.report.topic import FAIL, NOT_RUN, PASS, EvidenceCheck, RenderContext, Topic
from platform_config.markers import GATE_RESULT_FILE

#: The cdk-nag packs ``bedrock_constructs.nag.NAG_PACKS`` runs, by the name their findings carry.
NAG_PACK_NAMES = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless")
#: How the control mapping describes each rule of the gate (the rule's own summary otherwise).
RULE_EVIDENCE = {
    "BEDROCK-COST-TAGS": "profiles carry every cost allocation tag",
    "BEDROCK-PROMPT-ATTACK": "guardrails filter prompt attacks on input at MEDIUM or HIGH",
    "BEDROCK-GUARDRAIL-VERSION": "every guardrail has a published version",
    "BEDROCK-SCOPED-INVOKE": "no bedrock:* or invoke on */foundation-model/*",
    "BEDROCK-INVOCATION-LOGGING": "invocation logging configured once per account and region",
    "BEDROCK-LOGGING-FLAGS": "every invocation logging delivery flag stated",
    "BEDROCK-ENFORCED-GUARDRAIL": "an account-level enforced guardrail on a published version (or a stated opt-out)",
    "BEDROCK-MODEL-VIA-PROFILE": "foundation models invocable only through the cost-tagged profiles",
    "ALARM-ACTIONS": "every alarm notifies on ALARM and OK",
    "ALARM-DELIVERY": "topic and key policies let CloudWatch and Budgets deliver every notification",
    "RETAINED-FIXED-NAME": "no retained resource with a fixed physical name",
    "APIGW-EXECUTION-LOGS": "API execution logs go to an owned, encrypted log group with retention",
    "NAG-COVERAGE": "no resource escapes the cdk-nag packs",
}


def plugin_label(plugin: str) -> str:
    """A validation plugin's row: ``cdk-nag <pack>`` for the packs, the plugin's own name otherwise (the two
    CDK adds itself, "CloudFormation Validate" and "Construct Annotations", are listed only when they
    found something)."""
    return f"cdk-nag {plugin}" if plugin in NAG_PACK_NAMES else plugin


@dataclass(frozen=True)
class StackSummary:
    name: str
    account: str
    region: str
    resources: int
    termination_protection: bool


@dataclass(frozen=True)
class GateFacts:
    result: GateResult
    stacks: tuple[StackSummary, ...]
    resource_types: tuple[tuple[str, int], ...]

    @property
    def nag_status(self) -> dict[str, tuple[str, list[Violation]]]:
        found = self.result.nag_findings()
        packs = list(NAG_PACK_NAMES) + sorted(set(found) - set(NAG_PACK_NAMES))
        ran = self.result.validation_report
        return {
            pack: ((FAIL if found.get(pack) else PASS) if ran else NOT_RUN, found.get(pack, []))
            for pack in packs
        }

    @property
    def lint_status(self) -> str:
        if not (self.result.ran and self.result.cfn_lint_ran):
            return NOT_RUN
        return FAIL if self.result.lint_findings() else PASS

    def rule_status(self, rule: str) -> tuple[str, list[Violation]]:
        if not self.result.ran or rule not in self.result.rules:
            return NOT_RUN, []
        found = self.result.rule_findings().get(rule, [])
        return (FAIL if found else PASS), found


def _checks_table(facts: GateFacts) -> Table:
    result = facts.result
    checks = Table(
        "gate-checks", ["Check", "Result", "Detail"], caption="What the compliance gate found at synth"
    )
    if result.problems:
        checks.add([cell("gate coverage"), status(FAIL), cell("\n".join(result.problems), flag=BAD)])
    for pack, (state, found) in facts.nag_status.items():
        detail = "\n".join(v.render() for v in found) or (
            "no unacknowledged finding (validation-report.json holds no report for this pack)"
            if state == PASS
            else "validation-report.json is missing: synth did not run the cdk-nag plugins"
        )
        checks.add(
            [cell(plugin_label(pack)), status(state), cell(detail, flag=BAD if found else None)],
            subjects=[v.logical_id for v in found],
        )
    lint = facts.lint_status
    lint_found = result.lint_findings()
    checks.add(
        [
            cell("cfn-lint"),
            status(lint),
            cell(
                "\n".join(v.render() for v in lint_found)
                or (
                    "no error or warning, each template linted for its stack's region"
                    if lint == PASS
                    else f"cfn-lint did not run in the gate ({GATE_RESULT_FILE})"
                ),
                flag=BAD if lint_found else None,
            ),
        ],
        subjects=[v.logical_id for v in lint_found],
    )
    for rule in result.rules or {rule: "" for rule in RULE_IDS}:
        state, found = facts.rule_status(rule)
        checks.add(
            [
                cell(rule),
                status(state),
                cell(
                    "\n".join(v.render() for v in found)
                    or (result.rules.get(rule, "") if state == PASS else "the compliance gate did not run"),
                    flag=BAD if found else None,
                ),
            ],
            subjects=[v.logical_id for v in found],
        )
    return checks


def render_gate(facts: GateFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    stacks = Table("gate-stacks", ["Stack", "Account", "Region", "Resources", "Termination protection"])
    for stack in facts.stacks:
        stacks.add(
            [
                code(stack.name),
                code(stack.account),
                code(stack.region),
                cell(stack.resources),
                cell("on" if stack.termination_protection else "off"),
            ]
        )
    section.add(stacks)
    section.add(_checks_table(facts))
    types = Table(
        "gate-types",
        ["Resource type", "Count"],
        caption=f"{sum(n for _, n in facts.resource_types)} resources",
    )
    for resource_type, count in facts.resource_types:
        types.add([code(resource_type), cell(count)])
    section.add(types)
    return section


def _cdk_nag(facts: GateFacts) -> tuple[str, str]:
    states = facts.nag_status
    if any(state == NOT_RUN for state, _ in states.values()):
        return NOT_RUN, "validation-report.json is missing: synth did not run the cdk-nag plugins"
    failing = [f"{pack}: {len(found)} unacknowledged" for pack, (state, found) in states.items() if found]
    return (
        (FAIL, "; ".join(failing)) if failing else (PASS, f"{len(states)} packs, no unacknowledged finding")
    )


def _cfn_lint(facts: GateFacts) -> tuple[str, str]:
    state = facts.lint_status
    if state == NOT_RUN:
        return NOT_RUN, "cfn-lint did not run in the compliance gate"
    found = facts.result.lint_findings()
    return (FAIL, "; ".join(v.render() for v in found)) if found else (PASS, "no error or warning")


def _rule(rule: str) -> EvidenceCheck:
    def check(facts: GateFacts) -> tuple[str, str]:
        state, found = facts.rule_status(rule)
        if state == NOT_RUN:
            return NOT_RUN, "the compliance gate did not run this rule"
        return (FAIL, "; ".join(v.render() for v in found)) if found else (PASS, f"{rule}: no finding")

    return EvidenceCheck(RULE_EVIDENCE.get(rule, rule), check)


class GateTopic(Topic[GateFacts]):
    id = "gate"
    title = "Compliance gate"

    def extract(self, env: Environment) -> GateFacts:
        protection = {a.name: a.termination_protection for a in env.artifacts}
        return GateFacts(
            env.gate,
            tuple(
                StackSummary(s.name, s.account, s.region, len(s.resources), protection.get(s.name, False))
                for s in env.stacks
            ),
            tuple(sorted(Counter(r.type for r in env.resources).items())),
        )

    def render(self, facts: GateFacts, ctx: RenderContext) -> Section:
        return render_gate(facts, ctx)

    def counts(self, facts: GateFacts) -> list[tuple[str, str]]:
        stacks = ", ".join(
            f"{s.name} ({s.account}, {s.region}, termination protection {'on' if s.termination_protection else 'off'})"
            for s in facts.stacks
        )
        return [("Stacks", stacks), ("Resources", str(sum(s.resources for s in facts.stacks)))]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "CDK-NAG": EvidenceCheck("every cdk-nag pack passes (no unacknowledged finding)", _cdk_nag),
            "CFN-LINT": EvidenceCheck("cfn-lint: no error or warning in any template", _cfn_lint),
            **{rule: _rule(rule) for rule in RULE_IDS},
        }


TOPIC = GateTopic()
