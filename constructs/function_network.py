"""Where a Lambda function of this project sits on the network, as a fork gives it: the five
``lambda_.Function`` props for a VPC, checked and passed on the same way by every construct that creates a
function a fork may place in its VPC (``OrchestratorFunction``'s ``function_props``, ``HumanReview``'s
keyword arguments).

Without a ``vpc`` the function is outside any VPC, exactly as if none of these props existed (its template
does not change). With one, aws-cdk-lib's defaults apply: a security group of the function's own when none
is given, the private subnets unless ``vpc_subnets`` says otherwise, and the AWS managed
``AWSLambdaVPCAccessExecutionRole`` on a role it creates
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from aws_cdk import aws_ec2 as ec2


class FunctionNetwork(TypedDict, total=False):
    """A function's VPC placement: the ``lambda_.Function`` props of the same names and types."""

    vpc: ec2.IVpc
    vpc_subnets: ec2.SubnetSelection
    security_groups: Sequence[ec2.ISecurityGroup]
    allow_public_subnet: bool
    allow_all_outbound: bool


#: The props that mean something only with a ``vpc``.
NEEDS_VPC = ("vpc_subnets", "security_groups", "allow_public_subnet", "allow_all_outbound")


def in_vpc(network: Mapping[str, Any]) -> bool:
    """What was given, not which keys were passed: ``{"vpc": None}`` (a fork's optional VPC) is no VPC."""
    return network.get("vpc") is not None


def network_props(network: Mapping[str, Any]) -> dict[str, Any]:
    """The five ``lambda_.Function`` keyword arguments, None where not given (aws-cdk-lib's defaults)."""
    return {name: network.get(name) for name in ("vpc", *NEEDS_VPC)}


def _shown(value: Any) -> str:
    """A value as an error shows it: a construct by its path, a list of them by theirs."""
    node = getattr(value, "node", None)
    if node is not None and isinstance(getattr(node, "path", None), str):
        return str(node.path)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return repr(value)


def network_problems(network: Mapping[str, Any], *, prefix: str = "") -> list[str]:
    """Every problem with ``network``, each naming the argument (``prefix`` + its name, as the caller's user
    wrote it: ``"function_props "`` for the orchestrator), the bad value and the fix. These are the cases
    aws-cdk-lib would refuse one at a time at construction, or (``allow_public_subnet`` without a VPC)
    silently ignore."""
    problems = []
    if not in_vpc(network):
        for name in NEEDS_VPC:
            if network.get(name) is not None:
                problems.append(
                    f"{prefix}{name} is {_shown(network[name])} but no {prefix}vpc is given: it applies only to a "
                    f"function in a VPC; pass {prefix}vpc too, or leave {name} out"
                )
    elif network.get("security_groups") and network.get("allow_all_outbound") is not None:
        problems.append(
            f"{prefix}allow_all_outbound is {network['allow_all_outbound']!r} with {prefix}security_groups "
            f"{_shown(network['security_groups'])}: the function's outbound rules are those security groups' "
            "own; set them there (allow_all_outbound= on each ec2.SecurityGroup), or leave allow_all_outbound out"
        )
    return problems
