"""The one place cdk-nag is wired in and every finding is acknowledged.

cdk-nag 3 plugs into CDK policy validation (``Validations.of(app).add_plugins(...)``); an
unacknowledged finding of any pack fails synth. The project's own compliance gate (``compliance.gate``)
is a validation plugin too, and its findings are acknowledged the same way. Acknowledgments go through
:func:`acknowledge` so each one names exactly one finding on one construct and states the constraint
that makes it acceptable.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
import cdk_nag

from constructs import IConstruct
from platform_config.markers import GATE_NAME

#: Every pack cdk-nag ships (NIST 800-53 rev 4 is superseded by rev 5 and not run).
NAG_PACKS: tuple[type[cdk_nag.NagPack], ...] = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.PCIDSS321Checks,
    cdk_nag.ServerlessChecks,
)

_FINDING = re.compile(r"^(?:[A-Za-z0-9.]+::)?[A-Za-z0-9.]+(?:-[A-Za-z0-9]+)+(?:\[[^\]\s]+\])?$")
#: The compliance gate's rule IDs are upper case (``BEDROCK-MODEL-VIA-PROFILE``, ``CFN-LINT-W3005``);
#: cdk-nag's start with the pack name (``AwsSolutions-IAM5``, ``NIST.800.53.R5-...``).
_GATE_RULE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")
_WEAK_REASONS = ("false positive", "todo", "put your reason", "not needed", "n/a")
MIN_REASON_LENGTH = 30


def add_nag_packs(scope: IConstruct) -> None:
    """Run every cdk-nag pack over ``scope`` (normally the App) at synth."""
    cdk.Validations.of(scope).add_plugins(*(pack(scope) for pack in NAG_PACKS))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and its children) with a reason.

    ``finding`` is one rule id, with its bracketed finding where the rule reports one
    (``AwsSolutions-IAM5[Resource::*]``), exactly as a failing synth prints it, or a rule of the
    compliance gate (``RETAINED-FIXED-NAME``), which is recorded in the gate's namespace
    (``BedrockPlatform::RETAINED-FIXED-NAME``) because CDK matches plugin findings by namespace.
    ``reason`` must state the constraint that makes the finding acceptable; placeholders and "false
    positive" are refused.
    """
    if not _FINDING.match(finding):
        raise ValueError(
            f"acknowledge(): finding {finding!r} is not one cdk-nag finding id; use the id the failed "
            "synth printed, e.g. 'AwsSolutions-IAM5[Resource::*]' or 'AwsSolutions-L1'"
        )
    text = reason.strip()
    if len(text) < MIN_REASON_LENGTH or any(weak in text.lower() for weak in _WEAK_REASONS):
        raise ValueError(
            f"acknowledge(): the reason for {finding!r} on {scope.node.path} must state the constraint "
            f"that makes it acceptable (at least {MIN_REASON_LENGTH} characters, no placeholder); got {reason!r}"
        )
    if _GATE_RULE.match(finding):
        finding = f"{GATE_NAME}::{finding}"
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=text))


def acknowledge_all(scope: IConstruct, findings: dict[str, str]) -> None:
    """Acknowledge several findings on the same construct, each with its own reason."""
    for finding, reason in findings.items():
        acknowledge(scope, finding, reason)


def logical_ref(construct: IConstruct) -> str:
    """The logical ID of ``construct``'s CloudFormation resource, as cdk-nag prints it in a finding id
    (``AwsSolutions-IAM5[Resource::<LogicalId.Arn>/prefix/*]``)."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnElement):
        raise ValueError(f"logical_ref(): {construct.node.path} has no CloudFormation resource")
    return cdk.Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]
