"""Where the delivery pipeline keeps what it builds: pipeline artifacts, the review pack of every release
candidate (``review/<execution id>/``) and the last production release (``releases/<environment>/``)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from bedrock_constructs.buckets import REPLICATION_FINDINGS, access_logs_bucket, kms_bucket
from bedrock_constructs.keys import encryption_key
from bedrock_constructs.nag import acknowledge_all
from bedrock_constructs.retention import retention_days
from constructs import Construct

_NO_REPLICATION = (
    "Release artifacts are rebuilt from the repository for every release and the last production release is "
    "kept versioned here; a cross-region copy is an account-level backup decision outside this construct."
)


class ArtifactStore(Construct):
    """A rotated KMS key (``key``, also usable by CloudWatch Logs for this account's log groups) and an S3
    bucket (``bucket``: SSE-KMS with that key, versioned, TLS only, public access blocked, server access
    logs to ``access_logs_bucket``, every object version expires after ``retention``).

    The pipeline's cross-account deployments never read this bucket from another account: each deploy step
    runs in CodeBuild here and publishes assets to the target account's bootstrap bucket itself (``cdk
    deploy`` through the bootstrap roles), so the bucket and key policies grant nothing outside this account.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        days = retention_days(retention, owner=f"ArtifactStore {self.node.path}")
        self.key: kms.Key = encryption_key(
            self,
            "Key",
            description="Encrypts the delivery pipeline's artifacts, review packs, releases and logs",
            removal_policy=removal_policy,
            for_cloudwatch_logs=True,
        )
        self.access_logs_bucket = access_logs_bucket(
            self, "AccessLogsBucket", of_what="artifact", days=days, removal_policy=removal_policy
        )
        self.bucket = kms_bucket(
            self,
            "Bucket",
            encryption_key=self.key,
            access_logs=self.access_logs_bucket,
            access_logs_prefix="artifact-bucket/",
            days=days,
            removal_policy=removal_policy,
        )
        # the access-log bucket's own replication reason is access_logs_bucket's
        acknowledge_all(self.bucket, dict.fromkeys(REPLICATION_FINDINGS, _NO_REPLICATION))
        self.logs = logs.LogGroup(
            self,
            "Logs",
            encryption_key=self.key,
            retention=retention,
            removal_policy=removal_policy,
        )
