"""The delivery stack (``Delivery/Pipeline``): the pipeline's stages in order with their gate steps, the
cross-account roles scoped to exactly the bootstrap and gate roles they need, the encrypted artifact store,
the canary bake with its alarms and automatic rollback, and the whole compliance gate on it. The
environments' side: the orchestrator's ``live`` alias that API Gateway invokes, the roles the delivery
account may assume, and what the bake reads."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bedrock_constructs.monitoring.api_monitoring import NOT_ROLLBACK_ALARMS
from compliance.assembly import StackTemplate
from compliance.cfn_values import as_list, resolve_value
from compliance.gate_result import read_gate_result
from compliance.policy_eval import Request, evaluate
from delivery import gates
from platform_config import PlatformConfig
from platform_config.naming import pascal, platform_stack_path
from platform_spec.delivery import (
    ABORT_MAX_EVENT_AGE_MINUTES,
    BAKE_EXECUTION_TIMEOUT_MINUTES,
    LIVE_ALIAS,
    MAX_BAKE_MINUTES,
    ROLL_BACK_FIRST_DELAY_SECONDS,
    ROLL_BACK_MAX_DELAY_SECONDS,
    ROLL_BACK_RETRIES,
    SOURCE_COMMIT_VARIABLE,
    STEP_FUNCTIONS_ACTION_TIMEOUT_MINUTES,
    BakeState,
    DeliveryRole,
    Output,
    bootstrap_role_name,
    live_version_parameter,
    manual_parameter_command,
    manual_roll_back_command,
    readiness_evaluation,
    readiness_results_file,
    readiness_role_name,
    release_prefix,
    release_role_name,
    roll_back_delays,
)
from tests.support.delivery import bake_definition, reference, retrier_for
from tests.support.iam import role_statements
from tests.support.synth import ROOT, Stages, Synthesized

DELIVERY = "Delivery/Pipeline"


def _stack(synthesized: Synthesized, name: str) -> StackTemplate:
    return next(s for s in synthesized.stacks if s.name == name)


def _of_type(stack: StackTemplate, kind: str) -> dict[str, dict[str, Any]]:
    return dict(stack.resources_of_type(kind))


@pytest.fixture(scope="module")
def delivery(synthesized: Synthesized) -> StackTemplate:
    return _stack(synthesized, DELIVERY)


@pytest.fixture(scope="module")
def pipeline(delivery: StackTemplate) -> dict[str, Any]:
    ((_, resource),) = _of_type(delivery, "AWS::CodePipeline::Pipeline").items()
    return resource["Properties"]  # type: ignore[no-any-return]


def _commands(delivery: StackTemplate, project_ref: Any) -> str:
    project = delivery.resources[project_ref["Ref"]]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return "\n".join(c for phase in spec["phases"].values() for c in phase.get("commands", []))


def _action(pipeline: dict[str, Any], stage: str, action: str) -> dict[str, Any]:
    (found,) = [
        a for s in pipeline["Stages"] if s["Name"] == stage for a in s["Actions"] if a["Name"] == action
    ]
    return found


def test_the_production_review_pack_is_given_the_readiness_gates_evaluation_run(
    delivery: StackTemplate, pipeline: dict[str, Any], config: PlatformConfig
) -> None:
    # GIVEN the readiness step, which runs the evaluation against the environment before production
    assert config.delivery is not None
    readiness = config.delivery.readiness.name
    gate = _action(pipeline, pascal(readiness), "ReadinessGate")
    # THEN it hands on exactly the results.json the gate writes (its default --out), nothing else
    (artifact,) = gate["OutputArtifacts"]
    project = delivery.resources[gate["Configuration"]["ProjectName"]["Ref"]]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    written = readiness_results_file(readiness)
    assert spec["artifacts"] == {"files": [written]}
    assert written == f"{gates.parse_args(['readiness']).out}/{readiness_evaluation(readiness)}/results.json"
    # AND the step that writes the approver's review pack reads it from that artifact's folder
    diff = _action(pipeline, "ApproveRelease", "ReleaseDiff")
    assert artifact["Name"] in [a["Name"] for a in diff["InputArtifacts"]]
    assert diff["Configuration"]["PrimarySource"] != artifact["Name"]
    commands = _commands(delivery, diff["Configuration"]["ProjectName"])
    assert f'--evaluation-results "$CODEBUILD_SRC_DIR_{artifact["Name"]}/{written}"' in commands


def test_every_step_is_told_the_commit_its_execution_carries(
    pipeline: dict[str, Any], config: PlatformConfig
) -> None:
    # GIVEN the source action: its artifact is a zip of the commit without .git (no CodeBuild clone output),
    # so `git rev-parse HEAD` answers nothing in any step
    source = _action(pipeline, "Source", "Source")
    assert "OutputArtifactFormat" not in source["Configuration"]
    # THEN every CodeBuild step gets the commit from the source action's CommitId variable: what an evaluation
    # run records it measured and the review pack names (they said "unknown" in every step before)
    assert config.delivery is not None
    builds = [
        a for s in pipeline["Stages"] for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"
    ]
    assert len(builds) >= 6
    for action in builds:
        joined = resolve_value(
            action["Configuration"]["EnvironmentVariables"],
            account=config.delivery.account,
            region=config.delivery.region,
        )
        variables = {v["name"]: v["value"] for v in json.loads(joined)}
        assert variables[SOURCE_COMMIT_VARIABLE] == f"#{{{source['Namespace']}.CommitId}}", action["Name"]


def test_the_build_hands_on_no_link_and_nothing_make_install_makes_again(
    delivery: StackTemplate, pipeline: dict[str, Any]
) -> None:
    # the Build step's output is every later step's checkout: CodePipeline drops symlinks (the links make
    # lint makes for mypy would arrive as something else, or not at all), and what make install builds is
    # built again by each step
    synth = _action(pipeline, "Build", "Synth")
    project = delivery.resources[synth["Configuration"]["ProjectName"]["Ref"]]
    excluded = json.loads(project["Properties"]["Source"]["BuildSpec"])["artifacts"]["exclude-paths"]
    assert {".mypy_path/**/*", ".venv/**/*", "node_modules/**/*", ".git/**/*"} <= set(excluded)


def test_the_stages_run_in_order_through_every_environment(
    pipeline: dict[str, Any], config: PlatformConfig
) -> None:
    assert config.delivery is not None
    environments = [e.capitalize() for e in config.delivery.environments]
    assert environments == ["Dev", "Staging", "Prod"]
    assert [s["Name"] for s in pipeline["Stages"]] == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Governance",
        "Dev",
        "Staging",
        "ApproveRelease",
        "Prod",
    ]
    assert pipeline["PipelineType"] == "V2"
    source = _action(pipeline, "Source", "Source")
    assert source["Configuration"]["ConnectionArn"] == config.delivery.source.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == config.delivery.source.repository
    assert source["Configuration"]["BranchName"] == config.delivery.source.branch


def test_each_gate_is_a_step_of_its_stage(delivery: StackTemplate, pipeline: dict[str, Any]) -> None:
    build = _commands(delivery, _action(pipeline, "Build", "Synth")["Configuration"]["ProjectName"])
    assert "make synth" in build and "make test" in build
    governance = _action(pipeline, "Governance", "GovernanceGate")
    assert "python -m delivery.gates governance --assembly cdk.out" in _commands(
        delivery, governance["Configuration"]["ProjectName"]
    )
    staging = {a["Name"]: a for s in pipeline["Stages"] if s["Name"] == "Staging" for a in s["Actions"]}
    assert staging["DeployStaging"]["RunOrder"] < staging["ReadinessGate"]["RunOrder"]
    readiness = _commands(delivery, staging["ReadinessGate"]["Configuration"]["ProjectName"])
    assert "python -m delivery.gates readiness --env staging --assembly cdk.out --role-arn " in readiness
    assert f":role/{readiness_role_name('staging')}" in readiness
    # before production: the review pack diff, then a person approves
    approve = {
        a["Name"]: a for s in pipeline["Stages"] if s["Name"] == "ApproveRelease" for a in s["Actions"]
    }
    assert "python -m delivery.release review --environment prod" in _commands(
        delivery, approve["ReleaseDiff"]["Configuration"]["ProjectName"]
    )
    assert approve["ApproveRelease"]["ActionTypeId"]["Category"] == "Approval"
    assert approve["ReleaseDiff"]["RunOrder"] < approve["ApproveRelease"]["RunOrder"]
    # production: deploy, bake, record; any failure rolls the stage back to the last good release
    (prod,) = [s for s in pipeline["Stages"] if s["Name"] == "Prod"]
    assert [(a["Name"], a["RunOrder"]) for a in prod["Actions"]] == [
        ("DeployProd", 1),
        ("CanaryBake", 2),
        ("RecordRelease", 3),
    ]
    assert prod["Actions"][1]["ActionTypeId"]["Provider"] == "StepFunctions"
    assert prod["OnFailure"] == {"Result": "ROLLBACK"}


def test_recording_a_release_may_delete_the_last_releases_objects_and_nothing_else(
    delivery: StackTemplate, pipeline: dict[str, Any], config: PlatformConfig
) -> None:
    assert config.delivery is not None
    production = config.delivery.production.name
    (prod,) = [s for s in pipeline["Stages"] if s["Name"] == pascal(production)]
    (step,) = [a for a in prod["Actions"] if a["Name"] == "RecordRelease"]
    project = delivery.resources[step["Configuration"]["ProjectName"]["Ref"]]
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    deletes = {
        resource
        for resource, actions in _granted(delivery, role).items()
        if any("s3:Delete" in a for a in actions)
    }
    (bucket,) = [b for b in _refs_to(delivery, "AWS::S3::Bucket") if b.startswith("DeliveryArtifactsBucket")]
    prefix = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{release_prefix(production)}*"]]}
    assert deletes == {json.dumps(prefix)}
    assert "s3:DeleteObject*" in _granted(delivery, role)[json.dumps(prefix)]


def test_the_release_steps_may_read_the_versions_the_last_release_lists(
    delivery: StackTemplate, pipeline: dict[str, Any], config: PlatformConfig
) -> None:
    # RecordRelease lists the versions of the objects it wrote (ListObjectVersions is authorized as
    # s3:ListBucketVersions on the bucket), ReleaseDiff reads each at its version (GetObject with VersionId
    # is authorized as s3:GetObjectVersion on the object):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html,
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    assert config.delivery is not None
    production = config.delivery.production
    (bucket,) = [b for b in _refs_to(delivery, "AWS::S3::Bucket") if b.startswith("DeliveryArtifactsBucket")]
    stages = {s["Name"]: s for s in pipeline["Stages"]}
    steps = {
        a["Name"]: a
        for stage in (stages["ApproveRelease"], stages[pascal(production.name)])
        for a in stage["Actions"]
    }
    calls = {
        "RecordRelease": ("s3:ListBucketVersions", f"<{bucket}.Arn>"),
        "ReleaseDiff": (
            "s3:GetObjectVersion",
            f"<{bucket}.Arn>/{release_prefix(production.name)}manifest.json",
        ),
    }
    for step, (action, resource) in calls.items():
        project = delivery.resources[steps[step]["Configuration"]["ProjectName"]["Ref"]]
        role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
        document = resolve_value(
            {"Statement": role_statements(delivery.template, role)},
            account=config.delivery.account,
            region=config.delivery.region,
        )
        me = ("AWS", f"arn:aws:iam::{config.delivery.account}:role/{step}")
        assert evaluate(document, Request(me, action, resource)).allowed, (step, action, resource)


def _assume_targets(delivery: StackTemplate) -> dict[str, list[str]]:
    """The roles each role of the delivery stack may assume (sts:* statements), by role logical ID."""
    targets: dict[str, list[str]] = {}
    for _, policy in delivery.resources_of_type("AWS::IAM::Policy"):
        props = policy["Properties"]
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("sts:") for a in actions):
                resources = statement["Resource"]
                for role in props["Roles"]:
                    targets.setdefault(role["Ref"], []).extend(
                        resources if isinstance(resources, list) else [resources]
                    )
    return targets


def test_cross_account_roles_are_scoped_to_the_bootstrap_and_gate_roles(
    delivery: StackTemplate, config: PlatformConfig
) -> None:
    assert config.delivery is not None
    targets = _assume_targets(delivery)
    roles = _of_type(delivery, "AWS::IAM::Role")
    expected: dict[str, list[str]] = {}
    for env in [*config.delivery.stages]:
        expected[f"Deploy{env.name.capitalize()}Role"] = [
            f"arn:aws:iam::{env.account}:role/{bootstrap_role_name(kind, env.account, env.region)}"
            for kind in ("deploy", "file-publishing")
        ]
    expected["SelfUpdateRole"] = [
        f"arn:aws:iam::{config.delivery.account}:role/"
        f"{bootstrap_role_name(kind, config.delivery.account, config.delivery.region)}"
        for kind in ("deploy", "file-publishing")
    ]
    staging, prod = config.delivery.readiness, config.delivery.production
    expected["ReadinessGateRole"] = [
        f"arn:aws:iam::{staging.account}:role/{readiness_role_name(staging.name)}"
    ]
    expected["CanaryBakeRole"] = [f"arn:aws:iam::{prod.account}:role/{release_role_name(prod.name)}"]
    by_name = {}
    for logical_id, found in targets.items():
        (name,) = [n for n in expected if logical_id.startswith(f"Delivery{n}")]
        by_name[name] = sorted(found)
    # exactly these roles may assume anything, and each only its own targets: no wildcard, no other account
    assert by_name == {n: sorted(v) for n, v in expected.items()}
    # nothing carries a long-lived key: no IAM user, no access key
    assert not _of_type(delivery, "AWS::IAM::User") and not _of_type(delivery, "AWS::IAM::AccessKey")
    assert len(roles) >= len(expected)


def test_the_environments_trust_exactly_the_delivery_accounts_gate_roles(
    synthesized: Synthesized, config: PlatformConfig
) -> None:
    assert config.delivery is not None
    account = config.delivery.account
    cases = [
        ("Staging/Platform", readiness_role_name("staging"), DeliveryRole.READINESS_GATE),
        ("Prod/Platform", release_role_name("prod"), DeliveryRole.CANARY_BAKE),
    ]
    for stack_name, role_name, trusted in cases:
        stack = _stack(synthesized, stack_name)
        (role,) = [
            r
            for _, r in stack.resources_of_type("AWS::IAM::Role")
            if r["Properties"].get("RoleName") == role_name
        ]
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account}:role/{trusted}"}
        }
    # dev has neither: no gate reaches into it
    dev = _stack(synthesized, "Dev/Platform")
    assert not [
        r
        for _, r in dev.resources_of_type("AWS::IAM::Role")
        if "readiness" in str(r["Properties"].get("RoleName"))
    ]


def test_artifacts_are_encrypted_with_a_rotated_retained_key(
    delivery: StackTemplate, pipeline: dict[str, Any]
) -> None:
    store = pipeline["ArtifactStore"]
    assert store["Type"] == "S3"
    key_ref = store["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    key = delivery.resources[key_ref]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    bucket = delivery.resources[store["Location"]["Ref"]]
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_ref, "Arn"]},
    }
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_the_canary_bake_rolls_back_on_a_critical_alarm_or_an_error(
    delivery: StackTemplate, synthesized: Synthesized, config: PlatformConfig
) -> None:
    assert config.delivery is not None
    definition, _ = bake_definition(delivery)
    states = definition["States"]
    # the wait between checks is the delivery file's poll; a failed check rolls back, never promotes
    assert states["WaitForNextCheck"]["Seconds"] == config.delivery.bake.poll_minutes * 60
    assert states["Check"]["Catch"][0]["Next"] == "RollBackOnError"
    assert states["RollBackOnError"]["Parameters"]["action"] == "roll_back"
    assert states["Baked?"]["Default"] == "RolledBack" and states["RolledBack"]["Type"] == "Fail"
    assert f"{config.delivery.bake.minutes} minutes" in definition["Comment"]
    # production declares what the bake watches: each use case's composite alarm and the API's alarms
    prod = _stack(synthesized, "Prod/Platform")
    joined = prod.template["Outputs"][Output.CRITICAL_ALARMS]["Value"]["Fn::Join"][1]
    alarms = [p["Ref"] for p in joined if isinstance(p, dict)]
    kinds = {t for t in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")}
    assert alarms and all(prod.resources[a]["Type"] in kinds for a in alarms)
    composites = [a for a in alarms if prod.resources[a]["Type"] == "AWS::CloudWatch::CompositeAlarm"]
    assert len(composites) >= len(config.contracts_for("prod"))


def test_no_step_of_the_bake_waits_for_an_answer_that_never_comes(delivery: StackTemplate) -> None:
    # A Task state without TimeoutSeconds waits for its answer as long as the execution runs (here, days):
    # a hung bake step would hold the canary's share until the execution timed out
    # (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-stuck-execution.html).
    definition, references = bake_definition(delivery)
    tasks = {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}
    assert {"Begin", "Check", "RollBackOnError", "AlertRollBackFailed"} <= set(tasks)
    for name, state in tasks.items():
        assert isinstance(state.get("TimeoutSeconds"), int) and state["TimeoutSeconds"] > 0, name
    # a bake step's task waits longer than its function may run: Lambda's own timeout is the error it reports
    # (payload_response_only: the Task's Resource is the function's ARN itself)
    steps = {}
    for name, state in tasks.items():
        resource = reference(state["Resource"], references)
        if isinstance(resource, dict) and "Fn::GetAtt" in resource:
            function = delivery.resources[resource["Fn::GetAtt"][0]]
            assert function["Type"] == "AWS::Lambda::Function", name
            steps[name] = function["Properties"]["Timeout"]
            assert state["TimeoutSeconds"] > steps[name], name
    assert set(steps) == {"Begin", "Check", "RollBackOnError"}


def test_every_bake_step_retries_a_throttled_invocation(delivery: StackTemplate) -> None:
    # The bake function runs one invocation at a time (reserved concurrency 1), and the abort EventBridge
    # sends for an execution that ended runs beside the next execution's steps: a step Lambda throttled
    # (Lambda.TooManyRequestsException, https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)
    # never ran, and must be tried again, not end the bake (Begin: the release would never be baked)
    definition, _ = bake_definition(delivery)
    for name in ("Begin", "Check", "RollBackOnError"):
        retrier = retrier_for(definition["States"][name], "Lambda.TooManyRequestsException")
        assert retrier is not None, f"{name} does not retry a throttled invocation"
        assert retrier.get("MaxAttempts", 3) >= 3, (name, retrier)


def test_the_bake_function_may_list_the_executions_of_its_own_state_machine_alone(
    delivery: StackTemplate,
) -> None:
    # an abort leaves the live alias to a running bake: the function lists its state machine's executions
    ((machine, _),) = delivery.resources_of_type("AWS::StepFunctions::StateMachine")
    ((_, function),) = [
        (k, f)
        for k, f in delivery.resources_of_type("AWS::Lambda::Function")
        if k.startswith("DeliveryCanaryBake")
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    document = resolve_value(
        {"Statement": role_statements(delivery.template, role)}, account="444444444444", region="us-east-1"
    )
    me = ("AWS", "arn:aws:iam::444444444444:role/bedrock-platform-canary-bake")

    def may_list(resource: str) -> bool:
        return evaluate(document, Request(me, "states:ListExecutions", resource)).allowed

    assert may_list(f"<{machine}>")  # the state machine's Ref is its ARN
    assert not may_list("arn:aws:states:us-east-1:444444444444:stateMachine:another")
    # and the rule hands the function the state machine of the execution that stopped
    ((_, rule),) = delivery.resources_of_type("AWS::Events::Rule")
    (target,) = rule["Properties"]["Targets"]
    assert target["InputTransformer"]["InputPathsMap"]["detail-stateMachineArn"] == "$.detail.stateMachineArn"


def test_the_bake_watches_release_wide_alarms_and_reads_each_versions_own_errors(
    synthesized: Synthesized, stages: Stages
) -> None:
    platform = stages["prod"].platform
    prod = _stack(synthesized, "Prod/Platform")
    joined = prod.template["Outputs"][Output.CRITICAL_ALARMS]["Value"]["Fn::Join"][1]
    watched = {p["Ref"] for p in joined if isinstance(p, dict)}
    api_alarms = {
        name: platform.get_logical_id(alarm.node.default_child)
        for name, alarm in platform.api_monitoring.alarms.items()
    }
    # the all-versions errors alarm would dilute the canary and blame it for the stable version's errors;
    # the idempotency table's failures are no release's doing
    # (the idempotency alarm exists where a use case accepts an Idempotency-Key: its answers may be stored)
    accepting = any(c.logging.prompts_and_responses for c in synthesized.config.contracts_for("prod"))
    assert "FunctionErrors" in api_alarms and ("IdempotencySaveFailures" in api_alarms) == accepting
    for name in NOT_ROLLBACK_ALARMS:
        assert api_alarms.pop(name, None) not in watched
    assert set(api_alarms.values()) <= watched
    # instead the release role reads each version's metrics: GetMetricData's one resource type, the metric
    # dataset, is the account's every metric
    assert platform.release_access is not None
    role = platform.get_logical_id(platform.release_access.role.node.default_child)
    (metrics,) = [
        s
        for s in role_statements(prod.template, role)
        if "cloudwatch:GetMetricData" in json.dumps(s["Action"])
    ]
    assert metrics["Resource"] == "*"
    assert sorted(metrics["Action"]) == ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"]
    result = read_gate_result(synthesized.outdir)
    (acknowledged,) = [
        a
        for a in result.acknowledgments
        if a.stack == "Prod/Platform"
        and a.finding == "AwsSolutions-IAM5[Resource::*]"
        and a.construct_path.startswith("/Prod/Platform/CanaryRelease/")
    ]
    assert "GetMetricData can be scoped only to a metric dataset" in acknowledged.reason


def test_the_release_role_reads_the_configuration_of_the_orchestrators_versions_alone(
    synthesized: Synthesized, stages: Stages
) -> None:
    # the bake compares the release version with the live one (a stage rollback republishes the live code)
    platform = stages["prod"].platform
    assert platform.release_access is not None and platform.api is not None
    prod = _stack(synthesized, "Prod/Platform")
    role = platform.get_logical_id(platform.release_access.role.node.default_child)
    function = platform.get_logical_id(platform.api.orchestrator.function.node.default_child)
    (read,) = [
        statement
        for statement in role_statements(prod.template, role)
        if "lambda:GetFunctionConfiguration" in json.dumps(statement["Action"])
    ]
    arn = {"Fn::GetAtt": [function, "Arn"]}
    assert read["Action"] == "lambda:GetFunctionConfiguration"
    assert read["Resource"] == [arn, {"Fn::Join": ["", [arn, ":*"]]}]


def _refs_to(stack: StackTemplate, kind: str) -> set[str]:
    return {logical_id for logical_id, _ in stack.resources_of_type(kind)}


def test_a_canary_that_cannot_be_rolled_back_is_retried_then_told_to_a_person(
    delivery: StackTemplate, config: PlatformConfig
) -> None:
    assert config.delivery is not None
    definition, references = bake_definition(delivery)
    states = definition["States"]
    # every task after traffic moved goes to the roll back, or (the roll back itself) to a person
    assert [c["Next"] for c in states["Check"]["Catch"] if c["ErrorEquals"] == ["States.ALL"]] == [
        "RollBackOnError"
    ]
    roll_back = states["RollBackOnError"]
    # retried on any error (Lambda's service errors too: no earlier retrier with a shorter budget)
    assert roll_back["Retry"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": ROLL_BACK_FIRST_DELAY_SECONDS,
            "MaxAttempts": ROLL_BACK_RETRIES,
            "BackoffRate": 2,
            "MaxDelaySeconds": ROLL_BACK_MAX_DELAY_SECONDS,
        }
    ]
    assert sum(roll_back_delays()) >= 15 * 60  # outlasts throttling or a lost session, not just a blip
    # the Lambda's roll_back event: the BakeState alone, the check's error beside it
    parameters = roll_back["Parameters"]
    assert parameters["action"] == "roll_back" and parameters["error.$"] == "$.error"
    assert sorted(parameters["state"]) == sorted(f"{f.name}.$" for f in dataclasses.fields(BakeState))
    (caught,) = roll_back["Catch"]
    assert caught["ErrorEquals"] == ["States.ALL"] and caught["Next"] == "AlertRollBackFailed"
    alert = states["AlertRollBackFailed"]
    assert alert["Resource"].endswith(":states:::sns:publish")
    topics = _refs_to(delivery, "AWS::SNS::Topic")
    assert reference(alert["Parameters"]["TopicArn"], references) in [{"Ref": t} for t in topics]
    assert alert["Next"] == "RollBackFailed" and [c["Next"] for c in alert["Catch"]] == ["RollBackFailed"]
    failed = states["RollBackFailed"]
    assert failed["Type"] == "Fail" and failed["Error"] == "CanaryRollBackFailed"
    # the person reads what is stuck and the command that unsticks it (States.Format: \{ \} are braces)
    cause = failed["CausePath"]
    assert alert["Parameters"]["Message.$"] == cause
    prod = config.delivery.production
    command = manual_roll_back_command("{}", prod.region).replace("={}", "=\\{\\}")
    assert (
        "the live alias of {} still sends 10% of its traffic to version {}, and {} (the version the next "
        "deploy serves) may name it too. Fix: " in cause
    )
    assert command in cause and cause.startswith("States.Format('")
    fix = manual_parameter_command("{}", "{}", prod.region).replace("'{}'", "\\'{}\\'")
    assert fix in cause and cause.index(fix) < cause.index(command)
    assert cause.endswith(
        "', $.rollBackError.Error, $.function_name, $.target_version, $.parameter_name, $.parameter_name, "
        "$.stable_version, $.function_name)"
    )
    # the state machine's role may publish to that topic and use the topic's key
    ((_, machine),) = _of_type(delivery, "AWS::StepFunctions::StateMachine").items()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    _assert_may_publish(delivery, role, reference(alert["Parameters"]["TopicArn"], references))


def _assert_may_publish(delivery: StackTemplate, role: str, topic: Any) -> None:
    """``role`` may publish to the notification topic ``topic`` and use the topic's key."""
    granted = _granted(delivery, role)
    assert "sns:Publish" in granted[json.dumps(topic)]
    (key,) = [k for k in _refs_to(delivery, "AWS::KMS::Key") if k.startswith("DeliveryNotifications")]
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= granted[json.dumps({"Fn::GetAtt": [key, "Arn"]})]


