"""What an environment's stack gives the delivery pipeline: a role the readiness gate assumes (and the test
subscription it reads alarm notifications from), and a role the canary bake assumes in production.

Each role trusts one role of the delivery account, named exactly: the trust policy allows the delivery
account's principals only when ``aws:PrincipalArn`` is that role's ARN. ``aws:PrincipalArn`` is the ARN of
the role itself for an assumed-role session
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn),
and naming the account (not the role) as principal lets the policy be created before that role exists
(IAM refuses a trust policy naming a role ARN that does not exist yet).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs

from bedrock_constructs.keys import encryption_key
from bedrock_constructs.monitoring import NotificationTopic
from bedrock_constructs.nag import (
    acknowledge,
    acknowledge_every_resource,
    acknowledge_inline_policy,
    logical_ref,
)
from bedrock_constructs.orchestration_api import OrchestrationApi, OrchestratorFunction
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct
from platform_spec.delivery import DeliveryRole, Output, readiness_role_name, release_role_name

#: DescribeAlarms returns composite alarms only to callers whose cloudwatch:DescribeAlarms is scoped to *
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
DESCRIBE_ALARMS_ON_ANY = (
    "CloudWatch returns composite alarms from DescribeAlarms only to a caller whose cloudwatch:DescribeAlarms "
    "is scoped to *, and every use case's composite alarm is watched; the action only reads alarm states."
)
#: cloudwatch:GetMetricData can be scoped to one resource type, a metric dataset
#: (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html), and
#: CloudWatch has one dataset per account and Region, ``default``, which holds every metric
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetDataset.html): no ARN narrower
#: than * names fewer metrics.
GET_METRIC_DATA_ON_ANY = (
    "cloudwatch:GetMetricData can be scoped only to a metric dataset (its one resource type in the Service "
    "Authorization Reference), and CloudWatch has one dataset per account and Region, default, holding every "
    "metric: no narrower ARN names fewer metrics. The canary bake reads the orchestrator's per-version Errors "
    "and Invocations with it, and the action only reads metrics."
)
#: How long a probe notification is kept: the readiness gate reads it within minutes.
PROBE_RETENTION = cdk.Duration.days(1)


def delivery_trust(scope: Construct, *, delivery_account: str, delivery_role: str) -> iam.IPrincipal:
    """The delivery account's role ``delivery_role``, and nothing else of that account."""
    stack = cdk.Stack.of(scope)
    return iam.AccountPrincipal(delivery_account).with_conditions(
        {
            "ArnEquals": {
                "aws:PrincipalArn": f"arn:{stack.partition}:iam::{delivery_account}:role/{delivery_role}"
            }
        }
    )


def describe_own_stack(role: iam.IRole, *, list_resources: bool = True) -> iam.Grant:
    """Read this stack's outputs (the gates find the API and the queue there, the bake its function and
    version) and, given ``list_resources``, its resources (the readiness gate finds the alarms there)."""
    actions = ["cloudformation:DescribeStacks"]
    if list_resources:
        actions.append("cloudformation:ListStackResources")
    return iam.Grant.add_to_principal(grantee=role, actions=actions, resource_arns=[cdk.Aws.STACK_ID])


def describe_alarms(role: iam.Role, *, metric_data: bool = False) -> iam.Grant:
    """``cloudwatch:DescribeAlarms`` on ``*`` (composite alarms are returned only then) and, given
    ``metric_data``, ``cloudwatch:GetMetricData`` (whose one resource type, the account's metric dataset,
    holds every metric), acknowledged on ``role``'s policy (one finding, ``Resource::*``, whose reason states
    each action's constraint)."""
    actions, reasons = ["cloudwatch:DescribeAlarms"], [DESCRIBE_ALARMS_ON_ANY]
    if metric_data:
        actions.append("cloudwatch:GetMetricData")
        reasons.append(GET_METRIC_DATA_ON_ANY)
    grant = iam.Grant.add_to_principal(grantee=role, actions=actions, resource_arns=["*"])
    policy = role.node.try_find_child("DefaultPolicy")
    assert policy is not None
    acknowledge_every_resource(policy, actions, " ".join(reasons))
    return grant


