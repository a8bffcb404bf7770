"""The one place cdk-nag is wired in and every finding is acknowledged.

cdk-nag 3 plugs into CDK policy validation (``Validations.of(app).add_plugins(...)``); an
unacknowledged finding of any pack fails synth. The project's own compliance gate (``compliance.gate``)
is a validation plugin too, and its findings are acknowledged the same way, as are those of the plugin
aws-cdk-lib (>= 2.262) registers on every App by default, "CloudFormation Validate" (template checks run by
CDK's own engine: its errors fail synth because cdk.json sets ``@aws-cdk/core:validateAgainstDefaultRules``;
its warnings CDK only prints, and the gate's result counts them like any other finding), and the construct
libraries' warnings, which cdk.json's ``@aws-cdk/core:annotationsInValidationReport`` puts in the report.
Acknowledgments go through :func:`acknowledge` so each one names exactly one finding on one construct and
states the constraint that makes it acceptable.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import jsii

from constructs import IConstruct, IValidation
from platform_config.markers import AUDIT_CONTEXT, AUDIT_METADATA, AUDIT_MODE, GATE_NAME

#: Every pack cdk-nag ships (NIST 800-53 rev 4 is superseded by rev 5 and not run).
NAG_PACKS: tuple[type[cdk_nag.NagPack], ...] = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.PCIDSS321Checks,
    cdk_nag.ServerlessChecks,
)

#: A rule id, optionally with its bracketed finding; the finding may itself hold brackets (a resource that
#: cdk-nag prints as JSON, e.g. ``{"Fn::Select":[1,...]}``), never whitespace.
_FINDING = re.compile(r"^(?:[A-Za-z0-9.]+::)?[A-Za-z0-9.]+(?:-[A-Za-z0-9]+)+(?:\[\S+\])?$")
#: CDK's own template validation, the plugin every App registers unless told not to
#: (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.CloudFormationValidatePlugin.html): its
#: findings are acknowledged in its namespace, the plugin's name with hyphens (CDK's
#: ``namespaceFromPluginName``), as a failing synth prints them: ``CloudFormation-Validate::W2512``.
CDK_VALIDATE_NAMESPACE = cdk.CloudFormationValidatePlugin.PLUGIN_NAME.replace(" ", "-")
_CDK_VALIDATE_FINDING = re.compile(rf"^{re.escape(CDK_VALIDATE_NAMESPACE)}::[A-Z][0-9]{{4}}$")
#: A construct library's warning (``Annotations.of(c).add_warning_v2(id, ...)``): cdk.json's
#: ``@aws-cdk/core:annotationsInValidationReport`` puts them in the validation report, where CDK prints them
#: for acknowledgment in its ``Annotation`` namespace: ``Annotation::@aws-cdk/aws-logs:someWarning``.
_ANNOTATION_FINDING = re.compile(r"^Annotation::(?!.*::)\S+$")
#: The compliance gate's rule IDs are upper case (``BEDROCK-MODEL-VIA-PROFILE``, ``CFN-LINT-W3005``);
#: cdk-nag's start with the pack name (``AwsSolutions-IAM5``, ``NIST.800.53.R5-...``).
_GATE_RULE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")
_WEAK_REASONS = ("false positive", "todo", "put your reason", "not needed", "n/a")
MIN_REASON_LENGTH = 30


def add_nag_packs(scope: IConstruct) -> None:
    """Run every cdk-nag pack over ``scope`` (normally the App) at synth."""
    cdk.Validations.of(scope).add_plugins(*(pack(scope) for pack in NAG_PACKS))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding on ``scope`` (and its children) with a reason.

    ``finding`` is one rule id, with its bracketed finding where the rule reports one
    (``AwsSolutions-IAM5[Resource::*]``), exactly as a failing synth prints it, a rule of the
    compliance gate (``RETAINED-FIXED-NAME``), which is recorded in the gate's namespace
    (``BedrockPlatform::RETAINED-FIXED-NAME``) because CDK matches plugin findings by namespace, one of
    CDK's own CloudFormation Validate in its namespace (``CloudFormation-Validate::W2512``), or a construct
    library's warning in CDK's ``Annotation`` namespace (``Annotation::@aws-cdk/aws-logs:someWarning``).
    ``reason`` must state the constraint that makes the finding acceptable; placeholders and "false
    positive" are refused.
    """
    acknowledge_all(scope, {finding: reason})


