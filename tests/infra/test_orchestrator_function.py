"""OrchestratorFunction used on its own, as a fork would: with no overrides, in a VPC, and with a role of
the fork's own. Every cdk-nag pack runs; the construct's acknowledgments must stay true for each."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from bedrock_constructs.nag import add_nag_packs
from bedrock_constructs.orchestration_api import OrchestratorFunction
from bedrock_constructs.use_case import GovernedUseCase
from bedrock_platform_lambdas import ORCHESTRATOR_CODE_DIRECTORY
from compliance.check import nag_failures
from platform_config import Contract, PlatformConfig
from tests.infra.conftest import cdk_context, probe_app, probe_stack
from tests.support.iam import acknowledgments_on

INSIDE_VPC = {
    "NIST.800.53.R5-LambdaInsideVPC",
    "HIPAA.Security-LambdaInsideVPC",
    "PCI.DSS.321-LambdaInsideVPC",
}
INLINE_POLICY = {
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "HIPAA.Security-IAMNoInlinePolicy",
    "PCI.DSS.321-IAMNoInlinePolicy",
}


@dataclass
class Forks:
    outdir: Path
    failures: list[str]
    functions: dict[str, OrchestratorFunction]

    def acknowledged(self, stack: str, path: str) -> set[str]:
        """The finding ids acknowledged on the construct at ``<stack>/<path>`` (from the assembly)."""
        metadata = json.loads((self.outdir / f"{stack}.metadata.json").read_text())
        return {
            finding.removeprefix("Annotation::")
            for entry in metadata.get(f"/{stack}/{path}", [])
            if entry["type"] == "aws:cdk:acknowledged-rules"
            for finding in entry["data"]
        }

    def failing(self, prefix: str) -> list[str]:
        return [line for line in self.failures if line.split(" on ", 1)[1].startswith(prefix)]


def isolated_vpc(stack: cdk.Stack) -> ec2.Vpc:
    """A fork's VPC with private isolated subnets only (no NAT): the functions reach AWS through endpoints."""
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )


def _model_arns(contract: Contract) -> list[str]:
    """The foundation-model ARNs the use case's profiles grant (built in a throw-away stack)."""
    use_case = GovernedUseCase(
        probe_stack(name="Probe", environment=False), "U", contract=contract, environment="dev"
    )
    return [arn for profile in use_case.profiles.values() for arn in profile.foundation_model_arns]


