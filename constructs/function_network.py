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

from bedrock_constructs.nag import acknowledge
from constructs import Construct


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


#: aws-cdk-lib's warning on a subnet imported without its route table id.
NO_ROUTE_TABLE = "Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId"
_NO_ROUTE_TABLE = (
    "The subnet is imported only to place functions in it (its id in their VpcConfig); nothing in this app "
    "reads its route table: no route and no VPC endpoint is created here, the VPC's owner manages them."
)


class ExistingNetwork(Construct):
    """An existing VPC, some of its subnets and (optionally) security groups, imported by id for the functions
    of a stack: :meth:`function_network` is what ``OrchestratorFunction``'s ``function_props`` and
    ``HumanReview``'s keyword arguments take.

    Nothing is looked up (``Vpc.from_lookup`` needs an account and credentials at synth): the VPC is
    ``ec2.Vpc.from_vpc_attributes``, which requires its ``availability_zones``
    (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_ec2/VpcAttributes.html), here the zones of
    the subnets given; each subnet is ``ec2.Subnet.from_subnet_attributes`` with its zone, and the functions
    get exactly those subnets (an explicit ``SubnetSelection``; the imported VPC lists no subnets of its own,
    so nothing else selects from it by type). Security groups are imported immutable
    (``ec2.SecurityGroup.from_security_group_id(..., mutable=False)``): the platform adds no rule to a group
    it does not own. Without ``security_group_ids``, aws-cdk-lib creates a group of each function's own (all
    outbound allowed, no inbound rule). Imports add nothing to the template; only each function's
    ``VpcConfig`` (and the groups aws-cdk-lib creates) does.

    A subnet imported without its route table makes aws-cdk-lib warn
    (``@aws-cdk/aws-ec2:noSubnetRouteTableId``); each subnet acknowledges it, since a function needs only the
    subnet's id and nothing here creates a route or an endpoint in it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc_id: str,
        subnets: Sequence[ec2.SubnetAttributes],
        security_group_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not subnets:
            problems.append("subnets is empty: Lambda needs at least one subnet; pass the VPC's subnets")
        unzoned = [s.subnet_id for s in subnets if not s.availability_zone]
        if unzoned:
            problems.append(
                f"subnets {unzoned} have no availability_zone, which the imported VPC needs "
                "(VpcAttributes.availability_zones); pass each subnet's Availability Zone"
            )
        if problems:
            raise ValueError(f"ExistingNetwork {self.node.path}: " + "; ".join(problems))
        zones = list(dict.fromkeys(str(s.availability_zone) for s in subnets))
        #: The imported VPC.
        self.vpc = ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=vpc_id, availability_zones=zones)
        #: The imported subnets, in the order given.
        self.subnets: list[ec2.ISubnet] = [
            ec2.Subnet.from_subnet_attributes(
                self, f"Subnet{i}", subnet_id=s.subnet_id, availability_zone=s.availability_zone
            )
            for i, s in enumerate(subnets)
        ]
        for subnet in self.subnets:
            acknowledge(subnet, NO_ROUTE_TABLE, _NO_ROUTE_TABLE)
        #: The imported security groups (immutable), in the order given; empty: aws-cdk-lib's default.
        self.security_groups: list[ec2.ISecurityGroup] = [
            ec2.SecurityGroup.from_security_group_id(self, f"SecurityGroup{i}", group_id, mutable=False)
            for i, group_id in enumerate(security_group_ids)
        ]

    def function_network(self) -> FunctionNetwork:
        """The placement every function of the stack gets: this VPC, these subnets, these groups."""
        network = FunctionNetwork(vpc=self.vpc, vpc_subnets=ec2.SubnetSelection(subnets=self.subnets))
        if self.security_groups:
            network["security_groups"] = self.security_groups
        return network