def acknowledge_all(scope: IConstruct, findings: Mapping[str, str]) -> None:
    """Acknowledge several findings on the same construct, each with its own reason (each checked as
    :func:`acknowledge` checks it), in one call to CDK (``Validations.acknowledge`` takes any number: one
    jsii round trip for all of them instead of two for each)."""
    acknowledgments = [_acknowledgment(scope, finding, reason) for finding, reason in findings.items()]
    if not acknowledgments:
        return
    _require_stack(scope, acknowledgments[0].id)
    if auditing(scope):
        for acknowledgment in acknowledgments:
            record_for_audit(scope, acknowledgment.id, acknowledgment.reason)
    else:
        cdk.Validations.of(scope).acknowledge(*acknowledgments)


def _require_stack(scope: IConstruct, finding: str) -> None:
    """Refuse an acknowledgment on the App or a Stage. cdk-nag 3 acknowledges a finding when the id is on the
    resource or any ancestor up to the App (``NagPack.isAcknowledged`` walks ``node.scope`` to the root, cdk-nag
    #2349), so one there would hide the rule in every stack under it, and no stack artifact records it: the
    acknowledgment audit could not see it."""
    try:
        cdk.Stack.of(scope)
    except Exception as error:  # jsii: "No stack could be identified for the construct at path ..."
        raise ValueError(
            f"acknowledge(): {finding!r} on {scope.node.path or 'the App'}, which is not in a stack (the App or a "
            "Stage): it would hide the finding in every stack under it; acknowledge it on the resource (or the "
            "construct) the failed synth names"
        ) from error


def auditing(scope: IConstruct) -> bool:
    """Whether the app is synthesized for the acknowledgment audit (``-c acknowledgments=audit``,
    ``python -m compliance.acknowledgments``): every acknowledgment is then recorded, not applied, so that
    the synth reports the findings each one would hide and the audit finds those that hide none."""
    return bool(scope.node.try_get_context(AUDIT_CONTEXT) == AUDIT_MODE)


def record_for_audit(scope: IConstruct, finding: str, reason: str) -> None:
    """Record on ``scope`` an acknowledgment (or a cfn-lint ignore, as ``BedrockPlatform::CFN-LINT-<check>``)
    that the audit synth leaves unapplied, with the file and line that made it, for the audit's report."""
    scope.node.add_metadata(AUDIT_METADATA, {"finding": finding, "reason": reason, "source": _caller()})


#: The modules whose frames are the acknowledging machinery, not the construct that acknowledges.
_MACHINERY = frozenset({__file__, str(Path(__file__).with_name("lint.py"))})


