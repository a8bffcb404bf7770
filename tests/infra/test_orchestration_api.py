"""OrchestrationApi: API Gateway, the orchestrator Lambda, its IAM scope, idempotency, WAF, alarms."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from bedrock_constructs.orchestration_api import (
    IDEMPOTENCY_KEY_ACTIONS,
    IDEMPOTENCY_TABLE_ACTIONS,
    POWERTOOLS_LAYER_PARAMETER,
    OrchestrationApi,
    runtime_config,
)
from bedrock_constructs.retention import log_retention
from bedrock_constructs.use_case import GovernedUseCase
from compliance.bedrock_rules import is_fixed, policy_statements, render_value
from platform_config import PlatformConfig
from platform_spec.contract import ContractDocument
from platform_spec.runtime import SCHEMA_VERSION
from tests.infra.conftest import Stages, Synthesized, probe_stack
from tests.support.contracts import enabled_use_cases
from tests.support.forks import probe_api


def _of_type(synthesized: Synthesized, env: str, kind: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {k: v for k, v in synthesized.platform_json(env)["Resources"].items() if v["Type"] == kind}


def test_function_settings(synthesized: Synthesized, config: PlatformConfig) -> None:
    template = synthesized.platform("prod")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "orchestrator.handler.lambda_handler",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "MemorySize": 1024,
            "Timeout": 28,
            "ReservedConcurrentExecutions": config.environment("prod").reserved_concurrency,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Layers": [{"Ref": Match.string_like_regexp("^SsmParameterValue")}],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "IDEMPOTENCY_TABLE": {
                            "Ref": Match.string_like_regexp("^OrchestrationApiIdempotencyTable")
                        },
                        "POWERTOOLS_SERVICE_NAME": "bedrock-orchestrator",
                        "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatform",
                        "BEDROCK_RESOURCES": Match.any_value(),
                    }
                )
            },
        },
    )
    params = synthesized.platform_json("prod")["Parameters"]
    assert any(p.get("Default") == POWERTOOLS_LAYER_PARAMETER for p in params.values())
    assert POWERTOOLS_LAYER_PARAMETER.endswith("/arm64/python3.13/3.37.0")


def test_timeout_fits_under_api_gateway_integration_timeout(synthesized: Synthesized) -> None:
    (function,) = [
        f
        for k, f in _of_type(synthesized, "prod", "AWS::Lambda::Function").items()
        if k.startswith("OrchestrationApiFunction")
    ]
    methods = _of_type(synthesized, "prod", "AWS::ApiGateway::Method")
    integration_timeouts = {
        m["Properties"]["Integration"].get("TimeoutInMillis", 29000) for m in methods.values()
    }
    assert function["Properties"]["Timeout"] * 1000 < min(integration_timeouts) <= 29000


def test_bedrock_resources_name_every_route_and_the_published_guardrail_version(
    synthesized: Synthesized, stages: Stages, config: PlatformConfig
) -> None:
    stack = stages["dev"].platform
    (function,) = [
        f
        for k, f in _of_type(synthesized, "dev", "AWS::Lambda::Function").items()
        if k.startswith("OrchestrationApiFunction")
    ]
    rendered = render_value(function["Properties"]["Environment"]["Variables"]["BEDROCK_RESOURCES"])
    for contract in config.contracts_for("dev"):
        use_case = stack.use_cases[contract.id]
        # ARNs, as CloudFormation returns them: the function never rebuilds one from an id
        for route, profile in use_case.profiles.items():
            assert f'"{route}":"<{stack.get_logical_id(profile.resource)}.InferenceProfileArn>"' in rendered
        assert (
            f'"guardrail_arn":"<{stack.get_logical_id(use_case.guardrail.resource)}.GuardrailArn>"'
            in rendered
        )
        assert (
            f'"guardrail_version":"<{stack.get_logical_id(use_case.guardrail.version_resource)}.Version>"'
            in rendered
        )
    assert "InferenceProfileId" not in rendered and "GuardrailId" not in rendered


def test_runtime_config_is_derived_from_the_contracts(
    synthesized: Synthesized, stages: Stages, config: PlatformConfig
) -> None:
    api = stages["prod"].platform.api
    assert api is not None
    config_doc = api.runtime_config
    assert config_doc.environment == "prod" and config_doc.schema_version == SCHEMA_VERSION
    assert set(config_doc.use_cases) == {c.id for c in config.contracts_for("prod")}
    for contract in config.contracts_for("prod"):
        entry = config_doc.use_cases[contract.id]
        # the whole contract travels, field for field: a new contract field reaches the Lambda unedited
        for f in dataclasses.fields(ContractDocument):
            assert getattr(entry.contract, f.name) == getattr(contract, f.name), f.name
        assert dict(entry.routes) == contract.routes  # every route's model source, from the catalog
        assert list(entry.routes) == list(contract.routes)
        assert contract.prompt is not None
        assert (entry.prompt.version, entry.prompt.system) == (
            contract.prompt.version,
            contract.prompt.system,
        )


def test_the_asset_carries_the_handler_and_its_runtime_config(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    bundles = [a.parent.parent for a in synthesized.outdir.rglob("asset.*/orchestrator/handler.py")]
    docs = {
        tuple(sorted(json.loads((b / "orchestrator" / "runtime_config.json").read_text())["use_cases"]))
        for b in bundles
    }
    # one bundle per distinct set of use cases that an environment runs (dev and staging may share one)
    assert docs == {tuple(sorted(enabled_use_cases(env.name))) for env in config.environments}
    assert not any(list(b.rglob("__pycache__")) for b in bundles)


def test_iam_is_limited_to_the_use_cases_profiles_guardrails_and_table(
    synthesized: Synthesized, stages: Stages
) -> None:
    stack = next(s for s in synthesized.stacks if s.name == "Prod/Platform")
    statements = [st for lid, st in policy_statements(stack) if lid.startswith("OrchestrationApiFunction")]
    by_action: dict[str, list[str]] = {}
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            by_action.setdefault(action, []).extend(render_value(r) for r in resources)
    assert set(by_action) == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        *IDEMPOTENCY_TABLE_ACTIONS,
        *IDEMPOTENCY_KEY_ACTIONS,
        "sqs:SendMessage",  # the review path (OrchestratorFunction.use_review_path): queue answered outputs
    }
    # Each key only through the service that uses it, and no kms:ReEncrypt* or wildcard actions: the API's
    # key through DynamoDB (idempotency table), the review key through DynamoDB (held answers) and SQS.
    key_statements = [st for st in statements if "kms:Decrypt" in st["Action"]]
    assert sorted(
        (render_value(st["Resource"]), st["Condition"]["StringEquals"]["kms:ViaService"])
        for st in key_statements
    ) == [
        ("<HumanReviewKeyDF780608.Arn>", "dynamodb.us-west-2.amazonaws.com"),
        ("<HumanReviewKeyDF780608.Arn>", "sqs.us-west-2.amazonaws.com"),
        ("<OrchestrationApiKey4BD54C38.Arn>", "dynamodb.us-west-2.amazonaws.com"),
    ]
    invoke = by_action["bedrock:InvokeModel"]
    platform = stages["prod"].platform
    for use_case in platform.use_cases.values():
        for profile in use_case.profiles.values():
            assert f"<{platform.get_logical_id(profile.resource)}.InferenceProfileArn>" in invoke
    assert all("/*" not in r and r != "*" for r in invoke)
    # prod is us-west-2 and uses us. profiles: the models are granted in every US destination region, other
    # US regions (us-east-2) included
    us_routed = [
        profile.source
        for use_case in platform.use_cases.values()
        for profile in use_case.profiles.values()
        if profile.source.geography == "us"
    ]
    assert us_routed, "no prod use case routes through a us. cross-region profile"
    for source in us_routed:
        assert "us-east-2" in source.destination_regions, source
        for region in source.destination_regions:
            assert f"arn:aws:bedrock:{region}::foundation-model/{source.model_id}" in invoke, (region, source)
    # Its use cases' guardrails, and the account's enforced guardrail, which guards its calls too.
    assert platform.enforced_guardrail is not None
    assert sorted(by_action["bedrock:ApplyGuardrail"]) == sorted(
        f"<{platform.get_logical_id(g.resource)}.GuardrailArn>"
        for g in [*(u.guardrail for u in platform.use_cases.values()), platform.enforced_guardrail.guardrail]
    )
    assert by_action["xray:PutTraceSegments"] == ["*"]
    for action in IDEMPOTENCY_TABLE_ACTIONS:
        held = ["<HumanReviewItems6E81B77D.Arn>"] if action == "dynamodb:PutItem" else []  # held answers
        assert sorted(by_action[action]) == sorted(["<OrchestrationApiIdempotencyTableF890A80A.Arn>", *held])
    assert by_action["sqs:SendMessage"] == ["<HumanReviewQueue30CE171B.Arn>"]


def test_idempotency_table_is_encrypted_recoverable_and_expires(synthesized: Synthesized) -> None:
    synthesized.platform("prod").has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_api_uses_iam_auth_validation_and_routes(synthesized: Synthesized) -> None:
    methods = _of_type(synthesized, "prod", "AWS::ApiGateway::Method")
    assert {m["Properties"]["HttpMethod"] for m in methods.values()} == {"GET", "POST"}
    assert all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods.values())
    posts = {k: m["Properties"] for k, m in methods.items() if m["Properties"]["HttpMethod"] == "POST"}
    assert all("RequestValidatorId" in p and p["RequestModels"]["application/json"] for p in posts.values())
    (post,) = [p for k, p in posts.items() if "invoke" in k]
    models = _of_type(synthesized, "prod", "AWS::ApiGateway::Model")
    model = models[post["RequestModels"]["application/json"]["Ref"]]["Properties"]["Schema"]
    # structure is checked at the edge; unknown and forbidden fields reach the Lambda, which names them
    assert "additionalProperties" not in model and model["required"] == ["messages"]
    assert model["properties"]["messages"]["items"]["required"] == ["role", "content"]
    assert set(model["properties"]) == {"messages", "context"}
    paths = {
        r["Properties"]["PathPart"]
        for r in _of_type(synthesized, "prod", "AWS::ApiGateway::Resource").values()
    }
    # the caller routes, and the review routes (HumanReview: reviewer routes, feedback, held answers)
    review_paths = {"reviews", "{reviewId}", "decision", "feedback"}
    assert paths == {"health", "use-cases", "{useCaseId}", "invoke"} | review_paths


def test_stage_has_throttling_tracing_and_json_access_logs(synthesized: Synthesized) -> None:
    synthesized.platform("prod").has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp('"requestId"'),
            },
            # every method's (the callers' review routes have their own throttling: test_human_review.py)
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "DataTraceEnabled": False,
                            "ThrottlingRateLimit": 50,
                            "ThrottlingBurstLimit": 100,
                            "LoggingLevel": "ERROR",
                        }
                    )
                ]
            ),
        },
    )
    synthesized.platform("prod").has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 50, "BurstLimit": 100}, "Quota": {"Limit": 100000, "Period": "DAY"}},
    )
    for group in _of_type(synthesized, "prod", "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in group["Properties"] and "RetentionInDays" in group["Properties"]


def test_gateway_errors_use_the_json_error_shape(synthesized: Synthesized) -> None:
    responses = _of_type(synthesized, "prod", "AWS::ApiGateway::GatewayResponse")
    by_type = {
        r["Properties"]["ResponseType"]: r["Properties"]["ResponseTemplates"]["application/json"]
        for r in responses.values()
    }
    assert '"code": "INVALID_REQUEST"' in by_type["BAD_REQUEST_BODY"]
    assert '"code": "THROTTLED"' in by_type["THROTTLED"]
    assert '"message": $context.error.messageString' in by_type["DEFAULT_5XX"]
    assert '"code": "BLOCKED_BY_WAF"' in by_type["WAF_FILTERED"]
    assert '"code": "REQUEST_REJECTED"' in by_type["DEFAULT_4XX"]
    assert '"code": "PAYLOAD_TOO_LARGE"' in by_type["REQUEST_TOO_LARGE"]
    assert '"code": "TIME_BUDGET_EXCEEDED"' in by_type["INTEGRATION_TIMEOUT"]


def test_waf_has_managed_rules_and_a_rate_limit_and_is_attached_and_logged(synthesized: Synthesized) -> None:
    (acl,) = _of_type(synthesized, "prod", "AWS::WAFv2::WebACL").values()
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    assert set(rules) == {
        "RateLimitPerIp",
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    }
    assert rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"] == {
        "Limit": 2000,
        "AggregateKeyType": "IP",
    }
    assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert common["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    (assoc,) = _of_type(synthesized, "prod", "AWS::WAFv2::WebACLAssociation").values()
    assert "Fn::Join" in json.dumps(assoc["Properties"]["ResourceArn"])  # the stage ARN
    (logging,) = _of_type(synthesized, "prod", "AWS::WAFv2::LoggingConfiguration").values()
    (destination,) = logging["Properties"]["LogDestinationConfigs"]
    group = destination["Fn::Join"][1][1]["Ref"]
    name = synthesized.platform_json("prod")["Resources"][group]["Properties"]["LogGroupName"]
    # WAF's required prefix, then a part that is new for every creation of the stack, so a retained log
    # group of a deleted stack never blocks creating it again.
    assert name["Fn::Join"][1][0] == "aws-waf-logs-bedrock-platform-prod-"
    assert {"Ref": "AWS::StackId"} in _walk_values(name)
    assert not is_fixed(name)


def _walk_values(value: object) -> list[object]:
    found: list[object] = [value]
    if isinstance(value, dict):
        for child in value.values():
            found += _walk_values(child)
    elif isinstance(value, list):
        for child in value:
            found += _walk_values(child)
    return found


def test_the_stage_writes_execution_logs_to_a_log_group_the_stack_owns(synthesized: Synthesized) -> None:
    for env, days in (("dev", 30), ("prod", 365)):
        resources = synthesized.platform_json(env)["Resources"]
        (stage_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::ApiGateway::Stage"]
        stage = resources[stage_id]
        assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"
        group = resources["OrchestrationApiExecutionLogsB0F2BD77"]
        # API Gateway's own name for the stage's execution log group, so it writes here instead of
        # creating an unencrypted group that never expires.
        assert group["Properties"]["LogGroupName"] == {
            "Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": "OrchestrationApi51B2ED75"}, "/v1"]]
        }
        assert group["Properties"]["RetentionInDays"] == days
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["OrchestrationApiKey4BD54C38", "Arn"]}
        assert "OrchestrationApiExecutionLogsB0F2BD77" in stage["DependsOn"]


def test_api_alarms_have_actions_and_the_dashboard_has_an_api_section(
    synthesized: Synthesized, stages: Stages
) -> None:
    # an environment with a use case that accepts an Idempotency-Key (its contract lets answers be stored)
    env = next(
        name
        for name in ("prod", "staging", "dev")
        if any(c.logging.prompts_and_responses for c in synthesized.config.contracts_for(name))
    )
    # the monitoring facade, not the API construct, creates them (MonitoringFacade.monitor_api)
    alarms = {
        k: v["Properties"]
        for k, v in _of_type(synthesized, env, "AWS::CloudWatch::Alarm").items()
        if k.startswith("OrchestrationApiMonitoring")
    }
    names = {k.split("Alarm")[0].removeprefix("OrchestrationApiMonitoring") for k in alarms}
    assert names == {
        "FunctionErrors",
        "FunctionThrottles",
        "Api5xx",
        "ApiLatencyP95",
        "IdempotencySaveFailures",
    }
    assert all(a["AlarmActions"] and a["OKActions"] for a in alarms.values())
    # a failed idempotency save in any period, summed over the use cases that accept a key (those whose
    # contract lets answers be stored; the others refuse an Idempotency-Key)
    (saves,) = [a for k, a in alarms.items() if "IdempotencySaveFailures" in k]
    assert saves["Threshold"] == 0 and saves["EvaluationPeriods"] == 1
    summed = {
        q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for q in saves["Metrics"]
        if "MetricStat" in q and q["MetricStat"]["Metric"]["MetricName"] == "IdempotencySaveFailures"
    }
    accepting = {c.id for c in synthesized.config.contracts_for(env) if c.logging.prompts_and_responses}
    assert summed == accepting
    (dashboard,) = _of_type(synthesized, env, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "## Orchestration API" in body and "IntegrationLatency" in body
    # the orchestrator's own EMF metrics, with exactly the dimensions the Lambda publishes
    literal = "".join(
        p for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1] if isinstance(p, str)
    )
    assert (
        f'["BedrockPlatform","Fallbacks","UseCase","{min(accepting)}","environment","{env}",'
        '"service","bedrock-orchestrator"' in literal
    )
    # the prompt cache hit ratio of every use case, from the cache-token metrics the Lambda publishes
    api = stages[env].platform.api
    assert api is not None
    for n, use_case in enumerate(uc.contract.id for uc in api.use_cases):
        for metric, metric_id in (
            ("CacheReadInputTokens", "r"),
            ("CacheWriteInputTokens", "w"),
            ("InputTokens", "i"),
        ):
            assert (
                f'["BedrockPlatform","{metric}","UseCase","{use_case}","environment","{env}",'
                f'"service","bedrock-orchestrator",{{"id":"cache{n}{metric_id}","visible":false,"stat":"Sum"}}]'
            ) in literal, (use_case, metric)
    assert "100 * FILL(cache0r, 0) / (FILL(cache0i, 0) + FILL(cache0r, 0) + FILL(cache0w, 0))" in literal


def test_construct_validation_reports_every_problem(config: PlatformConfig) -> None:
    stack = probe_stack()
    with pytest.raises(
        ValueError,
        match=r"use_cases is empty.*has no handler.py.*timeout 29 s must be below.*"
        r"reserved_concurrency must be at least 1, got 0",
    ):
        OrchestrationApi(
            stack,
            "Api",
            use_cases=[],
            environment="dev",
            code_directory=Path("/nonexistent"),
            log_retention=logs.RetentionDays.ONE_MONTH,
            timeout=cdk.Duration.seconds(29),
            reserved_concurrency=0,
        )
    use_case = GovernedUseCase(stack, "U", contract=config.contracts_for("dev")[0], environment="dev")
    with pytest.raises(ValueError, match=r"timeout 2 s leaves no time for a Bedrock call"):
        probe_api(stack, use_case, id="Api4", timeout=cdk.Duration.seconds(2))


def test_the_stack_converts_the_environment_files_days_once() -> None:
    # the loader allows only CloudWatch Logs periods; a construct fed days directly would name them
    with pytest.raises(ValueError, match=r"retention_days 45 is not a CloudWatch Logs retention period"):
        log_retention(45, owner="environments/dev.yaml log_retention_days")
    assert log_retention(30, owner="x") is logs.RetentionDays.ONE_MONTH


def test_runtime_config_refuses_a_contract_without_a_prompt(config: PlatformConfig) -> None:
    from dataclasses import replace

    stack = probe_stack(environment=False)
    contract = replace(config.contracts_for("dev")[0], prompt=None)
    use_case = GovernedUseCase(stack, "U", contract=contract, environment="dev")
    with pytest.raises(ValueError, match=r"has no prompt; add prompts/"):
        runtime_config([use_case], "dev")


def test_the_lambda_reads_the_runtime_config_in_every_asset(synthesized: Synthesized) -> None:
    """The two sides cannot drift apart: the function's own reader (standard library only) reads the file
    synth wrote into each asset, with the shared specification the asset ships beside the handler."""
    from platform_spec.runtime import read_runtime_config

    bundles = [a.parent.parent for a in synthesized.outdir.rglob("asset.*/orchestrator/handler.py")]
    assert bundles
    for bundle in bundles:
        assert (bundle / "platform_spec" / "runtime.py").is_file()  # the asset ships what the handler imports
        parsed = read_runtime_config(bundle / "orchestrator" / "runtime_config.json")
        envs = [env for env in synthesized.config.environments if env.name == parsed.environment]
        assert set(parsed.use_cases) == {c.id for c in synthesized.config.contracts_for(envs[0].name)}


@pytest.mark.parametrize("client_certificate", [False, True])
def test_an_http_backend_added_to_the_api_is_not_hidden_by_the_ssl_acknowledgment(
    client_certificate: bool,
) -> None:
    from aws_cdk import aws_apigateway as apigw
    from aws_cdk import aws_lambda as lambda_

    from bedrock_constructs.orchestration_api import OrchestrationRestApi
    from tests.support.synth import probe_app, probe_stack

    app = probe_app()
    stack = probe_stack(app)
    handler = lambda_.Function.from_function_arn(
        stack, "Handler", "arn:aws:lambda:us-east-1:111111111111:function:orchestrator"
    )
    rest_api = OrchestrationRestApi(stack, "Api", handler=handler, rest_api_name="fork")
    # GIVEN a fork's route to an HTTP backend on the API, whose stage acknowledges APIGWSSLEnabled because
    # it had none
    rest_api.api.root.add_resource("legacy").add_method("GET", apigw.HttpIntegration("https://example.com"))
    if client_certificate:  # the fork authenticates API Gateway to it: the finding no longer fires
        stage = rest_api.stage.node.default_child
        assert isinstance(stage, apigw.CfnStage)
        stage.client_certificate_id = apigw.CfnClientCertificate(stack, "Certificate").ref
        app.synth()
        return
    # THEN synth fails naming the method
    with pytest.raises(
        RuntimeError, match=r"\['S/Api/Default/Default/legacy/GET'\] integrate with an HTTP backend"
    ):
        app.synth()
