"""Account-and-region-wide Bedrock model invocation logging to encrypted S3 and CloudWatch Logs.

Bedrock has no CloudFormation resource for this setting (aws-cdk#31478), so a custom resource calls
``PutModelInvocationLoggingConfiguration`` on create and update and
``DeleteModelInvocationLoggingConfiguration`` on delete. It is one setting per account and region:
deploy this construct once per account and region (the config loader enforces it across environments).
"""

from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr

from bedrock_constructs import keys
from bedrock_constructs.buckets import REPLICATION_FINDINGS, access_logs_bucket, kms_bucket
from bedrock_constructs.empty_bucket import EmptyBucketsOnDelete
from bedrock_constructs.lint import GENERATED_DEPENDS_ON, ignore_cfn_lint_check
from bedrock_constructs.metrics import MetricOptions, service_metric
from bedrock_constructs.nag import acknowledge_all, acknowledge_every_resource, logical_ref
from bedrock_constructs.retention import retention_days
from constructs import Construct, IValidation

#: What the custom resource's provider calls, on Resource * (the only resource the actions allow).
SETTING_ACTIONS = (
    "bedrock:PutModelInvocationLoggingConfiguration",
    "bedrock:DeleteModelInvocationLoggingConfiguration",
)
LOG_PREFIX = "invocation-logs"
LARGE_DATA_PREFIX = "large-data"
METRIC_NAMESPACE = "AWS/Bedrock"

#: The construct ID aws-cdk-lib gives the singleton Lambda behind every AwsCustomResource in a stack.
AWS_CUSTOM_RESOURCE_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
#: CloudFormation invokes a custom resource's function asynchronously, with an event that holds the URL it
#: waits on for the result (https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html).
_DEPLOY_TIME_ONLY = (
    "The AwsCustomResource provider runs only while CloudFormation deploys this stack: CloudFormation invokes "
    "it asynchronously once per create, update or delete and waits for its result at the event's response URL; "
)
PROVIDER_FUNCTION_FINDINGS = {
    "NIST.800.53.R5-LambdaConcurrency": _DEPLOY_TIME_ONLY + "reserved concurrency would only withhold "
    "capacity from the account.",
    "HIPAA.Security-LambdaConcurrency": _DEPLOY_TIME_ONLY + "reserved concurrency would only withhold "
    "capacity from the account.",
    "NIST.800.53.R5-LambdaDLQ": _DEPLOY_TIME_ONLY + "the provider reports every error to that URL "
    "(one that never answers fails when CloudFormation stops waiting), CloudFormation records the failure as a "
    "stack event and rolls back; a dead-letter queue would only keep an event CloudFormation has already failed.",
    "HIPAA.Security-LambdaDLQ": _DEPLOY_TIME_ONLY + "the provider reports every error to that URL "
    "(one that never answers fails when CloudFormation stops waiting), CloudFormation records the failure as a "
    "stack event and rolls back; a dead-letter queue would only keep an event CloudFormation has already failed.",
    "Serverless-LambdaDLQ": _DEPLOY_TIME_ONLY + "the provider reports every error to that URL "
    "(one that never answers fails when CloudFormation stops waiting), CloudFormation records the failure as a "
    "stack event and rolls back; a dead-letter queue would only keep an event CloudFormation has already failed.",
    "NIST.800.53.R5-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the Bedrock control-plane API "
    "and handles no application data.",
    "HIPAA.Security-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the Bedrock control-plane API "
    "and handles no application data.",
    "PCI.DSS.321-LambdaInsideVPC": _DEPLOY_TIME_ONLY + "it calls only the Bedrock control-plane API "
    "and handles no application data.",
    "Serverless-LambdaTracing": _DEPLOY_TIME_ONLY + "aws-cdk-lib's provider exposes no tracing setting "
    "and each run is recorded as a CloudFormation event.",
}