def _granted(stack: StackTemplate, role: str) -> dict[str, set[str]]:
    """The actions the identity policies of ``role`` allow, by resource (its JSON)."""
    granted: dict[str, set[str]] = {}
    for statement in role_statements(stack.template, role):
        if statement["Effect"] == "Allow":
            for resource in as_list(statement["Resource"]):
                granted.setdefault(json.dumps(resource), set()).update(as_list(statement["Action"]))
    return granted


def test_a_bake_ends_before_the_pipeline_stops_waiting_and_a_stopped_one_is_rolled_back(
    delivery: StackTemplate, config: PlatformConfig
) -> None:
    assert config.delivery is not None
    definition, _ = bake_definition(delivery)
    timeout = definition["TimeoutSeconds"]
    # under CodePipeline's Step Functions action (7 days): the execution ends, and the action fails on its
    # TIMED_OUT status, instead of the action timing out with the bake still running
    assert timeout == BAKE_EXECUTION_TIMEOUT_MINUTES * 60 < STEP_FUNCTIONS_ACTION_TIMEOUT_MINUTES * 60
    # over the longest bake allowed, its last poll (at most 60 minutes) and a roll back retried to the end
    for minutes in (config.delivery.bake.minutes, MAX_BAKE_MINUTES):
        assert minutes * 60 + 60 * 60 + sum(roll_back_delays()) < timeout
    # an execution that failed, timed out or was stopped invokes the bake function's abort
    ((machine_id, _),) = _of_type(delivery, "AWS::StepFunctions::StateMachine").items()
    ((function_id, function),) = [
        (k, f)
        for k, f in _of_type(delivery, "AWS::Lambda::Function").items()
        if k.startswith("DeliveryCanaryBake")
    ]
    ((rule_id, rule),) = _of_type(delivery, "AWS::Events::Rule").items()
    assert rule["Properties"]["State"] == "ENABLED"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": machine_id}], "status": ["FAILED", "TIMED_OUT", "ABORTED"]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert '"action":"abort"' in target["InputTransformer"]["InputTemplate"]
    (permission,) = [
        p["Properties"]
        for _, p in delivery.resources_of_type("AWS::Lambda::Permission")
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    # an abort that fails Lambda's retries, or waits too long, is sent to the notification topic
    (topic,) = [t for t in _refs_to(delivery, "AWS::SNS::Topic") if t.startswith("DeliveryNotifications")]
    assert function["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Ref": topic}}
    (invoke_config,) = [
        c["Properties"]
        for _, c in delivery.resources_of_type("AWS::Lambda::EventInvokeConfig")
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert invoke_config["MaximumEventAgeInSeconds"] == ABORT_MAX_EVENT_AGE_MINUTES * 60
    _assert_may_publish(delivery, function["Properties"]["Role"]["Fn::GetAtt"][0], {"Ref": topic})


def test_api_gateway_invokes_the_live_alias(synthesized: Synthesized, stages: Stages) -> None:
    for env in ("dev", "staging", "prod"):
        platform = stages[env].platform
        stack = _stack(synthesized, platform_stack_path(env))
        ((alias_id, alias),) = _of_type(stack, "AWS::Lambda::Alias").items()
        assert alias["Properties"]["Name"] == LIVE_ALIAS
        function_id = platform.get_logical_id(platform.api.orchestrator.function.node.default_child)
        # every route the orchestrator serves is integrated through the alias, never the bare function
        # (the review path's routes go to the review API function, which has no canary)
        uris = [
            json.dumps(m["Properties"]["Integration"]["Uri"])
            for _, m in stack.resources_of_type("AWS::ApiGateway::Method")
            if m["Properties"].get("Integration", {}).get("Type") == "AWS_PROXY"
        ]
        orchestrator = [u for u in uris if alias_id in u or f'"{function_id}"' in u]
        assert orchestrator and all(alias_id in u and f'"{function_id}"' not in u for u in orchestrator)
        permissions = [
            p["Properties"]["FunctionName"]
            for _, p in stack.resources_of_type("AWS::Lambda::Permission")
            if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
            and json.dumps(p["Properties"]["FunctionName"]).count(function_id)
            + json.dumps(p["Properties"]["FunctionName"]).count(alias_id)
        ]
        assert permissions and all(name == {"Ref": alias_id} for name in permissions)
    # in production the alias serves the version the bake last promoted (an SSM parameter), not the new one
    prod = _stack(synthesized, "Prod/Platform")
    ((_, alias),) = _of_type(prod, "AWS::Lambda::Alias").items()
    parameter = alias["Properties"]["FunctionVersion"]["Ref"]
    assert prod.template["Parameters"][parameter]["Default"] == live_version_parameter("prod")


def test_the_whole_compliance_gate_ran_on_the_delivery_stack(synthesized: Synthesized) -> None:
    result = read_gate_result(synthesized.outdir)
    assert DELIVERY in result.validated_stacks
    assert [v for v in result.violations if v.construct_path.startswith(DELIVERY)] == []
    acknowledged = [a for a in result.acknowledgments if a.stack == DELIVERY]
    assert acknowledged, "the delivery stack acknowledges its findings through bedrock_constructs.nag"
    for ack in acknowledged:
        # every acknowledgment states its constraint, on its exact resource
        assert len(ack.reason) >= 40, ack
        assert ack.resources, ack


def test_the_readiness_gate_may_act_as_a_reviewer_and_assume_no_other_role(
    synthesized: Synthesized, stages: Stages
) -> None:
    # The gate walks the human review path once (python -m human_review exercise --target staging) as a
    # session of the reviewer role: its own role must allow sts:AssumeRole on that role, and only on it.
    platform = stages["staging"].platform
    assert platform.review is not None and platform.readiness_access is not None
    template = synthesized.platform_json("staging")
    reviewer = platform.get_logical_id(platform.review.reviewer.role.node.default_child)
    gate_role = platform.get_logical_id(platform.readiness_access.role.node.default_child)
    assumed = [
        (statement["Action"], statement["Resource"])
        for statement in role_statements(template, gate_role)
        if "sts:" in json.dumps(statement["Action"])
    ]
    # with the source identity the reviewer role's trust requires (a role chain needs it on both sides)
    assert assumed == [(["sts:AssumeRole", "sts:SetSourceIdentity"], {"Fn::GetAtt": [reviewer, "Arn"]})]
    # and the reviewer role trusts its own account, which leaves the decision to that identity policy
    trust = template["Resources"][reviewer]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert {json.dumps(s["Principal"]) for s in trust} == {
        json.dumps({"AWS": f"arn:aws:iam::{platform.account}:root"})
    }


def test_the_readiness_gate_may_set_every_alarm_of_its_stack(
    synthesized: Synthesized, stages: Stages
) -> None:
    # Deployed, the gate sets each alarm of the stack (CloudFormation's list of its resources) to ALARM to
    # prove its notification reaches a person: a missing grant would fail the gate with AccessDenied.
    platform = stages["staging"].platform
    assert platform.readiness_access is not None
    template = synthesized.platform_json("staging")
    gate_role = platform.get_logical_id(platform.readiness_access.role.node.default_child)
    settable = {
        json.dumps(arn, sort_keys=True)
        for statement in role_statements(template, gate_role)
        if "cloudwatch:SetAlarmState" in json.dumps(statement["Action"])
        for arn in as_list(statement["Resource"])
    }
    alarms = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    ]
    assert any("HumanReview" in a or "Review" in a for a in alarms)
    missing = [a for a in alarms if json.dumps({"Fn::GetAtt": [a, "Arn"]}, sort_keys=True) not in settable]
    assert missing == []


