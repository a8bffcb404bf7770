"""HumanReview placed in a fork's VPC (``vpc=``, ``vpc_subnets=``, ``security_groups=``, ...), as a platform team
that runs the orchestrator in a VPC places the review functions beside it. Every cdk-nag pack runs; the
construct's acknowledgments must be true of the functions as built: none of them claims a function is
outside a VPC, and each one stands for a finding the packs do raise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs

from bedrock_constructs.function_findings import VPC_ACCESS_POLICY, VPC_FINDINGS
from bedrock_constructs.human_review import HumanReview
from bedrock_constructs.nag import add_nag_packs
from bedrock_constructs.orchestration_api import OrchestrationApi
from bedrock_constructs.use_case import GovernedUseCase
from bedrock_platform_lambdas import ORCHESTRATOR_CODE_DIRECTORY, REVIEW_CODE_DIRECTORY
from compliance.acknowledgments import audit
from compliance.check import nag_failures
from platform_config import PlatformConfig
from platform_config.markers import AUDIT_CONTEXT, AUDIT_MODE
from platform_config.naming import pascal
from tests.infra.conftest import cdk_context, probe_app, probe_environment, probe_stack
from tests.infra.test_orchestrator_function import isolated_vpc
from tests.support.iam import acknowledged_on, recorded_under


def functions(review: HumanReview) -> dict[str, Any]:
    return {
        "scoring": review.scoring_function,
        "api": review.api_function,
        "backlog": review.backlog_function,
    }


@dataclass
class Forks:
    outdir: Path
    failures: list[str]
    reviews: dict[str, HumanReview]
    vpcs: dict[str, ec2.Vpc]
    groups: dict[str, ec2.SecurityGroup]

    def template(self, stack: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack}.template.json").read_text())  # type: ignore[no-any-return]

    def failing(self, prefix: str) -> list[str]:
        return [line for line in self.failures if line.split(" on /", 1)[1].startswith(prefix)]


def _human_review(stack: cdk.Stack, config: PlatformConfig, **network: Any) -> HumanReview:
    """The review path as PlatformStack builds it in dev (every dev contract, so a judge is granted), with
    ``network`` for its functions."""
    use_cases = [
        GovernedUseCase(stack, pascal(c.id), contract=c, environment="dev")
        for c in config.contracts_for("dev")
    ]
    api = OrchestrationApi(
        stack,
        "OrchestrationApi",
        use_cases=use_cases,
        environment="dev",
        code_directory=ORCHESTRATOR_CODE_DIRECTORY,
        log_retention=logs.RetentionDays.ONE_MONTH,
        reserved_concurrency=1,
    )
    return HumanReview(
        stack,
        "HumanReview",
        use_cases=use_cases,
        orchestrator=api.orchestrator,
        rest_api=api.rest_api,
        code_directory=REVIEW_CODE_DIRECTORY,
        log_retention=logs.RetentionDays.ONE_MONTH,
        **network,
    )


@pytest.fixture(scope="module")
def forks(config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> Forks:
    outdir = tmp_path_factory.mktemp("review-in-vpc")
    app = probe_app(outdir, context=cdk_context())
    reviews: dict[str, HumanReview] = {}
    vpcs: dict[str, ec2.Vpc] = {}
    groups: dict[str, ec2.SecurityGroup] = {}

    def fork(name: str, *, own_group: bool, audit: bool = False) -> None:
        stack = cdk.Stack(app, name, env=probe_environment())
        if audit:  # the acknowledgment audit's mode, for this stack only: recorded, not applied
            stack.node.set_context(AUDIT_CONTEXT, AUDIT_MODE)
        vpc = vpcs[name] = isolated_vpc(stack)
        network: dict[str, Any] = {
            "vpc": vpc,
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        }
        if own_group:
            groups[name] = ec2.SecurityGroup(
                stack,
                "ReviewFunctions",
                vpc=vpc,
                description="The review functions",
                allow_all_outbound=False,
            )
            # HTTPS to the VPC's interface endpoints; the DynamoDB gateway endpoint's prefix list is a fork's own
            groups[name].add_egress_rule(
                ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "AWS endpoints"
            )
            network["security_groups"] = [groups[name]]
        reviews[name] = _human_review(stack, config, **network)

    # the fork's own security group, and aws-cdk-lib's default (one group per function, all outbound)
    fork("InVpc", own_group=True)
    fork("OwnGroups", own_group=False)
    # the same as InVpc, every acknowledgment recorded instead of made (make audit-acknowledgments' mode)
    fork("Unacknowledged", own_group=True, audit=True)
    add_nag_packs(app)
    app.synth()
    return Forks(outdir, nag_failures(outdir), reviews, vpcs, groups)


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["InVpc", "OwnGroups"])
def test_in_a_vpc_every_pack_passes_on_the_review_path(forks: Forks, stack: str) -> None:
    assert forks.reviews[stack].in_vpc
    assert forks.failing(f"{stack}/HumanReview/") == []


@pytest.mark.slow
def test_each_function_runs_in_the_given_subnets_with_the_given_security_groups(forks: Forks) -> None:
    review = forks.reviews["InVpc"]
    stack = cdk.Stack.of(review)
    resources = forks.template("InVpc")["Resources"]
    isolated = forks.vpcs["InVpc"].select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
    expected_subnets = sorted(json.dumps(stack.resolve(subnet)) for subnet in isolated)
    assert len(expected_subnets) == 2
    for name, function in functions(review).items():
        config = resources[stack.get_logical_id(function.node.default_child)]["Properties"]["VpcConfig"]
        assert sorted(json.dumps(subnet) for subnet in config["SubnetIds"]) == expected_subnets, name
        assert config["SecurityGroupIds"] == [stack.resolve(forks.groups["InVpc"].security_group_id)], name


@pytest.mark.slow
def test_in_a_vpc_no_function_is_said_to_be_outside_one_and_the_vpc_access_policy_is_acknowledged(
    forks: Forks,
) -> None:
    for stack in ("InVpc", "OwnGroups"):
        for name, function in functions(forks.reviews[stack]).items():
            acknowledged = acknowledged_on(function)
            assert not acknowledged & set(VPC_FINDINGS), (stack, name)
            assert "NIST.800.53.R5-LambdaDLQ" in acknowledged  # the acknowledgments that stay true stay
            assert VPC_ACCESS_POLICY in acknowledged_on(function.role), (stack, name)


@pytest.mark.slow
def test_every_acknowledgment_on_the_review_path_stands_for_a_finding_the_packs_raise(forks: Forks) -> None:
    # GIVEN the review path in a VPC built with every acknowledgment recorded instead of made
    result = audit(forks.outdir)
    made = recorded_under(result, "Unacknowledged/HumanReview")
    assert any(a.finding == VPC_ACCESS_POLICY for a in made)
    assert not any(a.finding in VPC_FINDINGS for a in made)
    # THEN each one names a finding some pack raises on that construct or under it: none is stale
    assert [a.render() for a in result.unused if a in made] == []


@pytest.mark.parametrize(
    ("network", "message"),
    [
        (
            {"vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)},
            r"vpc_subnets is SubnetSelection\(.*\) but no vpc is given: it applies only to a function in a VPC; "
            r"pass vpc too, or leave vpc_subnets out",
        ),
        ({"allow_public_subnet": True}, r"allow_public_subnet is True but no vpc is given"),
        ({"allow_all_outbound": False}, r"allow_all_outbound is False but no vpc is given"),
        ({"security_groups": "group"}, r"security_groups is \[S/Group\] but no vpc is given"),
        (
            {"vpc": "vpc", "security_groups": "group", "allow_all_outbound": True},
            r"allow_all_outbound is True with security_groups \[S/Group\]: the function's outbound rules are "
            r"those security groups' own; set them there",
        ),
    ],
)
def test_network_arguments_without_a_vpc_are_refused_naming_the_argument_the_value_and_the_fix(
    config: PlatformConfig, network: dict[str, Any], message: str
) -> None:
    stack = probe_stack()
    vpc = isolated_vpc(stack)
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc)
    given = {
        key: vpc if value == "vpc" else [group] if value == "group" else value
        for key, value in network.items()
    }
    with pytest.raises(ValueError, match=rf"^HumanReview S/HumanReview: .*{message}"):
        _human_review(stack, config, **given)


def test_every_problem_is_reported_in_one_error(config: PlatformConfig) -> None:
    stack = probe_stack()
    group = ec2.SecurityGroup(stack, "Group", vpc=isolated_vpc(stack))
    with pytest.raises(ValueError) as raised:
        _human_review(stack, config, security_groups=[group], allow_public_subnet=True, api_concurrency=0)
    assert str(raised.value) == (
        "HumanReview S/HumanReview: api_concurrency must be at least 1, got 0; pass 1 or more; "
        "security_groups is [S/Group] but no vpc is given: it applies only to a function in a VPC; pass vpc too, "
        "or leave security_groups out; "
        "allow_public_subnet is True but no vpc is given: it applies only to a function in a VPC; pass vpc too, "
        "or leave allow_public_subnet out"
    )
