"""The REST API in front of the orchestrator: IAM auth, request validation, JSON gateway responses,
throttling, a usage plan, access and execution logs, X-Ray, and its cdk-nag acknowledgments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from bedrock_constructs.keys import key_for_logs
from bedrock_constructs.metrics import MetricOptions
from bedrock_constructs.nag import acknowledge, acknowledge_all, logical_ref, printed_stack_arn_parts
from constructs import Construct, IValidation
from platform_spec import api as spec_api
from platform_spec import review
from platform_spec.review import DecisionKind

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


DECISION_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="DecisionRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["decision", "reason"],
    properties={
        "decision": apigw.JsonSchema(
            type=apigw.JsonSchemaType.STRING, enum=[kind.value for kind in DecisionKind]
        ),
        "reason": apigw.JsonSchema(
            type=apigw.JsonSchemaType.STRING,
            min_length=review.MIN_REASON_CHARS,
            max_length=review.MAX_REASON_CHARS,
        ),
        "correctedText": apigw.JsonSchema(
            type=apigw.JsonSchemaType.STRING, min_length=1, max_length=review.MAX_CORRECTION_CHARS
        ),
    },
)
FEEDBACK_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="FeedbackRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["requestId", "rating"],
    properties={
        "requestId": apigw.JsonSchema(
            type=apigw.JsonSchemaType.STRING, min_length=1, max_length=review.MAX_REVIEW_ID_CHARS
        ),
        "rating": apigw.JsonSchema(
            type=apigw.JsonSchemaType.INTEGER, minimum=review.RATING_MIN, maximum=review.RATING_MAX
        ),
        "comment": apigw.JsonSchema(
            type=apigw.JsonSchemaType.STRING, min_length=1, max_length=review.MAX_COMMENT_CHARS
        ),
    },
)

#: What callers may invoke (``grant_invoke``), as ``<method>/<path>`` under the stage in an
#: ``execute-api`` ARN: every route under ``/use-cases`` (invoke, feedback, held answers) and ``/health``.
#: In these ARNs ``*`` also matches ``/``
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html),
#: so the reviewer routes live under their own top-level path, ``/reviews``, which no caller pattern
#: reaches.
#: The routes of one use case (``/use-cases/{useCaseId}/...``: invoke, feedback, held answers), without
#: the API's health check and use-case list (``grant_use_cases``).
USE_CASE_ROUTES = ("*/use-cases/*",)
CALLER_ROUTES = ("GET/health", "GET/use-cases", *USE_CASE_ROUTES)
#: What the reviewer role may invoke (``grant_review``): the reviewer routes, nothing else.
REVIEWER_ROUTES = ("GET/reviews", "GET/reviews/*", "POST/reviews/*/decision")


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
        self.use_cases_resource = use_cases_resource
        self.use_case_resource = use_cases_resource.add_resource("{useCaseId}")
        invoke = self.use_case_resource.add_resource("invoke")
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
        """``execute-api:Invoke`` on the caller routes of this API's v1 stage (:data:`CALLER_ROUTES`): what
        a caller's role needs to sign requests; never the reviewer routes."""
        return self._grant_routes(grantee, CALLER_ROUTES)

    def grant_use_cases(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on the use-case routes of this API's v1 stage only (:data:`USE_CASE_ROUTES`):
        for a caller that asks use cases but never reads the health check or the use-case list."""
        return self._grant_routes(grantee, USE_CASE_ROUTES)

    def grant_review(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on the reviewer routes only (:data:`REVIEWER_ROUTES`)."""
        return self._grant_routes(grantee, REVIEWER_ROUTES)

    def _grant_routes(self, grantee: iam.IGrantable, routes: tuple[str, ...]) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[
                self.api.arn_for_execute_api(
                    method=route.split("/", 1)[0],
                    path="/" + route.split("/", 1)[1],
                    stage=self.stage.stage_name,
                )
                for route in routes
            ],
        )

    def printed_stage_arn(self) -> str:
        """The v1 stage's ``execute-api`` ARN, without method and path, as cdk-nag prints it in a finding id
        (``AwsSolutions-IAM5[Resource::<this>/GET/reviews/*]``): the API and stage as ``<LogicalId>``, the
        partition, region and account as the stack states them (:func:`bedrock_constructs.nag.printed_stack_arn_parts`)."""
        partition, region, account = printed_stack_arn_parts(self)
        return f"arn:{partition}:execute-api:{region}:{account}:<{logical_ref(self.api)}>/<{logical_ref(self.stage)}>"

    def add_review_routes(
        self, handler: lambda_.IFunction, *, concurrency: int = review.REVIEW_API_CONCURRENCY
    ) -> list[apigw.Method]:
        """The review endpoints, proxied to ``handler`` (the review API function, of reserved
        ``concurrency``): for reviewers ``GET /reviews``, ``GET /reviews/{reviewId}``, ``POST
        /reviews/{reviewId}/decision``; for callers ``POST /use-cases/{useCaseId}/feedback`` and ``GET
        /use-cases/{useCaseId}/reviews/{reviewId}``. Bodies are validated at the edge with their JSON Schema
        models (the function validates again). The two caller routes are throttled at the method to what
        the function can serve them (``platform_spec.review.caller_route_throttle``): beyond it a caller gets
        API Gateway's 429, where a throttled function would be a 500."""
        integration = apigw.LambdaIntegration(handler, timeout=INTEGRATION_TIMEOUT)
        decision_model = self.api.add_model(
            "DecisionRequest", content_type="application/json", schema=DECISION_REQUEST_SCHEMA
        )
        feedback_model = self.api.add_model(
            "FeedbackRequest", content_type="application/json", schema=FEEDBACK_REQUEST_SCHEMA
        )
        reviews = self.api.root.add_resource("reviews")
        item = reviews.add_resource("{reviewId}")
        reviewers = [
            reviews.add_method(
                "GET",
                integration,
                request_validator=self.request_validator,
                request_parameters={"method.request.querystring.useCase": True},
            ),
            item.add_method("GET", integration),
            item.add_resource("decision").add_method(
                "POST",
                integration,
                request_validator=self.request_validator,
                request_models={"application/json": decision_model},
            ),
        ]
        callers = [
            self.use_case_resource.add_resource("feedback").add_method(
                "POST",
                integration,
                request_validator=self.request_validator,
                request_models={"application/json": feedback_model},
            ),
            self.use_case_resource.add_resource("reviews")
            .add_resource("{reviewId}")
            .add_method("GET", integration),
        ]
        methods = [*reviewers, *callers]
        self._acknowledge_methods(methods)
        self._throttle(callers, *review.caller_route_throttle(concurrency, len(callers)))
        return methods

    def _throttle(self, methods: Sequence[apigw.Method], rate_limit: float, burst_limit: int) -> None:
        """Stage method settings that throttle each of ``methods`` at ``rate_limit`` / ``burst_limit`` (or
        the stage's own limits where lower), with the stage-wide settings otherwise (a method's own entry
        replaces the stage's ``/*/*`` one for it: logging level, metrics and throttling). ``ResourcePath`` with each ``/`` as ``~1``
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html)."""
        stage = self.stage.node.default_child
        assert isinstance(stage, apigw.CfnStage)
        current = stage.method_settings
        # as the stage's deploy options rendered them: plain entries, no token (appending keeps every one)
        assert isinstance(current, list) and all(
            isinstance(s, apigw.CfnStage.MethodSettingProperty) for s in current
        ), current
        entries = cast(list[apigw.CfnStage.MethodSettingProperty], current)
        settings: list[cdk.IResolvable | apigw.CfnStage.MethodSettingProperty] = list(entries)
        (every,) = [s for s in entries if s.resource_path == "/*" and s.http_method == "*"]
        # never above the stage's own limits, which the method's entry replaces for it
        rate_limit = _at_most(rate_limit, every.throttling_rate_limit)
        burst_limit = int(_at_most(burst_limit, every.throttling_burst_limit))
        for method in methods:
            settings.append(
                apigw.CfnStage.MethodSettingProperty(
                    http_method=method.http_method,
                    resource_path="/~1" + method.resource.path.strip("/").replace("/", "~1"),
                    logging_level=every.logging_level,
                    metrics_enabled=every.metrics_enabled,
                    data_trace_enabled=every.data_trace_enabled,
                    throttling_rate_limit=rate_limit,
                    throttling_burst_limit=burst_limit,
                )
            )
        stage.method_settings = settings

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

    @staticmethod
    def _acknowledge_methods(methods: list[apigw.Method]) -> None:
        for method in methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "Callers and reviewers are IAM principals that sign requests with SigV4 (AWS_IAM "
                "authorization); a Cognito user pool would add a second identity system.",
            )

    def _acknowledge_findings(self) -> None:
        self._acknowledge_methods(self.api.methods)
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
        self.node.add_validation(_NoHttpBackend(self.api))
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


