"""Bedrock rules no scanner has, checked over synthesized templates.

Each rule takes the stacks of a whole cloud assembly and returns findings; an empty list is a pass.
They run in ``make synth`` (``python -m compliance.check``) and in the test suite.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from compliance.assembly import StackTemplate

#: Tags every application inference profile must carry for cost allocation.
REQUIRED_COST_TAGS = ("cost-center", "team", "application", "environment", "use-case")
PROMPT_ATTACK_MIN_STRENGTHS = ("MEDIUM", "HIGH")
INVOCATION_LOGGING_TYPE = "Custom::BedrockModelInvocationLogging"
_INVOKE_ACTION = re.compile(r"^bedrock:(invoke|\*|invokemodel\*?)", re.IGNORECASE)
_BROAD_MODEL_RESOURCE = re.compile(
    r"(^\*$|:(foundation-model|inference-profile|application-inference-profile)/\*$|:bedrock:[^:]*:[^:]*:\*$)"
)
_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")


@dataclass(frozen=True)
class Finding:
    rule: str
    stack: str
    resource: str
    message: str

    def render(self) -> str:
        return f"[{self.rule}] {self.stack}/{self.resource}: {self.message}"


Rule = Callable[[Sequence[StackTemplate]], list[Finding]]


def render_value(value: Any) -> str:
    """A CloudFormation value as a readable string: intrinsics become ``<Ref>`` placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            return str(arg[0]).join(render_value(v) for v in arg[1])
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    """A CloudFormation "string or list" value as a list (``None`` becomes empty)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_statements(stack: StackTemplate) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in identity policies of the stack (inline, managed and role policies)."""
    for logical_id, resource in stack.resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        documents = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props.get("PolicyDocument", {}))
        elif kind == "AWS::IAM::Role":
            documents.extend(p.get("PolicyDocument", {}) for p in props.get("Policies", []) or [])
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                yield logical_id, statement


def rule_cost_tags(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every application inference profile carries every cost allocation tag, non-empty."""
    findings = []
    for stack in stacks:
        for logical_id, resource in stack.resources_of_type("AWS::Bedrock::ApplicationInferenceProfile"):
            tags = {
                t.get("Key"): t.get("Value") for t in resource.get("Properties", {}).get("Tags", []) or []
            }
            missing = [t for t in REQUIRED_COST_TAGS if not tags.get(t)]
            if missing:
                findings.append(
                    Finding(
                        "BEDROCK-COST-TAGS",
                        stack.name,
                        logical_id,
                        f"inference profile lacks cost allocation tags {missing}",
                    )
                )
    return findings


def rule_prompt_attack(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every guardrail filters prompt attacks on input (MEDIUM or HIGH) and has a published version."""
    findings = []
    for stack in stacks:
        versioned = {
            render_value(r.get("Properties", {}).get("GuardrailIdentifier"))
            for _, r in stack.resources_of_type("AWS::Bedrock::GuardrailVersion")
        }
        for logical_id, resource in stack.resources_of_type("AWS::Bedrock::Guardrail"):
            filters = resource.get("Properties", {}).get("ContentPolicyConfig", {}).get("FiltersConfig", [])
            strength = next(
                (f.get("InputStrength") for f in filters if f.get("Type") == "PROMPT_ATTACK"), None
            )
            if strength not in PROMPT_ATTACK_MIN_STRENGTHS:
                findings.append(
                    Finding(
                        "BEDROCK-PROMPT-ATTACK",
                        stack.name,
                        logical_id,
                        f"guardrail filters prompt attacks on input at {strength or 'nothing'}; "
                        f"required: {' or '.join(PROMPT_ATTACK_MIN_STRENGTHS)}",
                    )
                )
            if f"<{logical_id}.GuardrailId>" not in versioned:
                findings.append(
                    Finding(
                        "BEDROCK-GUARDRAIL-VERSION",
                        stack.name,
                        logical_id,
                        "guardrail has no published AWS::Bedrock::GuardrailVersion; callers "
                        "would have to use the mutable DRAFT",
                    )
                )
    return findings


def rule_scoped_invoke(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """No statement grants ``bedrock:*`` or ``*``, or invoke on ``*``, ``foundation-model/*`` or
    ``inference-profile/*``."""
    findings = []
    for stack in stacks:
        for logical_id, statement in policy_statements(stack):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in as_list(statement.get("Action", []))]
            resources = [render_value(r) for r in as_list(statement.get("Resource", []))]
            for action in actions:
                if action in ("*", "bedrock:*"):
                    findings.append(
                        Finding(
                            "BEDROCK-SCOPED-INVOKE", stack.name, logical_id, f"statement allows {action!r}"
                        )
                    )
                elif _INVOKE_ACTION.match(action):
                    broad = [r for r in resources if _BROAD_MODEL_RESOURCE.search(r)]
                    if broad:
                        findings.append(
                            Finding(
                                "BEDROCK-SCOPED-INVOKE",
                                stack.name,
                                logical_id,
                                f"{action} is allowed on {broad}; grant the profiles and "
                                "models a function routes to instead",
                            )
                        )
    return findings


def rule_invocation_logging_once(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Model invocation logging is configured exactly once in every account and region deployed to."""
    configured: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stack in stacks:
        configured.setdefault((stack.account, stack.region), [])
        for logical_id, _ in stack.resources_of_type(INVOCATION_LOGGING_TYPE):
            configured[(stack.account, stack.region)].append(f"{stack.name}/{logical_id}")
    findings = []
    for (account, region), places in sorted(configured.items()):
        if len(places) != 1:
            findings.append(
                Finding(
                    "BEDROCK-INVOCATION-LOGGING",
                    f"aws://{account}/{region}",
                    "-",
                    f"invocation logging is configured {len(places)} times ({', '.join(places) or 'nowhere'}); "
                    "it must be configured exactly once per account and region "
                    "(set owns_invocation_logging in exactly one environment)",
                )
            )
    return findings


def rule_alarm_actions(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every alarm notifies someone, both when it fires and when it recovers."""
    findings = []
    for stack in stacks:
        for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            for logical_id, resource in stack.resources_of_type(kind):
                props = resource.get("Properties", {})
                missing = [key for key in ("AlarmActions", "OKActions") if not props.get(key)]
                if missing or props.get("ActionsEnabled") is False:
                    findings.append(
                        Finding(
                            "ALARM-ACTIONS",
                            stack.name,
                            logical_id,
                            f"alarm has no {' or '.join(missing) or 'enabled actions'}",
                        )
                    )
    return findings


RULES: dict[str, Rule] = {
    "BEDROCK-COST-TAGS": rule_cost_tags,
    "BEDROCK-PROMPT-ATTACK": rule_prompt_attack,
    "BEDROCK-SCOPED-INVOKE": rule_scoped_invoke,
    "BEDROCK-INVOCATION-LOGGING": rule_invocation_logging_once,
    "ALARM-ACTIONS": rule_alarm_actions,
}


def run_rules(stacks: Sequence[StackTemplate]) -> dict[str, list[Finding]]:
    """Every rule's findings, by rule name."""
    return {name: rule(stacks) for name, rule in RULES.items()}
