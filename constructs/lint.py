"""The one place cfn-lint checks are ignored: on one resource, for one check, with a reason.

The reason is written into the template next to the ignore (``Metadata.bedrock-platform:cfn-lint``), so
reviewers reading the synthesized template (and the compliance report) see why.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from bedrock_constructs.nag import auditing, record_for_audit
from platform_config.markers import CFN_LINT_PREFIX, GATE_NAME

REASONS_KEY = "bedrock-platform:cfn-lint"
GENERATED_DEPENDS_ON = (
    "aws-cdk-lib adds an explicit DependsOn that the resource's own references already imply "
    "(generated code this project does not control)"
)


def ignore_cfn_lint_check(resource: cdk.CfnResource, check: str, reason: str) -> None:
    """Ignore cfn-lint ``check`` (e.g. ``W3005``) on ``resource`` only, recording ``reason``.

    In the acknowledgment audit's synth (:func:`bedrock_constructs.nag.auditing`) the ignore is recorded as
    ``BedrockPlatform::CFN-LINT-<check>`` instead, so that the gate reports what it would ignore."""
    if len(reason.strip()) < 20:
        raise ValueError(
            f"ignore_cfn_lint_check(): give a real reason for ignoring {check} on {resource.node.path}"
        )
    if auditing(resource):
        record_for_audit(resource, f"{GATE_NAME}::{CFN_LINT_PREFIX}{check}", reason)
        return
    metadata: dict[str, Any] = resource.get_metadata("cfn-lint") or {"config": {"ignore_checks": []}}
    checks = metadata["config"]["ignore_checks"]
    if check not in checks:
        checks.append(check)
    resource.add_metadata("cfn-lint", metadata)
    reasons: dict[str, str] = resource.get_metadata(REASONS_KEY) or {}
    resource.add_metadata(REASONS_KEY, {**reasons, check: reason})


def ignore_generated_depends_on(*constructs: Any) -> None:
    """:func:`ignore_cfn_lint_check` ``W3005`` (:data:`GENERATED_DEPENDS_ON`) on each construct's resource."""
    for construct in constructs:
        resource = construct.node.default_child
        assert isinstance(resource, cdk.CfnResource), construct.node.path
        ignore_cfn_lint_check(resource, "W3005", GENERATED_DEPENDS_ON)
