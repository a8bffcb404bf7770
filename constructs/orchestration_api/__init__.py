"""The orchestration API: API Gateway (IAM auth, validation, WAF) in front of the Powertools Lambda
that routes, guards, retries, falls back and meters every Bedrock call."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2

import platform_spec
from bedrock_constructs.keys import encryption_key
from bedrock_constructs.lint import GENERATED_DEPENDS_ON, ignore_cfn_lint_check
from bedrock_constructs.monitoring.alarms import notifying_alarm
from bedrock_constructs.monitoring.dashboard import PlatformDashboard, cache_hit_ratio
from bedrock_constructs.nag import acknowledge, acknowledge_all
from bedrock_constructs.retention import log_retention
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct
from platform_config.runtime import runtime_config as contracts_runtime_config
from platform_spec import api as spec_api
from platform_spec.api import Dimension, Metric
from platform_spec.fields import to_dict
from platform_spec.runtime import RUNTIME_CONFIG_FILE, DeployedResources, Env, RuntimeConfig, UseCaseResources

#: The orchestrator's source: located from this file, never from the current directory.
DEFAULT_CODE_DIRECTORY = Path(__file__).resolve().parents[2] / "lambdas" / "orchestrator"
HANDLER = "orchestrator.handler.lambda_handler"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
#: The Powertools release the tests run against (pyproject.toml); the AWS-managed layer of the same
#: release is resolved at deploy time from its public SSM parameter, so synth needs no lookup.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}"
#: The API's one stage.
STAGE_NAME = "v1"
#: What Powertools idempotency's DynamoDBPersistenceLayer calls on its table (3.37.0: get_item, put_item
#: with a condition, update_item, delete_item), and nothing more; see "IAM Permissions" in
#: https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
IDEMPOTENCY_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
#: What DynamoDB does with a table's customer managed key on behalf of a caller that reads and writes
#: items, only through DynamoDB (kms:ViaService). No kms:ReEncrypt*: that re-wraps data under another key
#: when the table's key is changed, which the function never does.
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
IDEMPOTENCY_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
#: API Gateway's integration timeout is 29 s; the function must give up (and answer) before it.
API_GATEWAY_TIMEOUT = cdk.Duration.seconds(spec_api.API_GATEWAY_TIMEOUT_S)
SERVICE_NAME = spec_api.SERVICE_NAME
METRICS_NAMESPACE = spec_api.METRICS_NAMESPACE
#: Below this the orchestrator has no time budget left for a single Bedrock attempt.
MIN_TIMEOUT = cdk.Duration.seconds(spec_api.MIN_FUNCTION_TIMEOUT_S)
#: The function's default timeout: below the integration timeout so it can still answer (504).
DEFAULT_TIMEOUT = cdk.Duration.seconds(spec_api.FUNCTION_TIMEOUT_S)
#: The shared specification the handler imports; the asset ships it beside the handler package.
SPEC_DIRECTORY = Path(platform_spec.__file__).resolve().parent

INVOKE_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="InvokeRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["messages"],
    # Unknown and forbidden fields (modelId, system, maxTokens, ...) pass the edge on purpose: the Lambda
    # refuses them with FORBIDDEN_FIELD / UNKNOWN_FIELD and names the field.
    properties={
        "messages": apigw.JsonSchema(
            type=apigw.JsonSchemaType.ARRAY,
            min_items=1,
            max_items=spec_api.MAX_MESSAGES,
            items=apigw.JsonSchema(
                type=apigw.JsonSchemaType.OBJECT,
                required=["role", "content"],
                properties={
                    "role": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=list(spec_api.ROLES)),
                    "content": apigw.JsonSchema(
                        type=apigw.JsonSchemaType.STRING, min_length=1, max_length=spec_api.MAX_MESSAGE_CHARS
                    ),
                },
            ),
        ),
        "context": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=spec_api.MAX_CONTEXT_CHARS),
    },
)


def runtime_config(use_cases: Sequence[GovernedUseCase], environment: str) -> RuntimeConfig:
    """The static policy the Lambda enforces: :func:`platform_config.runtime.runtime_config` of the use
    cases' contracts. Resource identifiers travel separately in ``BEDROCK_RESOURCES``."""
    try:
        return contracts_runtime_config([u.contract for u in use_cases], environment)
    except ValueError as error:
        raise ValueError(f"OrchestrationApi: {error}") from None


