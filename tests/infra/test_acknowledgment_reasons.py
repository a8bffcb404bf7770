"""What the reasons of the acknowledgments say, held against the synthesized templates and the service facts
they rely on: a compliance reviewer reads a reason as a statement about the deployed resource."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from compliance.cfn_values import as_list
from compliance.gate_result import read_gate_result
from tests.infra.conftest import Synthesized

POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@cache
def service_authorization() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: for each service prefix, each action (lower
    case) and the resource types it can be scoped to (``"Resources"``; none when it takes only ``*``)."""
    text = files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def resource_types(action: str) -> list[str]:
    service, _, name = action.partition(":")
    actions = service_authorization().get(service.lower(), {}).get("Actions", {})
    return list(actions.get(name.lower(), {}).get("Resources", []))


def test_a_wildcard_resource_reason_names_the_resource_type_of_every_action_that_has_one(
    synthesized: Synthesized,
) -> None:
    # "X has no resource-level permissions" is a fact of the Service Authorization Reference: an action on *
    # that the reference lets a policy scope to a resource type needs a reason about that type (why no
    # narrower ARN of it would do), never the claim that there is none.
    templates = {stack.name: stack.template for stack in synthesized.stacks}
    checked, wrong = 0, []
    for ack in read_gate_result(synthesized.outdir).acknowledgments:
        if ack.finding != "AwsSolutions-IAM5[Resource::*]":
            continue
        for logical_id in ack.resources:
            resource = templates[ack.stack]["Resources"][logical_id]
            if resource["Type"] not in POLICY_TYPES:
                continue
            for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"]):
                if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
                    continue
                for action in as_list(statement["Action"]):
                    checked += 1
                    wrong += [
                        (ack.construct_path, action, kind)
                        for kind in resource_types(action)
                        if kind not in ack.reason
                    ]
    assert checked, "no action on * under an AwsSolutions-IAM5[Resource::*] acknowledgment was found"
    assert not wrong, f"reasons that do not address the action's resource type: {wrong}"
