"""The release diff catches what a reviewer must see, classified by what it means, grouped by use case, and
nothing else; and the review pack writes only where it is told to, inside the assembly it reviews."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.report.__main__ import main
from compliance.report.build import Report, build_reports, write_reports
from compliance.report.changes import EnvironmentDiff, compare
from compliance.report.environment import load_environment
from compliance.report.topic import ATTENTION, REVIEW, ROUTINE
from compliance.report.topics import TOPICS, controls
from platform_config import PlatformConfig
from platform_config.naming import pascal
from platform_spec.fields import to_dict
from tests.compliance.conftest import mutate_template, rename_logical_id, text_delivery_on
from tests.infra.conftest import Synthesized
from tests.support.synth import ROOT

ROLE = "OrchestrationApiFunctionServiceRoleC7627CC8"
BUCKET = "InvocationLoggingBucketF12B4122"
ITEMS = "HumanReviewItems6E81B77D"


def _resource(template: dict[str, Any], prefix: str, resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (lid, r)
        for lid, r in template["Resources"].items()
        if lid.startswith(prefix) and r["Type"] == resource_type
    ]
    return found


def _change_policy_qa_guardrail(assembly: Path, change: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``change`` to the properties of policy-qa's guardrail in Prod; its logical ID."""
    found = []

    def mutation(template: dict[str, Any]) -> None:
        guardrail_id, guardrail = _resource(template, "PolicyQaGuardrail", "AWS::Bedrock::Guardrail")
        change(guardrail["Properties"])
        found.append(guardrail_id)

    mutate_template(assembly, "Prod/Platform", mutation)
    return found[0]


def _diff(mutated: Path, original: Path, env: str = "Prod") -> EnvironmentDiff:
    return compare(
        load_environment(mutated, env, topics=TOPICS), load_environment(original, env, topics=TOPICS)
    )


def _runtime_config(assembly: Path, environment: str) -> Path:
    (path,) = [
        p
        for p in assembly.glob("asset.*/orchestrator/runtime_config.json")
        if json.loads(p.read_text())["environment"] == environment
    ]
    return path


def test_an_unchanged_assembly_has_no_changes(synthesized: Synthesized, assembly_copy: Path) -> None:
    assert _diff(assembly_copy, synthesized.outdir).changes == []


# ------------------------------------------------------------------ classification


def test_a_new_use_case_is_one_change_that_needs_attention(
    synthesized: Synthesized, assembly_copy: Path, config: PlatformConfig
) -> None:
    # GIVEN a baseline (the last release) in which one of Dev's use cases did not exist yet
    new = sorted(c.id for c in config.contracts_for("dev"))[-1]
    prefix = pascal(new)

    def without_use_case(template: dict[str, Any]) -> None:
        for lid in [lid for lid in template["Resources"] if lid.startswith(prefix)]:
            del template["Resources"][lid]
        for resource in template["Resources"].values():  # and the grants on its profiles and guardrail
            if resource["Type"] == "AWS::IAM::Policy":
                document = resource["Properties"]["PolicyDocument"]
                document["Statement"] = [s for s in document["Statement"] if prefix not in json.dumps(s)]

    mutate_template(assembly_copy, "Dev/Platform", without_use_case)
    runtime = _runtime_config(assembly_copy, "dev")
    document = json.loads(runtime.read_text())
    del document["use_cases"][new]
    runtime.write_text(json.dumps(document))
    # WHEN the current assembly is compared with it
    changes = _diff(synthesized.outdir, assembly_copy, "Dev")
    # THEN the use case is new, and its changes are grouped under it, those that need a decision first
    assert changes.new_use_cases == [new] and changes.groups[0] == new
    mine = changes.of_use_case(new)
    head = mine[0]
    template = synthesized.platform_json("dev")
    added = [lid for lid in template["Resources"] if lid.startswith(prefix)]
    guardrail_ids = [lid for lid in added if template["Resources"][lid]["Type"] == "AWS::Bedrock::Guardrail"]
    assert (head.topic, head.kind, head.level) == ("use-cases", "added", ATTENTION)
    # one change lists every resource the use case adds, instead of one "added" line each
    assert sorted(item.split(" ")[0] for item in head.items) == sorted(set(added) - set(guardrail_ids))
    assert not [c for c in mine if c.topic == "resources" and c.kind == "added"]
    # the new guardrail and the orchestrator's new configuration need attention too
    attention = {(c.topic, c.kind) for c in mine if c.level == ATTENTION}
    assert {("guardrails", "added"), ("inventory", "added")} <= attention
    # the orchestrator may now invoke its profiles: wider access, without a wildcard (unless it is a global route)
    access = [c for c in mine if c.topic == "access"]
    assert access and {c.kind for c in access} == {"widened"}
    assert all(c.level == (ATTENTION if c.wildcard else REVIEW) for c in access)
    # AND the report shows the new use case first, as needing attention
    report = build_reports(synthesized.outdir, environments=["Dev"], against=assembly_copy)["Dev"]
    markdown = report.markdown()
    assert f"### Use case {new} (new)" in markdown
    first = next(
        line for line in markdown.split("## Changes against", 1)[1].splitlines() if line.startswith("| <a")
    )
    assert "**NEEDS ATTENTION**" in first and f"new use case {new}" in first


def test_a_changed_guardrail_needs_attention_whichever_way_it_changes(
    example_synthesized: Synthesized, example_assembly_copy: Path
) -> None:
    # GIVEN policy-qa's HATE input filter lowered HIGH -> LOW, prompt attack removed, and a topic added
    def change(guardrail: dict[str, Any]) -> None:
        filters = guardrail["ContentPolicyConfig"]["FiltersConfig"]
        next(f for f in filters if f["Type"] == "HATE")["InputStrength"] = "LOW"
        filters[:] = [f for f in filters if f["Type"] != "PROMPT_ATTACK"]
        guardrail["TopicPolicyConfig"]["TopicsConfig"].append(
            {"Name": "Salaries", "Definition": "Questions about pay.", "Type": "DENY"}
        )

    guardrail_id = _change_policy_qa_guardrail(example_assembly_copy, change)
    changes = _diff(example_assembly_copy, example_synthesized.outdir)
    assert {(c.subject, c.kind, c.detail, c.level, c.use_case) for c in changes.topic("guardrails")} == {
        (guardrail_id, "weakened", "HATE input filter lowered HIGH -> LOW", ATTENTION, "policy-qa"),
        (
            guardrail_id,
            "weakened",
            "content filter PROMPT_ATTACK removed (was input HIGH, output NONE)",
            ATTENTION,
            "policy-qa",
        ),
        (
            guardrail_id,
            "strengthened",
            "denied topic added: Salaries (Questions about pay.)",
            ATTENTION,
            "policy-qa",
        ),
    }
    assert changes.topic("access") == [] and changes.topic("resources") == []


