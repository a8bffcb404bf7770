"""The identity policy statements of a role in a synthesized template."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compliance.cfn_values import as_list
from platform_config.markers import GATE_NAME

if TYPE_CHECKING:
    from compliance.acknowledgments import Audit, Recorded


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies attached to ``role`` (its logical ID): its default policy
    and the managed policies CDK splits off when that policy grows past IAM's size limit
    (``OverflowPolicy``)."""
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and {"Ref": role} in resource["Properties"].get("Roles", [])
        for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"])
    ]


def acknowledgments_on(construct: Any) -> dict[str, str]:
    """The findings acknowledged on ``construct`` itself and their reasons (its ``aws:cdk:acknowledged-rules``
    metadata, as ``Validations.acknowledge`` records it), without the ``Annotation::`` prefix; no synth needed."""
    return {
        finding.removeprefix("Annotation::"): reason
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for finding, reason in entry.data.items()
    }


def acknowledged_on(construct: Any) -> set[str]:
    """The finding ids of :func:`acknowledgments_on`."""
    return set(acknowledgments_on(construct))


def recorded_under(result: Audit, prefix: str) -> list[Recorded]:
    """The acknowledgments an audit synth recorded on constructs whose path starts with ``prefix``, without the
    compliance gate's (a probe app runs the cdk-nag packs, not the gate: its cfn-lint ignores are audited with
    the whole app's, in make audit-acknowledgments)."""
    return [
        a
        for a in result.recorded
        if a.construct_path.startswith(prefix) and not a.finding.startswith(f"{GATE_NAME}::")
    ]
