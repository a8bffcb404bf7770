"""The compliance gates: cdk-nag (every pack), cfn-lint and our Bedrock rules, on every environment."""

from __future__ import annotations

import copy
import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from bedrock_constructs.nag import NAG_PACKS, acknowledge, add_nag_packs
from compliance.assembly import StackTemplate
from compliance.bedrock_rules import (
    rule_cost_tags,
    rule_invocation_logging_once,
    rule_prompt_attack,
    rule_scoped_invoke,
    run_rules,
)
from compliance.check import cfn_lint, nag_failures
from tests.infra.conftest import Synthesized, new_app


def test_every_environment_is_synthesized(synthesized: Synthesized) -> None:
    assert sorted(s.name for s in synthesized.stacks) == [
        "Dev/Platform",
        "Prod/Platform",
        "Staging/Platform",
    ]


def test_no_unacknowledged_cdk_nag_finding_in_any_stack(synthesized: Synthesized) -> None:
    assert nag_failures(synthesized.outdir) == []


def test_cdk_nag_runs_every_pack_and_fails_an_unacknowledged_finding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a stack with a bucket that breaks several rules, under the same nag set-up as the app
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Bad", env=cdk.Environment(account="111111111111", region="us-east-1"))
    s3.Bucket(stack, "Unlogged")
    add_nag_packs(app)
    # WHEN it is synthesized
    app.synth()
    # THEN every pack reports findings on it
    failures = nag_failures(tmp_path)
    packs = {line.split(":", 1)[0] for line in failures}
    assert {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"} <= packs
    assert any("AwsSolutions-S1" in line and "Bad/Unlogged" in line for line in failures)
    assert len(NAG_PACKS) == 5


def test_an_acknowledgment_covers_exactly_its_finding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Acked", env=cdk.Environment(account="111111111111", region="us-east-1"))
    bucket = s3.Bucket(stack, "Unlogged")
    acknowledge(
        bucket, "AwsSolutions-S1", "Test fixture: proves an acknowledgment silences one finding only."
    )
    add_nag_packs(app)
    app.synth()
    failures = nag_failures(tmp_path)
    assert not any("AwsSolutions-S1 " in line for line in failures)
    assert any("AwsSolutions-S10" in line for line in failures)  # TLS-only still reported


@pytest.mark.parametrize(
    ("finding", "reason", "message"),
    [
        (
            "AwsSolutions-IAM5 AwsSolutions-IAM4",
            "A long enough reason that states a constraint.",
            "not one cdk-nag",
        ),
        (
            "AwsSolutions-S1",
            "False positive, long enough to pass the length check",
            "must state the constraint",
        ),
        ("AwsSolutions-S1", "too short", "must state the constraint"),
    ],
)
def test_acknowledge_refuses_vague_or_multiple_findings(finding: str, reason: str, message: str) -> None:
    stack = cdk.Stack(cdk.App())
    with pytest.raises(ValueError, match=message):
        acknowledge(stack, finding, reason)


def test_cfn_lint_reports_nothing_on_any_template(synthesized: Synthesized) -> None:
    assert [line for stack in synthesized.stacks for line in cfn_lint(stack)] == []


def test_bedrock_rules_pass_on_every_environment(synthesized: Synthesized) -> None:
    assert {name: [f.render() for f in fs] for name, fs in run_rules(synthesized.stacks).items()} == {
        "BEDROCK-COST-TAGS": [],
        "BEDROCK-PROMPT-ATTACK": [],
        "BEDROCK-SCOPED-INVOKE": [],
        "BEDROCK-INVOCATION-LOGGING": [],
        "ALARM-ACTIONS": [],
    }


# ------------------------------------------------------------------ each Bedrock rule can fail


def _mutated(
    synthesized: Synthesized, env: str = "Prod/Platform"
) -> tuple[list[StackTemplate], StackTemplate]:
    stacks = [copy.deepcopy(s) for s in synthesized.stacks]
    target = next(s for s in stacks if s.name == env)
    return stacks, target


def test_rule_cost_tags_catches_a_missing_tag(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    logical_id, profile = next(prod.resources_of_type("AWS::Bedrock::ApplicationInferenceProfile"))
    profile["Properties"]["Tags"] = [t for t in profile["Properties"]["Tags"] if t["Key"] != "cost-center"]
    findings = rule_cost_tags(stacks)
    assert [(f.stack, f.resource) for f in findings] == [("Prod/Platform", logical_id)]
    assert "cost-center" in findings[0].message


def test_rule_prompt_attack_catches_a_weak_or_missing_filter(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    guardrails = list(prod.resources_of_type("AWS::Bedrock::Guardrail"))
    first, second = guardrails[0][1], guardrails[1][1]
    for f in first["Properties"]["ContentPolicyConfig"]["FiltersConfig"]:
        if f["Type"] == "PROMPT_ATTACK":
            f["InputStrength"] = "LOW"
    second["Properties"]["ContentPolicyConfig"]["FiltersConfig"] = [
        f
        for f in second["Properties"]["ContentPolicyConfig"]["FiltersConfig"]
        if f["Type"] != "PROMPT_ATTACK"
    ]
    findings = rule_prompt_attack(stacks)
    assert sorted(f.resource for f in findings) == sorted([guardrails[0][0], guardrails[1][0]])
    assert any("at LOW" in f.message for f in findings) and any("at nothing" in f.message for f in findings)


def test_rule_prompt_attack_requires_a_published_version(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    version_id, _ = next(prod.resources_of_type("AWS::Bedrock::GuardrailVersion"))
    del prod.template["Resources"][version_id]
    assert [f.rule for f in rule_prompt_attack(stacks)] == ["BEDROCK-GUARDRAIL-VERSION"]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("bedrock:*", "arn:aws:bedrock:us-west-2:333333333333:application-inference-profile/abc"),
        ("*", "*"),
        ("bedrock:InvokeModel", "*"),
        ("bedrock:InvokeModel", "arn:aws:bedrock:us-west-2::foundation-model/*"),
        (
            "bedrock:InvokeModelWithResponseStream",
            {
                "Fn::Join": [
                    "",
                    ["arn:aws:bedrock:", {"Ref": "AWS::Region"}, ":333333333333:inference-profile/*"],
                ]
            },
        ),
        ("bedrock:InvokeModel", "arn:aws:bedrock:us-west-2:333333333333:application-inference-profile/*"),
    ],
)
def test_rule_scoped_invoke_catches_broad_grants(
    synthesized: Synthesized, action: str, resource: object
) -> None:
    stacks, prod = _mutated(synthesized)
    prod.template["Resources"]["TooBroad"] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
            }
        },
    }
    findings = rule_scoped_invoke(stacks)
    assert [(f.stack, f.resource) for f in findings] == [("Prod/Platform", "TooBroad")]


def test_rule_scoped_invoke_accepts_a_scoped_grant(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    prod.template["Resources"]["Scoped"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["bedrock:InvokeModel"],
                        "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"],
                    }
                ]
            }
        },
    }
    assert rule_scoped_invoke(stacks) == []


def test_rule_invocation_logging_catches_missing_and_duplicate(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    logical_id, resource = next(prod.resources_of_type("Custom::BedrockModelInvocationLogging"))
    # twice in prod's account/region
    prod.template["Resources"]["Second"] = json.loads(json.dumps(resource))
    # and nowhere in staging's
    staging = next(s for s in stacks if s.name == "Staging/Platform")
    for lid, _ in list(staging.resources_of_type("Custom::BedrockModelInvocationLogging")):
        del staging.template["Resources"][lid]
    messages = sorted(f.message for f in rule_invocation_logging_once(stacks))
    assert len(messages) == 2
    assert "configured 0 times (nowhere)" in messages[0]
    assert "configured 2 times" in messages[1] and logical_id in messages[1]