def _readiness_access(config: PlatformConfig, stack: Any) -> Any:
    """A ``ReadinessGateAccess`` over one use case's API in a fork's ``stack``."""
    from bedrock_constructs.delivery import ReadinessGateAccess
    from bedrock_constructs.monitoring import NotificationTopic
    from bedrock_constructs.use_case import GovernedUseCase
    from tests.support.forks import probe_api

    # a use case that does not hold answers for review: the probe API has no review path
    contract = next(c for c in config.contracts_for("dev") if not c.review.hold_for_review)
    use_case = GovernedUseCase(stack, "U", contract=contract, environment="dev")
    api = probe_api(stack, use_case)
    return ReadinessGateAccess(
        stack,
        "Readiness",
        environment="dev",
        delivery_account="222222222222",
        notifications=NotificationTopic(stack, "Notifications"),
        api=api,
        use_cases=[use_case],
        alarms=[
            api.orchestrator.metric_errors().create_alarm(stack, "Errors", threshold=1, evaluation_periods=1)
        ],
    )


def test_the_readiness_roles_acknowledgment_names_its_finding_in_an_environment_agnostic_stack(
    config: PlatformConfig,
) -> None:
    from bedrock_constructs.nag import wildcard_findings
    from tests.support.iam import acknowledged_on
    from tests.support.synth import probe_app, probe_stack

    # GIVEN a fork's environment-agnostic stack (region and account left to deploy time)
    app = probe_app()
    # WHEN it gives the delivery account's readiness gate its access
    access = _readiness_access(config, probe_stack(app, environment=False))
    # THEN the caller routes' wildcard is acknowledged under the id cdk-nag gives it, and the app synthesizes
    policy = access.role.node.find_child("DefaultPolicy")
    caller_routes = [f for f in wildcard_findings(policy) if f.endswith("/*/use-cases/*]")]
    assert caller_routes and set(caller_routes) <= acknowledged_on(policy)
    app.synth()


