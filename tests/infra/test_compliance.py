"""The compliance gate: cdk-nag (every pack), this project's rules and cfn-lint, on every environment.

The session's synth (tests/support/synth.py) runs exactly what ``cdk synth`` runs: the nag packs and
the gate plugin. These tests read what they reported, show that every rule fails on a bad template
(mutating the synthesized one as a fork or a regression would), and that a violation stops a real
``npx cdk synth '**'`` with the rule, the resource and the fix.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import textwrap
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from bedrock_constructs.nag import (
    CDK_VALIDATE_NAMESPACE,
    NAG_PACKS,
    acknowledge,
    acknowledge_all,
    add_nag_packs,
)
from compliance.assembly import GENERIC_CFN_RESOURCE, StackTemplate
from compliance.bedrock_rules import (
    RULE_IDS,
    rule_alarm_delivery,
    rule_api_execution_logs,
    rule_cost_tags,
    rule_enforced_guardrail,
    rule_invocation_logging_once,
    rule_logging_flags,
    rule_models_via_profiles,
    rule_nag_coverage,
    rule_prompt_attack,
    rule_retained_fixed_name,
    rule_scoped_invoke,
)
from compliance.cfn_values import resolve_value
from compliance.check import gate_report, nag_failures
from compliance.gate import CLI_VERSION_VARIABLE, add_gate
from compliance.gate_result import read_gate_result
from compliance.policy_eval import Decision, Request, evaluate
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT, GATE_NAME, GATE_RESULT_FILE
from tests.infra.conftest import (
    ROOT,
    Synthesized,
    cdk_context,
    new_app,
    probe_app,
    probe_environment,
    probe_stack,
)


def test_every_environment_and_the_delivery_pipeline_are_synthesized(synthesized: Synthesized) -> None:
    assert sorted(s.name for s in synthesized.stacks) == [
        "Delivery/Pipeline",
        "Dev/Platform",
        "Prod/Platform",
        "Staging/Platform",
    ]


def test_no_unacknowledged_cdk_nag_finding_in_any_stack(synthesized: Synthesized) -> None:
    assert nag_failures(synthesized.outdir) == []


def test_the_gate_ran_every_rule_and_cfn_lint_over_every_stack_and_found_nothing(
    synthesized: Synthesized,
) -> None:
    report = gate_report(synthesized.outdir)
    assert report["problems"] == []
    assert report["cfn_lint_ran"] and report["cfn_lint"] == []
    assert set(report["rules"]) == set(RULE_IDS)
    assert {rule: findings for rule, findings in report["rules"].items() if findings} == {}
    result = json.loads((synthesized.outdir / GATE_RESULT_FILE).read_text())
    assert result["stacks"] == ["Delivery/Pipeline", "Dev/Platform", "Prod/Platform", "Staging/Platform"]


@pytest.mark.slow
def test_cdk_nag_runs_every_pack_and_fails_an_unacknowledged_finding(tmp_path: Path) -> None:
    # GIVEN a stack with a bucket that breaks several rules, under the same nag set-up as the app
    app = probe_app(tmp_path, context=cdk_context())
    stack = probe_stack(app, "Bad")
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


def test_an_acknowledgment_covers_exactly_its_finding(tmp_path: Path) -> None:
    app = probe_app(tmp_path, context=cdk_context())
    stack = probe_stack(app, "Acked")
    bucket = s3.Bucket(stack, "Unlogged")
    acknowledge(
        bucket, "AwsSolutions-S1", "Test fixture: proves an acknowledgment silences one finding only."
    )
    add_nag_packs(app)
    app.synth()
    failures = nag_failures(tmp_path)
    assert not any("AwsSolutions-S1 " in line for line in failures)
    assert any("AwsSolutions-S10" in line for line in failures)  # TLS-only still reported


def test_a_refused_entry_leaves_the_whole_set_unacknowledged(tmp_path: Path) -> None:
    # acknowledge_all hands a construct's acknowledgments to CDK in one call, after checking every entry:
    # a placeholder reason for one finding leaves the others unacknowledged too, never half a set.
    app = probe_app(tmp_path, context=cdk_context())
    stack = probe_stack(app, "Acked")
    bucket = s3.Bucket(stack, "Unlogged")
    with pytest.raises(ValueError, match="AwsSolutions-S10"):
        acknowledge_all(
            bucket,
            {
                "AwsSolutions-S1": "Test fixture: proves an acknowledgment silences one finding only.",
                "AwsSolutions-S10": "todo",
            },
        )
    add_nag_packs(app)
    app.synth()
    failures = nag_failures(tmp_path)
    assert any("AwsSolutions-S1 " in line for line in failures)
    assert any("AwsSolutions-S10" in line for line in failures)


@pytest.mark.parametrize(
    ("finding", "reason", "message"),
    [
        (
            "AwsSolutions-IAM5 AwsSolutions-IAM4",
            "A long enough reason that states a constraint.",
            "not one finding id",
        ),
        (
            "AwsSolutions-S1",
            "False positive, long enough to pass the length check",
            "must state the constraint",
        ),
        ("AwsSolutions-S1", "too short", "must state the constraint"),
        # CDK's own validation prints its findings in the plugin's namespace; a bare rule id would be
        # recorded as ``Annotation::W2512`` by CDK and silence nothing
        ("W2512", "A long enough reason that states a constraint.", "CloudFormation-Validate::W2512"),
    ],
)
def test_acknowledge_refuses_vague_or_multiple_findings(finding: str, reason: str, message: str) -> None:
    stack = probe_stack(environment=False)
    with pytest.raises(ValueError, match=message):
        acknowledge(stack, finding, reason)


@pytest.mark.parametrize("helper", ["acknowledge_every_resource", "acknowledge_wildcards"])
def test_a_resource_star_acknowledgment_does_not_cover_an_action_added_after_it(helper: str) -> None:
    from bedrock_constructs.nag import acknowledge_every_resource, acknowledge_wildcards

    app = probe_app()
    stack = probe_stack(app)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["xray:PutTraceSegments"], resources=["*"]))
    policy = role.node.find_child("DefaultPolicy")
    # GIVEN AwsSolutions-IAM5[Resource::*] acknowledged for the action the reason explains
    reason = "X-Ray's PutTraceSegments has no resource-level permissions."
    if helper == "acknowledge_every_resource":
        acknowledge_every_resource(policy, ["xray:PutTraceSegments"], reason)
    else:
        acknowledge_wildcards(policy, [(r"Resource::\*", reason)])
    # WHEN another action on Resource * joins the policy (cdk-nag reports both under that one finding id)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]))
    # THEN synth fails naming it
    with pytest.raises(RuntimeError, match=r"this policy allows s3:ListAllMyBuckets on Resource \*"):
        app.synth()


@pytest.mark.slow
@pytest.mark.cdk_validation
def test_the_findings_of_the_plugins_cdk_adds_count_and_are_acknowledged_through_the_same_helper(
    tmp_path: Path,
) -> None:
    # aws-cdk-lib (>= 2.262) runs its own "CloudFormation Validate" plugin in every synth unless told not
    # to; it warns on an IAM policy that uses NotAction (W2512), which cfn-lint 1.58 does not report (a
    # probe template, checked). cdk.json's @aws-cdk/core:annotationsInValidationReport puts construct
    # warnings in the validation report too (plugin "Construct Annotations"). CDK prints both without
    # failing synth, with the id to acknowledge them by; the gate's result counts them.
    warning = "@aws-cdk/aws-logs:probeWarning"

    def synth(outdir: Path, *, acknowledged: bool) -> list[str]:
        app = new_app(outdir)
        stack = probe_stack(app, "S")
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        policy = iam.ManagedPolicy(
            stack,
            "AllButIam",
            roles=[role],
            statements=[iam.PolicyStatement(not_actions=["iam:*"], resources=["*"])],
        )
        group = logs.LogGroup(stack, "Group", retention=logs.RetentionDays.ONE_MONTH)
        cdk.Annotations.of(group).add_warning_v2(warning, "what a construct library warns about")
        if acknowledged:
            reason = "Test fixture: proves the finding is silenced by the project's one helper."
            acknowledge(policy, f"{CDK_VALIDATE_NAMESPACE}::W2512", reason)
            acknowledge(group, f"Annotation::{warning}", reason)
        app.synth()
        return nag_failures(outdir)

    found = synth(tmp_path / "a", acknowledged=False)
    assert "CloudFormation Validate: W2512 on /S/AllButIam/Resource" in found
    assert f"Construct Annotations: Annotation::{warning} on /S/Group" in found
    assert not [
        line for line in synth(tmp_path / "b", acknowledged=True) if "W2512" in line or warning in line
    ]
    with pytest.raises(ValueError, match="not one finding id"):
        acknowledge(
            probe_stack(environment=False),
            "Annotation::a::b",
            "A long enough reason that states a constraint.",
        )


@pytest.mark.cdk_validation
def test_an_error_of_cdks_own_template_validation_fails_synth_as_cdk_json_asks(tmp_path: Path) -> None:
    # cdk.json sets @aws-cdk/core:validateAgainstDefaultRules: without it CDK would print the error below
    # as a warning and synthesize.
    from aws_cdk import aws_ec2 as ec2  # a large module: imported by this test, not at collection

    context = {**cdk_context(), "@aws-cdk/core:failSynthOnValidationErrors": True}
    assert context["@aws-cdk/core:validateAgainstDefaultRules"] is True
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = probe_stack(app, "S")
    rule = ec2.CfnSecurityGroup.IngressProperty(
        ip_protocol="tcp", from_port=80, to_port=22, cidr_ip="10.0.0.0/8"
    )
    ec2.CfnSecurityGroup(
        stack, "Group", group_description="ports in the wrong order", security_group_ingress=[rule]
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (cfn,) = [p for p in report["pluginReports"] if p["pluginName"] == "CloudFormation Validate"]
    assert [v["ruleName"] for v in cfn["violations"]] == ["E9002"] and cfn["conclusion"] == "failure"


# ------------------------------------------------------------------ the gate plugin, end to end


def _retained_fixed_name_app(outdir: Path, *, acknowledged: bool = False, gate: bool = True) -> cdk.App:
    """A Stage with one retained log group that has a fixed name: RETAINED-FIXED-NAME fires."""
    app = probe_app(outdir, context={"@aws-cdk/core:failSynthOnValidationErrors": True})
    stage = cdk.Stage(app, "Dev", env=probe_environment())
    stack = cdk.Stack(stage, "Platform")
    group = logs.LogGroup(
        stack,
        "Audit",
        log_group_name="audit-logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    if acknowledged:
        acknowledge(
            group,
            "RETAINED-FIXED-NAME",
            "Test fixture: an external tool reads this exact name, and the stack is never re-created.",
        )
    if gate:
        add_gate(app, lint=False)
    return app


def test_a_violation_fails_synth_naming_the_rule_the_resource_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failure:
        _retained_fixed_name_app(tmp_path).synth()
    message = str(failure.value)
    assert "RETAINED-FIXED-NAME" in message
    assert "Dev/Platform/Audit/Resource" in message
    assert "Suggested fix: let CloudFormation generate the name" in message
    assert f"Acknowledge with '{GATE_NAME}::RETAINED-FIXED-NAME'" in message


def test_a_gate_finding_is_acknowledged_like_a_cdk_nag_finding(tmp_path: Path) -> None:
    _retained_fixed_name_app(tmp_path, acknowledged=True).synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (gate,) = [p for p in report["pluginReports"] if p["pluginName"] == GATE_NAME]
    assert gate["conclusion"] == "success" and gate["violations"] == []
    suppressed = {v["ruleName"]: v for v in gate["suppressedViolations"]}
    assert set(suppressed) == {"RETAINED-FIXED-NAME"}
    fixed_name = suppressed["RETAINED-FIXED-NAME"]
    assert fixed_name["acknowledgedId"] == f"{GATE_NAME}::RETAINED-FIXED-NAME"
    assert fixed_name["acknowledgedAt"] == "Dev/Platform/Audit"
    assert fixed_name["reason"].startswith("Test fixture")


def test_the_gate_records_acknowledgments_ignores_and_tool_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the CLI's variable naming itself, and a gate finding acknowledged on a log group
    monkeypatch.setenv(CLI_VERSION_VARIABLE, "2.9999.0")
    _retained_fixed_name_app(tmp_path, acknowledged=True).synth()
    # THEN the gate's one result holds what the review pack shows: each acknowledgment with its resources
    result = read_gate_result(tmp_path)
    acks = {a.finding: a for a in result.acknowledgments}
    fixed_name = acks[f"{GATE_NAME}::RETAINED-FIXED-NAME"]
    assert fixed_name.construct_path == "/Dev/Platform/Audit"
    assert fixed_name.reason.startswith("Test fixture") and len(fixed_name.resources) == 1
    assert fixed_name.resources[0].startswith("Audit")
    # AND the versions of the tools that took part, the CLI's from its variable
    assert result.tools["aws-cdk-lib"] == version("aws-cdk-lib") and result.tools["cdk-nag"] == version(
        "cdk-nag"
    )
    assert result.tools["aws-cdk CLI"] == "2.9999.0"


def test_the_gate_result_of_the_app_lists_every_acknowledgment_and_ignored_check(
    synthesized: Synthesized,
) -> None:
    # Counted straight from the stack metadata and the templates, independently of the gate's code
    expected_acks = sorted(
        (path, key.removeprefix("Annotation::"), reason)
        for metadata_file in synthesized.outdir.glob("assembly-*/*.metadata.json")
        for path, entries in json.loads(metadata_file.read_text()).items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for key, reason in entry["data"].items()
    )
    expected_ignores = sorted(
        (stack.name, lid, check)
        for stack in synthesized.stacks
        for lid, resource in stack.resources.items()
        for check in resource.get("Metadata", {})
        .get("cfn-lint", {})
        .get("config", {})
        .get("ignore_checks", [])
    )
    result = read_gate_result(synthesized.outdir)
    assert sorted((a.construct_path, a.finding, a.reason) for a in result.acknowledgments) == expected_acks
    assert all(a.resources for a in result.acknowledgments)  # every acknowledgment covers a resource
    assert sorted((i.stack, i.resource, i.check) for i in result.lint_ignores) == expected_ignores
    assert all(i.reason for i in result.lint_ignores)
    assert result.tools["aws-cdk CLI"] is None  # the tests synthesize without the CLI


def test_without_the_gate_nothing_is_checked_and_compliance_check_says_so(tmp_path: Path) -> None:
    # what `-c compliance-checks=off` builds (build_platform adds no plugin)
    _retained_fixed_name_app(tmp_path, gate=False).synth()
    assert not (tmp_path / GATE_RESULT_FILE).exists()
    assert "did not run the compliance gate" in gate_report(tmp_path)["problems"][0]


@pytest.mark.slow
def test_cdk_synth_alone_fails_on_a_violation(tmp_path: Path) -> None:
    # GIVEN a CDK app with one violation, run by the pinned CLI with nothing but `npx cdk synth '**'`
    app_file = tmp_path / "app.py"
    app_file.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {str(ROOT)!r})
            from pathlib import Path
            from tests.infra.test_compliance import _retained_fixed_name_app
            _retained_fixed_name_app(Path(os.environ["CDK_OUTDIR"])).synth()
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST"))}
    env.update(CDK_DISABLE_CLI_TELEMETRY="true", CDK_DISABLE_VERSION_CHECK="true")
    result = subprocess.run(
        [
            "npx",
            "cdk",
            "synth",
            "**",
            "--quiet",
            "--no-notices",
            "--app",
            f"{ROOT / '.venv' / 'bin' / 'python'} {app_file}",
            "-o",
            str(tmp_path / "cdk.out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )
    # THEN it fails, and says which rule, on which resource, and how to fix it
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "RETAINED-FIXED-NAME" in output and "Dev/Platform/Audit/Resource" in output
    assert "Suggested fix:" in output
    # AND the gate's result names the CLI that ran it (what the review pack's header shows)
    cli = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/aws-cdk"]["version"]
    assert read_gate_result(tmp_path / "cdk.out").tools["aws-cdk CLI"] == cli


# ------------------------------------------------------------------ each rule can fail


def _mutated(
    synthesized: Synthesized, env: str = "Prod/Platform"
) -> tuple[list[StackTemplate], StackTemplate]:
    stacks = [copy.deepcopy(s) for s in synthesized.stacks]
    target = next(s for s in stacks if s.name == env)
    return stacks, target


def _of_type(stack: StackTemplate, kind: str) -> list[tuple[str, dict[str, Any]]]:
    return list(stack.resources_of_type(kind))


def test_rule_cost_tags_catches_a_missing_tag(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    logical_id, profile = next(prod.resources_of_type("AWS::Bedrock::ApplicationInferenceProfile"))
    profile["Properties"]["Tags"] = [t for t in profile["Properties"]["Tags"] if t["Key"] != "cost-center"]
    findings = rule_cost_tags(stacks)
    assert [(f.stack, f.resource) for f in findings] == [("Prod/Platform", logical_id)]
    assert "cost-center" in findings[0].message and findings[0].fix


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


@pytest.mark.parametrize(
    "off", [{"InputEnabled": False}, {"InputAction": "NONE"}], ids=["disabled", "detect-only"]
)
def test_rule_prompt_attack_catches_a_filter_that_blocks_nothing(
    synthesized: Synthesized, off: dict[str, Any]
) -> None:
    # GIVEN a prompt-attack filter still at HIGH, but turned off on input or only detecting
    stacks, prod = _mutated(synthesized)
    logical_id, guardrail = next(prod.resources_of_type("AWS::Bedrock::Guardrail"))
    for f in guardrail["Properties"]["ContentPolicyConfig"]["FiltersConfig"]:
        if f["Type"] == "PROMPT_ATTACK":
            f.update(off)
    # THEN the rule finds it
    findings = rule_prompt_attack(stacks)
    assert [(f.resource, f.rule) for f in findings] == [(logical_id, "BEDROCK-PROMPT-ATTACK")]


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


def _orchestrator_statements(prod: StackTemplate) -> list[dict[str, Any]]:
    policy = prod.resources["OrchestrationApiFunctionServiceRoleDefaultPolicyF0255088"]
    return policy["Properties"]["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


def test_rule_models_via_profiles_catches_a_model_grant_without_the_profile_condition(
    synthesized: Synthesized,
) -> None:
    # GIVEN the orchestrator's grants as they were before this rule: models and cross-Region profiles
    # allowed with no bedrock:InferenceProfileArn condition
    stacks, prod = _mutated(synthesized)
    statements = _orchestrator_statements(prod)
    assert any("bedrock:InferenceProfileArn" in json.dumps(s.get("Condition", {})) for s in statements)
    for statement in statements:
        statement.pop("Condition", None) if "bedrock:InvokeModel" in statement["Action"] else None
    findings = rule_models_via_profiles(stacks)
    assert {f.resource for f in findings} == {"OrchestrationApiFunctionServiceRoleDefaultPolicyF0255088"}
    messages = " ".join(f.message for f in findings)
    assert "foundation models" in messages and "system-defined inference profiles" in messages
    assert "bypassing the profiles' cost tags" in messages


@pytest.mark.parametrize(
    "value",
    ["*", "arn:aws:bedrock:us-west-2:333333333333:application-inference-profile/*"],
)
def test_rule_models_via_profiles_catches_a_condition_that_names_no_profile(
    synthesized: Synthesized, value: str
) -> None:
    stacks, prod = _mutated(synthesized)
    for statement in _orchestrator_statements(prod):
        condition = statement.get("Condition", {}).get("ArnEquals", {})
        if "bedrock:InferenceProfileArn" in condition and ":foundation-model/" in json.dumps(
            statement["Resource"]
        ):
            condition["bedrock:InferenceProfileArn"] = value
    findings = rule_models_via_profiles(stacks)
    assert findings and all("does not name specific inference profiles" in f.message for f in findings)


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


def test_rule_logging_flags_catches_a_flag_left_to_the_default(synthesized: Synthesized) -> None:
    # GIVEN the setting as it was: video and audio delivery not stated
    stacks, prod = _mutated(synthesized)
    logical_id, resource = next(prod.resources_of_type("Custom::BedrockModelInvocationLogging"))
    for phase in ("Create", "Update"):
        parts = resource["Properties"][phase]["Fn::Join"][1]
        parts[-1] = parts[-1].replace(
            ',"videoDataDeliveryEnabled":false,"audioDataDeliveryEnabled":false', ""
        )
    findings = rule_logging_flags(stacks)
    assert [(f.resource, f.rule) for f in findings] == [(logical_id, "BEDROCK-LOGGING-FLAGS")] * 2
    assert "'videoDataDeliveryEnabled', 'audioDataDeliveryEnabled'" in findings[0].message


def test_rule_enforced_guardrail_catches_a_missing_or_draft_or_doubled_configuration(
    synthesized: Synthesized,
) -> None:
    stacks, prod = _mutated(synthesized)
    (config_id, config), *_ = _of_type(prod, "AWS::Bedrock::EnforcedGuardrailConfiguration")
    # prod: a DRAFT version
    config["Properties"]["GuardrailVersion"] = "DRAFT"
    # staging: none at all, and no opt-out
    staging = next(s for s in stacks if s.name == "Staging/Platform")
    for lid, _ in _of_type(staging, "AWS::Bedrock::EnforcedGuardrailConfiguration"):
        del staging.template["Resources"][lid]
    findings = {(f.stack, f.resource): f.message for f in rule_enforced_guardrail(stacks)}
    assert set(findings) == {("Prod/Platform", config_id), ("Staging/Platform", "-")}
    assert "not a published numeric version" in findings[("Prod/Platform", config_id)]
    assert "sets no account-level enforced guardrail" in findings[("Staging/Platform", "-")]
    # an opt-out with its reason is accepted
    staging.template["Metadata"] = {
        ENFORCED_GUARDRAIL_OPT_OUT: {"opt_out_reason": "An organization-level guardrail covers this account."}
    }
    assert {f.stack for f in rule_enforced_guardrail(stacks)} == {"Prod/Platform"}
    # two in one account and region
    config["Properties"]["GuardrailVersion"] = "1"
    prod.template["Resources"]["SecondEnforcedConfiguration"] = copy.deepcopy(config)
    (doubled,) = rule_enforced_guardrail(stacks)
    assert doubled.stack == "aws://333333333333/us-west-2" and "set 2 times" in doubled.message


def test_rule_retained_fixed_name_catches_the_old_waf_log_group(synthesized: Synthesized) -> None:
    # GIVEN the WAF log group as it was: retained, with a fixed name
    stacks, prod = _mutated(synthesized)
    group = prod.resources["OrchestrationApiWafLogs0A16FC39"]
    assert group["DeletionPolicy"] == "Retain"
    group["Properties"]["LogGroupName"] = "aws-waf-logs-bedrock-platform-prod"
    (finding,) = rule_retained_fixed_name(stacks)
    assert (finding.stack, finding.resource) == ("Prod/Platform", "OrchestrationApiWafLogs0A16FC39")
    assert "re-creating the stack would fail" in finding.message
    # a name with only the account and region in it is just as fixed
    group["Properties"]["LogGroupName"] = {"Fn::Sub": "aws-waf-logs-${AWS::AccountId}-${AWS::Region}"}
    assert len(rule_retained_fixed_name(stacks)) == 1
    # the same group when it is deleted with the stack is fine
    group["DeletionPolicy"] = "Delete"
    assert rule_retained_fixed_name(stacks) == []


def test_rule_api_execution_logs_catches_a_group_left_to_api_gateway(synthesized: Synthesized) -> None:
    stacks, prod = _mutated(synthesized)
    (stage_id, stage), *_ = _of_type(prod, "AWS::ApiGateway::Stage")
    stage["DependsOn"] = [d for d in stage["DependsOn"] if not d.startswith("OrchestrationApiExecutionLogs")]
    (finding,) = rule_api_execution_logs(stacks)
    assert finding.resource == stage_id and "DependsOn from the stage" in finding.message
    del prod.template["Resources"]["OrchestrationApiExecutionLogsB0F2BD77"]
    (finding,) = rule_api_execution_logs(stacks)
    assert "API Gateway would create it without retention or encryption" in finding.message


def test_rule_nag_coverage_catches_a_bare_cfn_resource(synthesized: Synthesized) -> None:
    # GIVEN the orchestrator function as a bare CfnResource, as aws-cdk-lib's auto-delete provider made
    # its function and role
    stacks, prod = _mutated(synthesized)
    function_id = next(
        lid for lid, _ in prod.resources_of_type("AWS::Lambda::Function") if "OrchestrationApi" in lid
    )
    assert prod.construct_classes[function_id] == "aws-cdk-lib.aws_lambda.CfnFunction"
    object.__setattr__(
        prod, "construct_classes", {**prod.construct_classes, function_id: GENERIC_CFN_RESOURCE}
    )
    (finding,) = rule_nag_coverage(stacks)
    assert finding.resource == function_id
    assert "no pack evaluates it" in finding.message and "aws_lambda.CfnFunction" in finding.fix


def test_rule_nag_coverage_reads_the_construct_tree_of_a_real_synth(tmp_path: Path) -> None:
    # GIVEN aws-cdk-lib's own auto-delete provider, which creates its function and role as CfnResource
    app = probe_app(tmp_path, context=cdk_context())
    stack = probe_stack(app, "S")
    s3.Bucket(stack, "B", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    lambda_.Function(
        stack,
        "Typed",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
    )
    app.synth()
    from compliance.assembly import load_assembly

    findings = rule_nag_coverage(load_assembly(tmp_path))
    # THEN exactly the provider's function and role escape the packs; the L2 function does not
    assert sorted(f.message.split(" ")[0] for f in findings) == ["AWS::IAM::Role", "AWS::Lambda::Function"]
    assert all("CustomS3AutoDeleteObjectsCustomResourceProvider" in f.resource for f in findings)


# ------------------------------------------------------------------ an alarm reaches a person


def _notification_policies(stack: StackTemplate) -> tuple[dict[str, Any], dict[str, Any]]:
    """The topic policy and the topic's key policy, with the stack's pseudo parameters resolved."""
    (_, topic_policy), *_ = _of_type(stack, "AWS::SNS::TopicPolicy")
    key = stack.resources["NotificationsKeyADCFA950"]
    resolved = resolve_value(
        {"topic": topic_policy["Properties"]["PolicyDocument"], "key": key["Properties"]["KeyPolicy"]},
        account=stack.account,
        region=stack.region,
    )
    return resolved["topic"], resolved["key"]


def _publish(service: str, source: str, account: str, tls: bool = True) -> dict[str, Any]:
    return {
        "principal": ("Service", service),
        "context": {
            "aws:SourceAccount": account,
            "aws:SourceArn": source,
            "aws:SecureTransport": str(tls).lower(),
        },
    }


@pytest.mark.parametrize("env", ["Dev/Platform", "Staging/Platform", "Prod/Platform"])
def test_an_alarm_and_a_budget_reach_the_topic_through_both_policies(
    synthesized: Synthesized, env: str
) -> None:
    stack = next(s for s in synthesized.stacks if s.name == env)
    topic, key = _notification_policies(stack)
    account, region = stack.account, stack.region
    sources = {
        "cloudwatch.amazonaws.com": f"arn:aws:cloudwatch:{region}:{account}:alarm:policy-qa-throttle-rate",
        "budgets.amazonaws.com": f"arn:aws:budgets::{account}:budget/policy-qa-monthly",
    }
    for service, source in sources.items():
        request = _publish(service, source, account)
        # THEN the service may publish to the topic...
        decision = evaluate(
            topic, Request(action="sns:Publish", resource="<NotificationsTopicAE679CBD>", **request)
        )
        assert decision.allowed, (service, decision)
        # ... and use the topic's key for it
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert evaluate(
                key, Request(action=action, resource="<NotificationsKeyADCFA950.Arn>", **request)
            ).allowed
        # but not for another account's alarms and budgets (confused deputy), nor without TLS
        foreign = _publish(service, source.replace(account, "999999999999"), "999999999999")
        assert not evaluate(
            topic, Request(action="sns:Publish", resource="<NotificationsTopicAE679CBD>", **foreign)
        ).allowed
        assert not evaluate(
            key, Request(action="kms:Decrypt", resource="<NotificationsKeyADCFA950.Arn>", **foreign)
        ).allowed
        plain = _publish(service, source, account, tls=False)
        assert (
            evaluate(
                topic, Request(action="sns:Publish", resource="<NotificationsTopicAE679CBD>", **plain)
            ).decision
            is Decision.EXPLICIT_DENY
        )
    # Only the two publishers: any other service principal gets nothing
    other = _publish("events.amazonaws.com", f"arn:aws:events:{region}:{account}:rule/x", account)
    assert not evaluate(
        topic, Request(action="sns:Publish", resource="<NotificationsTopicAE679CBD>", **other)
    ).allowed
    # SNS may use the key to write undeliverable notifications to the dead-letter queue, for this account's topics
    dead_letter = _publish("sns.amazonaws.com", f"arn:aws:sns:{region}:{account}:alerts", account)
    assert evaluate(
        key, Request(action="kms:GenerateDataKey", resource="<NotificationsKeyADCFA950.Arn>", **dead_letter)
    ).allowed
    assert not evaluate(
        key, Request(action="kms:ReEncryptFrom", resource="<NotificationsKeyADCFA950.Arn>", **dead_letter)
    ).allowed


def test_rule_alarm_delivery_catches_the_topic_policy_and_key_policy_that_drop_alarms(
    synthesized: Synthesized,
) -> None:
    # GIVEN the topic policy as it was: only AWS Budgets may publish
    stacks, prod = _mutated(synthesized)
    (_, topic_policy), *_ = _of_type(prod, "AWS::SNS::TopicPolicy")
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "AllowCloudWatchAlarmsToPublish"]
    findings = rule_alarm_delivery(stacks)
    alarms = {
        lid
        for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for lid, _ in _of_type(prod, kind)
    }
    # THEN every alarm of prod is reported, and no budget
    assert {f.resource for f in findings} == alarms
    assert all("does not let cloudwatch.amazonaws.com publish" in f.message for f in findings)

    # GIVEN the topic policy fixed but the key usable by CloudWatch only for another account's alarms
    stacks, prod = _mutated(synthesized)
    key_statements = prod.resources["NotificationsKeyADCFA950"]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in key_statements if s.get("Sid") == "AllowCloudWatchAlarmsToUseTheKey"]
    cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] = "999999999999"
    findings = rule_alarm_delivery(stacks)
    assert {f.resource for f in findings} == alarms
    assert all("the policy of key NotificationsKeyADCFA950" in f.message for f in findings)

    # GIVEN the topic encrypted with the AWS managed key, whose policy no service principal can use
    stacks, prod = _mutated(synthesized)
    prod.resources["NotificationsTopicAE679CBD"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    findings = rule_alarm_delivery(stacks)
    assert findings and all("alias/aws/sns" in f.message for f in findings)
    budgets = {lid for lid, _ in _of_type(prod, "AWS::Budgets::Budget")}
    assert budgets <= {f.resource for f in findings}


def test_a_policy_pattern_is_built_once_however_many_requests_it_is_matched_against(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    from compliance import policy_eval

    escaped: list[str] = []
    escape = re.escape

    def counted(text: str) -> str:
        escaped.append(text)
        return escape(text)

    monkeypatch.setattr(re, "escape", counted)  # the module policy_eval calls it through
    pattern = "arn:aws:bedrock:*:123456789012:application-inference-profile/built-once-?"
    first = policy_eval._wildcard(pattern, ignore_case=False)
    built = len(escaped)
    assert built > 0
    for _ in range(3):
        assert policy_eval._wildcard(pattern, ignore_case=False) is first
    assert len(escaped) == built
    folded = policy_eval._wildcard(pattern, ignore_case=True)  # each flavour its own pattern
    assert folded is not first and len(escaped) == 2 * built
    profile = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/built-once-1"
    assert first.match(profile) and not first.match(profile + "2") and not first.match(profile.upper())
    assert folded.match(profile.upper())