@pytest.fixture(scope="module")
def forks(example_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> Forks:
    outdir = tmp_path_factory.mktemp("forks")
    app = probe_app(outdir, context=cdk_context())
    contract = next(c for c in example_config.contracts_for("dev") if c.id == "policy-qa")
    functions = {}

    # The contract whose profile may route to every commercial Region (a foundation-model ARN with region *,
    # which the construct acknowledges for AwsSolutions-IAM5), copied under new ids by the "Many" fork.
    global_contract = next(
        c for c in example_config.contracts_for("dev") if any(":*:" in arn for arn in _model_arns(c))
    )

    not_held = replace(global_contract.review, hold_for_review=False)  # no review path in these forks

    def fork(name: str, *, copies: int = 0, **function_props: object) -> None:
        stack = cdk.Stack(app, name)
        use_cases = [GovernedUseCase(stack, "PolicyQa", contract=contract, environment="dev")]
        use_cases += [
            GovernedUseCase(
                stack,
                f"Copy{n}",
                contract=replace(global_contract, id=f"copy-{n}", review=not_held),
                environment="dev",
            )
            for n in range(copies)
        ]
        props = {key: value(stack) if callable(value) else value for key, value in function_props.items()}
        functions[name] = OrchestratorFunction(
            stack,
            "Orchestrator",
            use_cases=use_cases,
            environment="dev",
            code_directory=ORCHESTRATOR_CODE_DIRECTORY,
            reserved_concurrency=2,
            function_props=props,
        )

    fork("Plain")
    fork(
        "InVpc",
        vpc=isolated_vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    # Enough use cases that the grants outgrow IAM's 10,240-character limit on a role's inline policies:
    # aws-cdk-lib moves the rest into OverflowPolicy1, ... (ManagedPolicy children of the role).
    fork("Many", copies=8)
    fork(
        "ForkRole",
        role=lambda s: iam.Role(s, "ForkRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")),
    )
    add_nag_packs(app)
    app.synth()
    # nag_failures names constructs by their absolute path (/Stack/...); these tests use relative ones
    return Forks(outdir, [line.replace(" on /", " on ", 1) for line in nag_failures(outdir)], functions)


@pytest.mark.slow
def test_on_its_own_it_creates_its_key_table_and_logs_and_passes_every_pack(forks: Forks) -> None:
    function = forks.functions["Plain"]
    template = json.loads((forks.outdir / "Plain.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::Lambda::Function"} <= types
    assert function.owns_role and not function.in_vpc
    assert forks.failing("Plain/") == []
    assert forks.acknowledged("Plain", "Orchestrator/Default") >= INSIDE_VPC


def test_grants_that_outgrow_the_inline_policy_keep_their_acknowledgments(forks: Forks) -> None:
    # GIVEN a function serving so many use cases that aws-cdk-lib splits its role's policy
    template = json.loads((forks.outdir / "Many.template.json").read_text())
    overflow = [
        lid
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and "OverflowPolicy" in lid
    ]
    assert overflow, "expected the role's grants to overflow into a managed policy"
    moved = json.dumps([template["Resources"][lid]["Properties"]["PolicyDocument"] for lid in overflow])
    assert "foundation-model" in moved  # model grants (with their region-* ARNs) landed there
    # THEN every pack passes: the acknowledgments of those grants follow them into the overflow policies
    assert forks.failing("Many/") == []


def test_in_a_vpc_it_drops_the_outside_a_vpc_acknowledgments(forks: Forks) -> None:
    # GIVEN a fork that places the function in its VPC
    template = json.loads((forks.outdir / "InVpc.template.json").read_text())
    (function,) = [
        r
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and lid.startswith("Orchestrator")
    ]
    assert function["Properties"]["VpcConfig"]["SubnetIds"]
    # THEN the construct no longer claims the function is outside a VPC, acknowledges the VPC access
    # policy Lambda needs on its own role, and nothing under it fails any pack
    acknowledged = forks.acknowledged("InVpc", "Orchestrator/Default")
    assert not acknowledged & INSIDE_VPC
    assert "NIST.800.53.R5-LambdaDLQ" in acknowledged  # the acknowledgments that stay true stay
    assert any(
        "AWSLambdaVPCAccessExecutionRole" in finding
        for finding in forks.acknowledged("InVpc", "Orchestrator/Default/ServiceRole")
    )
    assert forks.failing("InVpc/Orchestrator/") == []


def test_a_role_of_the_forks_own_gets_none_of_the_constructs_role_acknowledgments(forks: Forks) -> None:
    # GIVEN a fork that brings its own role
    function = forks.functions["ForkRole"]
    assert not function.owns_role
    # THEN the grants land on that role, and its policy's findings are the fork's to acknowledge: the
    # construct did not acknowledge them, so every pack reports them there, and only there
    assert sorted(line.split(": ", 1)[1] for line in forks.failing("ForkRole/")) == sorted(
        [
            "AwsSolutions-IAM5[Resource::*] on ForkRole/ForkRole/DefaultPolicy/Resource",
            *(f"{rule} on ForkRole/ForkRole/DefaultPolicy/Resource" for rule in INLINE_POLICY),
        ]
    )
    assert forks.acknowledged("ForkRole", "ForkRole/DefaultPolicy") == set()
    assert forks.failing("ForkRole/Orchestrator/") == []


def _not_holding(config: PlatformConfig) -> Contract:
    """A dev use case that does not hold answers for review: a fork's one use case with no review path."""
    return next(c for c in config.contracts_for("dev") if not c.review.hold_for_review)


def _orchestrator(config: PlatformConfig, stack: cdk.Stack, **props: Any) -> OrchestratorFunction:
    """The construct as a fork starts with it: one use case, the required props and ``props``."""
    use_case = GovernedUseCase(stack, "U", contract=_not_holding(config), environment="dev")
    return OrchestratorFunction(
        stack,
        "Orchestrator",
        use_cases=[use_case],
        environment="dev",
        code_directory=ORCHESTRATOR_CODE_DIRECTORY,
        reserved_concurrency=1,
        **props,
    )


def test_overrides_the_construct_must_keep_are_refused_with_every_problem(config: PlatformConfig) -> None:
    stack = probe_stack(environment=False)
    with pytest.raises(
        ValueError,
        match=r"function_props \['handler', 'runtime'\] cannot be overridden.*"
        r"function_props environment sets \['BEDROCK_RESOURCES', 'RUNTIME_CONFIG_PATH'\]",
    ):
        _orchestrator(
            config,
            stack,
            function_props={  # keys a FunctionOverrides does not have: mypy refuses them too
                "runtime": "python3.9",
                "handler": "x.y",
                "environment": {"BEDROCK_RESOURCES": "{}", "RUNTIME_CONFIG_PATH": "/tmp/x", "TEAM": "a"},
            },
        )


def test_extra_environment_and_layers_are_added_next_to_the_constructs_own(config: PlatformConfig) -> None:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Match, Template

    stack = probe_stack()
    extra = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Extra", "arn:aws:lambda:us-east-1:111111111111:layer:extra:1"
    )
    _orchestrator(
        config,
        stack,
        function_props={
            "environment": {"IDEMPOTENCY_TTL_S": "600"},
            "layers": [extra],
            "description": "fork",
        },
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": "fork",
            "Layers": [{"Ref": Match.string_like_regexp("^SsmParameterValue")}, extra.layer_version_arn],
            "Environment": {
                "Variables": Match.object_like(
                    {"IDEMPOTENCY_TTL_S": "600", "BEDROCK_RESOURCES": Match.any_value()}
                )
            },
        },
    )


