"""ApplicationInferenceProfile: tags, copy-from ARN, least-privilege invoke, metrics."""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from bedrock_constructs.inference_profile import ApplicationInferenceProfile
from platform_config import PlatformConfig
from platform_config.catalog import ModelCatalog
from platform_config.model import ModelSource

TAGS = {"cost-center": "CC-1", "team": "t", "application": "a", "environment": "dev", "use-case": "u"}


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="111111111111", region="us-east-1"))


def _source(identifier: str, region: str = "us-east-1") -> ModelSource:
    resolved = ModelCatalog.load().resolve(identifier, region)
    assert resolved.source is not None, resolved.problem
    return resolved.source


def _invoke_resources(stack: cdk.Stack, profile: ApplicationInferenceProfile) -> list[object]:
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    profile.grant_invoke(role)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    (policy,) = policies.values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    return statement["Resource"]  # type: ignore[no-any-return]


def test_profile_copies_the_cross_region_profile_and_carries_cost_tags() -> None:
    stack = _stack()
    ApplicationInferenceProfile(
        stack, "P", profile_name="dev-u-primary", source=_source("us.amazon.nova-lite-v1:0"), cost_tags=TAGS
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Bedrock::ApplicationInferenceProfile",
        {
            "InferenceProfileName": "dev-u-primary",
            "ModelSource": {
                "CopyFrom": {
                    "Fn::Join": [
                        "",
                        Match.array_with(
                            [Match.string_like_regexp(":inference-profile/us.amazon.nova-lite-v1:0$")]
                        ),
                    ]
                }
            },
            "Tags": Match.array_with([{"Key": k, "Value": v} for k, v in sorted(TAGS.items())]),
        },
    )


def test_grant_invoke_covers_the_profile_its_source_and_the_model_in_every_destination_region() -> None:
    stack = _stack()
    source = _source("us.amazon.nova-lite-v1:0")
    profile = ApplicationInferenceProfile(stack, "P", profile_name="n", source=source, cost_tags=TAGS)
    resources = _invoke_resources(stack, profile)
    assert resources[0] == {"Fn::GetAtt": [stack.get_logical_id(profile.resource), "InferenceProfileArn"]}
    rendered = [stack.resolve(r) if not isinstance(r, str) else r for r in resources[1:]]
    assert rendered[0] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":bedrock:us-east-1:111111111111:inference-profile/us.amazon.nova-lite-v1:0",
            ],
        ]
    }
    models = [r["Fn::Join"][1][2] for r in rendered[1:]]
    assert models == [
        f":bedrock:{region}::foundation-model/amazon.nova-lite-v1:0" for region in source.destination_regions
    ]
    assert set(source.destination_regions) == {"us-east-1", "us-east-2", "us-west-1", "us-west-2"}


def test_grant_invoke_for_a_global_profile_uses_any_region_and_the_regionless_model_arn() -> None:
    stack = _stack()
    profile = ApplicationInferenceProfile(
        stack,
        "P",
        profile_name="n",
        source=_source("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        cost_tags=TAGS,
    )
    models = [r["Fn::Join"][1][2] for r in _invoke_resources(stack, profile)[2:]]
    assert models == [
        ":bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        ":bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


def test_a_foundation_model_source_is_copied_from_and_granted_in_its_own_region_only() -> None:
    stack = _stack()
    profile = ApplicationInferenceProfile(
        stack, "P", profile_name="n", source=_source("amazon.nova-pro-v1:0"), cost_tags=TAGS
    )
    resources = _invoke_resources(stack, profile)
    assert len(resources) == 2  # the profile and the model in us-east-1; no system profile
    Template.from_stack(stack).has_resource_properties(
        "AWS::Bedrock::ApplicationInferenceProfile",
        {
            "ModelSource": {
                "CopyFrom": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
                        ],
                    ]
                }
            },
        },
    )


def test_metrics_use_the_profile_id_as_model_id_dimension() -> None:
    stack = _stack()
    profile = ApplicationInferenceProfile(
        stack, "P", profile_name="n", source=_source("amazon.nova-pro-v1:0"), cost_tags=TAGS
    )
    metrics = {
        "Invocations": profile.metric_invocations(),
        "InvocationLatency": profile.metric_invocation_latency(),
        "InvocationThrottles": profile.metric_throttles(),
        "InvocationClientErrors": profile.metric_client_errors(),
        "InvocationServerErrors": profile.metric_server_errors(),
        "InputTokenCount": profile.metric_input_tokens(),
        "OutputTokenCount": profile.metric_output_tokens(),
        "TimeToFirstToken": profile.metric_time_to_first_token(),
        "EstimatedTPMQuotaUsage": profile.metric_estimated_tpm_quota_usage(),
    }
    logical_id = stack.get_logical_id(profile.resource)
    for name, metric in metrics.items():
        assert (metric.namespace, metric.metric_name) == ("AWS/Bedrock", name)
        assert stack.resolve(metric.dimensions["ModelId"]) == {
            "Fn::GetAtt": [logical_id, "InferenceProfileId"]
        }
    assert metrics["InvocationLatency"].statistic == "p95"


def test_missing_cost_tags_and_bad_name_are_reported_together() -> None:
    with pytest.raises(
        ValueError, match=r"missing \['cost-center', 'use-case'\].*must be 1 to 64 characters"
    ):
        ApplicationInferenceProfile(
            _stack(),
            "P",
            profile_name="x" * 65,
            source=_source("amazon.nova-pro-v1:0"),
            cost_tags={k: v for k, v in TAGS.items() if k not in ("cost-center", "use-case")},
        )


def test_every_profile_in_every_environment_is_tagged_for_its_use_case(
    config: PlatformConfig, synthesized
) -> None:  # type: ignore[no-untyped-def]
    for env in config.environments:
        profiles = synthesized.platform(env.name).find_resources("AWS::Bedrock::ApplicationInferenceProfile")
        contracts = config.contracts_for(env.name)
        assert len(profiles) == sum(len(c.routes) for c in contracts)
        seen = set()
        for resource in profiles.values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            contract = next(c for c in contracts if c.id == tags["use-case"])
            assert tags["cost-center"] == contract.cost_center
            assert tags["team"] == contract.owner_team
            assert tags["application"] == contract.application
            assert tags["environment"] == env.name
            seen.add((contract.id, tags["route"]))
            assert re.fullmatch(
                rf"{env.name}-{contract.id}-{tags['route']}-[0-9a-f]{{6}}",
                resource["Properties"]["InferenceProfileName"],
            )
        assert seen == {(c.id, r) for c in contracts for r in c.routes}
        assert ("support-ticket-summary", "light") in seen


def test_profile_name_changes_when_the_source_changes_and_stays_within_64_characters() -> None:
    from bedrock_constructs.use_case import profile_name

    a = profile_name("dev", "policy-qa", "primary", "policy-qa primary route via us.amazon.nova-pro-v1:0")
    b = profile_name("dev", "policy-qa", "primary", "policy-qa primary route via us.amazon.nova-lite-v1:0")
    assert a != b and a.startswith("dev-policy-qa-primary-") and b.startswith("dev-policy-qa-primary-")
    assert a == profile_name(
        "dev", "policy-qa", "primary", "policy-qa primary route via us.amazon.nova-pro-v1:0"
    )
    longest = profile_name("e" * 12, "u" * 36, "fallback", "d")
    assert len(longest) <= 64 and "-fallback-" in longest
