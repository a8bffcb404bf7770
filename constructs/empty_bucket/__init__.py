"""Empty S3 buckets when CloudFormation deletes them, with a provider every cdk-nag pack evaluates.

aws-cdk-lib's ``Bucket(auto_delete_objects=True)`` does the same job, but its provider's function and
role are bare ``cdk.CfnResource`` constructs: cdk-nag's rules match L1 classes (``CfnFunction``,
``CfnRole``), so no pack ever evaluated them, and its function writes to an implicit log group with no
retention or key. This construct builds the provider from L2 constructs instead: a ``lambda_.Function``
with its own log group (encrypted with the given KMS key or a key of its own), a role and a customer
managed policy scoped to the given buckets.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from bedrock_constructs.keys import key_for_logs
from bedrock_constructs.lint import GENERATED_DEPENDS_ON, ignore_cfn_lint_check
from bedrock_constructs.nag import acknowledge_all, logical_ref
from bedrock_platform_lambdas import LAMBDAS_DIRECTORY
from bedrock_platform_lambdas.empty_bucket import EMPTY_ON_DELETE_TAG, RESOURCE_TYPE
from constructs import Construct

HANDLER = "empty_bucket.handler.lambda_handler"
RUNTIME = lambda_.Runtime.PYTHON_3_14
#: CloudFormation invokes a custom resource's function asynchronously, with an event that holds the URL it
#: waits on for the result (https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html).
_DEPLOY_TIME_ONLY = (
    "The bucket-emptying provider runs only while CloudFormation deletes or replaces a bucket: CloudFormation "
    "invokes it asynchronously once per bucket and waits for its result at the event's response URL; "
)
PROVIDER_FUNCTION_FINDINGS = {
    "NIST.800.53.R5-LambdaConcurrency": _DEPLOY_TIME_ONLY + "reserved concurrency would only withhold "
    "capacity from the account.",
    "HIPAA.Security-LambdaConcurrency": _DEPLOY_TIME_ONLY + "reserved concurrency would only withhold "
    "capacity from the account.",
    "NIST.800.53.R5-LambdaDLQ": _DEPLOY_TIME_ONLY + "it reports every failure to that URL (one that "
    "never answers fails when CloudFormation stops waiting) and CloudFormation records it as a stack event; a "
    "dead-letter queue would only keep an event CloudFormation has already failed.",
    "HIPAA.Security-LambdaDLQ": _DEPLOY_TIME_ONLY + "it reports every failure to that URL (one that "
    "never answers fails when CloudFormation stops waiting) and CloudFormation records it as a stack event; a "
    "dead-letter queue would only keep an event CloudFormation has already failed.",
    "Serverless-LambdaDLQ": _DEPLOY_TIME_ONLY + "it reports every failure to that URL (one that "
    "never answers fails when CloudFormation stops waiting) and CloudFormation records it as a stack event; a "
    "dead-letter queue would only keep an event CloudFormation has already failed.",
    "NIST.800.53.R5-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the S3 API for buckets of this "
    "stack and handles no application data.",
    "HIPAA.Security-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the S3 API for buckets of this "
    "stack and handles no application data.",
    "PCI.DSS.321-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the S3 API for buckets of this "
    "stack and handles no application data.",
    "Serverless-LambdaTracing": _DEPLOY_TIME_ONLY + "each run is recorded as a CloudFormation stack event "
    "and in its own log group; tracing would add X-Ray permissions on Resource * for no insight.",
}


class EmptyBucketsOnDelete(Construct):
    """Empties each of ``buckets`` (every object version and delete marker) when CloudFormation deletes
    it, so a stack whose buckets have removal policy DESTROY can be destroyed.

    One function serves every bucket: one ``Custom::EmptyBucketOnDelete`` resource per bucket, each
    depending on its bucket (so it is deleted, and empties the bucket, first) and on the function's
    permissions. Each bucket is tagged ``bedrock-platform:empty-on-delete=true``; the handler empties
    only tagged buckets, so changing a bucket's removal policy to RETAIN (which removes this construct
    and the tag in one update) never empties it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        buckets: Sequence[s3.IBucket],
        log_retention: logs.RetentionDays,
        encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, id)
        if not buckets:
            raise ValueError(
                f"EmptyBucketsOnDelete {self.node.path}: buckets is empty; pass the buckets to empty"
            )
        # The handler empties only buckets tagged for it, and a tag can be set only on a bucket the app
        # creates: an imported one (Bucket.from_bucket_name, ...) would never be emptied.
        imported = [b.node.path for b in buckets if not isinstance(b.node.default_child, s3.CfnBucket)]
        if imported:
            raise ValueError(
                f"EmptyBucketsOnDelete {self.node.path}: {imported} are imported; it empties only buckets this "
                f"app creates (it tags each one {EMPTY_ON_DELETE_TAG}=true and the handler empties only tagged "
                "buckets): pass s3.Bucket constructs"
            )
        #: The key of the provider's log group: ``encryption_key``, or a new rotated key (``Key``).
        self.encryption_key = key_for_logs(
            self,
            encryption_key,
            description="Encrypts the logs of the bucket-emptying provider",
            removal_policy=removal_policy,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=self.encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            description="Empties this stack's S3 buckets when CloudFormation deletes them",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="What the bucket-emptying provider may do: only on this stack's tagged buckets",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadTagAndGuardTheBuckets",
                    actions=[
                        "s3:GetBucketTagging",
                        "s3:ListBucketVersions",
                        "s3:GetBucketPolicy",
                        "s3:PutBucketPolicy",
                    ],
                    resources=[b.bucket_arn for b in buckets],
                ),
                iam.PolicyStatement(
                    sid="DeleteEveryObjectVersion",
                    actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    resources=[b.arn_for_objects("*") for b in buckets],
                ),
                iam.PolicyStatement(
                    sid="WriteProviderLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
            ],
        )
        acknowledge_all(
            self.policy,
            {
                f"AwsSolutions-IAM5[Resource::<{logical_ref(bucket)}.Arn>/*]": (
                    "Emptying a bucket means deleting every object version in it; the grant is limited to "
                    "this stack's buckets, and the handler acts only on buckets tagged for it."
                )
                for bucket in buckets
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="bedrock-platform: empties a bucket when CloudFormation deletes it",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(LAMBDAS_DIRECTORY), exclude=["*", "!empty_bucket", "!empty_bucket/*.py"]
            ),
            role=self.role,
            memory_size=256,
            timeout=cdk.Duration.minutes(15),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        self.function.node.add_dependency(self.policy)
        acknowledge_all(self.function, PROVIDER_FUNCTION_FINDINGS)
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, cdk.CfnResource)
        ignore_cfn_lint_check(function_resource, "W3005", GENERATED_DEPENDS_ON)
        self.resources: list[cdk.CustomResource] = []
        for index, bucket in enumerate(buckets):
            cdk.Tags.of(bucket).add(EMPTY_ON_DELETE_TAG, "true")
            resource = cdk.CustomResource(
                self,
                f"Bucket{index}",
                service_token=self.function.function_arn,
                resource_type=RESOURCE_TYPE,
                properties={"BucketName": bucket.bucket_name},
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            resource.node.add_dependency(self.policy)
            if isinstance(bucket, s3.Bucket) and bucket.policy is not None:
                # The handler adds a deny-writes statement to the bucket policy before it empties it.
                resource.node.add_dependency(bucket.policy)
            self.resources.append(resource)