def _caller() -> str:
    """``<file>:<line>`` of the first frame outside this module and ``lint.py``: the construct code that
    made the acknowledgment, relative to the working directory when it is under it."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename in _MACHINERY:
        frame = frame.f_back
    filename = frame.f_code.co_filename
    with contextlib.suppress(ValueError):  # a file outside the working directory keeps its full path
        filename = str(Path(filename).resolve().relative_to(Path.cwd().resolve()))
    return f"{filename}:{frame.f_lineno}"


def _acknowledgment(scope: IConstruct, finding: str, reason: str) -> cdk.Acknowledgment:
    if not any(pattern.match(finding) for pattern in (_FINDING, _CDK_VALIDATE_FINDING, _ANNOTATION_FINDING)):
        raise ValueError(
            f"acknowledge(): finding {finding!r} is not one finding id; use the id the failed synth printed "
            "after 'Acknowledge with', e.g. 'AwsSolutions-IAM5[Resource::*]', 'AwsSolutions-L1', "
            f"'{CDK_VALIDATE_NAMESPACE}::W2512' or 'Annotation::@aws-cdk/aws-logs:someWarning'"
        )
    text = reason.strip()
    if len(text) < MIN_REASON_LENGTH or any(weak in text.lower() for weak in _WEAK_REASONS):
        raise ValueError(
            f"acknowledge(): the reason for {finding!r} on {scope.node.path} must state the constraint "
            f"that makes it acceptable (at least {MIN_REASON_LENGTH} characters, no placeholder); got {reason!r}"
        )
    if _GATE_RULE.match(finding):
        finding = f"{GATE_NAME}::{finding}"
    return cdk.Acknowledgment(id=finding, reason=text)


#: The packs' findings on an inline policy (every ``grant_*`` writes one, into the grantee role's
#: ``DefaultPolicy``).
INLINE_POLICY_FINDINGS = (
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "HIPAA.Security-IAMNoInlinePolicy",
    "PCI.DSS.321-IAMNoInlinePolicy",
)


def acknowledge_inline_policy(policy: IConstruct, reason: str) -> None:
    """Acknowledge each pack's inline-policy finding on ``policy`` (a role's ``DefaultPolicy``)."""
    acknowledge_all(policy, dict.fromkeys(INLINE_POLICY_FINDINGS, reason))


def acknowledge_basic_execution_role(role: IConstruct, *, encrypted_logs: bool = True) -> None:
    """Acknowledge AWSLambdaBasicExecutionRole on a function's role (aws-cdk-lib attaches it). The reason
    says the function's log group is KMS-encrypted only when ``encrypted_logs`` (a group the caller knows
    to have a key)."""
    where = (
        "the function writes to its own KMS-encrypted group."
        if encrypted_logs
        else "the function writes to the log group it was given."
    )
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "Lambda's standard execution grant: AWSLambdaBasicExecutionRole allows only CloudWatch Logs "
        f"writes (AWS publishes it on Resource *); {where}",
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def flatten_reference(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding id (cdk-nag 3's
    ``flattenCfnReference``): ``Fn::Join`` joined, ``Ref`` as ``<id>``, ``Fn::GetAtt`` as ``<id.Attr>``,
    ``${x}`` as ``<x>``, anything else as compact JSON."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if node.get("Fn::Join"):
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten_reference(item) for item in items)
        if node.get("Fn::Sub"):
            return flatten_reference(node["Fn::Sub"])
        if node.get("Fn::GetAtt"):
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if node.get("Fn::ImportValue"):
            return flatten_reference(node["Fn::ImportValue"])
        if node.get("Ref"):
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _allow_statements(policy: IConstruct, caller: str) -> list[dict[str, Any]]:
    """The Allow statements of an IAM policy as it stands, from its resolved document."""
    resource = policy if isinstance(policy, cdk.CfnResource) else policy.node.default_child
    document = getattr(resource, "policy_document", None)
    if not isinstance(resource, cdk.CfnResource) or document is None:
        raise ValueError(f"{caller}(): {policy.node.path} is not an IAM policy")
    statements = _listed(cdk.Stack.of(resource).resolve(document).get("Statement") or [])
    return [statement for statement in statements if statement.get("Effect") == "Allow"]


def wildcard_findings(policy: IConstruct) -> list[str]:
    """The ``AwsSolutions-IAM5`` finding ids of an IAM policy as it stands (the wildcard actions and resources
    of its Allow statements), computed as cdk-nag's rule computes them from the resolved document."""
    found: list[str] = []
    for statement in _allow_statements(policy, "wildcard_findings"):
        found += [
            f"AwsSolutions-IAM5[Action::{a}]" for a in _listed(statement.get("Action")) if "*" in str(a)
        ]
        for target in _listed(statement.get("Resource")):
            text = flatten_reference(target)
            if "*" in text:
                found.append(f"AwsSolutions-IAM5[Resource::{text}]")
    return list(dict.fromkeys(found))


def actions_on_every_resource(policy: IConstruct) -> list[str]:
    """The actions an IAM policy as it stands allows on ``Resource: *``: what its one
    ``AwsSolutions-IAM5[Resource::*]`` finding stands for (cdk-nag's IAM5 names a finding by the resource
    alone, so one acknowledgment of it covers every such action, whoever granted it)."""
    return list(
        dict.fromkeys(
            str(action)
            for statement in _allow_statements(policy, "actions_on_every_resource")
            if "*" in _listed(statement.get("Resource"))
            for action in _listed(statement.get("Action"))
        )
    )