#: Integrations with an HTTP backend, the one kind a stage's client certificate authenticates API Gateway
#: to (https://docs.aws.amazon.com/apigateway/latest/developerguide/getting-started-client-side-ssl-authentication.html).
HTTP_INTEGRATION_TYPES = ("HTTP", "HTTP_PROXY")


@jsii.implements(IValidation)
class _NoHttpBackend:
    """Synth fails if a method of the API (one a fork adds through ``api``, say) integrates with an HTTP
    backend while the stage has no client certificate: the stage's ``APIGWSSLEnabled`` findings are
    acknowledged because the API has no such backend. (cdk-nag's APIGWSSLEnabled rule looks at the stage
    alone, ``CfnStage.clientCertificateId``, so the acknowledgment would cover any integration.)"""

    def __init__(self, api: apigw.RestApi) -> None:
        self.api = api

    def validate(self) -> list[str]:
        stage = self.api.deployment_stage.node.default_child
        if isinstance(stage, apigw.CfnStage) and stage.client_certificate_id:
            return []  # the finding no longer fires: nothing is hidden
        stack = cdk.Stack.of(self.api)
        http = [
            method.node.path
            for method in self.api.methods
            if isinstance(resource := method.node.default_child, apigw.CfnMethod)
            and (stack.resolve(resource.integration) or {}).get("type") in HTTP_INTEGRATION_TYPES
        ]
        if not http:
            return []
        return [
            f"{http} integrate with an HTTP backend, but the stage's APIGWSSLEnabled findings (NIST, HIPAA, PCI) "
            "are acknowledged because this API has none (a client certificate authenticates API Gateway to HTTP "
            "backends only). Serve them from an API of your own, or give the stage a client certificate your "
            "backend verifies"
        ]


def _at_most(limit: float, stage: float | None) -> float:
    """``limit``, or the stage's where that is lower (a token, unknown until deploy, leaves ``limit``)."""
    if stage is None or cdk.Token.is_unresolved(stage):
        return limit
    return min(limit, stage)
