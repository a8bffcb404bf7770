"""ApplicationInferenceProfile: tags, copy-from ARN, least-privilege invoke, metrics."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from bedrock_constructs.inference_profile import ApplicationInferenceProfile
from bedrock_constructs.use_case import GovernedUseCase
from compliance.cfn_values import resolve_value
from compliance.policy_eval import Request, evaluate
from platform_config import PlatformConfig
from platform_config.catalog import ModelCatalog
from platform_config.model import Contract, ModelSource
from tests.infra.conftest import probe_stack

TAGS = {"cost-center": "CC-1", "team": "t", "application": "a", "environment": "dev", "use-case": "u"}


def _source(identifier: str, region: str = "us-east-1") -> ModelSource:
    resolved = ModelCatalog.load().resolve(identifier, region)
    assert resolved.source is not None, resolved.problem
    return resolved.source


def _invoke_policy(stack: cdk.Stack, profile: ApplicationInferenceProfile) -> dict[str, Any]:
    """The caller's identity policy after ``grant_invoke``, with the stack's pseudo parameters resolved."""
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    profile.grant_invoke(role)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    (policy,) = policies.values()
    document: dict[str, Any] = resolve_value(
        policy["Properties"]["PolicyDocument"], account="111111111111", region="us-east-1"
    )
    for statement in document["Statement"]:
        assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    return document


def _invoke(document: dict[str, Any], resource: str, through: str | None) -> bool:
    """Whether the policy lets the caller invoke ``resource`` with ``bedrock:InferenceProfileArn`` =
    ``through`` (``None``: a direct call, which carries no such key)."""
    context = {} if through is None else {"bedrock:InferenceProfileArn": through}
    return evaluate(
        document, Request(("AWS", "111111111111"), "bedrock:InvokeModel", resource, context)
    ).allowed


def test_profile_copies_the_cross_region_profile_and_carries_cost_tags() -> None:
    stack = probe_stack()
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


def test_grant_invoke_reaches_every_destination_model_only_through_the_profile() -> None:
    stack = probe_stack()
    source = _source("us.amazon.nova-lite-v1:0")
    profile = ApplicationInferenceProfile(stack, "P", profile_name="n", source=source, cost_tags=TAGS)
    document = _invoke_policy(stack, profile)
    app_profile = f"<{stack.get_logical_id(profile.resource)}.InferenceProfileArn>"
    system_profile = "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.amazon.nova-lite-v1:0"
    assert set(source.destination_regions) == {"us-east-1", "us-east-2", "us-west-1", "us-west-2"}

    # GIVEN the caller invokes the application profile: it is allowed, and so is every model behind it,
    # whichever of the two profile ARNs Bedrock puts into bedrock:InferenceProfileArn.
    assert _invoke(document, app_profile, None)
    assert _invoke(document, system_profile, app_profile)
    for region in source.destination_regions:
        model = f"arn:aws:bedrock:{region}::foundation-model/amazon.nova-lite-v1:0"
        assert _invoke(document, model, app_profile) and _invoke(document, model, system_profile)
        # A direct model call carries no bedrock:InferenceProfileArn and is refused.
        assert not _invoke(document, model, None)
        # So is a call through somebody else's profile.
        assert not _invoke(
            document, model, "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/x"
        )
    # The cross-Region profile itself only through the application profile: calling it directly (its own
    # ARN in the key) would bypass the application profile's cost tags.
    assert not _invoke(document, system_profile, system_profile)
    assert not _invoke(document, system_profile, None)
    # No other model, no other Region.
    assert not _invoke(
        document, "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0", app_profile
    )
    assert not _invoke(
        document, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", app_profile
    )


def test_grant_invoke_for_a_global_profile_uses_any_region_and_the_regionless_model_arn() -> None:
    stack = probe_stack()
    profile = ApplicationInferenceProfile(
        stack,
        "P",
        profile_name="n",
        source=_source("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        cost_tags=TAGS,
    )
    document = _invoke_policy(stack, profile)
    app_profile = f"<{stack.get_logical_id(profile.resource)}.InferenceProfileArn>"
    model = "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert document["Statement"][2]["Resource"] == [
        f"arn:aws:bedrock:*::{model}",
        f"arn:aws:bedrock:::{model}",
    ]
    for arn in (f"arn:aws:bedrock:ap-southeast-2::{model}", f"arn:aws:bedrock:::{model}"):
        assert _invoke(document, arn, app_profile)
        assert not _invoke(document, arn, None)


def test_a_foundation_model_source_is_copied_from_and_granted_in_its_own_region_only() -> None:
    stack = probe_stack()
    profile = ApplicationInferenceProfile(
        stack, "P", profile_name="n", source=_source("amazon.nova-pro-v1:0"), cost_tags=TAGS
    )
    document = _invoke_policy(stack, profile)
    app_profile = f"<{stack.get_logical_id(profile.resource)}.InferenceProfileArn>"
    # The profile, and the model in us-east-1 through it; no system profile.
    assert [s["Resource"] for s in document["Statement"]] == [
        app_profile,
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
    ]
    assert document["Statement"][1]["Condition"] == {
        "ArnEquals": {"bedrock:InferenceProfileArn": app_profile}
    }
    assert _invoke(document, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", app_profile)
    assert not _invoke(document, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", None)
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
    stack = probe_stack()
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
            probe_stack(),
            "P",
            profile_name="x" * 65,
            source=_source("amazon.nova-pro-v1:0"),
            cost_tags={k: v for k, v in TAGS.items() if k not in ("cost-center", "use-case")},
        )


def _tagged_profiles(config: PlatformConfig, synthesized) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(environment, use case, route) of every inference profile of ``synthesized``'s app, each checked to
    be tagged and named for its use case, route and environment; exactly the routes of ``config``."""
    every = set()
    for env in config.environments:
        profiles = synthesized.platform(env.name).find_resources("AWS::Bedrock::ApplicationInferenceProfile")
        contracts = config.contracts_for(env.name)
        assert len(profiles) == sum(len(c.inference_profiles) for c in contracts)
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
        assert seen == {(c.id, r) for c in contracts for r in c.inference_profiles}
        every |= {(env.name, use_case, route) for use_case, route in seen}
    return every


