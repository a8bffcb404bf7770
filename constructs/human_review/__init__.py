"""Human review and continuous scoring of an orchestrator's outputs: the queue the orchestrator writes
every answered output to, the scoring function, the review and audit tables, the reviewer endpoints on
the orchestration API, the scheduled backlog function and the reviewer role."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from bedrock_constructs.function_findings import (
    acknowledge_execution_role,
    acknowledge_global_model_grants,
    acknowledge_no_dead_letter_queue,
    acknowledge_outside_vpc,
    acknowledge_pinned_runtime,
)
from bedrock_constructs.function_network import in_vpc, network_problems, network_props
from bedrock_constructs.keys import encryption_key
from bedrock_constructs.lint import GENERATED_DEPENDS_ON, ignore_cfn_lint_check
from bedrock_constructs.metrics import DEFAULT_PERIOD, MetricOptions, use_case_metric, with_defaults
from bedrock_constructs.nag import acknowledge, acknowledge_all, acknowledge_inline_policy
from bedrock_constructs.orchestration_api import OrchestrationRestApi, OrchestratorFunction
from bedrock_constructs.orchestration_api.function import (
    ARCHITECTURE,
    IDEMPOTENCY_KEY_ACTIONS,
    RUNTIME,
    bundle,
)
from bedrock_constructs.orchestration_api.rest_api import REVIEWER_ROUTES
from bedrock_constructs.queues import dead_letter_queue
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct
from platform_spec import review
from platform_spec.api import METRICS_NAMESPACE, REVIEW_SERVICE_NAME, ReviewMetric
from platform_spec.fields import to_dict
from platform_spec.review import AuditTable, InvocationLogLocation, ReviewEnv, ReviewTable
from platform_spec.runtime import Env

__all__ = [
    "API_HANDLER",
    "BACKLOG_HANDLER",
    "REQUIRED_SOURCE_IDENTITY",
    "SCORING_CONCURRENCY_MAX",
    "SCORING_CONCURRENCY_MIN",
    "SCORING_HANDLER",
    "SET_SOURCE_IDENTITY",
    "HumanReview",
    "ReviewerRole",
]

#: The handlers of the review asset (``bedrock_platform_lambdas.REVIEW_CODE_DIRECTORY``, packaged as
#: ``review``).
SCORING_HANDLER = "review.scoring.lambda_handler"
API_HANDLER = "review.api.lambda_handler"
BACKLOG_HANDLER = "review.backlog.lambda_handler"

#: The range of ``scoring_concurrency``: an SQS event source's maximum concurrency (``ScalingConfig``)
#: is 2 to 1,000 (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-eventsourcemapping-scalingconfig.html).
SCORING_CONCURRENCY_MIN = 2
SCORING_CONCURRENCY_MAX = 1000

#: The reviewer role's default session length.
ONE_HOUR = cdk.Duration.hours(1)
#: The condition key the reviewer role's trust requires (``Null``: false), and the action that sets it.
REQUIRED_SOURCE_IDENTITY = "sts:SourceIdentity"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"
_NO_VPC = (
    "The review functions reach only DynamoDB, SQS and Bedrock public endpoints over TLS with IAM; they "
    "have no private network resources to reach. Deploy them into a VPC with endpoints by passing "
    "HumanReview vpc= if the account requires it."
)
_INLINE_POLICY = (
    "The function's permissions are the review path's least-privilege statements and belong to its role "
    "alone; an inline policy keeps them from being attached anywhere else."
)


class ReviewerRole(Construct):
    """The environment's reviewer role: ``execute-api:Invoke`` on the reviewer routes of the API and
    nothing else. Whom it trusts is ``assumed_by`` (default: principals of this account that an IAM policy
    allows ``sts:AssumeRole`` on it); the reviewer API refuses any identity that is not one of its
    sessions.

    Its trust policy allows ``sts:AssumeRole`` only with a source identity (``Null``
    ``sts:SourceIdentity`` false) and allows ``sts:SetSourceIdentity``: every session names the person or
    process behind it, in CloudTrail, and that name persists along a role chain and cannot be changed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
    A principal that assumes it from a role session also needs ``sts:SetSourceIdentity`` on it in its own
    policy (role chaining), unless its session already carries a source identity."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rest_api: OrchestrationRestApi,
        assumed_by: iam.IPrincipal | None = None,
        max_session_duration: cdk.Duration = ONE_HOUR,
    ) -> None:
        super().__init__(scope, id)
        trusted = assumed_by or iam.AccountRootPrincipal()
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.PrincipalWithConditions(trusted, {"Null": {REQUIRED_SOURCE_IDENTITY: "false"}}),
            description="Human reviewers of bedrock-platform outputs: the reviewer endpoints only",
            max_session_duration=max_session_duration,
        )
        assert self.role.assume_role_policy is not None  # a Role always has one
        self.role.assume_role_policy.add_statements(
            iam.PolicyStatement(actions=[SET_SOURCE_IDENTITY], principals=[trusted])
        )
        self.grant = rest_api.grant_review(self.role)
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            acknowledge_inline_policy(policy, _INLINE_POLICY.replace("The function's", "The reviewer role's"))
            prefix = rest_api.printed_stage_arn()
            for route in REVIEWER_ROUTES:
                if "*" in route:
                    acknowledge(
                        policy,
                        f"AwsSolutions-IAM5[Resource::{prefix}/{route}]",
                        "API Gateway names a request by its path: this reviewer route has a path parameter (the "
                        "review id), so the statement ends in a wildcard for it; no caller route lives under "
                        "/reviews.",
                    )

    @property
    def role_arn(self) -> str:
        return self.role.role_arn