def test_a_later_grant_on_every_resource_is_not_hidden_by_the_readiness_roles_describe_alarms_reason(
    config: PlatformConfig,
) -> None:
    from aws_cdk import aws_iam as iam

    from tests.support.synth import probe_app, probe_stack

    # GIVEN the readiness role, whose AwsSolutions-IAM5[Resource::*] is acknowledged for DescribeAlarms
    app = probe_app()
    access = _readiness_access(config, probe_stack(app))
    # WHEN a fork grants it something else on Resource *
    access.role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeVpcs"], resources=["*"]))
    # THEN synth fails naming it
    with pytest.raises(RuntimeError, match=r"this policy allows ec2:DescribeVpcs on Resource \*"):
        app.synth()


def test_the_pipeline_acknowledges_its_codebuild_log_grants_in_an_app_without_partition_literals(
    config: PlatformConfig,
) -> None:
    from bedrock_constructs.delivery import DeliveryPipeline
    from bedrock_constructs.nag import wildcard_findings
    from tests.support.iam import acknowledged_on
    from tests.support.synth import probe_app, probe_stack

    assert config.delivery is not None
    # GIVEN a fork's app without this repository's cdk.json (only the flag its access-log bucket needs):
    # the stack's partition is left to deploy time, and cdk-nag prints it as <AWS::Partition>
    app = probe_app(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    # WHEN it builds the pipeline (acknowledge_wildcards raised for the CodeBuild log-group grant)
    pipeline = DeliveryPipeline(probe_stack(app), "Delivery", delivery=config.delivery)
    # THEN each step's default log-group grant is acknowledged under the id cdk-nag gives it
    for project in pipeline.projects.values():
        assert project.role is not None
        policy = project.role.node.find_child("DefaultPolicy")
        logs = [f for f in wildcard_findings(policy) if ":log-group:/aws/codebuild/" in f]
        assert logs and "<AWS::Partition>" in logs[0]
        assert set(logs) <= acknowledged_on(policy)


def test_every_deploy_step_deploys_its_stage_with_the_clis_phoning_home_turned_off(
    delivery: StackTemplate, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    # GIVEN each step that deploys a Stage of the build's assembly (the environments' and the self-update)
    steps = {
        action["Name"]: _commands(delivery, action["Configuration"]["ProjectName"])
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeBuild"
        and "deploy-assembly" in _commands(delivery, action["Configuration"]["ProjectName"])
    }
    assert set(steps) == {"SelfUpdate", "DeployDev", "DeployStaging", "DeployProd"}
    # WHEN its command runs (the Makefile target, with a stand-in npx that records what it was given)
    for name in ("Makefile", "package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / ".installed").touch()
    (tmp_path / "cdk.out").mkdir()
    (tmp_path / "cdk.out" / "manifest.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npx = bin_dir / "npx"
    npx.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$*" "$CDK_DISABLE_CLI_TELEMETRY" "$CDK_DISABLE_VERSION_CHECK" > ran\n'
    )
    npx.chmod(0o755)
    for name, commands in steps.items():
        (command,) = [line for line in commands.splitlines() if "deploy-assembly" in line]
        stage = command.split("STAGE=")[1]
        subprocess.run(
            [*command.split()[:2], f"STAGE={stage}"],
            cwd=tmp_path,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
            check=True,
            capture_output=True,
        )
        # THEN the CLI deploys exactly that Stage of the assembly, without synthesizing, telemetry or a
        # version check
        args, telemetry_off, version_check_off = (tmp_path / "ran").read_text().splitlines()
        assert args.startswith(f"cdk deploy --app cdk.out {stage}/* --require-approval never"), (name, args)
        assert (telemetry_off, version_check_off) == ("true", "true"), name


def test_a_deploy_step_installs_the_cdk_cli_alone_not_the_python_environment(
    delivery: StackTemplate, pipeline: dict[str, Any], tmp_path: Path
) -> None:
    # GIVEN each step that deploys a Stage of the build's assembly, from the build's artifact: the checkout
    # and cdk.out, without .venv or node_modules
    projects = {
        action["Name"]: delivery.resources[action["Configuration"]["ProjectName"]["Ref"]]
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeBuild"
        and "deploy-assembly" in _commands(delivery, action["Configuration"]["ProjectName"])
    }
    assert set(projects) == {"SelfUpdate", "DeployDev", "DeployStaging", "DeployProd"}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # stand-ins that record their arguments (npm ci makes node_modules, as the real one does)
    for tool, then in (("npm", "mkdir -p node_modules"), ("npx", "true")):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> ran\n{then}\n')
        (bin_dir / tool).chmod(0o755)
    for name, project in projects.items():
        spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
        work = tmp_path / name
        work.mkdir()
        for file in ("Makefile", "package.json", "package-lock.json"):
            shutil.copy(ROOT / file, work / file)
        (work / "cdk.out").mkdir()
        (work / "cdk.out" / "manifest.json").write_text("{}")
        # WHEN its install and build phases run with no Python to build an environment from
        for phase in ("install", "build"):
            for command in spec["phases"][phase].get("commands", []):
                done = subprocess.run(
                    ["bash", "-c", command],
                    cwd=work,
                    env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHON": "/bin/false"},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, (name, command, done.stdout + done.stderr)
        # THEN it installed the pinned CLI from the lock and deployed, and made no Python environment
        ran = (work / "ran").read_text().splitlines()
        assert ran[0].startswith("npm ci") and ran[-1].startswith("npx cdk deploy --app cdk.out"), (name, ran)
        assert not (work / ".venv").exists(), name
        # and asks CodeBuild for the Node runtime the CLI needs, not Python's
        assert spec["phases"]["install"]["runtime-versions"] == {"nodejs": "20"}, name
