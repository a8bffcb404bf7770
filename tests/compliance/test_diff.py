"""The diff catches what a reviewer must see, in the right group, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compliance.report.__main__ import main
from compliance.report.build import Report, build_reports
from compliance.report.diff import GROUPS, EnvironmentDiff, diff
from compliance.report.facts import collect
from platform_config import PlatformConfig
from platform_config.naming import pascal
from tests.compliance.conftest import mutate_template, rename_logical_id
from tests.infra.conftest import Synthesized

ROLE = "OrchestrationApiFunctionServiceRoleC7627CC8"
BUCKET = "InvocationLoggingBucketF12B4122"


def _resource(template: dict[str, Any], prefix: str, resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (lid, r)
        for lid, r in template["Resources"].items()
        if lid.startswith(prefix) and r["Type"] == resource_type
    ]
    return found


def _prod_diff(mutated: Path, original: Path) -> EnvironmentDiff:
    return diff(collect(mutated, "Prod", lint=False), collect(original, "Prod", lint=False))


def _groups(changes: EnvironmentDiff) -> dict[str, int]:
    return {key: len(changes.group(key)) for key, _ in GROUPS}


def test_an_unchanged_assembly_has_no_changes(synthesized: Synthesized, assembly_copy: Path) -> None:
    changes = _prod_diff(assembly_copy, synthesized.outdir)
    assert changes.changes == []


def test_a_wildcard_on_bedrock_invoke_is_a_widened_permission(
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
    # WHEN it is compared with the assembly it came from
    changes = _prod_diff(assembly_copy, synthesized.outdir)
    # THEN exactly the two invoke actions on "*" are reported as widened, flagged as wildcards, and nothing else
    widened = changes.group("permissions")
    assert {(c.resource, c.kind, c.wildcard) for c in widened} == {(ROLE, "widened", True)}
    assert sorted(c.detail.split(" on ")[0] for c in widened) == [
        "+ Allow bedrock:InvokeModel",
        "+ Allow bedrock:InvokeModelWithResponseStream",
    ]
    assert all(" on * " in c.detail and "[UNRESTRICTED WILDCARD]" in c.detail for c in widened)
    assert _groups(changes) == {"replaced": 0, "permissions": 2, "guardrails": 0, "protection": 0, "other": 0}


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
    changes = _prod_diff(assembly_copy, synthesized.outdir).group("permissions")
    summary = {(c.kind, c.detail.split(" on ")[0]) for c in changes}
    assert ("widened", "+ Allow bedrock:UpdateGuardrail") in summary
    assert ("narrowed", "- Allow xray:PutTelemetryRecords") in summary
    # UpdateGuardrail on the guardrail of each use case that Prod runs, and on the enforced baseline
    assert len([c for c in changes if c.kind == "widened"]) == len(config.contracts_for("prod")) + 1


def test_a_weakened_guardrail_is_reported_in_the_guardrail_group(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN policy-qa's HATE input filter goes from HIGH to LOW and the prompt attack filter is removed
    guardrail_id = ""

    def weaken(template: dict[str, Any]) -> None:
        nonlocal guardrail_id
        guardrail_id, guardrail = _resource(template, "PolicyQaGuardrail", "AWS::Bedrock::Guardrail")
        filters = guardrail["Properties"]["ContentPolicyConfig"]["FiltersConfig"]
        next(f for f in filters if f["Type"] == "HATE")["InputStrength"] = "LOW"
        filters[:] = [f for f in filters if f["Type"] != "PROMPT_ATTACK"]

    mutate_template(assembly_copy, "Prod/Platform", weaken)
    changes = _prod_diff(assembly_copy, synthesized.outdir)
    # THEN both are "weakened" changes of that guardrail, and no permission changed
    assert {(c.resource, c.kind, c.detail) for c in changes.group("guardrails")} == {
        (guardrail_id, "weakened", "HATE input filter lowered HIGH -> LOW"),
        (guardrail_id, "weakened", "content filter PROMPT_ATTACK removed (was input HIGH, output NONE)"),
    }
    assert changes.group("permissions") == []


def test_a_renamed_bucket_is_a_replaced_stateful_resource_listed_first(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invocation-log bucket's logical ID changes and an alarm disappears
    def remove_alarm(template: dict[str, Any]) -> None:
        alarm_id, _ = _resource(template, "OrchestrationApiMonitoringApi5xxAlarm", "AWS::CloudWatch::Alarm")
        del template["Resources"][alarm_id]

    rename_logical_id(assembly_copy, "Prod/Platform", BUCKET, "InvocationLogBucketRenamed")
    mutate_template(assembly_copy, "Prod/Platform", remove_alarm)
    changes = _prod_diff(assembly_copy, synthesized.outdir)
    replaced = changes.group("replaced")
    # THEN the stateful replacement comes first, then the stateless removal
    assert [(c.resource, c.kind, c.stateful) for c in replaced] == [
        ("InvocationLogBucketRenamed", "replaced", True),
        (replaced[1].resource, "removed", False),
    ]
    assert BUCKET in replaced[0].detail and "Retain on delete" in replaced[0].detail
    # AND the report shows it in the first changes table, before everything else
    reports = build_reports(assembly_copy, environments=["Prod"], against=synthesized.outdir, lint=False)
    markdown = reports["Prod"].markdown()
    assert markdown.index("Resources replaced or removed") < markdown.index("## Summary")
    first_row = next(line for line in markdown.splitlines() if line.startswith("| `"))
    assert "InvocationLogBucketRenamed" in first_row and "REPLACED" in first_row


def test_a_removed_stateful_resource_without_construct_metadata_is_still_listed_first(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # A template edited by hand (no metadata to pair it by): the bucket is "removed", still first.
    def rename(template: dict[str, Any]) -> None:
        template["Resources"]["HandEditedBucket"] = template["Resources"].pop(BUCKET)
        alarm_id, _ = _resource(template, "OrchestrationApiMonitoringApi5xxAlarm", "AWS::CloudWatch::Alarm")
        del template["Resources"][alarm_id]

    mutate_template(assembly_copy, "Prod/Platform", rename)
    replaced = _prod_diff(assembly_copy, synthesized.outdir).group("replaced")
    assert (replaced[0].resource, replaced[0].kind, replaced[0].stateful) == (BUCKET, "removed", True)
    assert [c.stateful for c in replaced] == [True, False]


def test_a_changed_replacement_property_is_a_replacement(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    def new_source(template: dict[str, Any]) -> None:
        _, profile = _resource(
            template, "PolicyQaFallbackProfile", "AWS::Bedrock::ApplicationInferenceProfile"
        )
        source = profile["Properties"]["ModelSource"]["CopyFrom"]
        profile["Properties"]["ModelSource"]["CopyFrom"] = source.replace("nova-pro", "nova-lite")

    mutate_template(assembly_copy, "Prod/Platform", new_source)
    (change,) = _prod_diff(assembly_copy, synthesized.outdir).group("replaced")
    assert change.kind == "replaced" and "ModelSource" in change.detail and "nova-lite" in change.detail


def test_shorter_retention_and_a_removed_tls_policy_are_protection_and_permission_changes(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    def weaken(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        resources["InvocationLoggingLogGroupEDBFE163"]["Properties"]["RetentionInDays"] = 30
        policy = resources["InvocationLoggingBucketPolicyB5B55033"]["Properties"]["PolicyDocument"]
        policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] != "Deny"]

    mutate_template(assembly_copy, "Prod/Platform", weaken)
    changes = _prod_diff(assembly_copy, synthesized.outdir)
    protection = {(c.resource, c.kind) for c in changes.group("protection")}
    assert ("InvocationLoggingLogGroupEDBFE163", "shortened") in protection
    assert (BUCKET, "weakened") in protection  # in transit: no longer TLS only
    assert {c.kind for c in changes.group("permissions")} == {"widened"}  # a Deny removed widens access


def test_prod_against_staging_shows_only_real_differences(
    reports: dict[str, Report], config: PlatformConfig
) -> None:
    changes = reports["Prod"].changes
    assert changes is not None and changes.cross_environment
    staging_only = {pascal(c.id) for c in config.contracts_for("staging")} - {
        pascal(c.id) for c in config.contracts_for("prod")
    }
    # Only what Staging runs and Prod does not is removed: the use cases enabled in Staging only, and the
    # alarm e-mail subscription (each environment notifies its own address); nothing is replaced
    replaced = changes.group("replaced")
    assert {c.kind for c in replaced} == {"removed"}
    of_use_cases = [c for c in replaced if c.resource.startswith(tuple(staging_only))]
    others = [(c.type, c.resource[:13]) for c in replaced if c not in of_use_cases]
    assert others == [("AWS::SNS::Subscription", "Notifications")]
    guardrails = [c.resource for c in of_use_cases if c.type == "AWS::Bedrock::Guardrail"]
    assert sorted(
        name for name in staging_only for g in guardrails if g.startswith(f"{name}Guardrail")
    ) == sorted(staging_only)
    assert changes.group("guardrails") == []  # the shared use cases have the same policy everywhere
    assert {c.kind for c in changes.group("protection")} == {"lengthened"}  # 365 days in Prod, 90 in Staging
    # the staging-only use cases' grants
    assert {c.kind for c in changes.group("permissions")} == ({"narrowed"} if staging_only else set())
    assert reports["Staging"].changes is None


def test_cli_writes_the_selected_environment_with_its_changes(
    synthesized: Synthesized, assembly_copy: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "pack"
    assert (
        main(
            [
                str(assembly_copy),
                "--out",
                str(out),
                "--env",
                "Prod",
                "--against",
                str(synthesized.outdir),
                "--no-cfn-lint",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["Prod.html", "Prod.md"]
    assert "Prod vs Prod: resources replaced or removed: 0" in capsys.readouterr().out
    assert main([str(assembly_copy), "--out", str(out), "--env", "Nope", "--no-cfn-lint"]) == 2