#: cdk-nag's one finding for every action an IAM policy allows on ``Resource: *``.
EVERY_RESOURCE = "AwsSolutions-IAM5[Resource::*]"


def acknowledge_every_resource(policy: IConstruct, actions: Sequence[str], reason: str) -> None:
    """Acknowledge ``AwsSolutions-IAM5[Resource::*]`` on ``policy`` for ``actions``, the ones ``reason``
    explains, and make synth fail if the policy allows any other action on ``Resource: *``: the finding names
    the resource alone (:func:`actions_on_every_resource`), so the acknowledgment would hide a grant added
    later (``Metric.grant_put_metric_data``, ``add_to_role_policy``) under a reason that is not its own."""
    acknowledge(policy, EVERY_RESOURCE, reason)
    policy.node.add_validation(_OnlyOnEveryResource(policy, tuple(actions)))


@jsii.implements(IValidation)
class _OnlyOnEveryResource:
    def __init__(self, policy: IConstruct, actions: tuple[str, ...]) -> None:
        self.policy = policy
        self.actions = actions

    def validate(self) -> list[str]:
        others = [a for a in actions_on_every_resource(self.policy) if a not in self.actions]
        if not others:
            return []
        return [
            f"this policy allows {', '.join(others)} on Resource *, but AwsSolutions-IAM5[Resource::*] is "
            f"acknowledged on it for {', '.join(self.actions)} only, which would hide them. Grant them in a "
            "policy of your own attached to the role (iam.Policy(scope, id, statements=[...], roles=[role])) and "
            "acknowledge its finding there with your reason"
        ]


def acknowledge_wildcards(policy: IConstruct, reasons: Sequence[tuple[str, str]]) -> list[str]:
    """Acknowledge every ``AwsSolutions-IAM5`` finding of ``policy`` (see :func:`wildcard_findings`) with the
    reason of the first ``(regular expression, reason)`` in ``reasons`` that matches its finding id. A wildcard
    that no reason explains raises: a new grant gets a stated reason, never a blanket one. As with
    :func:`acknowledge_every_resource`, synth fails if an action joins those on ``Resource: *`` later. Returns
    the ids."""
    findings = wildcard_findings(policy)
    explained = {
        finding: next((why for pattern, why in reasons if re.search(pattern, finding)), None)
        for finding in findings
    }
    unexplained = [finding for finding, reason in explained.items() if reason is None]
    if unexplained:
        raise ValueError(
            f"acknowledge_wildcards(): no reason for {unexplained} on {policy.node.path}; narrow the grant or add "
            "the constraint that makes it necessary"
        )
    acknowledge_all(policy, {finding: reason for finding, reason in explained.items() if reason is not None})
    if EVERY_RESOURCE in explained:  # the reason explains the actions on Resource * now, and no later ones
        policy.node.add_validation(_OnlyOnEveryResource(policy, tuple(actions_on_every_resource(policy))))
    return findings


def printed_stack_arn_parts(scope: IConstruct) -> tuple[str, str, str]:
    """The partition, region and account of ``scope``'s stack as cdk-nag prints them in a finding id: the
    literal where the stack states it, else the pseudo parameter CloudFormation fills in at deploy time
    (``<AWS::Partition>``, ``<AWS::Region>``, ``<AWS::AccountId>``, :func:`flatten_reference`). A stack with a
    region states its partition only under ``@aws-cdk/core:enablePartitionLiterals``, an app's feature flag:
    https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.cx_api-readme.html#aws-cdkcoreenablepartitionliterals"""
    stack = cdk.Stack.of(scope)
    return (
        "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition,
        "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region,
        "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account,
    )


def logical_ref(construct: IConstruct) -> str:
    """The logical ID of ``construct``'s CloudFormation resource, as cdk-nag prints it in a finding id
    (``AwsSolutions-IAM5[Resource::<LogicalId.Arn>/prefix/*]``)."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnElement):
        raise ValueError(f"logical_ref(): {construct.node.path} has no CloudFormation resource")
    return cdk.Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]
