"""Customer managed KMS keys as this project makes them: rotated, described, with an explicit removal
policy, and (where log groups use them) usable by CloudWatch Logs for this account's log groups only."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct


def allow_cloudwatch_logs(key: kms.Key) -> None:
    """Let CloudWatch Logs in this region use ``key`` for log groups of this account (no other)."""
    stack = cdk.Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


def encryption_key(
    scope: Construct,
    id: str,
    *,
    description: str,
    removal_policy: cdk.RemovalPolicy,
    for_cloudwatch_logs: bool = False,
) -> kms.Key:
    """A rotated customer managed key; ``for_cloudwatch_logs`` adds :func:`allow_cloudwatch_logs`."""
    key = kms.Key(scope, id, description=description, enable_key_rotation=True, removal_policy=removal_policy)
    if for_cloudwatch_logs:
        allow_cloudwatch_logs(key)
    return key


def key_for_logs(
    scope: Construct, given: kms.IKey | None, *, description: str, removal_policy: cdk.RemovalPolicy
) -> kms.IKey:
    """``given``, or a new rotated key ``Key`` that CloudWatch Logs may use: what a construct that takes an
    optional ``encryption_key`` for its log groups uses when none is given."""
    if given is not None:
        return given
    return encryption_key(
        scope, "Key", description=description, removal_policy=removal_policy, for_cloudwatch_logs=True
    )
