"""The orchestration API: API Gateway (IAM auth, validation, WAF) in front of the Powertools Lambda
that routes, guards, retries, falls back and meters every Bedrock call.

Three focused constructs a fork can reuse or replace one by one, and a thin :class:`OrchestrationApi`
that composes them the way this project deploys them:

- :class:`OrchestratorFunction` (``function.py``): the Lambda, its code asset and runtime config, its
  log group, idempotency table, grants and cdk-nag acknowledgments, with ``function_props`` overrides;
- :class:`OrchestrationRestApi` (``rest_api.py``): the REST API, request model, gateway responses,
  usage plan, access and execution logs, and its acknowledgments;
- :class:`ApiFirewall` (``firewall.py``): the WAF web ACL, its association and its logs.

Alarms and the dashboard row live in the monitoring package (``MonitoringFacade.monitor_api``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from bedrock_constructs.keys import encryption_key
from bedrock_constructs.logical_ids import keep_logical_id
from bedrock_constructs.orchestration_api.firewall import ApiFirewall
from bedrock_constructs.orchestration_api.function import (
    API_GATEWAY_TIMEOUT,
    ARCHITECTURE,
    DEFAULT_TIMEOUT,
    HANDLER,
    IDEMPOTENCY_KEY_ACTIONS,
    IDEMPOTENCY_TABLE_ACTIONS,
    METRICS_NAMESPACE,
    MIN_TIMEOUT,
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
    RUNTIME,
    SERVICE_NAME,
    FunctionOverrides,
    OrchestratorFunction,
    TrafficShifting,
    idempotency_ttl,
    new_idempotency_table,
    runtime_config,
)
from bedrock_constructs.orchestration_api.rest_api import (
    INVOKE_REQUEST_SCHEMA,
    STAGE_NAME,
    OrchestrationRestApi,
)
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct
from platform_spec.api import IDEMPOTENCY_TTL_S
from platform_spec.runtime import RuntimeConfig

__all__ = [
    "API_GATEWAY_TIMEOUT",
    "ARCHITECTURE",
    "DEFAULT_TIMEOUT",
    "HANDLER",
    "IDEMPOTENCY_KEY_ACTIONS",
    "IDEMPOTENCY_TABLE_ACTIONS",
    "INVOKE_REQUEST_SCHEMA",
    "METRICS_NAMESPACE",
    "MIN_TIMEOUT",
    "POWERTOOLS_LAYER_PARAMETER",
    "POWERTOOLS_VERSION",
    "RUNTIME",
    "SERVICE_NAME",
    "STAGE_NAME",
    "ApiFirewall",
    "FunctionOverrides",
    "OrchestrationApi",
    "OrchestrationRestApi",
    "OrchestratorFunction",
    "TrafficShifting",
    "runtime_config",
]


class OrchestrationApi(Construct):
    """The orchestrator function, its REST API and the API's firewall, sharing one KMS key.

    The key, the idempotency table and the function's and access log groups are created here and given
    to the parts: the stateful resources belong to the composition, so a fork can swap a part without
    losing their data, and they keep the logical IDs they had before the split. The firewall is this
    construct's ``Default`` child (CDK leaves ``Default`` out of logical IDs), the function and the API
    keep theirs through a ``Default`` child of their own; the one resource that could keep its logical
    ID no other way, the API's execution log group, gets it with ``override_logical_id``
    (:func:`bedrock_constructs.logical_ids.keep_logical_id`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_cases: Sequence[GovernedUseCase],
        environment: str,
        code_directory: Path,
        log_retention: logs.RetentionDays,
        reserved_concurrency: int,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        memory_size: int = 1024,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        waf_requests_per_five_minutes: int = 2000,
        function_props: FunctionOverrides | None = None,
        traffic_shifting: TrafficShifting = TrafficShifting.ALL_AT_ONCE,
    ) -> None:
        super().__init__(scope, id)
        self.environment = environment
        self.key = encryption_key(
            self,
            "Key",
            description="Encrypts the orchestration API's logs and idempotency records",
            removal_policy=removal_policy,
            for_cloudwatch_logs=True,
        )
        self.idempotency_table = new_idempotency_table(
            self,
            "IdempotencyTable",
            encryption_key=self.key,
            removal_policy=removal_policy,
            # an invalid value is refused by OrchestratorFunction, below
            ttl_seconds=idempotency_ttl(function_props or {}) or IDEMPOTENCY_TTL_S,
        )
        self.function_logs = logs.LogGroup(
            self,
            "FunctionLogs",
            encryption_key=self.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.orchestrator = OrchestratorFunction(
            self,
            "Function",
            use_cases=use_cases,
            environment=environment,
            code_directory=code_directory,
            reserved_concurrency=reserved_concurrency,
            encryption_key=self.key,
            log_group=self.function_logs,
            idempotency_table=self.idempotency_table,
            removal_policy=removal_policy,
            memory_size=memory_size,
            timeout=timeout,
            function_props=function_props,
            traffic_shifting=traffic_shifting,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            encryption_key=self.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.rest_api = OrchestrationRestApi(
            self,
            "Api",
            handler=self.orchestrator.alias,
            rest_api_name=f"bedrock-platform-{environment}",
            description=f"bedrock-platform orchestration API ({environment})",
            encryption_key=self.key,
            access_log_group=self.access_logs,
            log_retention=log_retention,
            removal_policy=removal_policy,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
        )
        keep_logical_id(self.rest_api.execution_logs, scope=self, path=("ExecutionLogs", "Resource"))
        self.firewall = ApiFirewall(
            self,
            "Default",
            resource_arn=self.rest_api.stage.stage_arn,
            name=f"bedrock-platform-{environment}",
            metric_name="OrchestrationApi",
            requests_per_five_minutes=waf_requests_per_five_minutes,
            encryption_key=self.key,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )

    # ------------------------------------------------------------------ the parts' resources

    @property
    def use_cases(self) -> list[GovernedUseCase]:
        return self.orchestrator.use_cases

    @property
    def runtime_config(self) -> RuntimeConfig:
        return self.orchestrator.runtime_config

    @property
    def function(self) -> lambda_.Function:
        return self.orchestrator.function

    @property
    def alias(self) -> lambda_.Alias:
        """The ``live`` alias the API invokes."""
        return self.orchestrator.alias

    @property
    def api(self) -> apigw.RestApi:
        return self.rest_api.api

    @property
    def url(self) -> str:
        return self.rest_api.url

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on the API's v1 stage only (what a caller's role needs to sign requests)."""
        return self.rest_api.grant_invoke(grantee)

    def grant_use_cases(self, grantee: iam.IGrantable) -> iam.Grant:
        """``execute-api:Invoke`` on the use-case routes of the v1 stage only (``/use-cases/*``: no health
        check, no use-case list)."""
        return self.rest_api.grant_use_cases(grantee)
