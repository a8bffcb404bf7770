"""An environment file's ``network`` section places the request-path functions (the orchestrator and the three
human review functions) in an existing VPC: each gets a ``VpcConfig`` with exactly the subnets and security
groups the file names, every cdk-nag pack still passes, and no acknowledgment says they are outside a VPC.
Without the section nothing changes: no function has a ``VpcConfig`` and nothing of EC2 is in any template."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_

from bedrock_constructs.function_findings import VPC_ACCESS_POLICY, VPC_FINDINGS
from bedrock_constructs.function_network import NO_ROUTE_TABLE, ExistingNetwork
from bedrock_constructs.nag import add_nag_packs
from compliance.acknowledgments import audit
from compliance.check import nag_failures
from constructs import Construct
from platform_config import load_platform
from platform_config.documents import load_yaml
from platform_config.loader import CONFIGURATION_FOLDERS
from platform_config.markers import AUDIT_CONTEXT, AUDIT_MODE
from stacks.platform_stack import PlatformStack
from tests.infra.conftest import ROOT, Synthesized, cdk_context, probe_app, probe_stack
from tests.support.iam import acknowledged_on, recorded_under

VPC = "vpc-0a1b2c3d4e5f67890"
SUBNETS = {"subnet-0a1b2c3d4e5f67890": "us-east-1a", "subnet-1a2b3c4d": "us-east-1b"}
GROUPS = ["sg-0a1b2c3d4e5f67890", "sg-1a2b3c4d"]


def request_path(stack: PlatformStack) -> dict[str, lambda_.Function]:
    """The four functions the ``network`` section places, by name."""
    assert stack.api is not None and stack.review is not None
    return {
        "orchestrator": stack.api.function,
        "scoring": stack.review.scoring_function,
        "review api": stack.review.api_function,
        "backlog": stack.review.backlog_function,
    }


@dataclass
class Placed:
    outdir: Path
    failures: list[str]
    stacks: dict[str, PlatformStack]

    def resources(self, stack: str) -> dict[str, Any]:
        template = json.loads((self.outdir / f"{stack}.template.json").read_text(encoding="utf-8"))
        return template["Resources"]  # type: ignore[no-any-return]

    def function(self, stack: str, function: lambda_.Function) -> dict[str, Any]:
        logical_id = self.stacks[stack].get_logical_id(function.node.default_child)  # type: ignore[arg-type]
        return self.resources(stack)[logical_id]["Properties"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Placed:
    """dev as the shipped file has it, plus a ``network`` section: with the file's own security groups
    (``WithGroups``) and without (``OwnGroups``: aws-cdk-lib creates one per function), under every pack."""
    stacks: dict[str, PlatformStack] = {}
    outdir = tmp_path_factory.mktemp("network")
    app = probe_app(outdir, context=cdk_context())
    # WithGroups once more with every acknowledgment recorded instead of made (make audit-acknowledgments'
    # mode): the shipped environments have no network section, so the audit of the real app never sees these
    for name, groups in (("WithGroups", GROUPS), ("OwnGroups", []), ("Unacknowledged", GROUPS)):
        root = tmp_path_factory.mktemp(f"config-{name}")
        for folder in CONFIGURATION_FOLDERS:
            shutil.copytree(ROOT / folder, root / folder)
        dev_file = root / "environments" / "dev.yaml"
        dev = load_yaml(dev_file.read_text(encoding="utf-8"))
        dev["network"] = {
            "vpc_id": VPC,
            "subnets": [{"subnet_id": s, "availability_zone": zone} for s, zone in SUBNETS.items()],
            **({"security_group_ids": groups} if groups else {}),
        }
        dev_file.write_text(yaml.safe_dump(dev, sort_keys=False), encoding="utf-8")
        config = load_platform(root)
        environment = config.environment("dev")
        assert environment.network is not None
        scope: Construct = app
        if name == "Unacknowledged":
            scope = cdk.Stage(app, "Audit")
            scope.node.set_context(AUDIT_CONTEXT, AUDIT_MODE)
        stacks[name] = PlatformStack(
            scope,
            name,
            environment=environment,
            # one use case: the placement does not depend on how many there are, and each one more is
            # another ~100 resources under every pack in each of the three stacks
            contracts=config.contracts_for("dev")[:1],
            env=cdk.Environment(account=environment.account, region=environment.region),
        )
    add_nag_packs(app)
    app.synth()
    return Placed(outdir, nag_failures(outdir), stacks)


@pytest.mark.slow
def test_every_acknowledgment_on_the_placed_path_stands_for_a_finding_the_packs_raise(placed: Placed) -> None:
    result = audit(placed.outdir)
    made = recorded_under(result, "Audit/Unacknowledged/")
    assert any(a.finding == NO_ROUTE_TABLE for a in made)
    assert any(a.finding == VPC_ACCESS_POLICY for a in made)
    assert not any(a.finding in VPC_FINDINGS and "/OrchestrationApi/" in a.construct_path for a in made)
    assert [a.render() for a in result.unused if a in made] == []


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["WithGroups", "OwnGroups"])
def test_every_pack_passes_with_the_functions_in_the_vpc(placed: Placed, stack: str) -> None:
    assert [f for f in placed.failures if f.split(" on /", 1)[1].startswith(f"{stack}/")] == []


@pytest.mark.slow
def test_each_request_path_function_runs_in_the_given_subnets_with_the_given_groups(placed: Placed) -> None:
    for name, function in request_path(placed.stacks["WithGroups"]).items():
        assert placed.function("WithGroups", function)["VpcConfig"] == {
            "SubnetIds": list(SUBNETS),
            "SecurityGroupIds": GROUPS,
        }, name
    # the platform adds no rule to a group it does not own, and creates none
    types = {r["Type"] for r in placed.resources("WithGroups").values()}
    assert not {t for t in types if t.startswith("AWS::EC2::")}, types


@pytest.mark.slow
def test_without_groups_each_function_gets_a_group_of_its_own_in_the_vpc(placed: Placed) -> None:
    stack = placed.stacks["OwnGroups"]
    groups = {
        logical_id: r["Properties"]
        for logical_id, r in placed.resources("OwnGroups").items()
        if r["Type"] == "AWS::EC2::SecurityGroup"
    }
    used = []
    for name, function in request_path(stack).items():
        config = placed.function("OwnGroups", function)["VpcConfig"]
        assert config["SubnetIds"] == list(SUBNETS), name
        (group,) = config["SecurityGroupIds"]
        used.append(group["Fn::GetAtt"][0])
    assert sorted(used) == sorted(groups)  # one each, no other group
    for group in groups.values():
        assert group["VpcId"] == VPC
        assert "SecurityGroupIngress" not in group


@pytest.mark.slow
def test_only_the_request_path_functions_are_placed(placed: Placed) -> None:
    # custom-resource providers and the other functions of the stack stay where they were: outside any VPC
    placed_ids = {
        placed.stacks["WithGroups"].get_logical_id(f.node.default_child)  # type: ignore[arg-type]
        for f in request_path(placed.stacks["WithGroups"]).values()
    }
    in_vpc = {
        logical_id
        for logical_id, r in placed.resources("WithGroups").items()
        if r["Type"] == "AWS::Lambda::Function" and "VpcConfig" in r["Properties"]
    }
    assert in_vpc == placed_ids


@pytest.mark.slow
def test_no_acknowledgment_says_a_placed_function_is_outside_a_vpc(placed: Placed) -> None:
    for stack in (placed.stacks["WithGroups"], placed.stacks["OwnGroups"]):
        assert stack.network is not None
        for name, function in request_path(stack).items():
            acknowledged = acknowledged_on(function)
            assert not acknowledged & set(VPC_FINDINGS), (stack.node.id, name)
            assert VPC_ACCESS_POLICY in acknowledged_on(function.role), (stack.node.id, name)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_without_a_network_section_nothing_is_placed_in_a_vpc(
    synthesized: Synthesized, stages: Any, env: str
) -> None:
    # the shipped environments have none: templates as before the section existed
    assert synthesized.config.environment(env).network is None
    resources = synthesized.platform_json(env)["Resources"]
    assert [k for k, r in resources.items() if "VpcConfig" in r.get("Properties", {})] == []
    assert [k for k, r in resources.items() if r["Type"].startswith("AWS::EC2::")] == []
    stack = stages[env].platform
    assert stack.network is None
    for name, function in request_path(stack).items():
        assert set(VPC_FINDINGS) <= acknowledged_on(function), name


def test_an_existing_network_needs_subnets_with_their_zones() -> None:
    stack = probe_stack()
    with pytest.raises(
        ValueError, match=r"^ExistingNetwork S/Empty: subnets is empty: Lambda needs at least one"
    ):
        ExistingNetwork(stack, "Empty", vpc_id=VPC, subnets=[])
    with pytest.raises(ValueError, match=r"subnets \['subnet-1a2b3c4d'\] have no availability_zone"):
        ExistingNetwork(
            stack,
            "Unzoned",
            vpc_id=VPC,
            subnets=[
                ec2.SubnetAttributes(subnet_id="subnet-0a1b2c3d4e5f67890", availability_zone="us-east-1a"),
                ec2.SubnetAttributes(subnet_id="subnet-1a2b3c4d"),
            ],
        )