class HumanReview(Construct):
    """Human review and continuous scoring of ``orchestrator``'s outputs (README "Human review").

    - ``Queue`` (SQS, KMS, TLS only) with ``DeadLetters`` after ``MAX_RECEIVE_COUNT`` deliveries: every
      answered output, queued by the orchestrator (wired with ``OrchestratorFunction.use_review_path``);
    - ``ScoringFunction``: consumes the queue (partial batch responses; at most ``scoring_concurrency``
      batches at once: the event source's maximum concurrency, and the function's reserved concurrency),
      runs the deterministic scorers and, for model-graded use cases, the rubric through the use case's
      judge profile (``GovernedUseCase.grant_judge``, nothing else in Bedrock), writes review items;
    - ``Items`` (DynamoDB, KMS, point-in-time recovery, TTL ``expiresAt`` from each contract's
      ``review.retention_days``, the ``PendingByUseCase`` index) and ``AuditRecords`` (write-once
      decisions and feedback, TTL from ``review.audit_retention_days``, deletion protection where
      retained);
    - ``ApiFunction`` behind the reviewer and caller review routes of ``rest_api``;
    - ``BacklogFunction`` on an EventBridge schedule: pending items and the oldest one's age per use case;
    - ``Reviewer`` (:class:`ReviewerRole`): execute-api:Invoke on the reviewer routes only.

    One KMS key (``Key``) encrypts the queues, tables and the functions' log groups.

    ``vpc``, ``vpc_subnets``, ``security_groups``, ``allow_public_subnet`` and ``allow_all_outbound``
    place the three functions in a VPC, as ``OrchestratorFunction``'s ``function_props`` place the
    orchestrator (:class:`bedrock_constructs.function_network.FunctionNetwork`); without ``vpc`` they run
    outside any VPC.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_cases: Sequence[GovernedUseCase],
        orchestrator: OrchestratorFunction,
        rest_api: OrchestrationRestApi,
        code_directory: Path,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        invocation_log_location: InvocationLogLocation | None = None,
        reviewer_principal: iam.IPrincipal | None = None,
        scoring_concurrency: int = 2,
        api_concurrency: int = review.REVIEW_API_CONCURRENCY,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        allow_public_subnet: bool | None = None,
        allow_all_outbound: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        # Where the three functions sit on the network; None: aws-cdk-lib's default (no VPC without vpc).
        self._network = {
            "vpc": vpc,
            "vpc_subnets": vpc_subnets,
            "security_groups": security_groups,
            "allow_public_subnet": allow_public_subnet,
            "allow_all_outbound": allow_all_outbound,
        }
        #: Whether the three functions are in a VPC (a ``vpc`` was given).
        self.in_vpc = in_vpc(self._network)
        problems = []
        if not (code_directory / "scoring.py").is_file():
            problems.append(f"code_directory {code_directory} has no scoring.py; pass the review package")
        if not SCORING_CONCURRENCY_MIN <= scoring_concurrency <= SCORING_CONCURRENCY_MAX:
            problems.append(
                f"scoring_concurrency must be from {SCORING_CONCURRENCY_MIN} to {SCORING_CONCURRENCY_MAX} (the "
                f"range of an SQS event source's maximum concurrency), got {scoring_concurrency}; pass a value "
                "in that range"
            )
        if api_concurrency < 1:
            problems.append(f"api_concurrency must be at least 1, got {api_concurrency}; pass 1 or more")
        problems += network_problems(self._network)
        unguarded = sorted(set(orchestrator.runtime_config.use_cases) - {u.contract.id for u in use_cases})
        if unguarded:
            problems.append(
                f"use_cases has no {', '.join(unguarded)}, which the orchestrator serves: the reviewer API checks a "
                "correction with its use case's guardrail and would not start without one; pass every use case "
                "the orchestrator was given"
            )
        if problems:
            raise ValueError(f"HumanReview {self.node.path}: " + "; ".join(problems))
        self.use_cases = list(use_cases)
        self.environment = orchestrator.environment
        self.runtime_config = orchestrator.runtime_config
        retained = removal_policy == cdk.RemovalPolicy.RETAIN

        self.key = encryption_key(
            self,
            "Key",
            description="Encrypts bedrock-platform review items, audit records, the review queue and its logs",
            removal_policy=removal_policy,
            for_cloudwatch_logs=True,
        )
        # ------------------------------------------------------------ queue
        self.dead_letters = dead_letter_queue(
            self,
            "DeadLetters",
            key=self.key,
            removal_policy=removal_policy,
            of="the review queue (it alarms)",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            visibility_timeout=cdk.Duration.seconds(review.QUEUE_VISIBILITY_TIMEOUT_S),
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=review.MAX_RECEIVE_COUNT
            ),
            removal_policy=removal_policy,
        )
        # ------------------------------------------------------------ tables
        self.items = self._table(
            "Items", partition_key=ReviewTable.KEY, ttl=ReviewTable.EXPIRES_AT, removal_policy=removal_policy
        )
        self.items.add_global_secondary_index(
            index_name=ReviewTable.PENDING_INDEX,
            partition_key=dynamodb.Attribute(
                name=ReviewTable.PENDING_USE_CASE, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=ReviewTable.CREATED_AT, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.audit = self._table(
            "AuditRecords",
            partition_key=AuditTable.SUBJECT,
            sort_key=AuditTable.EVENT,
            ttl=AuditTable.EXPIRES_AT,
            removal_policy=removal_policy,
            deletion_protection=retained,
        )
        backup = (
            "Point-in-time recovery restores the table to any second of the last 35 days and the table is "
            "retained (with deletion protection for audit records) where the environment retains data; an "
            "AWS Backup plan is the account's backup policy to add, not this construct's."
        )
        for table in (self.items, self.audit):
            acknowledge_all(
                table,
                {
                    "NIST.800.53.R5-DynamoDBInBackupPlan": backup,
                    "HIPAA.Security-DynamoDBInBackupPlan": backup,
                },
            )
        # ------------------------------------------------------------ functions
        asset = lambda_.Code.from_asset(bundle(code_directory, self.runtime_config, "review"))
        judges = {u.contract.id: u.judge.profile_arn for u in self.use_cases if u.judge is not None}
        common = {
            Env.SERVICE_NAME: REVIEW_SERVICE_NAME,
            Env.METRICS_NAMESPACE: METRICS_NAMESPACE,
            ReviewEnv.REVIEW_TABLE: self.items.table_name,
        }
        self.scoring_function, self.scoring_logs = self._function(
            "Scoring",
            handler=SCORING_HANDLER,
            code=asset,
            layer=orchestrator.powertools_layer,
            timeout=cdk.Duration.seconds(review.SCORING_TIMEOUT_S),
            concurrency=scoring_concurrency,
            environment={**common, ReviewEnv.JUDGE_PROFILES: cdk.Stack.of(self).to_json_string(judges)},
            log_retention=log_retention,
            removal_policy=removal_policy,
            description="bedrock-platform review: scores every answered output and writes its review item",
        )
        # The cap on scoring is the event source mapping's maximum concurrency, not reserved concurrency
        # alone: Lambda's SQS poller starts with five concurrent batches and does not account for reserved
        # concurrency, so a cap of reserved concurrency only throttles the batches it reads, and throttled
        # messages are received again until they reach DeadLetters (maxReceiveCount) without an error
        # logged. Reserved concurrency stays, equal to the cap, as AWS asks ("make sure that your function's
        # reserved concurrency is greater than or equal to the total maximum concurrency for all Amazon SQS
        # event sources on the function. Otherwise, Lambda may throttle your messages"):
        # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
        # It is still needed: it sets those executions aside from the account's pool, so a burst of the
        # orchestrator or any other function cannot leave scoring none (throttled again), and it is the
        # function-level limit NIST.800.53.R5-LambdaConcurrency and HIPAA.Security-LambdaConcurrency ask for.
        self.scoring_function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                report_batch_item_failures=True,
                max_concurrency=scoring_concurrency,
            )
        )
        for mapping in self.scoring_function.node.children:
            if isinstance(mapping, lambda_.EventSourceMapping):
                acknowledge(
                    mapping,
                    "Serverless-LambdaEventSourceMappingDestination",
                    "An SQS event source has no on-failure destination (Lambda offers them for stream and Kafka "
                    "sources); the queue's redrive policy moves a message that keeps failing to DeadLetters, "
                    "which alarms: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
                    "aws-properties-lambda-eventsourcemapping-onfailure.html",
                )
        self._allow(
            self.scoring_function,
            "ReviewItemsScoring",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            [self.items.table_arn],
        )
        self._allow_key(self.scoring_function, "dynamodb", IDEMPOTENCY_KEY_ACTIONS)
        self.judge_grants = [
            g for u in self.use_cases if (g := u.grant_judge(self.scoring_function)) is not None
        ]

        self.reviewer = ReviewerRole(self, "Reviewer", rest_api=rest_api, assumed_by=reviewer_principal)
        api_environment = {
            **common,
            ReviewEnv.AUDIT_TABLE: self.audit.table_name,
            ReviewEnv.REVIEWER_ROLE_ARN: self.reviewer.role_arn,
            # the guardrail each use case's corrections go through, at its deployed version
            ReviewEnv.GUARDRAILS: cdk.Stack.of(self).to_json_string(
                {
                    u.contract.id: to_dict(
                        review.GuardrailRef(
                            arn=u.guardrail.guardrail_arn, version=u.guardrail.guardrail_version
                        )
                    )
                    for u in self.use_cases
                }
            ),
        }
        if invocation_log_location is not None:
            api_environment[ReviewEnv.INVOCATION_LOGS] = cdk.Stack.of(self).to_json_string(
                to_dict(invocation_log_location)
            )
        self.api_function, self.api_logs = self._function(
            "Api",
            handler=API_HANDLER,
            code=asset,
            layer=orchestrator.powertools_layer,
            timeout=cdk.Duration.seconds(review.REVIEW_API_TIMEOUT_S),
            concurrency=api_concurrency,
            environment=api_environment,
            log_retention=log_retention,
            removal_policy=removal_policy,
            description="bedrock-platform review: reviewer endpoints, caller feedback and held answers",
        )
        index_arn = f"{self.items.table_arn}/index/{ReviewTable.PENDING_INDEX}"
        self._allow(
            self.api_function,
            "ReviewItemsReadDecide",
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            [self.items.table_arn],
        )
        self._allow(self.api_function, "ReviewItemsPending", ["dynamodb:Query"], [index_arn])
        # TransactWriteItems is authorized through the actions it contains (PutItem on the audit table,
        # UpdateItem on the item): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
        self._allow(
            self.api_function,
            "AuditRecordsWriteOnceAndRead",
            ["dynamodb:PutItem", "dynamodb:Query"],
            [self.audit.table_arn],
        )
        self._allow_key(self.api_function, "dynamodb", IDEMPOTENCY_KEY_ACTIONS)
        #: ApplyGuardrail on each use case's guardrail: a reviewer's correction goes through it.
        self.correction_grants = [u.guardrail.grant_apply(self.api_function) for u in self.use_cases]
        self.routes = rest_api.add_review_routes(self.api_function, concurrency=api_concurrency)

        self.backlog_function, self.backlog_logs = self._function(
            "Backlog",
            handler=BACKLOG_HANDLER,
            code=asset,
            layer=orchestrator.powertools_layer,
            # one page of every use case at its worst, and the margin to publish (platform_spec.review)
            timeout=cdk.Duration.seconds(review.backlog_timeout_s(len(self.use_cases))),
            concurrency=1,
            environment=common,
            log_retention=log_retention,
            removal_policy=removal_policy,
            description="bedrock-platform review: pending review items and the oldest one's age, per use case",
        )
        # A run that fails (BacklogIncomplete: the backlog too long to read in its time) is not run again:
        # Lambda retries a failed asynchronous invocation twice by default, 1 and 3 minutes later
        # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), and each
        # retry would read the same too-long backlog to its timeout, holding the function's one concurrent
        # execution while the next scheduled run waits, throttled. The next run comes on schedule.
        self.backlog_function.configure_async_invoke(retry_attempts=0)
        acknowledge(
            self.backlog_function.node.find_child("EventInvokeConfig"),
            "Serverless-LambdaAsyncFailureDestination",
            "The schedule's event carries nothing to keep: a failed run is replaced by the next one minutes later, "
            "and the function's errors alarm (BacklogFunctionErrors) reports the failure.",
        )
        self._allow(self.backlog_function, "ReviewItemsBacklog", ["dynamodb:Query"], [index_arn])
        self._allow_key(self.backlog_function, "dynamodb", ("kms:Decrypt",))
        self.backlog_schedule = events.Rule(
            self,
            "BacklogSchedule",
            description="Publishes the review backlog metrics",
            schedule=events.Schedule.rate(cdk.Duration.minutes(review.BACKLOG_INTERVAL_MINUTES)),
            targets=[targets.LambdaFunction(self.backlog_function, retry_attempts=0)],
        )
        acknowledge(
            self.backlog_schedule,
            "Serverless-EventBusDLQ",
            "The schedule's event carries nothing: a missed run is replaced by the next one minutes later, and "
            "the rule's FailedInvocations alarm (BacklogFunctionErrors) reports runs that never started.",
        )
        acknowledge_no_dead_letter_queue(
            self.backlog_function,
            "A lost run of this schedule is replaced by the next one minutes later; its metrics are "
            "a snapshot, so a dead-letter queue would only keep stale runs (its errors alarm instead).",
        )
        acknowledge_no_dead_letter_queue(
            self.scoring_function,
            "Lambda's SQS event source invokes this function synchronously; a failed message stays "
            "on the queue and moves to the queue's own dead-letter queue (DeadLetters), which alarms.",
        )
        acknowledge_no_dead_letter_queue(
            self.api_function,
            "API Gateway invokes this function synchronously and returns its failures to the "
            "caller; there is no asynchronous event for a dead-letter queue to keep.",
        )
        orchestrator.use_review_path(table=self.items, queue=self.queue, encryption_key=self.key)
        self._acknowledge_policies()

    # ------------------------------------------------------------------ pieces

    def _table(
        self,
        id: str,
        *,
        partition_key: str,
        ttl: str,
        removal_policy: cdk.RemovalPolicy,
        sort_key: str | None = None,
        deletion_protection: bool = False,
    ) -> dynamodb.Table:
        """A table encrypted with the review key, with point-in-time recovery and a TTL attribute."""
        return dynamodb.Table(
            self,
            id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=None
            if sort_key is None
            else dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )

    def _function(
        self,
        name: str,
        *,
        handler: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        timeout: cdk.Duration,
        concurrency: int,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
        description: str,
    ) -> tuple[lambda_.Function, logs.LogGroup]:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            encryption_key=self.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        function = lambda_.Function(
            self,
            f"{name}Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=code,
            memory_size=512,
            timeout=timeout,
            reserved_concurrent_executions=concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            layers=[layer],
            environment=environment,
            **network_props(self._network),
        )
        if not self.in_vpc:
            acknowledge_outside_vpc(function, _NO_VPC)
        acknowledge_pinned_runtime(function, RUNTIME)
        resource = function.node.default_child
        assert isinstance(resource, cdk.CfnResource)
        ignore_cfn_lint_check(resource, "W3005", GENERATED_DEPENDS_ON)
        return function, log_group

    def _allow(self, function: lambda_.Function, sid: str, actions: list[str], resources: list[str]) -> None:
        function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))

    def _allow_key(self, function: lambda_.Function, service: str, actions: Sequence[str]) -> None:
        """The key, only as DynamoDB (or SQS) uses it on the function's behalf (``kms:ViaService``)."""
        region = cdk.Stack.of(self).region
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid=f"ReviewKeyThrough{service.capitalize()}",
                actions=list(actions),
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
            )
        )

    def _acknowledge_policies(self) -> None:
        """The functions' roles, once every grant is in their policies."""
        for function in (self.scoring_function, self.api_function, self.backlog_function):
            assert function.role is not None
            acknowledge_execution_role(function.role, inline_policy_reason=_INLINE_POLICY, in_vpc=self.in_vpc)
        assert self.scoring_function.role is not None
        acknowledge_global_model_grants(  # a judge behind a global cross-Region profile
            self.scoring_function.role,
            (arn for u in self.use_cases if u.judge is not None for arn in u.judge.foundation_model_arns),
        )

    # ------------------------------------------------------------------ metrics

    def metric(
        self, metric_name: str, use_case_id: str, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        """One of the review path's metrics (``platform_spec.api.ReviewMetric``) for one use case, with
        the dimensions its functions publish (``service``, ``UseCase``, ``environment``). Sum over 5
        minutes unless ``options`` say otherwise."""
        return use_case_metric(
            service=REVIEW_SERVICE_NAME,
            metric_name=metric_name,
            use_case_id=use_case_id,
            environment=self.environment,
            options=options,
        )

    def metric_pending(self, use_case_id: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.metric(ReviewMetric.PENDING, use_case_id, **with_defaults(options, statistic="Maximum"))

    def metric_oldest_pending_age(
        self, use_case_id: str, **options: Unpack[MetricOptions]
    ) -> cloudwatch.Metric:
        return self.metric(
            ReviewMetric.OLDEST_PENDING_AGE, use_case_id, **with_defaults(options, statistic="Maximum")
        )

    def metric_backlog_failures(self, **options: Unpack[MetricOptions]) -> cloudwatch.MathExpression:
        """Runs of the backlog function that failed, or that EventBridge could not start (the rule's
        ``FailedInvocations``): without them the backlog and SLA alarms have no data."""
        period = options.get("period", DEFAULT_PERIOD)
        return cloudwatch.MathExpression(
            label="Backlog runs failed or not started",
            period=period,
            expression="FILL(e, 0) + FILL(f, 0)",
            using_metrics={
                "e": self.backlog_function.metric_errors(**options),
                "f": cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="FailedInvocations",
                    dimensions_map={"RuleName": self.backlog_schedule.rule_name},
                    statistic="Sum",
                    period=period,
                ),
            },
        )

    def metric_queue_age(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The age of the oldest message in the review queue (``AWS/SQS`` ``ApproximateAgeOfOldestMessage``,
        Maximum): it keeps growing while nothing consumes the queue, when no message reaches the
        dead-letter queue either."""
        return self.queue.metric_approximate_age_of_oldest_message(
            **with_defaults(options, statistic="Maximum")
        )

    def metric_dead_letters(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Messages waiting in the dead-letter queue (scoring failed ``MAX_RECEIVE_COUNT`` times)."""
        return self.dead_letters.metric_approximate_number_of_messages_visible(
            **with_defaults(options, statistic="Maximum")
        )
