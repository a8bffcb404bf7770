"""The app: one stage per environment, in its own account and region, with its contracts only."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from compliance.cfn_values import as_list
from platform_config import PlatformConfig
from platform_config.loader import CONFIGURATION_FOLDERS
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT
from platform_config.model import EnforcedGuardrailSpec
from platform_config.naming import pascal
from stacks.platform_stack import PlatformStack
from tests.infra.conftest import ROOT, Stages, Synthesized, cdk_context, probe_app
from tests.support.contracts import enabled_use_cases


def test_one_stage_per_environment_in_its_account_and_region(synthesized: Synthesized) -> None:
    # and the delivery pipeline in the delivery account of delivery/pipeline.yaml
    assert {(s.name, s.account, s.region) for s in synthesized.stacks} == {
        ("Delivery/Pipeline", "444444444444", "us-east-1"),
        ("Dev/Platform", "111111111111", "us-east-1"),
        ("Staging/Platform", "222222222222", "us-east-1"),
        ("Prod/Platform", "333333333333", "us-west-2"),
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_only_contracts_enabled_in_an_environment_are_deployed(
    synthesized: Synthesized, stages: Stages, env: str
) -> None:
    # what each contract file's `environments` list says, read without the loader
    use_cases = enabled_use_cases(env)
    assert use_cases  # every shipped environment runs at least one use case
    guardrails = synthesized.platform(env).find_resources("AWS::Bedrock::Guardrail")
    # every use case's guardrail, and the account's enforced baseline
    assert {g["Properties"]["Name"] for g in guardrails.values()} == {f"{env}-{u}" for u in use_cases} | {
        f"{env}-enforced-baseline"
    }
    assert set(stages[env].platform.use_cases) == use_cases


def test_production_stacks_have_termination_protection(stages: Stages) -> None:
    assert stages["prod"].platform.termination_protection is True
    assert stages["dev"].platform.termination_protection is False


def test_environment_tags_reach_resources(synthesized: Synthesized, config: PlatformConfig) -> None:
    for env in config.environments:
        buckets = synthesized.platform(env.name).find_resources("AWS::S3::Bucket")
        for bucket in buckets.values():
            tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
            assert {k: tags.get(k) for k in env.tags} == env.tags


def test_outputs_name_every_profile_and_guardrail_version(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    outputs = synthesized.platform_json("prod")["Outputs"]
    for contract in config.contracts_for("prod"):
        name = pascal(contract.id)
        assert {
            f"{name}GuardrailId",
            f"{name}GuardrailVersion",
            *(f"{name}{pascal(route)}ProfileArn" for route in contract.routes),
        } <= set(outputs)
    assert "InvocationLogBucketName" in outputs


@pytest.mark.slow
def test_a_bad_configuration_stops_app_py_before_synthesis(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a copy of the project whose prod environment asks to destroy data
    for folder in CONFIGURATION_FOLDERS:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    prod = tmp_path / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("removal_policy: retain", "removal_policy: destroy"))
    (tmp_path / "app.py").write_text((ROOT / "app.py").read_text())
    for package in ("stacks", "compliance"):  # the app's own packages, not installed
        (tmp_path / package).symlink_to(ROOT / package, target_is_directory=True)
    # WHEN app.py runs
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "CDK_OUTDIR": str(tmp_path / "out"),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        },
    )
    # THEN it exits 1 with the file, field, value and fix, and writes no assembly
    assert result.returncode == 1
    assert result.stderr.startswith("1 configuration problem; nothing was synthesized:\n")
    assert "environments/prod.yaml:" in result.stderr
    assert "removal_policy: must be retain in a production environment" in result.stderr
    assert "(got 'destroy')" in result.stderr and "Fix: set removal_policy: retain" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_owner_of_the_account_settings_enforces_a_published_baseline_guardrail(
    synthesized: Synthesized, config: PlatformConfig, env: str
) -> None:
    resources = synthesized.platform_json(env)["Resources"]
    (config_id,) = [
        k for k, v in resources.items() if v["Type"] == "AWS::Bedrock::EnforcedGuardrailConfiguration"
    ]
    props = resources[config_id]["Properties"]
    guardrail_id = props["GuardrailIdentifier"]["Fn::GetAtt"][0]
    version_id, attribute = props["GuardrailVersion"]["Fn::GetAtt"]
    # a published version of the baseline guardrail, never DRAFT
    assert attribute == "Version"
    assert resources[version_id]["Type"] == "AWS::Bedrock::GuardrailVersion"
    assert resources[version_id]["Properties"]["GuardrailIdentifier"] == {
        "Fn::GetAtt": [guardrail_id, "GuardrailId"]
    }
    assert props["SelectiveContentGuarding"] == {"Messages": "COMPREHENSIVE", "System": "SELECTIVE"}
    guardrail = resources[guardrail_id]["Properties"]
    assert guardrail["Name"] == f"{env}-enforced-baseline"
    assert guardrail["ContentPolicyConfig"]["FiltersConfig"] == [
        {"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"}
    ]
    enforced = config.environment(env).enforced_guardrail
    baseline = enforced.policy() if enforced is not None else None
    assert baseline is not None
    assert guardrail["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"] == [
        {"Type": entity.value, "Action": action.value}
        for entity, action in baseline.sensitive_information.pii_entities.items()
    ]
    assert [t["Name"] for t in guardrail["TopicPolicyConfig"]["TopicsConfig"]] == [
        t.name for t in baseline.denied_topics
    ]


def _allows(statements: list[dict[str, object]], action: str, resource: object = None) -> bool:
    return any(
        action in as_list(s["Action"]) and (resource is None or resource in as_list(s["Resource"]))
        for s in statements
    )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_role_that_calls_a_model_may_apply_the_enforced_baseline(
    synthesized: Synthesized, env: str
) -> None:
    # The baseline guards every model call in the account (EnforcedGuardrail.grant_apply): the scoring
    # function's judge and the readiness gate's suites call models as the orchestrator does.
    resources = synthesized.platform_json(env)["Resources"]
    (config,) = [v for v in resources.values() if v["Type"] == "AWS::Bedrock::EnforcedGuardrailConfiguration"]
    guardrail_id = config["Properties"]["GuardrailIdentifier"]["Fn::GetAtt"][0]
    baseline = {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]}
    granted: dict[str, bool] = {}
    for policy in (v["Properties"] for v in resources.values() if v["Type"] == "AWS::IAM::Policy"):
        statements = policy["PolicyDocument"]["Statement"]
        if _allows(statements, "bedrock:InvokeModel"):
            for role in policy["Roles"]:
                granted[role["Ref"]] = _allows(statements, "bedrock:ApplyGuardrail", baseline)
    # the scoring function calls a model where a use case here is model-graded (its judge)
    judged = any(c.judge is not None for c in synthesized.config.contracts_for(env))
    assert any("Scoring" in role for role in granted) == judged
    assert any("Orchestration" in role for role in granted)
    assert any("ReadinessGate" in role for role in granted) == (env == "staging")
    assert [role for role, ok in granted.items() if not ok] == []


@pytest.mark.slow
def test_an_opted_out_environment_records_its_reason_in_the_template(config: PlatformConfig) -> None:
    reason = "The organization enforces its own guardrail on this account through Bedrock policies."
    dev = config.environment("dev")
    assert dev.enforced_guardrail is not None
    opted_out = dataclasses.replace(dev, enforced_guardrail=EnforcedGuardrailSpec(opt_out_reason=reason))
    app = probe_app(context=cdk_context())
    stack = PlatformStack(
        app,
        "Dev",
        environment=opted_out,
        contracts=config.contracts_for("dev"),
        env=cdk.Environment(account=dev.account, region=dev.region),
    )
    template = Template.from_stack(stack).to_json()
    assert template["Metadata"][ENFORCED_GUARDRAIL_OPT_OUT] == {"opt_out_reason": reason}
    assert not [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Bedrock::EnforcedGuardrailConfiguration"
    ]