def test_a_later_grant_on_every_resource_is_not_hidden_by_the_tracing_acknowledgment(
    config: PlatformConfig,
) -> None:
    from aws_cdk import aws_cloudwatch as cloudwatch

    # GIVEN the construct's own role, whose AwsSolutions-IAM5[Resource::*] is acknowledged for X-Ray: cdk-nag
    # names that finding by the resource alone, so the acknowledgment covers any action on Resource *
    app = probe_app()
    orchestrator = _orchestrator(config, probe_stack(app))
    # WHEN a fork grants the function something else on Resource * after construction
    cloudwatch.Metric.grant_put_metric_data(orchestrator.function)
    # THEN synth fails naming it, instead of passing every pack under the X-Ray reason
    with pytest.raises(RuntimeError, match=r"this policy allows cloudwatch:PutMetricData on Resource \*"):
        app.synth()


def test_a_given_idempotency_table_must_be_encrypted_with_the_key_the_grants_name(
    config: PlatformConfig,
) -> None:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kms as kms

    def fork_table(stack: cdk.Stack) -> tuple[kms.Key, dynamodb.Table]:
        key = kms.Key(stack, "ForkKey")
        table = dynamodb.Table(
            stack,
            "ForkTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
        )
        return key, table

    # GIVEN a fork's table with its own key, and no encryption_key: the grants would name another key
    _, table = fork_table(stack := probe_stack())
    with pytest.raises(ValueError, match=r"idempotency_table is encrypted with S/ForkKey.*pass that key"):
        _orchestrator(config, stack, idempotency_table=table)
    # THEN with that key as encryption_key the function's grants name it
    key, table = fork_table(stack := probe_stack())
    orchestrator = _orchestrator(config, stack, idempotency_table=table, encryption_key=key)
    assert orchestrator.encryption_key is key


def test_overrides_given_as_none_leave_the_constructs_own_role_and_no_vpc(config: PlatformConfig) -> None:
    # GIVEN a fork that passes its optional role and VPC through, both None
    orchestrator = _orchestrator(config, probe_stack(), function_props={"role": None, "vpc": None})
    # THEN the function has the construct's own role outside a VPC, with the acknowledgments that are true of it
    assert orchestrator.owns_role and not orchestrator.in_vpc
    assert set(acknowledgments_on(orchestrator.function)) >= INSIDE_VPC
    assert orchestrator.role is not None
    assert any("AWSLambdaBasicExecutionRole" in f for f in acknowledgments_on(orchestrator.role))