def test_a_content_filter_turned_off_or_detect_only_is_a_weakened_guardrail(
    example_synthesized: Synthesized, example_assembly_copy: Path
) -> None:
    # GIVEN policy-qa's HATE filter kept at HIGH but turned off on input, and its prompt-attack filter kept
    # at HIGH but only detecting (action NONE): neither blocks anything any more
    def change(guardrail: dict[str, Any]) -> None:
        filters = {f["Type"]: f for f in guardrail["ContentPolicyConfig"]["FiltersConfig"]}
        filters["HATE"]["InputEnabled"] = False
        filters["PROMPT_ATTACK"]["InputAction"] = "NONE"

    guardrail_id = _change_policy_qa_guardrail(example_assembly_copy, change)
    changes = _diff(example_assembly_copy, example_synthesized.outdir)
    # THEN both are weakened guardrail changes that need attention (the resource diff leaves the policy to them)
    assert {(c.subject, c.kind, c.detail, c.level) for c in changes.topic("guardrails")} == {
        (
            guardrail_id,
            "weakened",
            "HATE input filter lowered HIGH -> NONE (set to HIGH but turned off: InputEnabled false)",
            ATTENTION,
        ),
        (
            guardrail_id,
            "weakened",
            "PROMPT_ATTACK input filter lowered HIGH -> NONE (detects at HIGH, action NONE: nothing is blocked)",
            ATTENTION,
        ),
    }
    # and the pack's evidence no longer says the harm filters block
    report = build_reports(example_assembly_copy, environments=["Prod"])["Prod"]
    evidence = controls.evaluate_evidence(report.environment)["GUARDRAIL-CONTENT-FILTERS"]
    assert evidence.status == "FAIL" and "HATE input is NONE" in evidence.detail


def test_pii_detected_only_is_weaker_than_masked_and_handles_no_pii(
    example_synthesized: Synthesized, example_assembly_copy: Path
) -> None:
    # GIVEN every PII entity and regex of policy-qa's guardrail set to detect only (action NONE)
    def change(guardrail: dict[str, Any]) -> None:
        sensitive = guardrail["SensitiveInformationPolicyConfig"]
        for item in [*sensitive.get("PiiEntitiesConfig", []), *sensitive.get("RegexesConfig", [])]:
            item["Action"] = "NONE"

    guardrail_id = _change_policy_qa_guardrail(example_assembly_copy, change)
    changes = _diff(example_assembly_copy, example_synthesized.outdir)
    # THEN each entity is weakened (ANONYMIZE -> NONE as much as BLOCK -> NONE), and the evidence fails
    pii = [c for c in changes.topic("guardrails") if c.detail.startswith("PII entity")]
    assert pii and all(c.kind == "weakened" and c.subject == guardrail_id for c in pii)
    assert any(c.detail.endswith("ANONYMIZE -> NONE") for c in pii)
    report = build_reports(example_assembly_copy, environments=["Prod"])["Prod"]
    evidence = controls.evaluate_evidence(report.environment)["GUARDRAIL-SENSITIVE-INFO"]
    assert evidence.status == "FAIL" and guardrail_id in evidence.detail


def test_a_resource_policy_opened_to_any_principal_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invocation log bucket's policy lets anyone ("Principal": "*") read one named object: no
    # wildcard in the action or the resource, but one in who may
    def open_to_anyone(template: dict[str, Any]) -> None:
        policy = template["Resources"]["InvocationLoggingBucketPolicyB5B55033"]["Properties"]
        policy["PolicyDocument"]["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::invocation-logs/AWSLogs/report.json",
            }
        )

    mutate_template(assembly_copy, "Prod/Platform", open_to_anyone)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN it is wider access with a wildcard: a change that needs attention
    (change,) = changes.topic("access")
    assert (change.kind, change.level, change.wildcard) == ("widened", ATTENTION, True)


@pytest.mark.parametrize("where", ["bedrock", "orchestrator"])
def test_a_change_of_text_logging_needs_attention(
    example_synthesized: Synthesized, example_assembly_copy: Path, example_config: PlatformConfig, where: str
) -> None:
    # the examples' app: text delivery is off in Prod only while a use case there forbids prompt logging
    forbidding = sorted(
        c.id for c in example_config.contracts_for("prod") if not c.logging.prompts_and_responses
    )
    assert forbidding, "no example enabled in Prod forbids prompt logging"
    if where == "bedrock":
        # GIVEN Bedrock's account-wide text delivery turned on
        mutate_template(example_assembly_copy, "Prod/Platform", text_delivery_on)
    else:
        # GIVEN a use case whose deployed configuration now logs its prompts and responses
        runtime = _runtime_config(example_assembly_copy, "prod")
        document = json.loads(runtime.read_text())
        document["use_cases"][forbidding[0]]["contract"]["logging"]["prompts_and_responses"] = True
        runtime.write_text(json.dumps(document))
    changes = _diff(example_assembly_copy, example_synthesized.outdir)
    # THEN it is the one change that needs attention
    (change,) = changes.level(ATTENTION)
    if where == "bedrock":
        assert (change.topic, change.detail) == (
            "logging",
            "text data delivery off -> on (every prompt and response in the account is now logged)",
        )
        assert change.use_case == ""  # account-wide: the platform's
    else:
        assert change.topic == "inventory" and change.use_case == forbidding[0]
        assert change.detail.startswith(
            f"the orchestrator now logs the prompts and responses of {forbidding[0]}"
        )


