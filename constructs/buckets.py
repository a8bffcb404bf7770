"""S3 buckets as this project makes them: a bucket's server access logs go to an access-log bucket, and
objects expire after a retention."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from bedrock_constructs.nag import acknowledge_all
from constructs import Construct

_SSE_S3 = "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS."
#: S3 delivers server access logs only to a bucket in the source bucket's Region
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).
_ACCESS_LOGS_IN_REGION = (
    "This bucket holds only the {what} bucket's S3 server access logs, which S3 delivers only to a bucket in "
    "that bucket's Region; a cross-region copy is an account-level backup decision outside this construct."
)
#: With it, aws-cdk-lib lets S3's logging service write server access logs through the target bucket's policy
#: instead of the LogDeliveryWrite ACL, which a bucket with BucketOwnerEnforced object ownership (ACLs
#: disabled) cannot have (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html,
#: "Permissions for log delivery"; aws-cdk-lib's s3 README, "Logging configuration").
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
REPLICATION_FINDINGS = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)


def expire_after(days: int) -> s3.LifecycleRule:
    """Current and noncurrent versions expire after ``days``; unfinished uploads after a week."""
    return s3.LifecycleRule(
        id="ExpireAfterRetention",
        expiration=cdk.Duration.days(days),
        noncurrent_version_expiration=cdk.Duration.days(days),
        abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
    )


def access_logs_bucket(
    scope: Construct, id: str, *, of_what: str, days: int, removal_policy: cdk.RemovalPolicy
) -> s3.Bucket:
    """The destination of another bucket's (``of_what``) server access logs: SSE-S3 (the only encryption S3
    server access logging delivers to), versioned, TLS only, public access blocked, objects expire after
    ``days``; the findings that follow from being that destination (and holding nothing else) are
    acknowledged on it.

    It logs nowhere itself (logging it to itself would be a delivery loop), and needs no acknowledgment for
    that: cdk-nag's logging rules (AwsSolutions-S1, ``*-S3BucketLoggingEnabled``) pass a bucket that another
    bucket of the same stack names as its ``LoggingConfiguration.DestinationBucketName`` (cdk-nag 3.0.2,
    ``rules/s3/S3BucketLoggingEnabled``). Create it in the stack of the bucket it serves."""
    if not cdk.FeatureFlags.of(scope).is_enabled(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY):
        raise ValueError(
            f"{scope.node.path}: its server access log bucket needs the feature flag "
            f'{SERVER_ACCESS_LOGS_USE_BUCKET_POLICY}: true in the app\'s context (cdk.json "context", or '
            f"cdk.App(context={{...}})); without it aws-cdk-lib grants S3's log delivery through the "
            "LogDeliveryWrite ACL, which its BucketOwnerEnforced object ownership forbids"
        )
    bucket = s3.Bucket(
        scope,
        id,
        # S3 server access logging can only deliver to buckets encrypted with SSE-S3.
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[expire_after(days)],
        removal_policy=removal_policy,
    )
    acknowledge_all(
        bucket,
        {
            "NIST.800.53.R5-S3DefaultEncryptionKMS": _SSE_S3,
            "HIPAA.Security-S3DefaultEncryptionKMS": _SSE_S3,
            "PCI.DSS.321-S3DefaultEncryptionKMS": _SSE_S3,
            **dict.fromkeys(REPLICATION_FINDINGS, _ACCESS_LOGS_IN_REGION.format(what=of_what)),
        },
    )
    return bucket


def kms_bucket(
    scope: Construct,
    id: str,
    *,
    encryption_key: kms.IKey,
    access_logs: s3.IBucket,
    access_logs_prefix: str,
    days: int,
    removal_policy: cdk.RemovalPolicy,
) -> s3.Bucket:
    """A data bucket: SSE-KMS with ``encryption_key`` (and an S3 bucket key), public access blocked, TLS
    only, versioned, owner-enforced, server access logs to ``access_logs`` under ``access_logs_prefix``,
    objects expiring after ``days``."""
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=[expire_after(days)],
        removal_policy=removal_policy,
    )
