"""Guardrail: the contract's policy rendered in full, secure defaults, versioning, grants, metrics."""

from __future__ import annotations

from dataclasses import replace

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from bedrock_constructs.guardrail import Guardrail
from platform_config import PlatformConfig
from platform_config.model import ContentFilterType, Contract, FilterStrength
from platform_spec.contract import FilterSetting
from tests.infra.conftest import probe_stack


def _contract(config: PlatformConfig, contract_id: str) -> Contract:
    """A shipped example's contract (``example_config``: in a fork that retired it, the tests' copy)."""
    return next(c for c in config.contracts_for("dev") if c.id == contract_id)


def _template(contract: Contract, **kwargs: object) -> tuple[cdk.Stack, Guardrail, Template]:
    stack = probe_stack()
    guardrail = Guardrail(stack, "G", guardrail_name="dev-x", policy=contract.guardrail, **kwargs)  # type: ignore[arg-type]
    return stack, guardrail, Template.from_stack(stack)


def test_secure_default_content_filters_on_every_guardrail(example_config: PlatformConfig) -> None:
    _, _, template = _template(_contract(example_config, "rfp-drafting"))  # declares no content_filters
    template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "ContentPolicyConfig": {
                "FiltersConfig": [
                    {"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"},
                    {"Type": "HATE", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
                    {"Type": "INSULTS", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
                    {"Type": "SEXUAL", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
                    {"Type": "VIOLENCE", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
                    {"Type": "MISCONDUCT", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
                ]
            }
        },
    )


def test_policy_is_rendered_in_full(example_config: PlatformConfig) -> None:
    _, _, template = _template(_contract(example_config, "policy-qa"))
    template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "Name": "dev-x",
            "BlockedInputMessaging": "I can only answer questions about published HR and IT policies.",
            "BlockedOutputsMessaging": Match.string_like_regexp("^I could not find an answer"),
            "TopicPolicyConfig": {
                "TopicsConfig": [
                    Match.object_like(
                        {"Name": "Legal advice", "Type": "DENY", "Examples": Match.any_value()}
                    ),
                    Match.object_like({"Name": "Individual employee records", "Type": "DENY"}),
                ]
            },
            "SensitiveInformationPolicyConfig": {
                "PiiEntitiesConfig": [
                    {"Type": "US_SOCIAL_SECURITY_NUMBER", "Action": "BLOCK"},
                    {"Type": "US_BANK_ACCOUNT_NUMBER", "Action": "BLOCK"},
                    {"Type": "EMAIL", "Action": "ANONYMIZE"},
                ]
            },
            "WordPolicyConfig": {
                "WordsConfig": [{"Text": "confidential-reorg"}, {"Text": "project-bluebird"}],
                "ManagedWordListsConfig": [{"Type": "PROFANITY"}],
            },
            "ContextualGroundingPolicyConfig": {
                "FiltersConfig": [
                    {"Type": "GROUNDING", "Threshold": 0.8},
                    {"Type": "RELEVANCE", "Threshold": 0.7},
                ]
            },
        },
    )


def test_regex_filters_are_rendered(example_config: PlatformConfig) -> None:
    _, _, template = _template(_contract(example_config, "support-ticket-summary"))
    template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "SensitiveInformationPolicyConfig": Match.object_like(
                {
                    "RegexesConfig": [
                        {
                            "Name": "internal-account-id",
                            "Pattern": "ACCT-[0-9]{8}",
                            "Action": "ANONYMIZE",
                            "Description": "Internal customer account numbers.",
                        }
                    ]
                }
            )
        },
    )
    template.resource_properties_count_is(
        "AWS::Bedrock::Guardrail", {"ContextualGroundingPolicyConfig": Match.any_value()}, 0
    )


def test_a_published_version_is_created_and_changes_with_the_policy(example_config: PlatformConfig) -> None:
    contract = _contract(example_config, "policy-qa")
    stack, guardrail, template = _template(contract)
    template.resource_count_is("AWS::Bedrock::GuardrailVersion", 1)
    template.has_resource_properties(
        "AWS::Bedrock::GuardrailVersion",
        {
            "GuardrailIdentifier": {"Fn::GetAtt": [stack.get_logical_id(guardrail.resource), "GuardrailId"]},
            "Description": f"Published by bedrock-platform; policy fingerprint {guardrail.policy_fingerprint}",
        },
    )
    words = contract.guardrail.word_filters
    stricter = replace(
        contract.guardrail, word_filters=replace(words, words=(*words.words, "project-falcon"))
    )
    _, changed, _ = _template(replace(contract, guardrail=stricter))
    _, same, _ = _template(contract)
    assert changed.policy_fingerprint != guardrail.policy_fingerprint
    assert same.policy_fingerprint == guardrail.policy_fingerprint  # deterministic: no spurious versions


def test_a_replaced_version_is_kept_for_the_callers_that_still_pin_it(example_config: PlatformConfig) -> None:
    # A canary's stable orchestrator version keeps the old version number until the bake promotes; a
    # version CloudFormation deleted on replacement would fail its guardrail calls.
    _, _, template = _template(_contract(example_config, "policy-qa"))
    template.has_resource(
        "AWS::Bedrock::GuardrailVersion", {"UpdateReplacePolicy": "Retain", "DeletionPolicy": "Retain"}
    )


def test_grant_apply_is_scoped_to_this_guardrail_and_its_key(example_config: PlatformConfig) -> None:
    stack = probe_stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    guardrail = Guardrail(
        stack, "G", guardrail_name="n", policy=_contract(example_config, "policy-qa").guardrail, kms_key=key
    )
    role = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    guardrail.grant_apply(role)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {"KmsKeyArn": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}},
    )  # type: ignore[arg-type]
    statements = template.to_json()["Resources"]
    (policy,) = [r for r in statements.values() if r["Type"] == "AWS::IAM::Policy"]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "bedrock:ApplyGuardrail",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stack.get_logical_id(guardrail.resource), "GuardrailArn"]},
        },
        {
            "Action": "kms:Decrypt",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]},
        },  # type: ignore[arg-type]
    ]


def test_metrics_are_keyed_by_guardrail_arn_and_published_version(example_config: PlatformConfig) -> None:
    stack, guardrail, _ = _template(_contract(example_config, "policy-qa"))
    metric = guardrail.metric_invocations_intervened()
    assert (metric.namespace, metric.metric_name) == ("AWS/Bedrock/Guardrails", "InvocationsIntervened")
    assert stack.resolve(metric.dimensions["GuardrailVersion"]) == {
        "Fn::GetAtt": [stack.get_logical_id(guardrail.version_resource), "Version"]
    }
    assert stack.resolve(metric.dimensions["GuardrailArn"]) == {
        "Fn::GetAtt": [stack.get_logical_id(guardrail.resource), "GuardrailArn"]
    }


@pytest.mark.parametrize("strength", [FilterStrength.NONE, FilterStrength.LOW])
def test_a_policy_without_prompt_attack_filtering_is_refused(
    example_config: PlatformConfig, strength: FilterStrength
) -> None:
    contract = _contract(example_config, "policy-qa")
    filters = {
        **contract.guardrail.content_filters,
        ContentFilterType.PROMPT_ATTACK: FilterSetting(input=strength, output=FilterStrength.NONE),
    }
    with pytest.raises(
        ValueError, match=f"must filter prompt attacks on input at MEDIUM or above \\(got {strength}\\)"
    ):
        _template(replace(contract, guardrail=replace(contract.guardrail, content_filters=filters)))