@pytest.mark.parametrize("construct", ["OrchestratorFunction", "OrchestrationApi"])
@pytest.mark.parametrize(("ttl", "lifetime"), [(None, "an hour"), ("2592000", "2592000 seconds")])
def test_the_idempotency_tables_backup_reason_states_the_ttl_the_function_is_given(
    config: PlatformConfig, construct: str, ttl: str | None, lifetime: str
) -> None:
    from tests.support.forks import probe_api

    # GIVEN the documented override of how long answers are replayed (IDEMPOTENCY_TTL_S), or none
    props: Any = {"function_props": {"environment": {} if ttl is None else {"IDEMPOTENCY_TTL_S": ttl}}}
    stack = probe_stack()
    if construct == "OrchestratorFunction":
        table = _orchestrator(config, stack, **props).idempotency_table
    else:
        use_case = GovernedUseCase(stack, "U", contract=_not_holding(config), environment="dev")
        table = probe_api(stack, use_case, **props).idempotency_table
    # THEN the table's DynamoDBInBackupPlan reasons say how long its records live
    reasons = [r for f, r in acknowledgments_on(table).items() if f.endswith("-DynamoDBInBackupPlan")]
    assert len(reasons) == 2
    assert all(reason.startswith(f"Idempotency records live for {lifetime} ") for reason in reasons)


def test_an_idempotency_ttl_the_handler_would_refuse_is_refused_at_synth(config: PlatformConfig) -> None:
    with pytest.raises(
        ValueError, match=r"IDEMPOTENCY_TTL_S must be a positive integer \(seconds\), got '1h'"
    ):
        _orchestrator(config, probe_stack(), function_props={"environment": {"IDEMPOTENCY_TTL_S": "1h"}})


@pytest.mark.parametrize(
    ("log_group", "encrypted"),
    [("own", True), ("given with a key", True), ("given without a key", False), ("imported", False)],
)
def test_the_basic_execution_reason_claims_an_encrypted_log_group_only_when_it_is_one(
    config: PlatformConfig, log_group: str, encrypted: bool
) -> None:
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs

    stack = probe_stack()
    given: dict[str, logs.ILogGroup] = {}
    if log_group == "given with a key":
        given["log_group"] = logs.LogGroup(stack, "ForkLogs", encryption_key=kms.Key(stack, "ForkKey"))
    elif log_group == "given without a key":
        given["log_group"] = logs.LogGroup(stack, "ForkLogs")
    elif log_group == "imported":
        given["log_group"] = logs.LogGroup.from_log_group_name(stack, "ForkLogs", "fork-logs")
    orchestrator = _orchestrator(config, stack, **given)
    assert orchestrator.role is not None
    (reason,) = [
        r for f, r in acknowledgments_on(orchestrator.role).items() if "AWSLambdaBasicExecutionRole" in f
    ]
    assert reason.endswith(
        "the function writes to its own KMS-encrypted group."
        if encrypted
        else "the function writes to the log group it was given."
    )


def test_network_overrides_without_a_vpc_are_refused_together_naming_each_and_the_fix(
    config: PlatformConfig,
) -> None:
    # GIVEN a fork that passes subnets, security groups and the two switches, but its VPC is missing
    stack = probe_stack()
    group = ec2.SecurityGroup(stack, "ForkGroup", vpc=isolated_vpc(stack))
    # THEN one error names every one of them, its value, and the fix (aws-cdk-lib would name one at a time,
    # and ignore allow_public_subnet)
    with pytest.raises(ValueError) as raised:
        _orchestrator(
            config,
            stack,
            function_props={
                "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                "security_groups": [group],
                "allow_public_subnet": True,
                "allow_all_outbound": False,
            },
        )
    message = str(raised.value)
    assert message.startswith("OrchestratorFunction S/Orchestrator: ")
    assert "function_props vpc_subnets is SubnetSelection(" in message
    assert "function_props security_groups is [S/ForkGroup] but no function_props vpc is given" in message
    assert "function_props allow_public_subnet is True but no function_props vpc is given" in message
    assert (
        "function_props allow_all_outbound is False but no function_props vpc is given: it applies only to a "
        "function in a VPC; pass function_props vpc too, or leave allow_all_outbound out"
    ) in message


def test_allow_all_outbound_with_security_groups_is_refused_naming_where_to_set_it(
    config: PlatformConfig,
) -> None:
    stack = probe_stack()
    vpc = isolated_vpc(stack)
    group = ec2.SecurityGroup(stack, "ForkGroup", vpc=vpc)
    with pytest.raises(
        ValueError,
        match=r"function_props allow_all_outbound is True with function_props security_groups \[S/ForkGroup\]: "
        r"the function's outbound rules are those security groups' own; set them there",
    ):
        _orchestrator(
            config,
            stack,
            function_props={"vpc": vpc, "security_groups": [group], "allow_all_outbound": True},
        )
