"""The REST API in front of the orchestrator: IAM auth, request validation, JSON gateway responses,
throttling, a usage plan, access and execution logs, X-Ray, and its cdk-nag acknowledgments."""

from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from bedrock_constructs.keys import key_for_logs
from bedrock_constructs.metrics import MetricOptions
from bedrock_constructs.nag import acknowledge, acknowledge_all
from constructs import Construct
from platform_spec import api as spec_api

#: The API's one stage.
STAGE_NAME = "v1"
#: API Gateway's maximum integration timeout for a REST API, which the integration uses.
INTEGRATION_TIMEOUT = cdk.Duration.seconds(spec_api.API_GATEWAY_TIMEOUT_S)

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


class OrchestrationRestApi(Construct):
    """API Gateway REST API (v1 stage) with the orchestrator's three routes proxied to ``handler``.

    - Authentication: AWS IAM (SigV4). Callers are services with IAM roles; grant them
      ``execute-api:Invoke`` with :meth:`grant_invoke`.
    - Request validation with a JSON Schema model, gateway responses in the Lambda's JSON error shape,
      stage throttling, a usage plan, JSON access logs, execution logs at ERROR to a log group it owns,
      X-Ray tracing.

    ``access_log_group`` takes an existing log group; without it the construct creates ``AccessLogs``
    with ``encryption_key`` or, without one, a new key (``Key``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: lambda_.IFunction,
        rest_api_name: str,
        description: str | None = None,
        encryption_key: kms.IKey | None = None,
        access_log_group: logs.ILogGroup | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        requests_per_day: int = 100_000,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if not cdk.Token.is_unresolved(throttling_rate_limit) and throttling_rate_limit <= 0:
            problems.append(f"throttling_rate_limit must be above 0, got {throttling_rate_limit}")
        if not cdk.Token.is_unresolved(throttling_burst_limit) and throttling_burst_limit < 1:
            problems.append(f"throttling_burst_limit must be at least 1, got {throttling_burst_limit}")
        if not cdk.Token.is_unresolved(requests_per_day) and requests_per_day < 1:
            problems.append(f"requests_per_day must be at least 1, got {requests_per_day}")
        if problems:
            raise ValueError(f"OrchestrationRestApi {self.node.path}: " + "; ".join(problems))

        self.encryption_key = key_for_logs(
            self,
            encryption_key,
            description="Encrypts the orchestration API's logs",
            removal_policy=removal_policy,
        )
        self.access_logs: logs.ILogGroup = access_log_group or logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=self.encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # "Default": CDK leaves this id out of logical IDs, so the REST API and everything under it
        # (stage, deployment, methods, permissions, models, gateway responses, usage plan) keep the
        # logical IDs of an API created directly as "<this construct's id>", as it was before the
        # orchestration API was split into its parts: a new logical ID would be a new API with a new URL.
        self.api = apigw.RestApi(
            self,
            "Default",
            rest_api_name=rest_api_name,
            description=description,
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
        self.stage = self.api.deployment_stage
        # API Gateway writes the stage's execution logs (ERROR level) to this log group, and creates it
        # itself, with no retention and no key, if it does not exist when the first error is logged
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html). So the stack
        # owns it and creates it before the stage. Its name contains the API's ID, which is new for every
        # API, so a retained group never blocks re-creating the stack.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{STAGE_NAME}",
            encryption_key=self.encryption_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.stage.node.add_dependency(self.execution_logs)
        self._gateway_responses()
        self.request_validator = self.api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.request_model = self.api.add_model(
            "InvokeRequest", content_type="application/json", schema=INVOKE_REQUEST_SCHEMA
        )
        self.integration = apigw.LambdaIntegration(handler, timeout=INTEGRATION_TIMEOUT)
        self.api.root.add_resource("health").add_method("GET", self.integration)
        use_cases_resource = self.api.root.add_resource("use-cases")
        use_cases_resource.add_method("GET", self.integration)
        invoke = use_cases_resource.add_resource("{useCaseId}").add_resource("invoke")
        invoke.add_method(
            "POST",
            self.integration,
            request_validator=self.request_validator,
            request_models={"application/json": self.request_model},
            request_parameters={"method.request.path.useCaseId": True},
        )
        self.usage_plan = self.api.add_usage_plan(
            "UsagePlan",
            description="Default limits for consumer teams; issue each team an API key on this plan",
            throttle=apigw.ThrottleSettings(
                rate_limit=throttling_rate_limit, burst_limit=throttling_burst_limit
            ),
            quota=apigw.QuotaSettings(limit=requests_per_day, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.stage)],
        )
        self._acknowledge_findings()

    # ------------------------------------------------------------------ public API

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on this API's v1 stage only (what a caller's role needs to sign requests)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api(stage=self.stage.stage_name)],
        )

    @property
    def url(self) -> str:
        return self.api.url

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Any ``AWS/ApiGateway`` metric of the API (dimension ``ApiName``), as ``RestApi.metric`` gives it."""
        return self.api.metric(metric_name, **options)

    def metric_count(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.api.metric_count(**options)

    def metric_client_error(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.api.metric_client_error(**options)

    def metric_server_error(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.api.metric_server_error(**options)

    def metric_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.api.metric_latency(**options)

    def metric_integration_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        return self.api.metric_integration_latency(**options)

    # ------------------------------------------------------------------ pieces

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

    def _acknowledge_findings(self) -> None:
        iam_auth = (
            "Callers are services with IAM roles that sign requests with SigV4 (AWS_IAM "
            "authorization); a Cognito user pool would add a second identity system for machine callers."
        )
        for method in self.api.methods:
            acknowledge(method, "AwsSolutions-COG4", iam_auth)
        no_cache = (
            "Each response is model output for one caller's request; caching would replay one caller's "
            "answer to another. Idempotent replays use the DynamoDB store instead."
        )
        lambda_only = (
            "The only integration is a Lambda proxy integration; client certificates authenticate API "
            "Gateway to HTTP backends, which this API does not have."
        )
        acknowledge_all(
            self.stage,
            {
                "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted": no_cache,
                "HIPAA.Security-APIGWCacheEnabledAndEncrypted": no_cache,
                "PCI.DSS.321-APIGWCacheEnabledAndEncrypted": no_cache,
                "NIST.800.53.R5-APIGWSSLEnabled": lambda_only,
                "HIPAA.Security-APIGWSSLEnabled": lambda_only,
                "PCI.DSS.321-APIGWSSLEnabled": lambda_only,
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