def _bundle(code_directory: Path, config: RuntimeConfig) -> str:
    """Copy the handler package and ``platform_spec`` (which it imports) and write runtime_config.json.

    The asset hash is the hash of this folder's content, so a contract change redeploys the function.
    """
    if not (code_directory / "handler.py").is_file():
        raise ValueError(f"OrchestrationApi: {code_directory} has no handler.py; pass code_directory=")
    out = Path(tempfile.mkdtemp(prefix="bedrock-platform-orchestrator-"))
    # CDK copies the asset into the cloud assembly during synth; the staging folder is not needed after.
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    package = out / "orchestrator"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", RUNTIME_CONFIG_FILE)
    shutil.copytree(code_directory, package, ignore=skip)
    shutil.copytree(SPEC_DIRECTORY, out / SPEC_DIRECTORY.name, ignore=skip)
    (package / RUNTIME_CONFIG_FILE).write_text(json.dumps(to_dict(config), indent=1, sort_keys=True) + "\n")
    return str(out)


class OrchestrationApi(Construct):
    """API Gateway REST API and orchestrator Lambda for the given use cases.

    - Authentication: AWS IAM (SigV4). Callers are services with IAM roles; grant them
      ``execute-api:Invoke`` with :meth:`grant_invoke`.
    - Request validation with a JSON Schema model, stage throttling, a usage plan, JSON access logs to a
      KMS-encrypted log group, X-Ray tracing, and a WAF web ACL (AWS managed rule groups and a rate-based
      rule per source IP).
    - The Lambda may invoke only the profiles its use cases route to (and the models behind them in every
      region they can route to), apply only their guardrails, and use only its idempotency table.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_cases: Sequence[GovernedUseCase],
        environment: str,
        log_retention_days: int,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        reserved_concurrency: int,
        topic: sns.ITopic | None = None,
        dashboard: PlatformDashboard | None = None,
        code_directory: Path = DEFAULT_CODE_DIRECTORY,
        memory_size: int = 1024,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        waf_requests_per_five_minutes: int = 2000,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not use_cases:
            problems.append("use_cases is empty: an API with nothing to route to")
        if timeout.to_seconds() < MIN_TIMEOUT.to_seconds():
            problems.append(
                f"timeout {timeout.to_seconds():g} s leaves no time for a Bedrock call; use at least 5 s"
            )
        if timeout.to_seconds() >= API_GATEWAY_TIMEOUT.to_seconds():
            problems.append(
                f"timeout {timeout.to_seconds()} s must be below API Gateway's 29 s integration timeout"
            )
        if reserved_concurrency < 1:
            problems.append(f"reserved_concurrency must be at least 1, got {reserved_concurrency}")
        if problems:
            raise ValueError(f"OrchestrationApi {self.node.path}: " + "; ".join(problems))
        retention = log_retention(log_retention_days, owner=f"OrchestrationApi {self.node.path}")
        stack = cdk.Stack.of(self)
        self.use_cases = list(use_cases)
        self.environment = environment

        self.key = encryption_key(
            self,
            "Key",
            description="Encrypts the orchestration API's logs and idempotency records",
            removal_policy=removal_policy,
            for_cloudwatch_logs=True,
        )

        # ---------------------------------------------------------------- idempotency store
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiration",
            removal_policy=removal_policy,
        )
        acknowledge_all(
            self.idempotency_table,
            {
                "NIST.800.53.R5-DynamoDBInBackupPlan": "Idempotency records live for an hour and are recreated by "
                "the next request; point-in-time recovery covers accidental loss, a backup plan would only keep "
                "expired records.",
                "HIPAA.Security-DynamoDBInBackupPlan": "Idempotency records live for an hour and are recreated by "
                "the next request; point-in-time recovery covers accidental loss, a backup plan would only keep "
                "expired records.",
            },
        )

        # ---------------------------------------------------------------- function
        self.function_logs = logs.LogGroup(
            self, "FunctionLogs", encryption_key=self.key, retention=retention, removal_policy=removal_policy
        )
        # ARNs as CloudFormation returns them: the function uses them as given.
        resources = DeployedResources(
            use_cases={
                uc.contract.id: UseCaseResources(
                    profile_arns={route: profile.profile_arn for route, profile in uc.profiles.items()},
                    guardrail_arn=uc.guardrail.guardrail_arn,
                    guardrail_version=uc.guardrail.guardrail_version,
                )
                for uc in self.use_cases
            }
        )
        self.runtime_config = runtime_config(self.use_cases, environment)
        self.function = lambda_.Function(
            self,
            "Function",
            description="bedrock-platform orchestrator: routes, guards, retries and meters Bedrock calls",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(_bundle(code_directory, self.runtime_config)),
            memory_size=memory_size,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.function_logs,
            logging_format=lambda_.LoggingFormat.JSON,
            layers=[
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "Powertools",
                    ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
                )
            ],
            environment={
                Env.RESOURCES: stack.to_json_string(to_dict(resources)),
                Env.IDEMPOTENCY_TABLE: self.idempotency_table.table_name,
                Env.SERVICE_NAME: SERVICE_NAME,
                Env.METRICS_NAMESPACE: METRICS_NAMESPACE,
            },
        )
        for use_case in self.use_cases:
            use_case.grant_invoke(self.function)
        self._grant_idempotency_store()
        self._acknowledge_function_findings()
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, cdk.CfnResource)
        ignore_cfn_lint_check(function_resource, "W3005", GENERATED_DEPENDS_ON)

        # ---------------------------------------------------------------- API
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=self.key, retention=retention, removal_policy=removal_policy
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"bedrock-platform-{environment}",
            description=f"bedrock-platform orchestration API ({environment})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            min_compression_size=cdk.Size.kibibytes(1),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never write request or response bodies to execution logs
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        # API Gateway writes the stage's execution logs (ERROR level) to this log group, and creates it
        # itself, with no retention and no key, if it does not exist when the first error is logged
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html). So the stack
        # owns it and creates it before the stage. Its name contains the API's ID, which is new for every
        # API, so a retained group never blocks re-creating the stack.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{STAGE_NAME}",
            encryption_key=self.key,
            retention=retention,
            removal_policy=removal_policy,
        )
        self.api.deployment_stage.node.add_dependency(self.execution_logs)
        self._gateway_responses()
        validator = self.api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        model = self.api.add_model(
            "InvokeRequest", content_type="application/json", schema=INVOKE_REQUEST_SCHEMA
        )
        integration = apigw.LambdaIntegration(self.function, timeout=cdk.Duration.seconds(29))
        self.api.root.add_resource("health").add_method("GET", integration)
        use_cases_resource = self.api.root.add_resource("use-cases")
        use_cases_resource.add_method("GET", integration)
        invoke = use_cases_resource.add_resource("{useCaseId}").add_resource("invoke")
        invoke.add_method(
            "POST",
            integration,
            request_validator=validator,
            request_models={"application/json": model},
            request_parameters={"method.request.path.useCaseId": True},
        )
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            description="Default limits for consumer teams; issue each team an API key on this plan",
            throttle=apigw.ThrottleSettings(
                rate_limit=throttling_rate_limit, burst_limit=throttling_burst_limit
            ),
            quota=apigw.QuotaSettings(limit=100_000, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        self._acknowledge_api_findings()
        self.web_acl = self._web_acl(environment, waf_requests_per_five_minutes, retention, removal_policy)

        self.alarms: dict[str, cloudwatch.Alarm] = {}
        if topic is not None:
            self._alarms(topic)
        if dashboard is not None:
            self._dashboard(dashboard)

    def _grant_idempotency_store(self) -> None:
        """The table actions Powertools idempotency uses, on this table only, and the key actions
        DynamoDB needs for them, through DynamoDB only."""
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="IdempotencyRecords",
                actions=list(IDEMPOTENCY_TABLE_ACTIONS),
                resources=[self.idempotency_table.table_arn],
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="IdempotencyRecordsKeyThroughDynamoDB",
                actions=list(IDEMPOTENCY_KEY_ACTIONS),
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"dynamodb.{cdk.Stack.of(self).region}.amazonaws.com"}
                },
            )
        )

    # ------------------------------------------------------------------ public API

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on this API's v1 stage only (what a caller's role needs to sign requests)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.api.deployment_stage.stage_name)],
        )

    @property
    def url(self) -> str:
        return self.api.url

    # ------------------------------------------------------------------ pieces

    def _metric_dimensions(self, use_case_id: str) -> dict[str, str]:
        """The dimensions the orchestrator publishes its per-use-case EMF metrics with."""
        return {
            Dimension.SERVICE: SERVICE_NAME,
            Dimension.USE_CASE: use_case_id,
            Dimension.ENVIRONMENT: self.environment,
        }

    def _gateway_responses(self) -> None:
        """Errors API Gateway answers itself get the Lambda's JSON error shape and, where the two overlap,
        the same stable codes (``PAYLOAD_TOO_LARGE``, ``TIME_BUDGET_EXCEEDED``); ``detail`` carries API
        Gateway's validation message, which names the failing field."""
        for gateway_type, code in spec_api.GATEWAY_ERRORS.items():
            response_type = apigw.ResponseType.of(gateway_type)
            # $context.error.messageString is already a quoted JSON string.
            template = (
                f'{{"error": {{"code": "{code}", "message": $context.error.messageString, '
                '"detail": "$context.error.validationErrorString", "requestId": "$context.requestId"}}'
            )
            self.api.add_gateway_response(
                response_type.response_type, type=response_type, templates={"application/json": template}
            )

    def _web_acl(
        self, environment: str, limit: int, retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
    ) -> wafv2.CfnWebACL:
        def managed(name: str, priority: int, overrides: Sequence[str] = ()) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in overrides
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("OrchestrationApi"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=_visibility("RateLimitPerIp"),
                ),
                managed("AWSManagedRulesAmazonIpReputationList", 1),
                # Prompts and grounding context are legitimately larger than the rule group's 8 KB body
                # limit; the API's own 256 KB limit and validation apply instead.
                managed("AWSManagedRulesCommonRuleSet", 2, overrides=["SizeRestrictions_BODY"]),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            web_acl_arn=acl.attr_arn,
            resource_arn=self.api.deployment_stage.stage_arn,
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-
        # (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html). The name ends with
        # the last part of this stack's ID, which is new for every stack creation: the group is retained in
        # staging and production, and a fixed name would make re-creating a deleted stack fail.
        stack_id_suffix = cdk.Fn.select(
            4, cdk.Fn.split("-", cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID)))
        )
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-bedrock-platform-{environment}-{stack_id_suffix}",
            encryption_key=self.key,
            retention=retention,
            removal_policy=removal_policy,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
        return acl

    def _alarms(self, topic: sns.ITopic) -> None:
        five = cdk.Duration.minutes(5)
        specs: dict[str, tuple[cloudwatch.IMetric, float, str]] = {
            "FunctionErrors": (
                self.function.metric_errors(period=five),
                0,
                "orchestrator Lambda raised unhandled errors (bugs: upstream faults are answered, not raised)",
            ),
            "FunctionThrottles": (
                self.function.metric_throttles(period=five),
                0,
                "orchestrator Lambda throttled: its reserved concurrency is exhausted",
            ),
            "Api5xx": (
                self.api.metric_server_error(period=five),
                5,
                "API answered more than 5 5xx in 5 minutes",
            ),
            "ApiLatencyP95": (
                self.api.metric_latency(period=five, statistic="p95"),
                25_000,
                "API p95 latency above 25 s: close to API Gateway's 29 s timeout",
            ),
        }
        for name, (metric, threshold, description) in specs.items():
            self.alarms[name] = notifying_alarm(
                self,
                f"{name}Alarm",
                metric=metric,
                threshold=threshold,
                description=description,
                topic=topic,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            )

    def _dashboard(self, dashboard: PlatformDashboard) -> None:
        p = dashboard.period
        # The orchestrator publishes its EMF metrics with these three dimensions (lambdas/orchestrator/telemetry.py).
        custom = [
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                statistic="Sum",
                period=p,
                label=f"{use_case.contract.id} {name}",
                dimensions_map=self._metric_dimensions(use_case.contract.id),
            )
            for use_case in self.use_cases
            for name in (Metric.RETRIES, Metric.FALLBACKS, Metric.GUARDRAIL_INTERVENTIONS)
        ]
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="API requests, 4xx, 5xx",
                left=[
                    self.api.metric_count(period=p),
                    self.api.metric_client_error(period=p),
                    self.api.metric_server_error(period=p),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="API latency p50 / p95 (ms)",
                left=[
                    self.api.metric_latency(period=p, statistic="p50"),
                    self.api.metric_latency(period=p, statistic="p95"),
                    self.api.metric_integration_latency(period=p, statistic="p95"),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors, throttles, concurrency",
                left=[self.function.metric_errors(period=p), self.function.metric_throttles(period=p)],
                right=[self.function.metric("ConcurrentExecutions", statistic="Maximum", period=p)],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Orchestrator retries, fallbacks, interventions", left=custom, width=6
            ),
            cloudwatch.GraphWidget(
                title="Prompt cache hit ratio (% of input tokens read from cache)",
                left=[
                    cache_hit_ratio(
                        namespace=METRICS_NAMESPACE,
                        dimensions=self._metric_dimensions(use_case.contract.id),
                        period=p,
                        label=use_case.contract.id,
                        id_prefix=f"cache{n}",
                    )
                    for n, use_case in enumerate(self.use_cases)
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
                width=12,
            ),
        ]
        if self.alarms:
            widgets.append(
                cloudwatch.AlarmStatusWidget(title="API alarms", alarms=list(self.alarms.values()), width=24)
            )
        dashboard.add_section("Orchestration API", widgets)

    # ------------------------------------------------------------------ acknowledgments

    def _acknowledge_function_findings(self) -> None:
        fn = self.function
        synchronous = (
            "API Gateway invokes the orchestrator synchronously and returns its failures to the "
            "caller; there is no asynchronous event for a dead-letter queue to keep."
        )
        no_vpc = (
            "The orchestrator reaches only Bedrock and DynamoDB public endpoints over TLS with IAM; it "
            "has no private network resources to reach. Deploy into a VPC with interface endpoints by "
            "overriding the function if the account requires it."
        )
        acknowledge_all(
            fn,
            {
                "NIST.800.53.R5-LambdaDLQ": synchronous,
                "HIPAA.Security-LambdaDLQ": synchronous,
                "Serverless-LambdaDLQ": synchronous,
                "NIST.800.53.R5-LambdaInsideVPC": no_vpc,
                "HIPAA.Security-LambdaInsideVPC": no_vpc,
                "PCI.DSS.321-LambdaInsideVPC": no_vpc,
            },
        )
        if RUNTIME.name != "python3.14":
            pinned = (
                "Pinned to python3.13, the newest runtime for which this project uses the AWS-managed "
                "Powertools layer; bump it together with the layer."
            )
            acknowledge(fn, "AwsSolutions-L1", pinned)
            acknowledge(fn, "Serverless-LambdaLatestVersion", pinned)
        policy = fn.role.node.try_find_child("DefaultPolicy") if fn.role else None
        if policy is not None:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and "
                "PutTelemetryRecords have no resource-level permissions; active tracing needs them.",
            )
            for use_case in self.use_cases:
                for profile in use_case.profiles.values():
                    for arn in profile.foundation_model_arns:
                        if ":*:" in arn:
                            acknowledge(
                                policy,
                                f"AwsSolutions-IAM5[Resource::{_nag_arn(arn)}]",
                                "A global cross-Region inference profile can route to any commercial "
                                "Region; Bedrock authorizes the model in every Region it routes to. "
                                "The grant names one model only.",
                            )
            for finding in (
                "NIST.800.53.R5-IAMNoInlinePolicy",
                "HIPAA.Security-IAMNoInlinePolicy",
                "PCI.DSS.321-IAMNoInlinePolicy",
            ):
                acknowledge(
                    policy,
                    finding,
                    "The orchestrator's permissions are generated by the least-privilege "
                    "grants of the constructs it uses and belong to its role alone; an inline policy "
                    "keeps them from being attached anywhere else.",
                )
        if fn.role is not None:
            acknowledge(
                fn.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "Lambda's standard execution grant: AWSLambdaBasicExecutionRole allows only CloudWatch Logs "
                "writes (AWS publishes it on Resource *); the function writes to its own KMS-encrypted group.",
            )

    def _acknowledge_api_findings(self) -> None:
        iam_auth = (
            "Callers are services with IAM roles that sign requests with SigV4 (AWS_IAM "
            "authorization); a Cognito user pool would add a second identity system for machine callers."
        )
        for method in self.api.methods:
            acknowledge(method, "AwsSolutions-COG4", iam_auth)
        stage = self.api.deployment_stage
        no_cache = (
            "Each response is model output for one caller's request; caching would replay one caller's "
            "answer to another. Idempotent replays use the DynamoDB store instead."
        )
        acknowledge_all(
            stage,
            {
                "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted": no_cache,
                "HIPAA.Security-APIGWCacheEnabledAndEncrypted": no_cache,
                "PCI.DSS.321-APIGWCacheEnabledAndEncrypted": no_cache,
                "NIST.800.53.R5-APIGWSSLEnabled": "The only integration is a Lambda proxy integration; client "
                "certificates authenticate API Gateway to HTTP backends, which this API does not have.",
                "HIPAA.Security-APIGWSSLEnabled": "The only integration is a Lambda proxy integration; client "
                "certificates authenticate API Gateway to HTTP backends, which this API does not have.",
                "PCI.DSS.321-APIGWSSLEnabled": "The only integration is a Lambda proxy integration; client "
                "certificates authenticate API Gateway to HTTP backends, which this API does not have.",
            },
        )
        role = self.api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "API Gateway's account-level logging role is documented to carry this AWS managed policy, "
                "which allows only CloudWatch Logs actions (published on Resource *); API Gateway uses it for "
                "its own execution logs.",
            )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _nag_arn(arn: str) -> str:
    """How cdk-nag prints a resource ARN built from ``Stack.partition``."""
    return arn.replace(cdk.Aws.PARTITION, "<AWS::Partition>") if cdk.Token.is_unresolved(arn) else arn