class InvocationLogging(Construct):
    """Encrypted destinations for Bedrock model invocation logs and the setting that points Bedrock at them.

    Creates a KMS key (rotated), an S3 bucket (versioned, SSE-KMS, public access blocked, TLS only,
    server access logs, objects expire after ``log_retention``), a KMS-encrypted log group, the service role
    Bedrock assumes to write to it (limited by ``aws:SourceAccount`` and ``aws:SourceArn``), and the
    custom resource that turns logging on.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        text_data: bool = False,
        image_data: bool = False,
        embedding_data: bool = False,
        video_data: bool = False,
        audio_data: bool = False,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        retention = log_retention
        days = retention_days(log_retention, owner=f"InvocationLogging {self.node.path}")
        bedrock_source = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="bedrock", resource="*")},
        }

        if encryption_key is None:
            key = keys.encryption_key(
                self,
                "Key",
                description="Encrypts Amazon Bedrock model invocation logs (S3 objects and CloudWatch Logs)",
                removal_policy=removal_policy,
                for_cloudwatch_logs=True,
            )
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowBedrockToWriteEncryptedLogs",
                    principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],
                    conditions=bedrock_source,
                )
            )
            self.key: kms.IKey = key
        else:
            self.key = encryption_key

        self.access_logs_bucket = access_logs_bucket(
            self, "AccessLogsBucket", of_what="log", days=days, removal_policy=removal_policy
        )

        self.bucket = kms_bucket(
            self,
            "Bucket",
            encryption_key=self.key,
            access_logs=self.access_logs_bucket,
            access_logs_prefix="invocation-log-bucket/",
            days=days,
            removal_policy=removal_policy,
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBedrockInvocationLogDelivery",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{LOG_PREFIX}/*"),
                    self.bucket.arn_for_objects(f"{LARGE_DATA_PREFIX}/*"),
                ],
                conditions=bedrock_source,
            )
        )
        # the access-log bucket's own replication reason is access_logs_bucket's
        acknowledge_all(
            self.bucket,
            dict.fromkeys(
                REPLICATION_FINDINGS,
                "Invocation logs stay in the region where they were produced for data residency; cross-region "
                "copies are an account-level backup decision outside this construct.",
            ),
        )

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=self.key,
            retention=retention,
            removal_policy=removal_policy,
        )

        self.role = iam.Role(
            self,
            "DeliveryRole",
            description="Assumed by Amazon Bedrock to deliver model invocation logs to CloudWatch Logs",
            assumed_by=iam.ServicePrincipal("bedrock.amazonaws.com").with_conditions(bedrock_source),
        )
        # A customer managed policy, not an inline one: it can be reviewed and versioned on its own.
        self.delivery_policy = iam.ManagedPolicy(
            self,
            "DeliveryPolicy",
            description="What Amazon Bedrock may do when delivering invocation logs",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteInvocationLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    # The log group ARN ends in ":*", which covers its streams.
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteLargeInvocationPayloads",
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(f"{LARGE_DATA_PREFIX}/*")],
                ),
                iam.PolicyStatement(
                    sid="EncryptLargeInvocationPayloads",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.key.key_arn],
                ),
            ],
        )
        acknowledge_all(
            self.delivery_policy,
            {
                f"AwsSolutions-IAM5[Resource::<{logical_ref(self.bucket)}.Arn>/{LARGE_DATA_PREFIX}/*]": (
                    "Bedrock writes payloads over 100 KB under generated object keys; the grant is limited to "
                    "the large-data/ prefix of this one bucket."
                ),
            },
        )

        logging_config = {
            "s3Config": {"bucketName": self.bucket.bucket_name, "keyPrefix": LOG_PREFIX},
            "cloudWatchConfig": {
                "logGroupName": self.log_group.log_group_name,
                "roleArn": self.role.role_arn,
                "largeDataDeliveryS3Config": {
                    "bucketName": self.bucket.bucket_name,
                    "keyPrefix": LARGE_DATA_PREFIX,
                },
            },
            # Every delivery flag of LoggingConfig, stated: the setting is account-wide, and a flag left
            # out is left to the service default (gate rule BEDROCK-LOGGING-FLAGS).
            "textDataDeliveryEnabled": text_data,
            "imageDataDeliveryEnabled": image_data,
            "embeddingDataDeliveryEnabled": embedding_data,
            "videoDataDeliveryEnabled": video_data,
            "audioDataDeliveryEnabled": audio_data,
        }
        self.configuration = self._configuration_resource(logging_config, retention, removal_policy)
        # Bedrock checks that it can write to every destination when the setting is put.
        # References already order it after the bucket, log group and role; the policies are not referenced.
        self.configuration.node.add_dependency(self.delivery_policy)
        if self.bucket.policy is not None:
            self.configuration.node.add_dependency(self.bucket.policy)
        self._quiet_redundant_dependency_warnings()
        # With removal policy DESTROY the buckets must be empty before CloudFormation can delete them.
        self.emptier: EmptyBucketsOnDelete | None = None
        if removal_policy == cdk.RemovalPolicy.DESTROY:
            self.emptier = EmptyBucketsOnDelete(
                self,
                "EmptyBucketsOnDelete",
                buckets=[self.bucket, self.access_logs_bucket],
                log_retention=retention,
                encryption_key=self.key,
                removal_policy=removal_policy,
            )
        self.text_data = text_data
        self.delivery = {
            "text": text_data,
            "image": image_data,
            "embedding": embedding_data,
            "video": video_data,
            "audio": audio_data,
        }
        self.log_retention = log_retention
        self.retention_days = days

    def _configuration_resource(
        self,
        logging_config: dict[str, object],
        retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> cr.AwsCustomResource:
        """The custom resource that puts the logging setting, run by a provider with its own role."""
        self.provider_log_group = provider_logs = logs.LogGroup(
            self,
            "ConfigurationProviderLogs",
            encryption_key=self.key,
            retention=retention,
            removal_policy=removal_policy,
        )
        self.provider_role = provider_role = iam.Role(
            self,
            "ConfigurationProviderRole",
            description="Puts and deletes the Bedrock model invocation logging setting during deployments",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self.provider_policy = provider_policy = iam.ManagedPolicy(
            self,
            "ConfigurationProviderPolicy",
            roles=[provider_role],
            statements=[
                iam.PolicyStatement(
                    sid="ManageInvocationLoggingSetting",
                    actions=list(SETTING_ACTIONS),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PassDeliveryRoleToBedrock",
                    actions=["iam:PassRole"],
                    resources=[self.role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="WriteProviderLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[provider_logs.log_group_arn],
                ),
            ],
        )
        acknowledge_every_resource(
            provider_policy,
            SETTING_ACTIONS,
            "Bedrock's Put/DeleteModelInvocationLoggingConfiguration actions have no resource-level "
            "permissions: the setting is one per account and region.",
        )
        configuration = cr.AwsCustomResource(
            self,
            "Configuration",
            resource_type="Custom::BedrockModelInvocationLogging",
            install_latest_aws_sdk=False,
            on_create=_call("putModelInvocationLoggingConfiguration", {"loggingConfig": logging_config}),
            on_update=_call("putModelInvocationLoggingConfiguration", {"loggingConfig": logging_config}),
            on_delete=_call("deleteModelInvocationLoggingConfiguration", {}),
            role=provider_role,
            log_group=provider_logs,
            memory_size=256,
            timeout=cdk.Duration.minutes(2),
        )
        configuration.node.add_dependency(provider_policy)
        provider = cdk.Stack.of(self).node.try_find_child(AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        if provider is not None:
            acknowledge_all(provider, PROVIDER_FUNCTION_FINDINGS)
        self.node.add_validation(_ProviderRunsOnlyTheSetting(configuration))
        return configuration

    def _quiet_redundant_dependency_warnings(self) -> None:
        """aws-cdk-lib adds explicit DependsOn entries to the custom resource provider it generates that
        its references already imply; cfn-lint reports them as W3005. Ignore that one check on those
        generated resources only."""
        provider = cdk.Stack.of(self).node.try_find_child(AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        if provider is not None:
            for child in provider.node.find_all():
                if isinstance(child, cdk.CfnResource) and child.cfn_resource_type in (
                    "AWS::Lambda::Function",
                    "AWS::IAM::Role",
                ):
                    ignore_cfn_lint_check(child, "W3005", GENERATED_DEPENDS_ON)

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """An account-level ``AWS/Bedrock`` metric with no dimension, such as the delivery failures of
        invocation logs (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html).
        Sum over 5 minutes unless ``options`` say otherwise."""
        return service_metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions={},
            statistic="Sum",
            options=options,
        )

    def metric_cloudwatch_delivery_failures(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("ModelInvocationLogsCloudWatchDeliveryFailure", **options)

    def metric_s3_delivery_failures(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric("ModelInvocationLogsS3DeliveryFailure", **options)


@jsii.implements(IValidation)
class _ProviderRunsOnlyTheSetting:
    """Synth fails if another ``AwsCustomResource`` shares the stack's provider with the logging setting.

    aws-cdk-lib builds one provider function per stack (a ``SingletonFunction``) for every
    ``AwsCustomResource`` in it, with the ``role`` and ``log_group`` of the first one created; the others'
    are ignored (aws-cdk#32533, #13601). So another one in the stack would run on the setting's
    ``ConfigurationProviderRole`` (its grants added there), or, created first, would leave the setting to
    a role without the Bedrock permissions; and :data:`PROVIDER_FUNCTION_FINDINGS`, acknowledged on that
    function ("it calls only the Bedrock control-plane API"), would no longer be true."""

    def __init__(self, configuration: cr.AwsCustomResource) -> None:
        self.configuration = configuration

    def validate(self) -> list[str]:
        stack = cdk.Stack.of(self.configuration)
        others = [
            c.node.path
            for c in stack.node.find_all()
            if isinstance(c, cr.AwsCustomResource)
            and c.node.path != self.configuration.node.path
            and cdk.Stack.of(c).node.path == stack.node.path  # a nested stack has a provider of its own
        ]
        if not others:
            return []
        return [
            f"{others} share this stack's AwsCustomResource provider ({AWS_CUSTOM_RESOURCE_PROVIDER_ID}) with the "
            "invocation logging setting: aws-cdk-lib runs every AwsCustomResource of a stack on one function, with "
            "the role and log group of the first one created, and this construct acknowledges that function's "
            "findings as calling only Bedrock's logging API. Create them in another stack (a NestedStack has a "
            "provider of its own) or with custom_resources.Provider"
        ]


def _call(action: str, parameters: dict[str, object]) -> cr.AwsSdkCall:
    return cr.AwsSdkCall(
        service="bedrock",
        action=action,
        parameters=parameters,
        physical_resource_id=cr.PhysicalResourceId.of("BedrockModelInvocationLogging"),
    )