def test_invocation_logs_sent_to_another_bucket_need_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN Bedrock's invocation logging pointed at a bucket this release does not own
    def elsewhere(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] != "Custom::BedrockModelInvocationLogging":
                continue
            for call in ("Create", "Update"):
                parts = resource["Properties"][call]["Fn::Join"][1]
                parts[:] = ["someone-elses-bucket" if p == {"Ref": BUCKET} else p for p in parts]

    mutate_template(assembly_copy, "Prod/Platform", elsewhere)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN where the record of every model call goes is a change that needs attention
    (change,) = [c for c in changes.topic("logging") if "S3 destination" in c.detail]
    assert change.level == ATTENTION and "someone-elses-bucket" in change.detail
    assert "now goes elsewhere" in change.detail


@pytest.mark.parametrize("value", [True, "true"], ids=["boolean", "string"])
def test_api_gateway_data_trace_turned_on_is_a_change_of_prompt_logging(
    synthesized: Synthesized, assembly_copy: Path, config: PlatformConfig, value: object
) -> None:
    # GIVEN the API stage's full request logging (DataTraceEnabled) turned on: every request body, every
    # prompt of every use case, goes to the execution logs (CloudFormation takes "true" as a boolean too)
    def data_trace(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::ApiGateway::Stage":
                for setting in resource["Properties"]["MethodSettings"]:
                    setting["DataTraceEnabled"] = value

    mutate_template(assembly_copy, "Prod/Platform", data_trace)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN each use case's prompt logging changed: a change that needs attention under the use case
    attention = [c for c in changes.level(ATTENTION) if c.topic == "inventory"]
    assert sorted(c.use_case for c in attention) == sorted(c.id for c in config.contracts_for("prod"))
    assert all("API Gateway now logs the request bodies" in c.detail for c in attention)


def test_a_wildcard_on_bedrock_invoke_is_a_widened_permission_that_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the orchestrator's Bedrock invoke statement gains Resource "*"
    def widen(template: dict[str, Any]) -> None:
        _, policy = _resource(
            template, "OrchestrationApiFunctionServiceRoleDefaultPolicy", "AWS::IAM::Policy"
        )
        statement = next(
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if "bedrock:InvokeModel" in s["Action"]
        )
        statement["Resource"].append("*")

    mutate_template(assembly_copy, "Prod/Platform", widen)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN exactly the two invoke actions on "*" are reported, as wildcards that need attention, and nothing else
    widened = changes.topic("access")
    assert {(c.subject, c.kind, c.wildcard, c.level, c.use_case) for c in widened} == {
        (ROLE, "widened", True, ATTENTION, "")
    }
    assert sorted(c.detail.split(" on ")[0] for c in widened) == [
        "+ Allow bedrock:InvokeModel",
        "+ Allow bedrock:InvokeModelWithResponseStream",
    ]
    assert all(" on * " in c.detail and "[UNRESTRICTED WILDCARD]" in c.detail for c in widened)
    assert len(changes.changes) == 2


def test_an_added_action_is_widened_and_a_removed_one_narrowed(
    synthesized: Synthesized, assembly_copy: Path, config: PlatformConfig
) -> None:
    def change_actions(template: dict[str, Any]) -> None:
        _, policy = _resource(
            template, "OrchestrationApiFunctionServiceRoleDefaultPolicy", "AWS::IAM::Policy"
        )
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        guardrail = next(s for s in statements if s["Action"] == "bedrock:ApplyGuardrail")
        guardrail["Action"] = ["bedrock:ApplyGuardrail", "bedrock:UpdateGuardrail"]
        xray = next(s for s in statements if "xray:PutTraceSegments" in s["Action"])
        xray["Action"] = ["xray:PutTraceSegments"]

    mutate_template(assembly_copy, "Prod/Platform", change_actions)
    changes = _diff(assembly_copy, synthesized.outdir).topic("access")
    summary = {(c.kind, c.level, c.detail.split(" on ")[0]) for c in changes}
    assert ("widened", REVIEW, "+ Allow bedrock:UpdateGuardrail") in summary
    assert ("narrowed", ROUTINE, "- Allow xray:PutTelemetryRecords") in summary
    # UpdateGuardrail on the guardrail of each use case that Prod runs (grouped under it), and on the baseline
    widened = [c for c in changes if c.kind == "widened"]
    assert len(widened) == len(config.contracts_for("prod")) + 1
    assert sorted(c.use_case for c in widened if c.use_case) == sorted(
        c.id for c in config.contracts_for("prod")
    )


def test_a_renamed_bucket_is_a_replaced_stateful_resource_that_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invocation-log bucket's logical ID changes and an alarm disappears
    def remove_alarm(template: dict[str, Any]) -> None:
        alarm_id, _ = _resource(template, "OrchestrationApiMonitoringApi5xxAlarm", "AWS::CloudWatch::Alarm")
        del template["Resources"][alarm_id]

    rename_logical_id(assembly_copy, "Prod/Platform", BUCKET, "InvocationLogBucketRenamed")
    mutate_template(assembly_copy, "Prod/Platform", remove_alarm)
    changes = _diff(assembly_copy, synthesized.outdir)
    platform = [c for c in changes.of_use_case("") if c.topic == "resources"]
    # THEN the stateful replacement comes first and needs attention; the stateless removal is for review
    assert [(c.subject, c.kind, c.stateful, c.level) for c in platform] == [
        ("InvocationLogBucketRenamed", "replaced", True, ATTENTION),
        (platform[1].subject, "removed", False, REVIEW),
    ]
    assert BUCKET in platform[0].detail and "Retain on delete" in platform[0].detail
    # AND the report shows it in the platform's changes, first
    reports = build_reports(assembly_copy, environments=["Prod"], against=synthesized.outdir)
    markdown = reports["Prod"].markdown()
    section = markdown.split("### Platform (resources shared by every use case)", 1)[1]
    first_row = next(line for line in section.splitlines() if line.startswith("| <a"))
    assert (
        "InvocationLogBucketRenamed" in first_row
        and "REPLACED" in first_row
        and "NEEDS ATTENTION" in first_row
    )


def test_a_removed_stateful_resource_without_construct_metadata_is_still_listed_first(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # A template edited by hand (no metadata to pair it by): the bucket is "removed", still first.
    def rename(template: dict[str, Any]) -> None:
        template["Resources"]["HandEditedBucket"] = template["Resources"].pop(BUCKET)
        alarm_id, _ = _resource(template, "OrchestrationApiMonitoringApi5xxAlarm", "AWS::CloudWatch::Alarm")
        del template["Resources"][alarm_id]

    mutate_template(assembly_copy, "Prod/Platform", rename)
    removed = [c for c in _diff(assembly_copy, synthesized.outdir).of_use_case("") if c.kind == "removed"]
    assert (removed[0].subject, removed[0].stateful, removed[0].level) == (BUCKET, True, ATTENTION)
    assert [c.stateful for c in removed] == [True, False]


@pytest.mark.parametrize(("env", "level"), [("Prod", ATTENTION), ("Staging", REVIEW)])
def test_a_changed_replacement_property_is_a_replacement(
    example_synthesized: Synthesized, example_assembly_copy: Path, env: str, level: str
) -> None:
    def new_source(template: dict[str, Any]) -> None:
        _, profile = _resource(
            template, "PolicyQaFallbackProfile", "AWS::Bedrock::ApplicationInferenceProfile"
        )
        source = profile["Properties"]["ModelSource"]["CopyFrom"]
        profile["Properties"]["ModelSource"]["CopyFrom"] = source.replace("nova-pro", "nova-lite")

    mutate_template(example_assembly_copy, f"{env}/Platform", new_source)
    (change,) = _diff(example_assembly_copy, example_synthesized.outdir, env).topic("resources")
    assert change.kind == "replaced" and "ModelSource" in change.detail and "nova-lite" in change.detail
    # A replaced profile breaks the previous orchestrator version where releases are baked (Prod): the
    # version that keeps most of the traffic during the bake still calls the deleted profile.
    assert change.use_case == "policy-qa" and change.level == level
    assert ("bakes releases" in change.detail) == (level == ATTENTION)


@pytest.mark.parametrize(
    ("env", "prefix", "level"),
    [
        # the previous orchestrator version, which a bake keeps serving, calls the primary's profile
        ("Prod", "PolicyQaPrimaryProfile", ATTENTION),
        # no bake outside production; and no orchestrator version calls the judge's profile
        ("Staging", "PolicyQaPrimaryProfile", REVIEW),
        ("Prod", "PolicyQaJudgeProfile", REVIEW),
    ],
)
def test_a_profile_the_previous_version_calls_removed_where_releases_bake_needs_model_retiring(
    example_synthesized: Synthesized, example_assembly_copy: Path, env: str, prefix: str, level: str
) -> None:
    # GIVEN a release that changes a route's model without `model.retiring`: its profile leaves the
    # template (a new one, under another logical ID, takes its place)
    removed: dict[str, Any] = {}

    def drop_profile(template: dict[str, Any]) -> None:
        lid, profile = _resource(template, prefix, "AWS::Bedrock::ApplicationInferenceProfile")
        removed.update(lid=lid, source=profile["Properties"]["ModelSource"]["CopyFrom"])
        del template["Resources"][lid]

    mutate_template(example_assembly_copy, f"{env}/Platform", drop_profile)
    # WHEN it is compared with the last release
    (change,) = [
        c
        for c in _diff(example_assembly_copy, example_synthesized.outdir, env).topic("resources")
        if c.subject == removed["lid"]
    ]
    # THEN the removal needs attention only where a baked version still calls the profile, and says how
    # to keep it: the route and the exact model, for the contract's model.retiring
    assert (change.kind, change.use_case, change.level) == ("removed", "policy-qa", level)
    model = json.dumps(removed["source"]).rsplit("/", 1)[-1].rstrip('"]}')
    fix = f"add `retiring: {{primary: {model}}}` under `model:`"
    assert (fix in change.detail) == (level == ATTENTION), change.detail
    assert ("contracts/policy-qa.yaml" in change.detail) == (level == ATTENTION)


def _deny_deletes(condition: dict[str, Any] | None) -> Callable[[dict[str, Any]], None]:
    """A mutation: the invocation log bucket's policy denies everyone deleting a log (if ``condition``)."""

    def mutation(template: dict[str, Any]) -> None:
        policy = template["Resources"]["InvocationLoggingBucketPolicyB5B55033"]["Properties"]
        deny = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:DeleteObject", "Resource": "*"}
        policy["PolicyDocument"]["Statement"].append(
            {**deny, **({"Condition": condition} if condition else {})}
        )

    return mutation


@pytest.mark.parametrize(
    "now",
    [{"StringEquals": {"aws:PrincipalAccount": "999999999999"}}, "removed"],
    ids=["deny-limited-by-a-condition", "deny-removed"],
)
def test_a_deny_that_stops_less_is_wider_access_that_needs_attention(
    assembly_copy: Path, tmp_path: Path, synthesized: Synthesized, now: Any
) -> None:
    # GIVEN a release whose bucket policy denied everyone deleting a log, and now denies it only to one
    # account (a condition added to a Deny), or no longer denies it
    baseline = tmp_path / "baseline"
    shutil.copytree(synthesized.outdir, baseline)
    mutate_template(baseline, "Prod/Platform", _deny_deletes(None))
    if now != "removed":
        mutate_template(assembly_copy, "Prod/Platform", _deny_deletes(now))
    (change,) = _diff(assembly_copy, baseline).topic("access")
    # THEN more requests get through: widened access, with a wildcard, that needs attention (not routine)
    assert (change.kind, change.level, change.wildcard) == ("widened", ATTENTION, True)


def test_an_api_method_opened_to_unauthenticated_callers_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invoke method's IAM authorization removed (AuthorizationType NONE)
    method_id = ""

    def open_method(template: dict[str, Any]) -> None:
        nonlocal method_id
        method_id, method = _resource(
            template, "OrchestrationApiusecasesuseCaseIdinvokePOST", "AWS::ApiGateway::Method"
        )
        method["Properties"]["AuthorizationType"] = "NONE"

    mutate_template(assembly_copy, "Prod/Platform", open_method)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN anyone may call it: wider access that needs attention, reported once (not as a property change)
    assert {(c.topic, c.subject, c.kind, c.level) for c in changes.changes} == {
        ("access", method_id, "widened", ATTENTION)
    }


def test_a_stateful_resource_no_longer_retained_on_replacement_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invocation log bucket still retained on delete, but deleted when an update replaces it
    def replace_deletes(template: dict[str, Any]) -> None:
        template["Resources"][BUCKET]["UpdateReplacePolicy"] = "Delete"

    mutate_template(assembly_copy, "Prod/Platform", replace_deletes)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN it is weaker protection of data: a change that needs attention
    assert {(c.subject, c.kind, c.level, c.detail) for c in changes.topic("protection")} == {
        (BUCKET, "weakened", ATTENTION, "on replacement (UpdateReplacePolicy): Retain -> Delete")
    }


def test_point_in_time_recovery_turned_off_on_a_table_needs_attention(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the review items table without point-in-time recovery (its TTL unchanged)
    def no_recovery(template: dict[str, Any]) -> None:
        template["Resources"][ITEMS]["Properties"]["PointInTimeRecoverySpecification"] = {
            "PointInTimeRecoveryEnabled": False
        }

    mutate_template(assembly_copy, "Prod/Platform", no_recovery)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN the table can no longer be restored to a point of the last 35 days: weaker, needs attention
    ((subject, kind, level, detail),) = {
        (c.subject, c.kind, c.level, c.detail) for c in changes.topic("protection")
    }
    assert (subject, kind, level) == (ITEMS, "weakened", ATTENTION)
    assert detail.endswith("no point-in-time recovery")


@pytest.mark.parametrize(
    ("policy", "kind", "level"),
    [
        # keeps a resource an earlier release created, as Retain does: not weaker, still worth a look
        ("RetainExceptOnCreate", "changed", REVIEW),
        # deletes the bucket (S3 has no snapshot): weaker protection of its data
        ("Snapshot", "weakened", ATTENTION),
        ("Delete", "weakened", ATTENTION),
    ],
)
def test_a_deletion_policy_is_weaker_only_where_it_keeps_less(
    synthesized: Synthesized, assembly_copy: Path, policy: str, kind: str, level: str
) -> None:
    # GIVEN the retained invocation log bucket with another deletion policy
    def change(template: dict[str, Any]) -> None:
        template["Resources"][BUCKET]["DeletionPolicy"] = policy

    mutate_template(assembly_copy, "Prod/Platform", change)
    changes = _diff(assembly_copy, synthesized.outdir)
    assert {(c.subject, c.kind, c.level, c.detail) for c in changes.topic("protection")} == {
        (BUCKET, kind, level, f"on delete: Retain -> {policy}")
    }


@pytest.mark.parametrize(
    ("resource", "change_to"),
    [
        (
            BUCKET,
            {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                }
            },
        ),
        ("HumanReviewQueue30CE171B", {"KmsMasterKeyId": None}),
        ("HumanReviewItems6E81B77D", {"SSESpecification": None}),
    ],
    ids=["bucket-kms-to-sse-s3", "queue-kms-to-sse-sqs", "table-kms-to-aws-owned"],
)
def test_a_customer_key_replaced_by_a_service_key_is_weaker_encryption(
    synthesized: Synthesized, assembly_copy: Path, resource: str, change_to: dict[str, Any]
) -> None:
    # GIVEN a resource encrypted with the stack's own KMS key now encrypted with a key the service owns
    def weaken(template: dict[str, Any]) -> None:
        properties = template["Resources"][resource]["Properties"]
        for key, value in change_to.items():
            if value is None:
                properties.pop(key)
            else:
                properties[key] = value

    mutate_template(assembly_copy, "Prod/Platform", weaken)
    changes = _diff(assembly_copy, synthesized.outdir)
    # THEN its encryption at rest is weakened: a change that needs attention, not a routine property change
    (change,) = [c for c in changes.topic("protection") if c.subject == resource]
    assert (change.kind, change.level) == ("weakened", ATTENTION) and change.detail.startswith("at rest: ")


def test_a_profile_kept_by_model_retiring_for_a_second_release_is_a_review_item(
    example_synthesized: Synthesized, example_assembly_copy: Path, tmp_path: Path
) -> None:
    # GIVEN a profile of policy-qa's primary route that no function names (model.retiring keeps it)
    def keep_previous_primary(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        _, profile = _resource(
            template, "PolicyQaPrimaryProfile", "AWS::Bedrock::ApplicationInferenceProfile"
        )
        resources["PolicyQaPrimaryProfileRETIRING"] = json.loads(json.dumps(profile))

    mutate_template(example_assembly_copy, "Prod/Platform", keep_previous_primary)
    last = tmp_path / "last"
    shutil.copytree(example_assembly_copy, last)
    # WHEN the release that adds it is compared with one without it, it is an addition, not a reminder
    first = [
        c
        for c in _diff(example_assembly_copy, example_synthesized.outdir).changes
        if c.subject == "PolicyQaPrimaryProfileRETIRING"
    ]
    assert [c.kind for c in first] == ["added"]
    # WHEN the next release still keeps it, the entry is named for removal (a review item)
    (change,) = [
        c for c in _diff(example_assembly_copy, last).changes if c.subject == "PolicyQaPrimaryProfileRETIRING"
    ]
    assert (change.kind, change.level, change.use_case) == ("changed", REVIEW, "policy-qa")
    assert "kept by model.retiring in the last release too" in change.detail
    assert "remove `retiring: {primary: ...}` from contracts/policy-qa.yaml" in change.detail


def test_shorter_retention_and_a_removed_tls_policy_are_protection_and_permission_changes(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    def weaken(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        resources["InvocationLoggingLogGroupEDBFE163"]["Properties"]["RetentionInDays"] = 30
        policy = resources["InvocationLoggingBucketPolicyB5B55033"]["Properties"]["PolicyDocument"]
        policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] != "Deny"]

    mutate_template(assembly_copy, "Prod/Platform", weaken)
    changes = _diff(assembly_copy, synthesized.outdir)
    protection = {(c.subject, c.kind, c.level) for c in changes.topic("protection")}
    assert ("InvocationLoggingLogGroupEDBFE163", "shortened", REVIEW) in protection
    assert (BUCKET, "weakened", ATTENTION) in protection  # in transit: no longer TLS only
    assert {c.kind for c in changes.topic("access")} == {"widened"}  # a Deny removed widens access


@pytest.mark.slow  # >= ~1 CPU-second: two environments' review packs
def test_prod_against_staging_shows_only_real_differences(
    reports: dict[str, Report], config: PlatformConfig
) -> None:
    changes = reports["Prod"].changes
    assert changes is not None and changes.cross_environment
    staging_only = sorted(
        {c.id for c in config.contracts_for("staging")} - {c.id for c in config.contracts_for("prod")}
    )
    # Use cases Staging runs and Prod does not are gone, each one change that needs attention
    assert changes.removed_use_cases == staging_only and changes.new_use_cases == []
    for use_case in staging_only:
        head = changes.of_use_case(use_case)[0]
        assert (head.kind, head.level) == ("removed", ATTENTION)
        assert all(item.startswith(pascal(use_case)) for item in head.items)
    # On the platform, only the alarm e-mail subscription is removed (each environment notifies its own
    # address), the review path's alarms of the staging-only use cases (the shared HumanReview path
    # watches each use case) and the readiness gate's access (its probe queue and role: staging only,
    # issue 14); nothing is replaced, and the shared use cases have the same guardrails everywhere
    platform = changes.of_use_case("")
    review_alarms = tuple(f"HumanReviewMonitoring{pascal(u)}" for u in staging_only)
    removed = [
        (c.type, c.subject) for c in platform if c.topic == "resources" and c.kind in ("removed", "replaced")
    ]
    readiness = {t for t, subject in removed if subject.startswith("ReadinessGate")}
    assert {"AWS::SQS::Queue", "AWS::KMS::Key", "AWS::IAM::Role"} <= readiness
    # With enough use cases in Staging the orchestrator's grants outgrow a role's inline policy limit and
    # aws-cdk-lib splits them into managed policies (OverflowPolicy1, ...): those go with the grants.
    overflow = tuple(
        s for t, s in removed if t == "AWS::IAM::ManagedPolicy" and "ServiceRoleOverflowPolicy" in s
    )
    assert not overflow or staging_only

    # The API's idempotency alarm watches the use cases that accept an Idempotency-Key (their contract lets
    # answers be stored): it goes where Staging has such a use case and Prod has none
    def stores(env: str) -> bool:
        return any(c.logging.prompts_and_responses for c in config.contracts_for(env))

    idempotency = ("OrchestrationApiMonitoringIdempotencySaveFailures",) * (
        stores("staging") and not stores("prod")
    )
    expected_elsewhere = (*review_alarms, "ReadinessGate", *overflow, *idempotency)
    assert [(t, s[:13]) for t, s in removed if not s.startswith(expected_elsewhere)] == [
        ("AWS::SNS::Subscription", "Notifications")
    ]
    review_removed = [s for _, s in removed if s.startswith(review_alarms)]
    assert len(review_removed) == 4 * len(staging_only)  # Backlog, OldestPending, RejectRate, LowScoreRate
    assert {(c.use_case, c.kind) for c in changes.topic("guardrails")} == {
        (u, "removed") for u in staging_only
    }
    assert {c.kind for c in changes.topic("protection")} == {"lengthened"}  # 365 days in Prod, 90 in Staging
    # the staging-only use cases' grants are gone
    # and issue 14's environment access: production's release role (the canary bake's) is added, and the
    # readiness probe queue's policy (its TLS-only Deny, staging only) goes with the queue
    issue14 = {"CanaryReleaseRole557CD5E7", "ReadinessGateProbeQueueD328C959"}
    access = changes.topic("access")
    assert {c.subject for c in access if c.kind == "widened"} == issue14
    # the readiness gate's role, probe key and queue (staging only) lose their grants: narrowed whatever
    # the use cases; anything else narrowed is a staging-only use case's grants
    readiness_access = {
        c.subject for c in access if c.subject.startswith("ReadinessGate") and c.kind == "narrowed"
    }
    assert any(s.startswith("ReadinessGateRole") for s in readiness_access), readiness_access
    others = {c.kind for c in access if c.subject not in issue14 | readiness_access}
    assert others == ({"narrowed"} if staging_only else set())
    assert reports["Staging"].changes is None


# ------------------------------------------------------------------ where the pack writes


def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_mtime_ns, path.stat().st_size)
        for root in roots
        for path in root.rglob("*")
    }


@pytest.mark.slow
def test_building_a_diff_writes_nothing(
    synthesized: Synthesized, assembly_copy: Path, tmp_path: Path
) -> None:
    # GIVEN two assemblies and an empty working directory
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = _snapshot(synthesized.outdir, assembly_copy)
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        reports = build_reports(assembly_copy, against=synthesized.outdir, against_env="Staging")
    finally:
        os.chdir(previous)
    # THEN building every report with a comparison wrote nothing anywhere
    assert _snapshot(synthesized.outdir, assembly_copy) == before and list(cwd.iterdir()) == []
    # AND writing puts exactly the pack's files under the assembly, nothing else
    written = write_reports(reports, assembly_copy / "review-pack")
    after = _snapshot(synthesized.outdir, assembly_copy)
    assert set(after) - set(before) == {str(assembly_copy / "review-pack"), *(str(p) for p in written)}


@pytest.mark.slow
def test_the_cli_writes_under_the_assembly_and_refuses_other_places(
    synthesized: Synthesized, assembly_copy: Path, tmp_path: Path, capsys: Any
) -> None:
    args = ["--env", "Prod", "--against", str(synthesized.outdir), "--commit", "abc123"]
    # by default into <assembly>/review-pack
    assert main([str(assembly_copy), *args]) == 0
    out = assembly_copy / "review-pack"
    assert sorted(p.name for p in out.iterdir()) == ["Prod.html", "Prod.md"]
    assert "Commit | abc123" in (out / "Prod.md").read_text()
    printed = capsys.readouterr().out
    assert "Prod vs Prod: needs attention: 0, review: 0, routine: 0" in printed
    # outside the assembly: refused, with the fix, unless asked for explicitly
    elsewhere = tmp_path / "pack"
    assert main([str(assembly_copy), "--out", str(elsewhere), *args]) == 2
    error = capsys.readouterr().err
    assert "is outside the assembly" in error and "Fix: --out" in error and not elsewhere.exists()
    assert main([str(assembly_copy), "--out", str(elsewhere), "--out-outside-assembly", *args]) == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["Prod.html", "Prod.md"]
    # never into the baseline, even when asked
    baseline = tmp_path / "baseline"
    shutil.copytree(synthesized.outdir, baseline)
    target = baseline / "review-pack"
    assert (
        main(
            [
                str(assembly_copy),
                "--out",
                str(target),
                "--out-outside-assembly",
                "--env",
                "Prod",
                "--against",
                str(baseline),
            ]
        )
        == 2
    )
    assert "inside the baseline assembly" in capsys.readouterr().err and not target.exists()
    # an unknown environment is an error, not an empty pack, named as typed, with the ones there are
    capsys.readouterr()
    assert main([str(assembly_copy), "--env", "Nope"]) == 2
    error = capsys.readouterr().err
    assert (
        f"compliance.report: no environment Nope in {assembly_copy} (it has: Delivery, Dev, Prod, Staging)"
        in error
    )
    assert main([str(assembly_copy), "--env", "Prod", "--against-env", "Stagin"]) == 2
    error = capsys.readouterr().err
    assert (
        f"compliance.report: environment 'Stagin' is not in {assembly_copy} (it has: Delivery, Dev," in error
    )


@pytest.mark.slow
def test_in_a_pipeline_step_the_pack_shows_the_readiness_run_of_its_commit_as_met_and_no_other(
    assembly_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platform_config import load_platform
    from platform_spec.delivery import SOURCE_COMMIT_VARIABLE
    from tests.support.evaluation_results import passing, run_result

    # GIVEN a pipeline step: no .git where the pack is written, the execution's commit in SOURCE_COMMIT, and
    # the readiness gate's run against staging of every suite that production deploys
    commit = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SOURCE_COMMIT_VARIABLE, commit)
    config = load_platform(ROOT)
    results = tmp_path / "results.json"

    def evidence(measured: str) -> str:
        run = run_result(passing(config), target="staging", commit=measured)
        results.write_text(json.dumps(to_dict(run)), encoding="utf-8")
        assert main([str(assembly_copy), "--env", "Prod", "--evaluation-results", str(results)]) == 0
        pack = (assembly_copy / "review-pack" / "Prod.md").read_text(encoding="utf-8")
        assert f"Commit | {commit}" in pack  # the header names the execution's commit, not "unknown"
        (line,) = [row for row in pack.splitlines() if "EVAL-QUALITY-GATE" in row]
        return line

    # THEN the run of the candidate's commit is the evidence the gates are met
    met = evidence(commit)
    assert "PASS" in met and "quality gates met (run against staging, commit 0123456789ab" in met, met
    # AND a run of another commit, however green, is not
    other = evidence("f" * 40)
    assert "NOT RUN" in other and "this pack is of commit 0123456789ab" in other, other


def test_the_cli_reads_the_commit_from_git_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.report.__main__ import git_commit
    from platform_spec.delivery import SOURCE_COMMIT_VARIABLE

    # this checkout's commit: git's, or, in the delivery pipeline's build step (no .git), SOURCE_COMMIT's
    head = git_commit(Path(__file__).parent)
    assert len(head.split(" ")[0]) == 40, head
    monkeypatch.delenv(SOURCE_COMMIT_VARIABLE, raising=False)
    assert git_commit(tmp_path).startswith("unknown (not a git checkout")


# ------------------------------------------------------------------ human review


def _high_risk_use_case(runtime: Path) -> str:
    document = json.loads(runtime.read_text())
    held = [uc for uc, spec in document["use_cases"].items() if spec["contract"]["risk_tier"] == "high"]
    assert held, "the examples deploy a high-risk use case to staging (rfp-drafting)"
    return str(held[0])


def test_a_high_risk_use_case_let_through_unreviewed_needs_attention_and_fails_its_evidence(
    example_synthesized: Synthesized, example_assembly_copy: Path
) -> None:
    # GIVEN staging's high-risk use case, as deployed, every output reviewed and held
    runtime = _runtime_config(example_assembly_copy, "staging")
    use_case = _high_risk_use_case(runtime)
    before = load_environment(example_synthesized.outdir, "Staging", topics=TOPICS)
    assert controls.evaluate_evidence(before)["REVIEW-HIGH-RISK"].status == "PASS"
    # WHEN its deployed configuration stops holding answers and sends only flagged outputs, the
    # high-risk flag off
    document = json.loads(runtime.read_text())
    review = document["use_cases"][use_case]["contract"]["review"]
    review.update(mode="flagged", hold_for_review=False)
    review["flags"]["high_risk"] = False
    runtime.write_text(json.dumps(document))
    # THEN the release diff says so, as a change that needs attention
    changes = _diff(example_assembly_copy, example_synthesized.outdir, "Staging")
    (change,) = [c for c in changes.changes if c.topic == "human-review"]
    assert change.level == ATTENTION and change.use_case == use_case
    assert "answers no longer held" in change.detail and "fewer outputs go to people" in change.detail
    assert "can now reach callers unreviewed" in change.detail
    # and the control evidence fails, naming the use case
    after = controls.evaluate_evidence(load_environment(example_assembly_copy, "Staging", topics=TOPICS))
    assert after["REVIEW-HIGH-RISK"].status == "FAIL" and use_case in after["REVIEW-HIGH-RISK"].detail


def test_a_use_case_retired_with_items_for_reviewers_says_what_is_stranded(
    example_synthesized: Synthesized, example_assembly_copy: Path, example_reports: dict[str, Report]
) -> None:
    # GIVEN staging's use case that holds every answer for review, gone from the deployed configuration (a
    # release that retires it, or takes staging out of its `environments`)
    runtime = _runtime_config(example_assembly_copy, "staging")
    use_case = _high_risk_use_case(runtime)
    document = json.loads(runtime.read_text())
    del document["use_cases"][use_case]
    runtime.write_text(json.dumps(document))
    # THEN the release diff says, as a change that needs attention, what happens to its items: no alarm
    # watches them any more, and callers can no longer fetch held answers (404 for a use case the
    # configuration lacks), so they are settled before the release
    (change,) = [
        c
        for c in _diff(example_assembly_copy, example_synthesized.outdir, "Staging").changes
        if c.topic == "human-review"
    ]
    assert (change.level, change.kind, change.use_case) == (ATTENTION, "removed", use_case)
    assert "pending" in change.detail and "configured: false" in change.detail and "alarms" in change.detail
    assert "held answers (404" in change.detail and "before this release" in change.detail
    # AND a use case another environment has and this one does not is no such change (prod against staging)
    prod = example_reports["Prod"].changes
    assert prod is not None and prod.cross_environment
    assert [c for c in prod.changes if c.topic == "human-review" and c.kind == "removed"] == []


def test_a_longer_review_sla_needs_attention_and_a_shorter_one_is_for_review(
    example_synthesized: Synthesized, example_assembly_copy: Path
) -> None:
    runtime = _runtime_config(example_assembly_copy, "staging")
    use_case = _high_risk_use_case(runtime)
    document = json.loads(runtime.read_text())
    sla = document["use_cases"][use_case]["contract"]["review"]["sla_hours"]
    for hours, level in ((sla + 24, ATTENTION), (max(1, sla - 1), REVIEW)):
        document["use_cases"][use_case]["contract"]["review"]["sla_hours"] = hours
        runtime.write_text(json.dumps(document))
        (change,) = [
            c
            for c in _diff(example_assembly_copy, example_synthesized.outdir, "Staging").changes
            if c.topic == "human-review"
        ]
        assert change.level == level, change


@pytest.mark.parametrize(
    ("resource_type", "attribute", "before", "after", "expected"),
    [
        # Snapshot backs up only the types that have snapshots; elsewhere it deletes, as Delete does
        ("AWS::S3::Bucket", "DeletionPolicy", "Delete", "Snapshot", ("changed", REVIEW)),
        ("AWS::DynamoDB::Table", "DeletionPolicy", "Snapshot", "Delete", ("changed", REVIEW)),
        ("AWS::DynamoDB::Table", "UpdateReplacePolicy", "Retain", "Snapshot", ("weakened", ATTENTION)),
        ("AWS::RDS::DBInstance", "DeletionPolicy", "Delete", "Snapshot", ("strengthened", ROUTINE)),
        ("AWS::RDS::DBInstance", "DeletionPolicy", "Retain", "Snapshot", ("weakened", ATTENTION)),
        # a DB cluster that names no DeletionPolicy is snapshotted: Delete written out is weaker
        ("AWS::RDS::DBCluster", "DeletionPolicy", None, "Delete", ("weakened", ATTENTION)),
        ("AWS::RDS::DBCluster", "DeletionPolicy", None, "Snapshot", None),
        # on replacement the default is Delete for every type
        ("AWS::RDS::DBCluster", "UpdateReplacePolicy", None, "Delete", None),
        ("AWS::S3::Bucket", "DeletionPolicy", "RetainExceptOnCreate", "Retain", ("changed", REVIEW)),
        # a value that is not one of the four (an intrinsic function) is not shown to keep anything
        (
            "AWS::S3::Bucket",
            "DeletionPolicy",
            "Retain",
            {"Fn::If": ["Prod", "Retain", "Delete"]},
            ("weakened", ATTENTION),
        ),
    ],
)
def test_a_policy_pair_is_classified_by_what_each_keeps_of_that_type(
    resource_type: str, attribute: str, before: Any, after: Any, expected: tuple[str, str] | None
) -> None:
    from compliance.report.topics.protection import OnDelete, ProtectionFacts, diff_protection

    def facts(policy: Any) -> ProtectionFacts:
        on_delete = (
            OnDelete("Data", resource_type, True, policy, None)
            if attribute == "DeletionPolicy"
            else OnDelete("Data", resource_type, True, "Retain", policy)
        )
        return ProtectionFacts(resources=(), production=True, on_delete=(on_delete,))

    matching: Any = type("M", (), {"pairs": {"Data": "Data"}, "norm_now": str, "norm_then": str})()
    changes = diff_protection(facts(after), facts(before), matching)
    assert [(c.kind, c.level) for c in changes] == ([] if expected is None else [expected])


def _review_api(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The review API function (the one with USE_CASE_GUARDRAILS) of a template."""
    ((logical_id, function),) = [
        (k, r)
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
        and "USE_CASE_GUARDRAILS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return logical_id, function


def _drop_apply_guardrail(template: dict[str, Any]) -> None:
    """The review API role's ApplyGuardrail statements removed."""
    _, function = _review_api(template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [
                s for s in document["Statement"] if "bedrock:ApplyGuardrail" not in json.dumps(s["Action"])
            ]


def _swap_guardrails(template: dict[str, Any]) -> None:
    """Every use case's corrections checked with the last use case's guardrail (prod's text-storing use
    case, policy-qa, comes first)."""
    _, function = _review_api(template)
    variables = function["Properties"]["Environment"]["Variables"]
    parts = variables["USE_CASE_GUARDRAILS"]["Fn::Join"][1]
    arns = [
        p for p in parts if isinstance(p, dict) and p.get("Fn::GetAtt", [None, None])[1] == "GuardrailArn"
    ]
    parts[:] = [arns[-1] if p in arns else p for p in parts]


@pytest.mark.parametrize(
    ("mutation", "says"),
    [
        (
            lambda t: _review_api(t)[1]["Properties"]["Environment"]["Variables"].pop("USE_CASE_GUARDRAILS"),
            "names no guardrail for its corrections",
        ),
        (_drop_apply_guardrail, "may not apply"),
        (_swap_guardrails, "not its own guardrail"),
    ],
    ids=["no-guardrails-variable", "no-apply-grant", "another-use-cases-guardrail"],
)
def test_the_evidence_that_corrections_meet_their_guardrail_fails_when_the_template_says_otherwise(
    example_synthesized: Synthesized,
    example_assembly_copy: Path,
    mutation: Callable[[dict[str, Any]], Any],
    says: str,
) -> None:
    # GIVEN the examples' prod as synthesized (policy-qa stores text): every text-storing use case's corrections checked with its own guardrail
    before = controls.evaluate_evidence(load_environment(example_synthesized.outdir, "Prod", topics=TOPICS))
    assert before["REVIEW-CORRECTIONS-GUARDED"].status == "PASS", before["REVIEW-CORRECTIONS-GUARDED"].detail
    # WHEN the review API's template no longer checks them so
    mutate_template(example_assembly_copy, "Prod/Platform", mutation)
    after = controls.evaluate_evidence(load_environment(example_assembly_copy, "Prod", topics=TOPICS))
    # THEN the evidence fails, saying why
    assert (
        after["REVIEW-CORRECTIONS-GUARDED"].status == "FAIL"
        and says in after["REVIEW-CORRECTIONS-GUARDED"].detail
    )