def test_every_profile_in_every_environment_is_tagged_for_its_use_case(
    config: PlatformConfig, synthesized, example_config: PlatformConfig, example_synthesized
) -> None:  # type: ignore[no-untyped-def]
    # the repository's app, and the examples' (the same app while the repository ships every example)
    _tagged_profiles(config, synthesized)
    seen = _tagged_profiles(example_config, example_synthesized)
    # a routing tier gets its own profile: every tier of the examples (one has tiers), in every environment
    tiers = {
        (env.name, c.id, tier.name)
        for env in example_config.environments
        for c in example_config.contracts_for(env.name)
        for tier in c.tiers
    }
    assert tiers, "no example contract has a routing tier (model.tiers)"
    assert tiers <= seen


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


# ------------------------------------------------------------------ a route's model changes in a release


def _release(contract: Contract) -> tuple[dict[str, Any], dict[str, Any], GovernedUseCase, cdk.Stack]:
    """One release of ``contract`` in prod: its template's resources, the policy a caller granted
    ``grant_invoke`` holds (pseudo parameters resolved), the use case and its stack."""
    stack = probe_stack()
    use_case = GovernedUseCase(stack, "UseCase", contract=contract, environment="prod")
    role = iam.Role(stack, "Orchestrator", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    use_case.grant_invoke(role)
    resources = Template.from_stack(stack).to_json()["Resources"]
    (policy,) = [r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"]
    document = resolve_value(
        policy["Properties"]["PolicyDocument"], account="111111111111", region="us-west-2"
    )
    return resources, document, use_case, stack


def _profiles(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        lid: r for lid, r in resources.items() if r["Type"] == "AWS::Bedrock::ApplicationInferenceProfile"
    }


def test_a_retiring_model_keeps_the_previous_releases_profile_as_deployed_and_granted(
    example_config: PlatformConfig,
) -> None:
    # GIVEN the last release, in which policy-qa's primary route used model A
    last = next(c for c in example_config.contracts_for("prod") if c.id == "policy-qa")
    old = last.primary
    new = _source("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us-west-2")
    assert new.identifier != old.identifier
    before, _, last_use_case, last_stack = _release(last)
    old_id = last_stack.get_logical_id(last_use_case.primary.resource)

    # WHEN this release moves the route to model B and lists A under model.retiring
    after, document, use_case, stack = _release(replace(last, primary=new, retiring={"primary": old}))

    # THEN A's profile is in the template exactly as deployed (same logical ID and properties, so
    # CloudFormation leaves it alone), B's profile is new, and the orchestrator routes to B only
    assert _profiles(after)[old_id] == _profiles(before)[old_id]
    new_id = stack.get_logical_id(use_case.primary.resource)
    assert new_id not in before and new_id != old_id
    assert (
        _profiles(after)[new_id]["Properties"]["InferenceProfileName"]
        != _profiles(before)[old_id]["Properties"]["InferenceProfileName"]
    )
    assert (
        use_case.primary.source == new
        and stack.get_logical_id(use_case.retiring_profiles["primary"].resource) == old_id
    )
    # AND the shared role still lets the previous version call A (profile and models behind it), and B
    for profile_id, source in ((old_id, old), (new_id, new)):
        profile = f"<{profile_id}.InferenceProfileArn>"
        assert _invoke(document, profile, None)
        for region in source.destination_regions:
            model = f"arn:aws:bedrock:{region}::foundation-model/{source.model_id}"
            assert _invoke(document, model, profile) and not _invoke(document, model, None)

    # AND without the entry A's profile leaves the template (CloudFormation deletes it) with its grant
    dropped, dropped_document, _, _ = _release(replace(last, primary=new))
    assert old_id not in dropped
    assert not _invoke(dropped_document, f"<{old_id}.InferenceProfileArn>", None)


def test_an_unchanged_route_keeps_its_profile_across_releases(example_config: PlatformConfig) -> None:
    # A release that changes nothing of a route's model leaves its profile's logical ID and properties.
    contract = next(c for c in example_config.contracts_for("prod") if c.id == "policy-qa")
    first, _, _, _ = _release(contract)
    second, _, _, _ = _release(replace(contract, latency_p95_ms=contract.latency_p95_ms - 1))
    assert _profiles(first) == _profiles(second)
