"""The cdk-nag findings every Lambda function of this project shares, acknowledged the same way wherever
a construct creates one (the orchestrator, the review functions): one finding id each, one reason that
states the constraint. Each helper is called by the construct that creates the function, on that
function's own resources."""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from bedrock_constructs.nag import (
    acknowledge,
    acknowledge_all,
    acknowledge_basic_execution_role,
    acknowledge_every_resource,
    acknowledge_inline_policy,
)
from constructs import IConstruct

DLQ_FINDINGS = ("NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ")
VPC_FINDINGS = (
    "NIST.800.53.R5-LambdaInsideVPC",
    "HIPAA.Security-LambdaInsideVPC",
    "PCI.DSS.321-LambdaInsideVPC",
)
PINNED_RUNTIME = (
    "Pinned to python3.13, the newest runtime for which this project uses the AWS-managed "
    "Powertools layer; bump it together with the layer."
)
TRACING = (
    "X-Ray's PutTraceSegments and "
    "PutTelemetryRecords have no resource-level permissions; active tracing needs them."
)
#: What aws-cdk-lib grants a function with active tracing, on Resource * (aws-lambda's function.ts; the
#: Lambda guide's X-Ray page lists the same two actions:
#: https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html).
TRACING_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def acknowledge_no_dead_letter_queue(function: lambda_.Function, reason: str) -> None:
    """The function's failed invocations need no dead-letter queue; ``reason`` says how it is invoked and
    why (the backlog function is invoked asynchronously, by its schedule)."""
    acknowledge_all(function, dict.fromkeys(DLQ_FINDINGS, reason))


def acknowledge_outside_vpc(function: lambda_.Function, reason: str) -> None:
    acknowledge_all(function, dict.fromkeys(VPC_FINDINGS, reason))


def acknowledge_pinned_runtime(function: lambda_.Function, runtime: lambda_.Runtime) -> None:
    """The runtime is not the newest aws-cdk-lib knows, because the Powertools layer pins it."""
    if runtime.name != "python3.14":
        acknowledge_all(
            function, dict.fromkeys(("AwsSolutions-L1", "Serverless-LambdaLatestVersion"), PINNED_RUNTIME)
        )


#: aws-cdk-lib attaches this AWS managed policy to the role it creates for a function in a VPC: Lambda needs
#: it to create and delete the function's network interfaces
#: (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
VPC_ACCESS_POLICY = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]"
VPC_ACCESS = (
    "Lambda's documented grant for a function in a VPC: it allows only creating, describing "
    "and deleting the network interfaces Lambda attaches (AWS publishes it on Resource *)."
)


def acknowledge_execution_role(
    role: iam.IRole, *, inline_policy_reason: str, encrypted_logs: bool = True, in_vpc: bool = False
) -> IConstruct | None:
    """The execution role aws-cdk-lib makes: the AWS managed basic execution policy (and, for a function
    ``in_vpc``, the VPC access policy), and its default policy's X-Ray wildcard and inline form. Returns the
    default policy (None before any grant), on which a construct acknowledges its own further findings."""
    acknowledge_basic_execution_role(role, encrypted_logs=encrypted_logs)
    if in_vpc:
        acknowledge(role, VPC_ACCESS_POLICY, VPC_ACCESS)
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        acknowledge_every_resource(policy, TRACING_ACTIONS, TRACING)
        acknowledge_inline_policy(policy, inline_policy_reason)
    return policy


GLOBAL_MODEL = (
    "A global cross-Region inference profile can route to any commercial Region; Bedrock authorizes the "
    "model in every Region it routes to. The grant names one model only."
)


def acknowledge_global_model_grants(role: iam.IRole, foundation_model_arns: Iterable[str]) -> None:
    """``AwsSolutions-IAM5`` for each foundation-model ARN with region ``*`` (behind a global cross-Region
    profile) that ``role`` was granted. On the role, not its DefaultPolicy: with enough grants aws-cdk-lib
    moves the rest into ManagedPolicy children of the role (``OverflowPolicy1``, ...) once IAM's
    10,240-character limit on a role's inline policies is reached
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). Each acknowledgment names
    one model ARN, so it covers that grant wherever it lands and nothing else."""
    for arn in dict.fromkeys(foundation_model_arns):
        if ":*:" in arn:
            printed = (
                arn.replace(cdk.Aws.PARTITION, "<AWS::Partition>") if cdk.Token.is_unresolved(arn) else arn
            )
            acknowledge(role, f"AwsSolutions-IAM5[Resource::{printed}]", GLOBAL_MODEL)
