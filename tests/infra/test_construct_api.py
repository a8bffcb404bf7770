"""Construct APIs as aws-cdk's DESIGN_GUIDELINES describe them: ``metric(name, **MetricOptions)`` with the
service's metric names and dimensions, ``metric_<name>()`` shortcuts whose defaults the caller can
change, ``grant_*`` returning the ``iam.Grant``, and logical IDs kept where the tree was refactored."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam

from bedrock_constructs.logical_ids import logical_id_at, make_unique_id
from bedrock_constructs.orchestration_api import OrchestratorFunction
from bedrock_constructs.use_case import GovernedUseCase
from compliance.assembly_meta import stack_artifacts
from platform_config import PlatformConfig
from platform_spec.api import Dimension, Metric
from tests.infra.conftest import Stages, Synthesized, probe_stack
from tests.support.forks import probe_api


def _rendered(stack: cdk.Stack, metric: cloudwatch.IMetric) -> dict[str, object]:
    config = metric.to_metric_config().metric_stat
    assert config is not None
    return {
        "namespace": config.namespace,
        "name": config.metric_name,
        "dimensions": {d.name: stack.resolve(d.value) for d in config.dimensions or []},
        "statistic": config.statistic,
        "period": config.period.to_seconds(),
    }


@pytest.fixture
def use_case(example_config: PlatformConfig) -> GovernedUseCase:
    contract = next(c for c in example_config.contracts_for("dev") if c.id == "policy-qa")
    return GovernedUseCase(probe_stack(), "PolicyQa", contract=contract, environment="dev")


def test_profile_and_guardrail_metrics_take_metric_options(use_case: GovernedUseCase) -> None:
    stack = cdk.Stack.of(use_case)
    profile, guardrail = use_case.primary, use_case.guardrail
    model_id = {"ModelId": stack.resolve(profile.profile_id)}
    assert _rendered(
        stack, profile.metric("InvocationLatency", statistic="p99", period=cdk.Duration.minutes(1))
    ) == {
        "namespace": "AWS/Bedrock",
        "name": "InvocationLatency",
        "dimensions": model_id,
        "statistic": "p99",
        "period": 60,
    }
    # a shortcut's default statistic is a default: the caller's wins
    assert _rendered(stack, profile.metric_invocation_latency())["statistic"] == "p95"
    assert _rendered(stack, profile.metric_invocation_latency(statistic="p50"))["statistic"] == "p50"
    assert _rendered(stack, profile.metric_estimated_tpm_quota_usage())["statistic"] == "Maximum"
    assert profile.metric_invocations(label="primary", color="#ff0000").color == "#ff0000"
    assert _rendered(stack, guardrail.metric_invocations_intervened(statistic="Average")) == {
        "namespace": "AWS/Bedrock/Guardrails",
        "name": "InvocationsIntervened",
        "dimensions": {
            "GuardrailArn": stack.resolve(guardrail.guardrail_arn),
            "GuardrailVersion": stack.resolve(guardrail.guardrail_version),
        },
        "statistic": "Average",
        "period": 300,
    }


@pytest.mark.slow
def test_function_and_api_metrics_use_the_service_names_and_the_orchestrators_own_dimensions(
    use_case: GovernedUseCase,
) -> None:
    stack = cdk.Stack.of(use_case)
    api = probe_api(stack, use_case)
    function: OrchestratorFunction = api.orchestrator
    fallbacks = _rendered(stack, function.metric_fallbacks("policy-qa"))
    # exactly the dimensions the handler publishes its EMF metrics with (platform_spec.api)
    assert fallbacks == {
        "namespace": "BedrockPlatform",
        "name": Metric.FALLBACKS,
        "dimensions": {
            Dimension.SERVICE: "bedrock-orchestrator",
            Dimension.USE_CASE: "policy-qa",
            Dimension.ENVIRONMENT: "dev",
        },
        "statistic": "Sum",
        "period": 300,
    }
    throttles = _rendered(stack, function.metric("Throttles", statistic="Maximum"))
    assert (throttles["namespace"], throttles["statistic"]) == ("AWS/Lambda", "Maximum")
    assert throttles["dimensions"] == {"FunctionName": stack.resolve(function.function.function_name)}
    assert _rendered(stack, function.metric_concurrent_executions())["statistic"] == "Maximum"
    latency = _rendered(stack, api.rest_api.metric_latency(statistic="p95"))
    assert (latency["namespace"], latency["name"], latency["dimensions"]) == (
        "AWS/ApiGateway",
        "Latency",
        {"ApiName": "bedrock-platform-dev"},
    )


def test_grants_return_the_grant_with_every_statement(use_case: GovernedUseCase) -> None:
    stack = cdk.Stack.of(use_case)
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant = use_case.grant_invoke(role)
    assert isinstance(grant, iam.Grant) and grant.success
    resources = [stack.resolve(r) for statement in grant.principal_statements for r in statement.resources]
    for profile in use_case.profiles.values():
        assert stack.resolve(profile.profile_arn) in resources
        assert any(stack.resolve(arn) in resources for arn in profile.foundation_model_arns)
    assert stack.resolve(use_case.guardrail.guardrail_arn) in resources
    actions = {a for statement in grant.principal_statements for a in statement.actions}
    assert actions == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",
    }


def test_make_unique_id_is_cdks_own_allocation_everywhere_but_the_one_kept_id(
    synthesized: Synthesized,
    stages: Stages,
) -> None:
    # Every logical ID CDK allocated in every environment is what make_unique_id computes from the
    # element's place in the tree, except the one the orchestration API overrides to keep it, API
    # Gateway's deployment and the function's current version, whose IDs aws-cdk-lib suffixes with a hash.
    # CDK records each element's allocated ID in the assembly (``aws:cdk:logicalId`` metadata, by construct
    # path): read there, not element by element through jsii (a round trip each).
    artifacts = stack_artifacts(synthesized.outdir)
    for stage in stages.values():
        stack = stage.platform
        prefix = f"{stack.node.path}/"
        (template,) = [t for t in synthesized.stacks if t.name == stack.node.path]
        allocated = {
            path.removeprefix(prefix): logical_id
            for logical_id, path in artifacts[stack.node.path].logical_id_paths().items()
        }
        assert len(allocated) >= len(template.resources)  # every resource, output, parameter, ...
        computed = {path: make_unique_id(path.split("/")) for path in allocated}
        different = {
            f"/{path}": (logical_id, computed[path])
            for path, logical_id in allocated.items()
            if logical_id != computed[path]
        }
        deployment = different.pop("/OrchestrationApi/Api/Default/Deployment/Resource")
        assert deployment[0].startswith(deployment[1])
        # the function's published version: aws-cdk-lib suffixes it with a hash of the function's code and
        # configuration (``currentVersion``), so each release is a new version behind the live alias
        version = different.pop("/OrchestrationApi/Function/Default/CurrentVersion/Resource")
        assert version[0].startswith(version[1])
        # kept: the ID it had at OrchestrationApi/ExecutionLogs before the API was split into its parts
        assert different == {
            "/OrchestrationApi/Api/ExecutionLogs/Resource": (
                "OrchestrationApiExecutionLogsB0F2BD77",
                logical_id_at(stack, "OrchestrationApi", "Api", "ExecutionLogs", "Resource"),
            )
        }


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        (["Bucket"], "Bucket"),  # a top-level element keeps its id
        (["Api", "Default", "Resource"], make_unique_id(["Api", "Resource"])),  # Default is hidden
        (["Default", "Resource"], make_unique_id(["Resource"])),
    ],
)
def test_make_unique_id_rules(components: list[str], expected: str) -> None:
    assert make_unique_id(components) == expected
    assert (
        make_unique_id(["OrchestrationApi", "ExecutionLogs", "Resource"])
        == "OrchestrationApiExecutionLogsB0F2BD77"
    )
    with pytest.raises(ValueError, match="no path components"):
        make_unique_id(["Default"])