class ReadinessGateAccess(Construct):
    """What the readiness gate (``python -m delivery.gates readiness``) needs in the environment it tests:

    - ``probe_queue``: an SQS queue subscribed to the environment's notification topic, encrypted with its
      own key (``probe_key``), which SNS may use for that topic only. The gate sets each alarm to ALARM and
      reads the notification here: proof that an alarm reaches the topic and the topic delivers. Messages
      are kept for a day; nobody else reads the queue.
    - ``role`` (``bedrock-platform-<env>-readiness``), assumable only by the delivery account's
      ``bedrock-platform-readiness-gate`` role: signed calls to the use-case routes of the API's v1 stage,
      ApplyGuardrail on the use cases' guardrails and InvokeModel (Converse, no streaming) on their judge
      profiles (the suites), SetAlarmState on exactly ``alarms``, DescribeAlarms, receiving and deleting the
      probe queue's messages, and this stack's outputs and resources; and,
      given ``reviewer_role``, ``sts:AssumeRole`` and ``sts:SetSourceIdentity`` on that role alone, so the
      gate can walk the human review path once as a reviewer (``python -m human_review exercise --target
      <env>``, which names its reviewer session and source identity ``human-review-exercise``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        delivery_account: str,
        notifications: NotificationTopic,
        api: OrchestrationApi,
        use_cases: Sequence[GovernedUseCase],
        alarms: Sequence[cloudwatch.IAlarm],
        reviewer_role: iam.IRole | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        # Its own key: the subscription lets SNS use the queue's key for this topic only (a key policy
        # statement naming the topic), and on the topic's own key that statement would be a circular
        # dependency between the topic and its key.
        self.probe_key = encryption_key(
            self,
            "ProbeKey",
            description="Encrypts the readiness gate's copies of alarm notifications",
            removal_policy=removal_policy,
        )
        self.probe_queue = sqs.Queue(
            self,
            "ProbeQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.probe_key,
            enforce_ssl=True,
            retention_period=PROBE_RETENTION,
            removal_policy=removal_policy,
        )
        for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.probe_queue,
                finding,
                "The probe queue only receives test notifications that the readiness gate reads and deletes; a "
                "message it cannot process is a failed check, not work to redrive from a dead-letter queue.",
            )
        self.subscription = notifications.topic.add_subscription(
            subscriptions.SqsSubscription(self.probe_queue, dead_letter_queue=notifications.dead_letters)
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=readiness_role_name(environment),
            assumed_by=delivery_trust(
                self, delivery_account=delivery_account, delivery_role=DeliveryRole.READINESS_GATE
            ),
            description=f"The delivery pipeline's readiness gate in {environment} (smoke, alarms, suites, load)",
            max_session_duration=cdk.Duration.hours(1),
        )
        # Exactly what the gate calls (tests/delivery/test_readiness_role.py runs it and evaluates each call):
        self.grants = [
            # the use-case routes of the v1 stage (smoke, suites, load, the walk's caller steps: acknowledged
            # below); never /health or the use-case list, which the gate does not read
            api.grant_use_cases(self.role),
            *(use_case.guardrail.grant_apply(self.role) for use_case in use_cases),
            # the suites' judge calls Converse (evaluation.harness asks inspect-ai's bedrock provider for
            # streaming=False): bedrock:InvokeModel only, no InvokeModelWithResponseStream
            # (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-prereq.html)
            *(g for uc in use_cases if (g := uc.grant_judge(self.role, streaming=False)) is not None),
            # the probe reads and deletes notifications: ReceiveMessage and DeleteMessage on the queue
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html) and
            # kms:Decrypt on its key, which receiving from an SSE-KMS queue needs
            # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html);
            # not grant_consume_messages' ChangeMessageVisibility, GetQueueAttributes and GetQueueUrl (the
            # queue's URL is a stack output)
            iam.Grant.add_to_principal(
                grantee=self.role,
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                resource_arns=[self.probe_queue.queue_arn],
            ).combine(self.probe_key.grant_decrypt(self.role)),
            iam.Grant.add_to_principal(
                grantee=self.role,
                actions=["cloudwatch:SetAlarmState"],
                resource_arns=[alarm.alarm_arn for alarm in alarms],
            ),
            describe_own_stack(self.role),
            describe_alarms(self.role),
        ]
        if reviewer_role is not None:
            # The reviewer role trusts its account (ReviewerRole's default), which delegates the decision to
            # the caller's identity policy: this statement is what lets the gate's session assume it
            # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html),
            # with the source identity its trust requires: a role chain needs sts:SetSourceIdentity in the
            # assuming role's policy too
            # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
            self.grants.append(
                iam.Grant.add_to_principal(
                    grantee=self.role,
                    actions=["sts:AssumeRole", "sts:SetSourceIdentity"],
                    resource_arns=[reviewer_role.role_arn],
                )
            )
        _acknowledge_inline_policy(self.role)
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{api.rest_api.printed_stage_arn()}/*/use-cases/*]",
            "The readiness gate sends a signed smoke request, the golden suites, a load test and the human review "
            "walk's caller steps to every use case of the API's v1 stage (/use-cases/{id}/invoke, feedback, held "
            "answers): the grant is execute-api:Invoke on the use-case routes under /use-cases of that one stage "
            "(OrchestrationApi.grant_use_cases: never the reviewer routes, the health check or the use-case list).",
        )
        cdk.CfnOutput(scope, Output.PROBE_QUEUE_URL, value=self.probe_queue.queue_url)
        cdk.CfnOutput(scope, "ReadinessRoleArn", value=self.role.role_arn)


class CanaryReleaseAccess(Construct):
    """What the canary bake needs in production: ``role`` (``bedrock-platform-<env>-release``), assumable only
    by the delivery account's ``bedrock-platform-canary-bake`` role, may read and update the orchestrator's
    ``live`` alias, read and write the SSM parameter naming the version ``live`` serves, read the function's
    versions' configurations, alarm states, metric data (each version's own errors) and this stack's
    outputs. Nothing else: it cannot deploy, invoke or change the function."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: str,
        delivery_account: str,
        orchestrator: OrchestratorFunction,
    ) -> None:
        super().__init__(scope, id)
        if orchestrator.live_version_parameter is None:
            raise ValueError(
                f"CanaryReleaseAccess {self.node.path}: the orchestrator's traffic is not baked; create it with "
                "traffic_shifting=TrafficShifting.BAKED"
            )
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=release_role_name(environment),
            assumed_by=delivery_trust(
                self, delivery_account=delivery_account, delivery_role=DeliveryRole.CANARY_BAKE
            ),
            description=f"The delivery pipeline's canary bake in {environment}: the live alias and its version",
            max_session_duration=cdk.Duration.hours(1),
        )
        parameter_arn = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=orchestrator.live_version_parameter.lstrip("/"),
        )
        self.grants = [
            # Lambda scopes alias actions by function, version or alias ARN
            # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html): both are named,
            # so the grant holds whichever of the two Lambda evaluates for GetAlias and UpdateAlias.
            iam.Grant.add_to_principal(
                grantee=self.role,
                actions=["lambda:GetAlias", "lambda:UpdateAlias"],
                resource_arns=[orchestrator.function.function_arn, orchestrator.alias.function_arn],
            ),
            iam.Grant.add_to_principal(
                grantee=self.role,
                actions=["ssm:GetParameter", "ssm:PutParameter"],
                resource_arns=[parameter_arn],
            ),
            # The bake compares the release version's code and configuration with the live version's
            # (a stage rollback republishes the live code under a new number): version numbers are published
            # by each deploy, so the grant names the function's versions (ARN:*) and the function itself.
            iam.Grant.add_to_principal(
                grantee=self.role,
                actions=["lambda:GetFunctionConfiguration"],
                resource_arns=[orchestrator.function.function_arn, f"{orchestrator.function.function_arn}:*"],
            ),
            describe_own_stack(self.role, list_resources=False),
            describe_alarms(self.role, metric_data=True),
        ]
        _acknowledge_inline_policy(self.role)
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{logical_ref(orchestrator.function)}.Arn>:*]",
            "lambda:GetFunctionConfiguration on the versions of the orchestrator alone: the canary bake reads the "
            "release version's and the live version's code hash and configuration, and each deploy publishes a "
            "version whose number is not known when the stack is synthesized; the action only reads.",
        )


def _acknowledge_inline_policy(role: iam.Role) -> None:
    policy = role.node.try_find_child("DefaultPolicy")
    assert policy is not None
    acknowledge_inline_policy(
        policy,
        "The role's permissions are generated by least-privilege grants on this stack's resources and belong "
        "to this one role, which the delivery pipeline assumes; an inline policy cannot be attached elsewhere.",
    )
