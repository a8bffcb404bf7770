"""What the evaluation needs from each environment: the judge's own profile (never granted to the
orchestrator), the prompt recorded in Bedrock Prompt Management, and the outputs the deployed run reads."""

from __future__ import annotations

import json

import pytest

from bedrock_constructs.prompt_record import PromptRecord, prompt_fingerprint
from platform_config import PlatformConfig
from platform_config.naming import pascal
from platform_spec.delivery import readiness_role_name
from platform_spec.guardrail import policy_fingerprint, render_policy
from tests.infra.conftest import Stages, Synthesized, probe_stack


def test_a_model_graded_use_case_gets_a_judge_profile_the_orchestrator_cannot_call(
    config: PlatformConfig, synthesized: Synthesized, stages: Stages
) -> None:
    judged = 0
    for env in config.environments:
        template = synthesized.platform_json(env.name)
        resources = template["Resources"]
        stack = stages[env.name].platform
        # every policy but those of the scoring function (it grades live outputs through the judge profile)
        # and the readiness gate's role (issue 14: it grades the golden suites)
        assert stack.review is not None and stack.review.scoring_function.role is not None
        scoring_role = stack.get_logical_id(stack.review.scoring_function.role.node.default_child)
        judges = {scoring_role} | {
            k
            for k, r in resources.items()
            if r["Type"] == "AWS::IAM::Role"
            and r["Properties"].get("RoleName") == readiness_role_name(env.name)
        }
        policies = json.dumps(
            [
                r["Properties"]
                for r in resources.values()
                if r["Type"] == "AWS::IAM::Policy"
                and not {role.get("Ref") for role in r["Properties"].get("Roles", [])} <= judges
            ]
        )
        for contract in config.contracts_for(env.name):
            use_case = stack.use_cases[contract.id]
            if contract.judge is None:
                assert use_case.judge is None
                continue
            judged += 1
            assert use_case.judge is not None
            judge_id = stack.get_logical_id(use_case.judge.resource)
            properties = resources[judge_id]["Properties"]
            tags = {t["Key"]: t["Value"] for t in properties["Tags"]}
            assert tags["route"] == "judge" and tags["use-case"] == contract.id
            assert contract.judge.identifier in json.dumps(properties["ModelSource"])
            # no route of user traffic: no policy but the scoring function's names the judge's profile
            assert judge_id not in policies
            assert template["Outputs"][f"{pascal(contract.id)}JudgeProfileArn"]["Value"] == {
                "Fn::GetAtt": [judge_id, "InferenceProfileArn"]
            }
    assert judged  # the shipped contracts include model-graded ones: this test is not vacuous


def test_every_use_case_records_its_system_prompt_as_an_immutable_prompt_version(
    config: PlatformConfig, synthesized: Synthesized, stages: Stages
) -> None:
    for env in config.environments:
        template = synthesized.platform_json(env.name)
        stack = stages[env.name].platform
        for contract in config.contracts_for(env.name):
            assert contract.prompt is not None
            record = stack.use_cases[contract.id].prompt_record
            assert record is not None
            prompt = template["Resources"][stack.get_logical_id(record.resource)]
            (variant,) = prompt["Properties"]["Variants"]
            assert variant["TemplateConfiguration"]["Text"]["Text"] == contract.prompt.system
            assert {"Key": "promptVersion", "Value": contract.prompt.version} in variant["Metadata"]
            version = template["Resources"][stack.get_logical_id(record.version_resource)]
            # a new prompt text changes the description, which replaces the version: a new snapshot
            assert version["Properties"]["Description"] == (
                f"Prompt {contract.prompt.version}; text sha256 {prompt_fingerprint(contract.prompt.system)}"
            )
            assert version["UpdateReplacePolicy"] == "Retain"  # replaced versions stay as history
            name = pascal(contract.id)
            assert f"{name}PromptVersionArn" in template["Outputs"]
            # the deployed run reads the fingerprint of the policy the published guardrail version enforces
            assert template["Outputs"][f"{name}GuardrailFingerprint"]["Value"] == policy_fingerprint(
                render_policy(contract.guardrail)
            )


def test_a_prompt_with_template_braces_is_refused() -> None:
    stack = probe_stack(environment=False)
    with pytest.raises(ValueError, match=r"PromptRecord S/P: the system prompt contains '\{\{'"):
        PromptRecord(
            stack, "P", prompt_name="dev-x", system="Answer {{question}}", version="v1", source_file="p"
        )
