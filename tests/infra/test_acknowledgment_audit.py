"""The acknowledgment audit (``make audit-acknowledgments``): an acknowledgment or cfn-lint ignore that
acknowledges no finding is found, with the line that made it; one in use is not; one applied around the
project's helpers is reported, as the audit cannot judge it. The whole app's audit runs in ``make test``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance.acknowledgments import Recorded, audit, covers, main, unused
from compliance.gate_result import Violation
from platform_config.markers import AUDIT_CONTEXT, AUDIT_METADATA, AUDIT_MODE

THIS_FILE = "tests/infra/test_acknowledgment_audit.py"
REASON = "The probe's reason: a constraint stated at length for the checks."


def _synth_with_acknowledgments(outdir: Path, *, auditing: bool, direct: bool = False) -> dict[str, int]:
    """A probe stack under cdk-nag's AwsSolutions pack: a queue whose AwsSolutions-SQS3 finding is
    acknowledged (in use) and whose AwsSolutions-S1 is acknowledged too (a bucket rule: nothing to
    acknowledge). Returns the line of each acknowledgment in this file."""
    import aws_cdk as cdk
    import cdk_nag
    from aws_cdk import aws_sqs as sqs

    from bedrock_constructs.nag import acknowledge
    from tests.support.synth import probe_app, probe_stack

    context: dict[str, object] = {"@aws-cdk/core:failSynthOnValidationErrors": False}
    if auditing:
        context[AUDIT_CONTEXT] = AUDIT_MODE
    app = probe_app(outdir, context=context)
    stack = probe_stack(app)
    queue = sqs.Queue(stack, "Plain", enforce_ssl=True)
    lines = {}
    lines["AwsSolutions-SQS3"] = _line() + 1
    acknowledge(queue, "AwsSolutions-SQS3", REASON)
    lines["AwsSolutions-S1"] = _line() + 1
    acknowledge(queue, "AwsSolutions-S1", REASON)
    if direct:
        cdk.Validations.of(queue).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SQS4", reason=REASON))
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    app.synth()
    return lines


def _line() -> int:
    import sys

    return sys._getframe(1).f_lineno


def test_the_audit_finds_the_acknowledgment_that_acknowledges_nothing_and_names_its_line(
    tmp_path: Path,
) -> None:
    # GIVEN an app synthesized for the audit, with one acknowledgment in use and one of a rule that never fires
    lines = _synth_with_acknowledgments(tmp_path, auditing=True)
    # WHEN the audit reads it
    result = audit(tmp_path)
    # THEN both were recorded (not applied), with the line that made each, and only the stale one is unused
    assert {(r.finding, r.construct_path, r.source) for r in result.recorded} == {
        (finding, "S/Plain", f"{THIS_FILE}:{line}") for finding, line in lines.items()
    }
    assert [(r.finding, r.construct_path) for r in result.unused] == [("AwsSolutions-S1", "S/Plain")]
    assert result.applied == []


def test_outside_the_audit_acknowledgments_are_applied_and_nothing_is_recorded(tmp_path: Path) -> None:
    from compliance.assembly_meta import stack_artifacts
    from compliance.check import nag_failures

    _synth_with_acknowledgments(tmp_path, auditing=False)
    assert AUDIT_METADATA not in (tmp_path / "S.metadata.json").read_text()
    # the acknowledgments are CDK's again, and the one in use hides its finding (the audit test above shows
    # the same synth reporting it when nothing is applied)
    assert {a.finding for a in stack_artifacts(tmp_path)["S"].acknowledgments()} == {
        "AwsSolutions-SQS3",
        "AwsSolutions-S1",
    }
    assert (tmp_path / "validation-report.json").is_file() and nag_failures(tmp_path) == []


def test_an_acknowledgment_made_around_the_helpers_is_reported(tmp_path: Path) -> None:
    # GIVEN an acknowledgment applied with CDK's own API in the audit synth (no reason check, not recorded)
    _synth_with_acknowledgments(tmp_path, auditing=True, direct=True)
    # THEN the audit says it cannot judge it instead of passing it silently
    (line,) = audit(tmp_path).applied
    assert "AwsSolutions-SQS4 on /S/Plain" in line and "bedrock_constructs.nag.acknowledge" in line


def test_a_cfn_lint_ignore_is_audited_as_the_gate_finding_it_would_ignore(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from bedrock_constructs.lint import ignore_cfn_lint_check
    from compliance.gate import add_gate
    from tests.support.synth import probe_app, probe_stack

    # GIVEN in an audit synth with the gate: a W3005 (a DependsOn its Ref already implies), ignored, and an
    # ignore of the same check on a resource that has no such DependsOn
    app = probe_app(
        tmp_path, context={AUDIT_CONTEXT: AUDIT_MODE, "@aws-cdk/core:failSynthOnValidationErrors": False}
    )
    stack = probe_stack(app)
    target = sqs.Queue(stack, "Target", enforce_ssl=True)
    source = sqs.Queue(
        stack,
        "Source",
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=target),
    )
    source.node.add_dependency(target)
    for queue in (source, target):
        resource = queue.node.default_child
        assert isinstance(resource, cdk.CfnResource)
        ignore_cfn_lint_check(resource, "W3005", "the probe's DependsOn that its Ref implies already")
    add_gate(app)
    app.synth()
    # THEN the template ignores nothing, and the ignore on the resource with the finding is in use
    template = json.loads((tmp_path / "S.template.json").read_text())
    assert not [r for r in template["Resources"].values() if "cfn-lint" in (r.get("Metadata") or {})]
    result = audit(tmp_path)
    assert {r.construct_path for r in result.recorded} == {"S/Source/Resource", "S/Target/Resource"}
    assert [(r.finding, r.construct_path) for r in result.unused] == [
        ("BedrockPlatform::CFN-LINT-W3005", "S/Target/Resource")
    ]


def _violation(plugin: str, rule: str, path: str) -> Violation:
    return Violation(plugin=plugin, rule=rule, construct_path=path, logical_id="", message="")


def _ack(finding: str, path: str) -> Recorded:
    return Recorded(stack="S", construct_path=path, finding=finding, reason=REASON, source="x.py:1")


@pytest.mark.parametrize(
    ("finding", "plugin", "rule", "path", "expected"),
    [
        # the construct itself, or one under it, as CDK and cdk-nag walk a finding's ancestors
        (
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions",
            "AwsSolutions-IAM5[Resource::*]",
            "S/Fn/Role",
            True,
        ),
        ("AwsSolutions-IAM5[Resource::*]", "AwsSolutions", "AwsSolutions-IAM5[Resource::*]", "S/Fn", True),
        # a sibling whose name starts with the same letters is not under it
        (
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions",
            "AwsSolutions-IAM5[Resource::*]",
            "S/FnRole",
            False,
        ),
        # another finding of the same rule is another id
        ("AwsSolutions-IAM5[Resource::*]", "AwsSolutions", "AwsSolutions-IAM5[Action::s3:*]", "S/Fn", False),
        # the gate's and CDK's own findings are acknowledged in their plugin's namespace
        ("BedrockPlatform::COST-TAGS", "BedrockPlatform", "COST-TAGS", "S/Fn", True),
        ("BedrockPlatform::COST-TAGS", "AwsSolutions", "COST-TAGS", "S/Fn", False),
        ("CloudFormation-Validate::W2512", "CloudFormation Validate", "W2512", "S/Fn", True),
        ("Annotation::@aws-cdk/aws-logs:w", "Construct Annotations", "@aws-cdk/aws-logs:w", "S/Fn", True),
    ],
)
def test_an_acknowledgment_covers_the_findings_cdk_would_acknowledge_with_it(
    finding: str, plugin: str, rule: str, path: str, expected: bool
) -> None:
    assert covers(_ack(finding, "S/Fn"), _violation(plugin, rule, path)) is expected
    assert (unused([_ack(finding, "S/Fn")], [_violation(plugin, rule, path)]) == []) is expected


def test_the_audit_of_a_checkout_with_a_bad_configuration_exits_2_with_the_loader_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    root = Path(__file__).resolve().parents[2]
    for name in ("cdk.json", "environments", "contracts", "prompts", "evals"):
        source = root / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    environment = sorted((tmp_path / "environments").glob("*.yaml"))[0]
    environment.write_text(environment.read_text() + "\nunknown_field_for_the_test: 1\n")
    assert main(["--root", str(tmp_path)]) == 2
    assert "unknown_field_for_the_test" in capsys.readouterr().err


def test_the_command_fails_naming_the_line_of_each_stale_acknowledgment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import compliance.acknowledgments as command

    lines: dict[str, int] = {}

    def probe(root: Path, outdir: Path) -> Path:  # the probe app in place of the whole app's audit synth
        lines.update(_synth_with_acknowledgments(outdir, auditing=True))
        return outdir

    monkeypatch.setattr(command, "synthesize_for_audit", probe)
    assert main(["--outdir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 acknowledgments acknowledge no finding" in err
    assert f"{THIS_FILE}:{lines['AwsSolutions-S1']}: AwsSolutions-S1 on /S/Plain" in err
    assert f":{lines['AwsSolutions-SQS3']}:" not in err and "Fix: remove each one at its source line" in err


def test_an_acknowledgment_on_a_stage_or_the_app_is_refused_or_reported(tmp_path: Path) -> None:
    import aws_cdk as cdk
    import cdk_nag
    from aws_cdk import aws_sqs as sqs

    from bedrock_constructs.nag import acknowledge
    from compliance.acknowledgments import record_outside_stacks
    from tests.support.synth import probe_app, probe_environment

    # GIVEN a Stage whose stack has a queue with a real AwsSolutions-SQS3 finding, in an audit synth
    app = probe_app(
        tmp_path, context={AUDIT_CONTEXT: AUDIT_MODE, "@aws-cdk/core:failSynthOnValidationErrors": False}
    )
    stage = cdk.Stage(app, "Dev", env=probe_environment())
    sqs.Queue(cdk.Stack(stage, "S"), "Plain", enforce_ssl=True)
    # THEN the helper refuses an acknowledgment on the Stage or the App (cdk-nag would apply it to every stack
    # under it, and no stack artifact records it)
    for scope in (stage, app):
        with pytest.raises(ValueError, match="not in a stack"):
            acknowledge(scope, "AwsSolutions-S1", REASON)
    # AND one made there with CDK's own API, which hides the queue's finding, is reported by the audit
    cdk.Validations.of(stage).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SQS3", reason=REASON))
    cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id="AwsSolutions-SQS4", reason=REASON))
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    app.synth()
    record_outside_stacks(app, tmp_path)
    applied = audit(tmp_path).applied
    assert len(applied) == 2, applied
    assert any(line.startswith("Annotation::AwsSolutions-SQS3 on /Dev:") for line in applied), applied
    assert any(line.startswith("Annotation::AwsSolutions-SQS4 on /:") for line in applied), applied


def test_an_acknowledgment_in_use_in_another_environment_is_not_reported_as_one_to_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import compliance.acknowledgments as command

    def probe(root: Path, outdir: Path) -> Path:
        # one construct code, two environments: the queue has a dead-letter queue only in Prod, so
        # AwsSolutions-SQS3 fires only in Dev, and the one acknowledgment line is in use there only
        import aws_cdk as cdk
        import cdk_nag
        from aws_cdk import aws_sqs as sqs

        from bedrock_constructs.nag import acknowledge
        from tests.support.synth import probe_app, probe_environment

        app = probe_app(
            outdir, context={AUDIT_CONTEXT: AUDIT_MODE, "@aws-cdk/core:failSynthOnValidationErrors": False}
        )
        for name, dead_letters in (("Dev", False), ("Prod", True)):
            stack = cdk.Stack(cdk.Stage(app, name, env=probe_environment()), "S")
            dlq = sqs.Queue(stack, "Dlq", enforce_ssl=True) if dead_letters else None
            queue = sqs.Queue(
                stack,
                "Plain",
                enforce_ssl=True,
                dead_letter_queue=dlq and sqs.DeadLetterQueue(max_receive_count=3, queue=dlq),
            )
            acknowledge(queue, "AwsSolutions-SQS3", REASON)
        cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
        app.synth()
        return outdir

    monkeypatch.setattr(command, "synthesize_for_audit", probe)
    assert main(["--outdir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    # the Prod copy is stale there, but the line is in use in Dev: removing it would break Dev's synth
    assert "AwsSolutions-SQS3 on /Prod/S/Plain (in use in Dev: do not remove it" in err, err


def test_a_root_without_cdk_json_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a wrong --root is bad usage (2), not "some acknowledgment acknowledges nothing" (1) with a traceback
    assert main(["--root", str(tmp_path)]) == 2
    assert f"{tmp_path / 'cdk.json'} is missing" in capsys.readouterr().err
