"""Everything one environment deploys: the governed Bedrock foundation, its monitoring and its API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from bedrock_constructs.delivery import CanaryReleaseAccess, ReadinessGateAccess
from bedrock_constructs.function_network import ExistingNetwork, FunctionNetwork
from bedrock_constructs.guardrail import EnforcedGuardrail
from bedrock_constructs.human_review import HumanReview
from bedrock_constructs.invocation_logging import InvocationLogging
from bedrock_constructs.monitoring import MonitoringFacade, NotificationTopic
from bedrock_constructs.orchestration_api import FunctionOverrides, OrchestrationApi, TrafficShifting
from bedrock_constructs.retention import log_retention
from bedrock_constructs.use_case import GovernedUseCase
from bedrock_platform_lambdas import ORCHESTRATOR_CODE_DIRECTORY, REVIEW_CODE_DIRECTORY
from constructs import Construct
from platform_config.delivery import DeliveryConfig
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT
from platform_config.model import Contract, EnvironmentConfig, RemovalPolicyName
from platform_config.naming import pascal
from platform_spec.delivery import Output
from platform_spec.review import InvocationLogLocation


def removal_policy(environment: EnvironmentConfig) -> cdk.RemovalPolicy:
    return (
        cdk.RemovalPolicy.RETAIN
        if environment.removal_policy is RemovalPolicyName.RETAIN
        else (cdk.RemovalPolicy.DESTROY)
    )


class PlatformStack(cdk.Stack):
    """The account-and-region settings (invocation logging and the enforced guardrail, where this
    environment owns them); per enabled contract its guardrail, inference profiles, alarms, budget and
    dashboard row; the environment's notification topic and dashboard; the orchestration API."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        environment: EnvironmentConfig,
        contracts: Sequence[Contract],
        delivery: DeliveryConfig | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.environment_config = environment
        # Where the delivery pipeline releases this environment: the production environment's live alias
        # is baked (10 % canary, then promotion), and the environment before it is the readiness gate's.
        in_pipeline = delivery is not None and environment.name in delivery.environments
        baked = in_pipeline and delivery is not None and delivery.production.name == environment.name
        readiness = in_pipeline and delivery is not None and delivery.readiness.name == environment.name
        # The environment file's days, converted once for every construct (the loader allows only
        # CloudWatch Logs' retention periods, so this cannot fail on a loaded environment).
        retention = log_retention(
            environment.log_retention_days, owner=f"environments/{environment.name}.yaml log_retention_days"
        )
        self.invocation_logging: InvocationLogging | None = None
        if environment.owns_invocation_logging:
            # Every delivery flag is account-wide: each is on only if every use case here allows it.
            self.invocation_logging = InvocationLogging(
                self,
                "InvocationLogging",
                log_retention=retention,
                removal_policy=removal_policy(environment),
                text_data=bool(contracts) and all(c.logging.prompts_and_responses for c in contracts),
                image_data=bool(contracts) and all(c.logging.images for c in contracts),
                embedding_data=bool(contracts) and all(c.logging.embeddings for c in contracts),
                video_data=bool(contracts) and all(c.logging.video for c in contracts),
                audio_data=bool(contracts) and all(c.logging.audio for c in contracts),
            )
            cdk.CfnOutput(self, "InvocationLogBucketName", value=self.invocation_logging.bucket.bucket_name)
            cdk.CfnOutput(
                self, "InvocationLogGroupName", value=self.invocation_logging.log_group.log_group_name
            )

        # The other account-and-region setting: the baseline guardrail Bedrock enforces on every call.
        self.enforced_guardrail: EnforcedGuardrail | None = None
        enforced = environment.enforced_guardrail
        baseline = enforced.policy() if enforced is not None else None
        if enforced is not None and baseline is not None:
            self.enforced_guardrail = EnforcedGuardrail(
                self,
                "EnforcedGuardrail",
                guardrail_name=f"{environment.name}-enforced-baseline",
                policy=baseline,
                messages=enforced.content_guarding.messages,
                system=enforced.content_guarding.system,
            )
            cdk.CfnOutput(
                self, "EnforcedGuardrailVersion", value=self.enforced_guardrail.guardrail.guardrail_version
            )
        elif enforced is not None:
            # Recorded in the template, where the gate and the review pack read it.
            self.add_metadata(ENFORCED_GUARDRAIL_OPT_OUT, {"opt_out_reason": enforced.opt_out_reason})

        self.notifications = NotificationTopic(
            self,
            "Notifications",
            emails=environment.notifications.emails,
            https_endpoints=environment.notifications.https_endpoints,
            removal_policy=removal_policy(environment),
        )
        # Every alarm and dashboard row goes through the facade; the constructs only expose metrics.
        self.monitoring = MonitoringFacade(self, topic=self.notifications.topic)
        self.dashboard = self.monitoring.dashboard

        self.use_cases: dict[str, GovernedUseCase] = {}
        for contract in contracts:
            name = pascal(contract.id)
            use_case = GovernedUseCase(self, name, contract=contract, environment=environment.name)
            self.use_cases[contract.id] = use_case
            cdk.CfnOutput(self, f"{name}GuardrailId", value=use_case.guardrail.guardrail_id)
            cdk.CfnOutput(self, f"{name}GuardrailVersion", value=use_case.guardrail.guardrail_version)
            for route, profile in use_case.profiles.items():
                cdk.CfnOutput(self, f"{name}{pascal(route)}ProfileArn", value=profile.profile_arn)
            # What `python -m evaluation run --target <env>` reads: the policy the published version
            # enforces, and the model-graded judge's profile.
            cdk.CfnOutput(self, f"{name}GuardrailFingerprint", value=use_case.guardrail.policy_fingerprint)
            if use_case.prompt_record is not None:
                cdk.CfnOutput(self, f"{name}PromptVersionArn", value=use_case.prompt_record.version_arn)
            if use_case.judge is not None:
                cdk.CfnOutput(self, f"{name}JudgeProfileArn", value=use_case.judge.profile_arn)

        self.use_case_monitoring = self.monitoring.monitor_use_cases(self.use_cases)
        if self.invocation_logging is not None:
            self.log_delivery_alarm = self.monitoring.monitor_log_delivery(self.invocation_logging)
        cdk.CfnOutput(self, Output.TOPIC_ARN, value=self.notifications.topic.topic_arn)

        self.api: OrchestrationApi | None = None
        self.review: HumanReview | None = None
        # The environment file's `network`: the request-path functions (the orchestrator and the three
        # review functions) in an existing VPC, imported by id. Without it nothing is added and they run
        # outside any VPC, as they always have.
        self.network: ExistingNetwork | None = None
        placement: FunctionNetwork = {}
        if environment.network is not None and self.use_cases:
            self.network = ExistingNetwork(
                self,
                "Network",
                vpc_id=environment.network.vpc_id,
                subnets=[
                    ec2.SubnetAttributes(subnet_id=s.subnet_id, availability_zone=s.availability_zone)
                    for s in environment.network.subnets
                ],
                security_group_ids=environment.network.security_group_ids,
            )
            placement = self.network.function_network()
        if self.use_cases:
            self.api = OrchestrationApi(
                self,
                "OrchestrationApi",
                use_cases=list(self.use_cases.values()),
                environment=environment.name,
                code_directory=ORCHESTRATOR_CODE_DIRECTORY,
                log_retention=retention,
                removal_policy=removal_policy(environment),
                reserved_concurrency=environment.reserved_concurrency,
                traffic_shifting=TrafficShifting.BAKED if baked else TrafficShifting.ALL_AT_ONCE,
                # the placement is the network part of the orchestrator's overrides (FunctionOverrides extends it)
                function_props=cast(FunctionOverrides, placement) if placement else None,
            )
            self.api_monitoring = self.monitoring.monitor_api(self.api)
            cdk.CfnOutput(self, Output.API_URL, value=self.api.url)
            cdk.CfnOutput(self, Output.FUNCTION_NAME, value=self.api.function.function_name)
            cdk.CfnOutput(self, Output.RELEASE_VERSION, value=self.api.orchestrator.version.version)
            # Every answered output is scored; outputs the contracts select go to the reviewer role.
            self.review = HumanReview(
                self,
                "HumanReview",
                use_cases=list(self.use_cases.values()),
                orchestrator=self.api.orchestrator,
                rest_api=self.api.rest_api,
                code_directory=REVIEW_CODE_DIRECTORY,
                log_retention=retention,
                removal_policy=removal_policy(environment),
                invocation_log_location=None
                if self.invocation_logging is None
                else InvocationLogLocation(
                    log_group=self.invocation_logging.log_group.log_group_name,
                    bucket=self.invocation_logging.bucket.bucket_name,
                    region=self.region,
                    text_delivered=all(c.logging.prompts_and_responses for c in contracts),
                ),
                **placement,
            )
            self.review_monitoring = self.monitoring.monitor_review(
                self.review, orchestrator=self.api.orchestrator
            )
            # What `python -m human_review exercise --target <env>` reads, and where operators redrive from.
            cdk.CfnOutput(self, Output.REVIEWER_ROLE_ARN, value=self.review.reviewer.role_arn)
            cdk.CfnOutput(self, "ReviewDeadLetterQueueUrl", value=self.review.dead_letters.queue_url)
            self.readiness_access: ReadinessGateAccess | None = None
            self.release_access: CanaryReleaseAccess | None = None
            if readiness and delivery is not None:
                self.readiness_access = ReadinessGateAccess(
                    self,
                    "ReadinessGate",
                    environment=environment.name,
                    delivery_account=delivery.account,
                    notifications=self.notifications,
                    api=self.api,
                    use_cases=list(self.use_cases.values()),
                    alarms=self.monitoring.alarms(),
                    reviewer_role=None if self.review is None else self.review.reviewer.role,
                    removal_policy=removal_policy(environment),
                )
            if self.enforced_guardrail is not None:
                # Every model call in the account is also guarded by the enforced baseline: each principal
                # here that calls a model (the orchestrator, the scoring function's judge, the readiness
                # gate's suites) gets the baseline's grant (EnforcedGuardrail.grant_apply).
                callers: list[iam.IGrantable] = [self.api.function, self.review.scoring_function]
                if self.readiness_access is not None:
                    callers.append(self.readiness_access.role)
                for caller in callers:
                    self.enforced_guardrail.grant_apply(caller)
            if baked and delivery is not None:
                self.release_access = CanaryReleaseAccess(
                    self,
                    "CanaryRelease",
                    environment=environment.name,
                    delivery_account=delivery.account,
                    orchestrator=self.api.orchestrator,
                )
                cdk.CfnOutput(
                    self,
                    Output.CRITICAL_ALARMS,
                    value=cdk.Fn.join(",", [a.alarm_name for a in self.monitoring.critical_alarms()]),
                )
