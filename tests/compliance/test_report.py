"""The review pack built from the real assembly and its gate result: complete, faithful to the templates,
escaped, and it re-runs nothing."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from compliance import lint
from compliance.assembly import StackTemplate
from compliance.bedrock_rules import RULES
from compliance.gate_result import read_gate_result
from compliance.lint import REASONS_KEY, LintRun
from compliance.report.__main__ import candidate as report_candidate
from compliance.report.build import Report, build_reports
from compliance.report.cfn import parse_joined_json
from compliance.report.document import (
    BAD,
    WARN,
    Cell,
    Document,
    Paragraph,
    Row,
    Section,
    Table,
    cell,
    code,
    render_html,
    render_markdown,
)
from compliance.report.environment import Environment, load_environment
from compliance.report.matching import Matching
from compliance.report.topic import (
    ATTENTION,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    acknowledgment_anchor,
    verdict,
)
from compliance.report.topics import (
    TOPICS,
    access,
    acknowledgments,
    controls,
    deploy_checks,
    guardrails,
    inventory,
    invocation_logging,
    operations,
    protection,
)
from compliance.report.topics.evaluation import EvaluationFacts, EvaluationTopic
from compliance.report.topics.gate import NAG_PACK_NAMES
from compliance.report.topics.inventory import parse_model_source
from platform_config import PlatformConfig
from platform_config.catalog import ModelCatalog
from platform_config.evaluation import suite_names
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT, GATE_RESULT_FILE
from platform_spec.evaluation import RunResult
from tests.compliance.conftest import (
    ENVIRONMENTS,
    EVALUATED,
    META,
    Mutation,
    mutate_template,
    text_delivery_on,
)
from tests.infra.conftest import Synthesized
from tests.support.contracts import enabled_use_cases
from tests.support.synth import ROOT

FIXTURES = Path(__file__).with_name("fixtures")
OWASP_2025 = {f"LLM{n:02d}" for n in range(1, 11)}


def _templates(synthesized: Synthesized, env: str) -> list[dict[str, Any]]:
    return [s.template for s in synthesized.stacks if s.name.startswith(f"{env}/")]


def _table(report: Report, table_id: str) -> Table:
    (table,) = [t for t in report.document.tables() if t.id == table_id]
    return table


def _acknowledgments_in_metadata(synthesized: Synthesized, env: str) -> list[tuple[str, str, str]]:
    """Counted straight from the stack metadata files, independently of the gate and the report code."""
    found = []
    for metadata_file in synthesized.outdir.glob(f"assembly-{env}/*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.extend(
                        (path, key.removeprefix("Annotation::"), reason)
                        for key, reason in entry["data"].items()
                    )
    return found


def test_one_html_and_one_markdown_file_per_environment(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(
        f"{env}{suffix}" for env in (*ENVIRONMENTS, "Delivery") for suffix in (".html", ".md")
    )  # and the delivery pipeline's stack (issue 14)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_resource_of_every_template_appears_in_both_formats(
    synthesized: Synthesized, report_dir: Path, env: str
) -> None:
    html_text = (report_dir / f"{env}.html").read_text()
    markdown = (report_dir / f"{env}.md").read_text()
    logical_ids = [lid for template in _templates(synthesized, env) for lid in template["Resources"]]
    assert len(logical_ids) > 80
    assert [lid for lid in logical_ids if lid not in html_text] == []
    assert [lid for lid in logical_ids if lid not in markdown] == []


# ------------------------------------------------------------------ one gate result, nothing re-run


@pytest.mark.slow
def test_the_pack_reads_the_gate_result_and_runs_no_check(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN cfn-lint and every Bedrock rule would fail loudly if anything ran them
    import cfnlint.api

    import compliance.bedrock_rules as rules
    import compliance.lint as lint
    from compliance import check

    def ran(*_: object, **__: object) -> None:
        raise AssertionError("the review pack ran a check again")

    monkeypatch.setattr(cfnlint.api, "lint_file", ran)
    monkeypatch.setattr(lint, "lint_template", ran)
    monkeypatch.setattr(lint.LintRun, "__init__", ran)
    monkeypatch.setattr(rules, "run_rules", ran)
    for name in list(rules.RULES):
        monkeypatch.setitem(rules.RULES, name, ran)
    # WHEN every environment's pack is built, with a comparison, and `python -m compliance.check` reads it too
    reports = build_reports(synthesized.outdir, against_env="Staging", meta=META)
    summary = check.run(synthesized.outdir)
    assert summary["cfn_lint"] == [] and summary["gate"] == []
    # THEN it shows every check's result, read from what the gate wrote at synth
    gate = json.loads((synthesized.outdir / GATE_RESULT_FILE).read_text())
    for report in reports.values():
        results = {row[0].text: row[1].text for row in _table(report, "gate-checks").rows}
        assert results == {
            **{f"cdk-nag {pack}": "PASS" for pack in NAG_PACK_NAMES},
            "cfn-lint": "PASS",
            **{rule: "PASS" for rule in gate["rules"]},
        }
        assert set(gate["rules"]) == {*RULES, "BEDROCK-GUARDRAIL-VERSION"}


def _add_violation(assembly: Path, plugin: str, rule: str, construct_path: str, logical_id: str) -> None:
    path = assembly / "validation-report.json"
    report = json.loads(path.read_text())
    report["pluginReports"].append(
        {
            "pluginName": plugin,
            "conclusion": "failure",
            "violations": [
                {
                    "ruleName": rule,
                    "description": "a finding planted by the test",
                    "fix": "remove it",
                    "violatingConstructs": [
                        {"constructPath": construct_path, "cloudFormationResource": {"logicalId": logical_id}}
                    ],
                }
            ],
        }
    )
    path.write_text(json.dumps(report))


def test_an_unacknowledged_finding_in_the_gate_result_fails_the_verdict(assembly_copy: Path) -> None:
    # GIVEN the gate reported a cfn-lint warning and a cdk-nag finding on a Prod resource, and none in Dev
    bucket = "InvocationLoggingBucketF12B4122"
    _add_violation(
        assembly_copy, "BedrockPlatform", "CFN-LINT-W1234", "/Prod/Platform/Bucket/Resource", bucket
    )
    _add_violation(assembly_copy, "AwsSolutions", "AwsSolutions-S1", "/Prod/Platform/Bucket/Resource", bucket)
    reports = build_reports(assembly_copy, environments=["Dev", "Prod"])
    prod = reports["Prod"]
    # THEN Prod's checks show both, its verdict fails, and each is a red flag of the summary
    results = {row[0].text: (row[1].text, row[2].text) for row in _table(prod, "gate-checks").rows}
    assert results["cfn-lint"][0] == "FAIL" and "CFN-LINT-W1234" in results["cfn-lint"][1]
    assert results["cdk-nag AwsSolutions"][0] == "FAIL" and bucket in results["cdk-nag AwsSolutions"][1]
    assert prod.markdown().split("## Summary", 1)[1].lstrip().startswith("**Verdict: FAIL. 2 unacknowledged")
    flagged = {flag.label for flag in prod.red_flags}
    assert {"cfn-lint", "cdk-nag AwsSolutions"} <= flagged
    # AND Dev, which has no finding, still passes
    assert "Verdict: PASS" in reports["Dev"].markdown()


def test_a_finding_of_cdks_own_validation_is_named_as_its_plugin_and_fails_the_verdict(
    assembly_copy: Path,
) -> None:
    # GIVEN CDK's built-in CloudFormation Validate reported W2512 (a warning: CDK prints it and synth goes on)
    policy = "InvocationLoggingBucketF12B4122"
    _add_violation(
        assembly_copy, "CloudFormation Validate", "W2512", "/Prod/Platform/Bucket/Resource", policy
    )
    prod = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN it has a row of its own, not a cdk-nag pack's, and the verdict fails on it
    results = {row[0].text: (row[1].text, row[2].text) for row in _table(prod, "gate-checks").rows}
    assert (
        results["CloudFormation Validate"][0] == "FAIL" and "W2512" in results["CloudFormation Validate"][1]
    )
    assert not [label for label in results if label.startswith("cdk-nag CloudFormation")]
    assert "Verdict: FAIL" in prod.markdown()


def test_without_the_gate_result_nothing_is_claimed(assembly_copy: Path) -> None:
    # GIVEN a synth that skipped the gate (-c compliance-checks=off): no bedrock-platform-gate.json
    (assembly_copy / GATE_RESULT_FILE).unlink()
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    markdown = report.markdown()
    assert "Verdict: NOT VERIFIED" in markdown and "did not run the compliance gate" in markdown
    assert dict(report.document.meta)["Tools (as the gate recorded them at synth)"].startswith("unknown")
    results = {row[0].text: row[1].text for row in _table(report, "gate-checks").rows}
    assert results["cfn-lint"] == "NOT RUN" and results["BEDROCK-COST-TAGS"] == "NOT RUN"
    assert controls.evaluate_evidence(report.environment)["CFN-LINT"].status == "NOT RUN"


def test_a_template_changed_after_the_gate_checked_it_is_not_verified(assembly_copy: Path) -> None:
    # GIVEN Prod's template edited after synth (a bucket policy's TLS deny dropped): the gate's result is
    # about the template it checked, not this one
    def drop_deny(template: dict[str, Any]) -> None:
        policy = template["Resources"]["InvocationLoggingBucketPolicyB5B55033"]["Properties"]
        policy["PolicyDocument"]["Statement"] = [
            s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] != "Deny"
        ]

    mutate_template(assembly_copy, "Prod/Platform", drop_deny)
    reports = build_reports(assembly_copy, environments=["Dev", "Prod"])
    # THEN Prod's verdict is not PASS: it names the changed template; Dev, unchanged, still passes
    markdown = reports["Prod"].markdown()
    assert "Verdict: NOT VERIFIED" in markdown and "Prod/Platform" in markdown.split("## Summary", 1)[1][:600]
    assert "Verdict: PASS" in reports["Dev"].markdown()
    # and `python -m compliance.check` (the governance gate reads the same result) fails, saying what to do
    (problem,) = read_gate_result(assembly_copy).problems
    assert "changed after the compliance gate checked it" in problem and "Fix: synthesize again" in problem


# ------------------------------------------------------------------ header and summary


def test_the_header_names_commit_date_and_the_tools_the_gate_ran(
    synthesized: Synthesized, reports: dict[str, Report], report_dir: Path
) -> None:
    tools = json.loads((synthesized.outdir / GATE_RESULT_FILE).read_text())["tools"]
    assert tools["aws-cdk-lib"] and tools["cdk-nag"] and tools["cfn-lint"]
    for env in ENVIRONMENTS:
        meta = dict(reports[env].document.meta)
        assert meta["Commit"] == META.commit
        assert meta["Generated"] == "2026-11-30T09:00:00+00:00"
        versions = meta["Tools (as the gate recorded them at synth)"]
        for tool in ("aws-cdk-lib", "cdk-nag", "cfn-lint"):
            assert f"{tool} {tools[tool]}" in versions
        # the tests synthesize without the CLI, so the gate could not know it
        assert "aws-cdk CLI not recorded" in versions
        for suffix in (".md", ".html"):
            text = (report_dir / f"{env}{suffix}").read_text()
            assert META.commit in text and f"cfn-lint {tools['cfn-lint']}" in text


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_summary_fits_one_screen_before_the_detail(reports: dict[str, Report], env: str) -> None:
    markdown = reports[env].markdown()
    summary = markdown.split('<a id="summary"></a>', 1)[1].split("\n<a id=", 1)[0]
    assert len(summary.strip().splitlines()) <= 40
    assert markdown.index("## Summary") < markdown.index("## Compliance gate")
    # verdict, counts and red flags, in that order
    assert summary.index("Verdict: PASS") < summary.index("| What |") < summary.index("| Red flag |")


def test_the_pack_names_what_only_the_deployed_account_can_prove(example_reports: dict[str, Report]) -> None:
    prod, dev = (example_reports[env].facts(deploy_checks.TOPIC).checks for env in ("Prod", "Dev"))
    for checks in (prod, dev):
        relied = " | ".join(c.what for c in checks)
        assert "An alarm reaches a person" in relied and "application inference profile" in relied
        assert "enforced guardrail" in relied and "source identity" in relied
        assert "only masked" in relied  # support-ticket-summary anonymizes names in both
        assert "X-Ray trace shows its Bedrock calls" in relied  # the orchestrator is traced in both
        assert "hidden in a grounded use case's context" in relied  # policy-qa is grounded in both
        assert "largest context (200,000 characters)" in relied  # the grounding check's own limits
        assert "look-alike letters" in relied  # policy-qa has word filters in both
        assert "returns the call's nonce" in relied  # model-graded use cases are scored live in both
        assert all(c.how and c.why for c in checks)
    # only where releases are baked (Prod) does the pack rely on the bake reading per-version metrics
    assert [c for c in prod if "canary bake" in c.what] and not [c for c in dev if "canary bake" in c.what]
    markdown = example_reports["Prod"].markdown()
    assert "## After the first deploy: what this pack cannot prove" in markdown
    assert "ExecutedVersion" in markdown.split('<a id="deploy-checks"></a>', 1)[1]


def test_each_red_flag_links_to_its_row_and_to_the_acknowledgment_that_explains_it(
    reports: dict[str, Report],
) -> None:
    for env in ENVIRONMENTS:
        report = reports[env]
        document = report.document
        anchors = document.anchors()
        # every link of the document points at an element of the document
        assert {link.target for link in document.links()} <= anchors
        assert report.red_flags and all(flag.anchor in anchors for flag in report.red_flags)
        acks = report.facts(acknowledgments.TOPIC).acknowledgments
        assert {acknowledgment_anchor(a) for a in acks} <= anchors
        # an unrestricted wildcard grant is explained by the IAM5 acknowledgment on its policy
        wildcard = [f for f in report.red_flags if f.flag == "UNRESTRICTED WILDCARD"]
        assert wildcard
        for flag in wildcard:
            assert [a.finding for a in flag.acknowledged] == ["AwsSolutions-IAM5[Resource::*]"]
        # and the flagged cell links there too
        (grants,) = [t for t in document.tables() if t.id == "access-grants"]
        flagged_links = {link.target for row in grants.rows for c in row if c.flag == BAD for link in c.links}
        assert flagged_links == {acknowledgment_anchor(a) for f in wildcard for a in f.acknowledged}


def test_a_global_profile_shows_its_region_wildcard_linked_to_its_acknowledgment(
    example_reports: dict[str, Report], example_config: PlatformConfig
) -> None:
    # the examples' app: one of them routes globally (the tests' copy where a fork retired it)
    report = example_reports["Dev"]
    global_routes = {
        f"{c.id}/{name}"
        for c in example_config.contracts_for("dev")
        for name, route in c.routes.items()
        if route.routes_globally
    }
    profiles = [p for p in report.facts(inventory.TOPIC).profiles if p.geography == "global"]
    assert global_routes and {f"{p.use_case}/{p.tags['route']}" for p in profiles} == global_routes
    for profile in profiles:
        assert "*" in profile.regions
        (flag,) = [f for f in report.red_flags if f.label == profile.logical_id]
        assert flag.flag == "ANY REGION"
        assert flag.acknowledged and all(
            a.finding.startswith("AwsSolutions-IAM5[Resource::arn:aws:bedrock:*::foundation-model/")
            for a in flag.acknowledged
        )
    assert "ANY REGION" in report.html()


def test_a_red_flag_without_an_acknowledgment_says_so(reports: dict[str, Report]) -> None:
    document = Document("t", [], [Section("s", "S", [Table("t", ["Resource", "Flag"])])])
    table = document.tables()[0]
    table.add(
        [cell("Nobody"), cell("bad", flag=BAD)], subjects=["NoSuchResource"], findings=["IAM5[Resource::*]"]
    )
    from compliance.report.summary import link_red_flags

    (flag,) = link_red_flags(document, reports["Prod"].facts(acknowledgments.TOPIC).acknowledgments)
    assert (flag.acknowledged, flag.related, flag.anchor) == ((), (), "t-row-1")


# ------------------------------------------------------------------ collapsed lists


def test_long_iam_lists_are_collapsed_in_both_formats(example_reports: dict[str, Report]) -> None:
    for env in ENVIRONMENTS:
        report = example_reports[env]
        cells = [
            c
            for t in report.document.tables()
            if t.id.startswith("access-")
            for row in t.rows
            for c in row
            if c.code and len(c.lines) > access.LONG_LIST
        ]
        assert all(c.collapsed for c in cells)
        html_text, markdown = report.html(), report.markdown()
        for c in cells:
            assert f"and {len(c.lines) - 3} more</summary>" in html_text
            assert f"_and {len(c.lines) - 3} more_" in markdown
    # the global profile's model is granted in every region it can route to: a long list in Dev
    assert any(
        c.collapsed
        for t in example_reports["Dev"].document.tables()
        if t.id == "access-grants"
        for row in t.rows
        for c in row
    )


def test_a_collapsed_cell_keeps_its_first_lines_and_folds_the_rest() -> None:
    items = [f"arn:aws:s3:::bucket-{n}/*" for n in range(9)]
    document = Document(
        "t",
        [],
        [
            Section(
                "s", "S", [Table("t", ["Resources"], [Row([Cell("\n".join(items), code=True, collapse=5)])])]
            )
        ],
    )
    html_text = render_html(document)
    shown, folded = html_text.split("<details>", 1)
    assert all(item in shown for item in items[:3]) and not any(item in shown for item in items[3:])
    assert "<summary>and 6 more</summary>" in folded and all(item in folded for item in items[3:])
    markdown = render_markdown(document)
    assert "_and 6 more_" in markdown and items[2] in markdown and items[3] not in markdown


# ------------------------------------------------------------------ acknowledgments and ignores


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_acknowledgment_is_listed_with_its_reason(
    synthesized: Synthesized, reports: dict[str, Report], env: str
) -> None:
    expected = _acknowledgments_in_metadata(synthesized, env)
    listed = [
        (a.construct_path, a.finding, a.reason)
        for a in reports[env].facts(acknowledgments.TOPIC).acknowledgments
    ]
    assert len(expected) > 40
    assert Counter(listed) == Counter(expected)
    table = _table(reports[env], "acknowledgments")
    assert len(table.rows) == len(expected)
    assert {row[4].text for row in table.rows} == {reason for *_, reason in expected}
    assert "Bedrock's Put/DeleteModelInvocationLoggingConfiguration" in reports[env].markdown()


def test_an_acknowledgment_names_the_resources_it_covers(reports: dict[str, Report]) -> None:
    acks = {
        ack.finding: ack.resources
        for ack in reports["Prod"].facts(acknowledgments.TOPIC).acknowledgments
        if "IAM5[Resource::*]" in ack.finding and "ConfigurationProvider" in ack.construct_path
    }
    assert acks == {
        "AwsSolutions-IAM5[Resource::*]": ("InvocationLoggingConfigurationProviderPolicy06FC9951",)
    }


def test_ignored_cfn_lint_checks_are_listed_with_their_reason(
    synthesized: Synthesized, reports: dict[str, Report]
) -> None:
    for env in ENVIRONMENTS:
        expected = {
            (lid, check, resource["Metadata"][REASONS_KEY][check])
            for template in _templates(synthesized, env)
            for lid, resource in template["Resources"].items()
            for check in resource.get("Metadata", {})
            .get("cfn-lint", {})
            .get("config", {})
            .get("ignore_checks", [])
        }
        listed = {
            (i.resource, i.check, i.reason) for i in reports[env].facts(acknowledgments.TOPIC).lint_ignores
        }
        assert expected and listed == expected


def test_the_report_names_the_packs_the_app_runs() -> None:
    from bedrock_constructs.lint import REASONS_KEY as construct_reasons_key
    from bedrock_constructs.nag import NAG_PACKS

    assert tuple(pack().read_pack_name for pack in NAG_PACKS) == NAG_PACK_NAMES
    assert construct_reasons_key == REASONS_KEY


# ------------------------------------------------------------------ Bedrock inventory, guardrails, logging


def test_invocation_logging_is_read_from_the_joined_create_call(
    reports: dict[str, Report], config: PlatformConfig
) -> None:
    (logging,) = reports["Prod"].facts(invocation_logging.TOPIC).settings
    assert logging.parse_error is None
    assert (logging.s3_bucket, logging.s3_prefix) == ("InvocationLoggingBucketF12B4122", "invocation-logs")
    assert (logging.large_data_bucket, logging.large_data_prefix) == (
        "InvocationLoggingBucketF12B4122",
        "large-data",
    )
    assert logging.log_group == "InvocationLoggingLogGroupEDBFE163"
    assert logging.role == "InvocationLoggingDeliveryRole7BF940C7"
    assert (logging.bucket_key, logging.log_group_key) == (
        "InvocationLoggingKeyEAF2C151",
        "InvocationLoggingKeyEAF2C151",
    )
    assert (logging.bucket_expiration_days, logging.log_retention_days) == (365, 365)
    # text is delivered only if every contract enabled in Prod allows prompt logging
    assert logging.delivery["text"] is all(
        c.logging.prompts_and_responses for c in config.contracts_for("prod")
    )


@pytest.mark.parametrize("limit", ["ObjectSizeGreaterThan", "ObjectSizeLessThan"])
def test_an_expiration_rule_limited_by_object_size_is_not_the_buckets_retention(
    assembly_copy: Path, limit: str
) -> None:
    # GIVEN the invocation log bucket's expiration rule limited to objects of some sizes: the others never expire
    def limit_rule(template: dict[str, Any]) -> None:
        bucket = template["Resources"]["InvocationLoggingBucketF12B4122"]["Properties"]
        for rule in bucket["LifecycleConfiguration"]["Rules"]:
            rule[limit] = 1024

    mutate_template(assembly_copy, "Prod/Platform", limit_rule)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN no expiration is claimed, and the evidence that the logs expire fails
    (setting,) = report.facts(invocation_logging.TOPIC).settings
    assert setting.bucket_expiration_days is None
    protected = {p.logical_id: p for p in report.facts(protection.TOPIC).resources}
    assert protected["InvocationLoggingBucketF12B4122"].retention.startswith("objects never expire")
    evidence = controls.evaluate_evidence(report.environment)["INVOCATION-LOGGING-PROTECTED"]
    assert evidence.status == "FAIL"


def test_joined_json_keeps_tokens_as_logical_ids() -> None:
    value = json.loads((FIXTURES / "joined_create_call.json").read_text())["value"]
    call, refs = parse_joined_json(value)
    config = call["parameters"]["loggingConfig"]
    assert config["s3Config"] == {"bucketName": "<LogBucket>", "keyPrefix": 'say "hi"'}
    assert config["cloudWatchConfig"]["roleArn"] == "<DeliveryRole.Arn>"
    assert config["imageDataDeliveryEnabled"] == "<ImageDeliveryParameter>"
    assert refs["<DeliveryRole.Arn>"] == {"DeliveryRole"}


def test_prompts_logged_shows_what_is_in_force(reports: dict[str, Report], config: PlatformConfig) -> None:
    report = reports["Prod"]
    text_delivery = report.facts(invocation_logging.TOPIC).text_delivery
    contracts = {c.id: c for c in config.contracts_for("prod")}
    rows = {row[0].text: row[6] for row in _table(report, "bedrock-runtime").rows}
    assert set(rows) == set(contracts)
    for use_case, logged in rows.items():
        allowed = contracts[use_case].logging.prompts_and_responses
        lines = logged.text.splitlines()
        # the orchestrator's own log line carries the text exactly where the contract allows it, to its log group
        assert lines[0].startswith(
            "orchestrator log: yes, OrchestrationApiFunctionLogs" if allowed else "orchestrator log: no"
        )
        # Bedrock's account-wide setting as synthesized, whatever the contract says
        assert lines[1].startswith(
            "Bedrock invocation logs: YES" if text_delivery else "Bedrock invocation logs: no"
        )
        assert lines[2] == "API Gateway request bodies: no"
        assert lines[3] == f"contract allows: {'yes' if allowed else 'no'}"
        assert logged.flag != BAD


@pytest.mark.parametrize("calls", [("Create",), ("Update",)], ids=["on-create", "on-update-only"])
def test_prompts_logged_against_the_contract_is_a_red_flag(
    example_assembly_copy: Path, example_config: PlatformConfig, calls: tuple[str, ...]
) -> None:
    # GIVEN Bedrock's account-wide text delivery turned on in Prod, where some contract forbids prompt logging
    # (by the Update call alone too: every deploy after the first makes that call, so it is what is in force);
    # the examples' app, which has such a contract whichever of the examples the repository still ships
    forbidding = sorted(
        c.id for c in example_config.contracts_for("prod") if not c.logging.prompts_and_responses
    )
    assert forbidding, "the examples' Prod contracts include one that forbids prompt logging"

    mutate_template(example_assembly_copy, "Prod/Platform", lambda t: text_delivery_on(t, calls))
    report = build_reports(example_assembly_copy, environments=["Prod"])["Prod"]
    # THEN each of those use cases is flagged, and the evidence check fails naming them
    rows = {row[0].text: row[6] for row in _table(report, "bedrock-runtime").rows}
    assert (
        sorted(u for u, c in rows.items() if c.flag == BAD and c.badge == "LOGGED, CONTRACT FORBIDS")
        == forbidding
    )
    assert {f.label for f in report.red_flags if f.flag == "LOGGED, CONTRACT FORBIDS"} == set(forbidding)
    evidence = controls.evaluate_evidence(report.environment)["TEXT-LOGGING-AS-CONTRACTED"]
    assert evidence.status == "FAIL" and all(u in evidence.detail for u in forbidding)


def test_inventory_shows_each_profile_with_its_source_regions_and_tags(
    example_synthesized: Synthesized, example_reports: dict[str, Report]
) -> None:
    profiles = example_reports["Prod"].facts(inventory.TOPIC).profiles
    expected = {
        lid
        for template in _templates(example_synthesized, "Prod")
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Bedrock::ApplicationInferenceProfile"
    }
    assert {p.logical_id for p in profiles} == expected
    primary = next(p for p in profiles if p.logical_id.startswith("PolicyQaPrimaryProfile"))
    assert primary.source.endswith(":inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert (primary.geography, primary.model_id) == ("us", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert {"us-east-1", "us-east-2", "us-west-2"} <= set(primary.regions)
    assert "*" not in primary.regions  # Prod has no global profile
    assert primary.tags["use-case"] == "policy-qa" and primary.tags["route"] == "primary"
    assert primary.invokable_by == ("OrchestrationApiFunctionServiceRoleC7627CC8",)
    # every profile of the shipped contracts is called by a function (routes by the orchestrator, the
    # judge by the scoring function): none is shown as retiring
    assert [p.logical_id for p in profiles if p.retiring] == []


def test_a_model_near_its_bedrock_end_of_life_is_flagged_for_review(
    example_reports: dict[str, Report],
) -> None:
    # The expectation comes from the model catalog, not from today's models: each profile's row gives its
    # model's end of life, flagged when it is within the notice period of the catalog's date.
    catalog = ModelCatalog.load()
    report = example_reports["Prod"]
    profiles = {p.logical_id: p for p in report.facts(inventory.TOPIC).profiles}
    table = _table(report, "bedrock-profiles")
    column = table.columns.index("Bedrock end of life")
    flagged = 0
    for row in table.rows:
        model_id = profiles[row[0].text].model_id
        assert model_id is not None
        eol_cell, date = row[column], catalog.end_of_life(model_id)
        if date is None:
            assert eol_cell.flag is None and eol_cell.text.startswith("none announced"), eol_cell.text
            continue
        days = (dt.date.fromisoformat(date) - dt.date.fromisoformat(catalog.retrieved)).days
        assert eol_cell.text.startswith(date)
        near = days <= inventory.END_OF_LIFE_NOTICE_DAYS
        assert (eol_cell.flag == WARN) is near and ("plan the migration" in eol_cell.text) is near
        flagged += near
    # the shipped prod contracts route to Claude Sonnet 4.5 (end of life 2027-04-08 in the catalog)
    assert flagged >= 1


def test_the_summary_names_every_model_near_or_past_its_end_of_life(
    example_reports: dict[str, Report],
) -> None:
    # A model the loader will refuse within a release cycle is a decision for the reviewer: the one-screen
    # summary names each such profile, not only its row deep in the inventory.
    catalog = ModelCatalog.load()
    for name, report in example_reports.items():
        facts = report.facts(inventory.TOPIC)
        counts = dict(inventory.TOPIC.counts(facts))
        line = counts["Models at or near their Bedrock end of life"]
        expected = []
        for p in facts.profiles:
            date = catalog.end_of_life(p.model_id) if p.model_id else None
            if date is None:
                continue
            days = (dt.date.fromisoformat(date) - dt.date.fromisoformat(catalog.retrieved)).days
            if days <= inventory.END_OF_LIFE_NOTICE_DAYS:
                expected.append((p.name, date))
        for profile_name, date in expected:
            assert f"{profile_name} ({date})" in line, (name, line)
        assert line.startswith(f"{len(expected)}"), (name, line)
        markdown = report.markdown()
        summary = markdown.split('<a id="summary"></a>', 1)[1].split("\n<a id=", 1)[0]
        assert "Models at or near their Bedrock end of life" in summary
    # the shipped prod contracts route to Claude Sonnet 4.5 (end of life 2027-04-08 in the catalog)
    assert not dict(inventory.TOPIC.counts(example_reports["Prod"].facts(inventory.TOPIC)))[
        "Models at or near their Bedrock end of life"
    ].startswith("0")


def test_a_profile_no_function_names_is_shown_as_retiring(example_assembly_copy: Path) -> None:
    # GIVEN a release that keeps the previous primary's profile under model.retiring: in the template, a
    # profile of the route that the orchestrator no longer names (only its role's policy does)
    def keep_previous_primary(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        lid = next(k for k in resources if k.startswith("PolicyQaPrimaryProfile"))
        resources["PolicyQaPrimaryProfileRETIRING"] = json.loads(json.dumps(resources[lid]))

    mutate_template(example_assembly_copy, "Prod/Platform", keep_previous_primary)
    report = build_reports(example_assembly_copy, environments=["Prod"], meta=META)["Prod"]
    retiring = [p.logical_id for p in report.facts(inventory.TOPIC).profiles if p.retiring]
    assert retiring == ["PolicyQaPrimaryProfileRETIRING"]
    row = next(r for r in _table(report, "bedrock-profiles").rows if "RETIRING" in r[0].text)
    assert "policy-qa / primary (retiring: no function names it" in row[1].text


def _add_statement(template: dict[str, Any], policy_prefix: str, statement: dict[str, Any]) -> None:
    """Append ``statement`` to the AWS::IAM::Policy whose logical ID starts with ``policy_prefix``."""
    (policy,) = [
        r
        for lid, r in template["Resources"].items()
        if lid.startswith(policy_prefix) and r["Type"] == "AWS::IAM::Policy"
    ]
    policy["Properties"]["PolicyDocument"]["Statement"].append(statement)


def test_a_role_denied_invoke_or_allowed_only_other_invoke_actions_is_no_invoker(assembly_copy: Path) -> None:
    # GIVEN the orchestrator's role denied every Bedrock action (an explicit deny wins over its grants), and
    # another role allowed bedrock:InvokeAgent on everything (an agent, not a model through a profile)
    def change(template: dict[str, Any]) -> None:
        _add_statement(
            template,
            "OrchestrationApiFunctionServiceRoleDefaultPolicy",
            {"Effect": "Deny", "Action": "bedrock:*", "Resource": "*"},
        )
        _add_statement(
            template,
            "CanaryReleaseRoleDefaultPolicy",
            {"Effect": "Allow", "Action": "bedrock:InvokeAgent", "Resource": "*"},
        )

    mutate_template(assembly_copy, "Prod/Platform", change)
    profiles = build_reports(assembly_copy, environments=["Prod"])["Prod"].facts(inventory.TOPIC).profiles
    # THEN neither is named as able to invoke any profile
    assert profiles
    for profile in profiles:
        assert "OrchestrationApiFunctionServiceRoleC7627CC8" not in profile.invokable_by, profile.logical_id
        assert "CanaryReleaseRole557CD5E7" not in profile.invokable_by, profile.logical_id


def test_a_role_allowed_everything_but_some_actions_is_named_as_an_invoker(assembly_copy: Path) -> None:
    # GIVEN a role allowed every action but IAM's on every resource (NotAction: it includes invoking)
    mutate_template(
        assembly_copy,
        "Prod/Platform",
        lambda t: _add_statement(
            t, "CanaryReleaseRoleDefaultPolicy", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
        ),
    )
    profiles = build_reports(assembly_copy, environments=["Prod"])["Prod"].facts(inventory.TOPIC).profiles
    # THEN it may invoke every profile, and the pack says so
    assert profiles and all("CanaryReleaseRole557CD5E7" in p.invokable_by for p in profiles)


def test_a_role_granted_invoke_on_a_profile_arn_pattern_is_named_as_an_invoker(assembly_copy: Path) -> None:
    # GIVEN a role allowed to invoke every application inference profile of its account and region (an ARN
    # pattern, not a reference to a profile), and another allowed them only in another region
    def grant(template: dict[str, Any]) -> None:
        arn = [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":bedrock:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":application-inference-profile/*",
        ]
        _add_statement(
            template,
            "CanaryReleaseRoleDefaultPolicy",
            {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": {"Fn::Join": ["", arn]}},
        )
        _add_statement(
            template,
            "HumanReviewBacklogFunctionServiceRoleDefaultPolicy",
            {
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": "arn:aws:bedrock:eu-west-1:*:application-inference-profile/*",
            },
        )

    mutate_template(assembly_copy, "Prod/Platform", grant)
    profiles = build_reports(assembly_copy, environments=["Prod"])["Prod"].facts(inventory.TOPIC).profiles
    # THEN every profile names the first role as able to invoke it, and not the second
    assert profiles
    for profile in profiles:
        assert "CanaryReleaseRole557CD5E7" in profile.invokable_by, profile.logical_id
        assert not any(p.startswith("HumanReviewBacklog") for p in profile.invokable_by)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "arn:aws:bedrock:us-west-2:1:inference-profile/eu.amazon.nova-pro-v1:0",
            ("eu", "amazon.nova-pro-v1:0"),
        ),
        ("arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0", (None, "amazon.nova-pro-v1:0")),
        ("<SomeToken.Arn>", (None, None)),
    ],
)
def test_model_sources_are_parsed(source: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_model_source(source)[1:] == expected


def test_guardrail_policy_is_described_in_plain_language(example_reports: dict[str, Report]) -> None:
    guardrail = next(
        g
        for g in example_reports["Prod"].facts(guardrails.TOPIC).guardrails
        if g.logical_id.startswith("PolicyQaGuardrail")
    )
    assert guardrail.strength("PROMPT_ATTACK", "input") == "HIGH"
    assert dict(guardrail.pii)["EMAIL"] == "ANONYMIZE"
    assert dict(guardrail.grounding) == {"GROUNDING": 0.8, "RELEVANCE": 0.7}
    assert [t[0] for t in guardrail.topics] == ["Legal advice", "Individual employee records"]
    assert "policy fingerprint" in guardrail.versions[0][1]
    markdown = example_reports["Prod"].markdown()
    for text in (
        "anonymized (masked)",
        "Legal advice",
        "project-bluebird",
        "I can only answer questions about published HR",
    ):
        assert text in markdown


def test_the_enforced_guardrail_is_shown_with_its_published_version_and_policy(
    reports: dict[str, Report],
) -> None:
    facts = reports["Prod"].facts(guardrails.TOPIC)
    (enforced,) = facts.enforced
    assert enforced.published and enforced.guardrail is not None
    assert enforced.guardrail.name == "prod-enforced-baseline"
    # it is not counted among the use cases' guardrails
    assert enforced.guardrail.logical_id not in {g.logical_id for g in facts.guardrails}
    rows = {row[1].text: row[2] for row in _table(reports["Prod"], "bedrock-enforced").rows}
    assert (
        rows["enforced version"].text == f"<{enforced.version.strip('<>')}>"
        and rows["enforced version"].flag != "bad"
    )
    assert "AWS_SECRET_KEY: BLOCK" in rows["PII"].text
    assert rows["denied topics"].text == "Weapons of mass destruction"
    assert (rows["user messages evaluated"].text, rows["system prompts evaluated"].text) == (
        "COMPREHENSIVE",
        "SELECTIVE",
    )
    evidence = controls.evaluate_evidence(reports["Prod"].environment)
    assert (
        evidence["BEDROCK-ENFORCED-GUARDRAIL"].status
        == evidence["ENFORCED-GUARDRAIL-APPLIED"].status
        == "PASS"
    )


def test_an_opt_out_is_shown_as_needing_attention(assembly_copy: Path) -> None:
    reason = "The organization enforces a guardrail on this account through AWS Organizations policies."

    def opt_out(template: dict[str, Any]) -> None:
        for lid in [
            k
            for k, v in template["Resources"].items()
            if v["Type"] == "AWS::Bedrock::EnforcedGuardrailConfiguration"
        ]:
            del template["Resources"][lid]
        template.setdefault("Metadata", {})[ENFORCED_GUARDRAIL_OPT_OUT] = {"opt_out_reason": reason}

    mutate_template(assembly_copy, "Prod/Platform", opt_out)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    (row,) = [r for r in _table(report, "bedrock-enforced").rows if r[1].text == "opted out"]
    assert row[2].text == reason and row[2].flag == "bad" and row[2].badge == "OPTED OUT"
    assert any(f.flag == "OPTED OUT" for f in report.red_flags)
    evidence = controls.evaluate_evidence(report.environment)["ENFORCED-GUARDRAIL-APPLIED"]
    assert (
        evidence.status == "FAIL"
        and "needs a reviewer's decision" in evidence.detail
        and reason in evidence.detail
    )


# ------------------------------------------------------------------ access, protection, operations


def test_access_lists_every_role_and_flags_wildcards(reports: dict[str, Report]) -> None:
    report = reports["Prod"]
    principals = report.facts(access.TOPIC).principals
    assert {p.logical_id for p in principals} == {
        r.logical_id for r in report.environment.of_type("AWS::IAM::Role")
    }
    grants = _table(report, "access-grants")
    flagged = {(row[0].text, row[7].badge) for row in grants.rows if row[7].badge}
    # Bedrock's logging API has no resource-level permissions: an unrestricted, acknowledged grant
    assert ("InvocationLoggingConfigurationProviderRole338D1536", "UNRESTRICTED WILDCARD") in flagged
    assert ("InvocationLoggingDeliveryRole7BF940C7", "WILDCARD") in flagged  # <bucket>/large-data/*
    bedrock_rows = [
        row
        for row in grants.rows
        if row[0].text.startswith("OrchestrationApiFunction") and row[1].text == "bedrock"
    ]
    assert any("bedrock:InvokeModel" in row[3].text for row in bedrock_rows)
    methods = {row[0].text: row[2].text for row in _table(report, "access-api-methods").rows}
    assert methods and set(methods.values()) == {"AWS_IAM"}


def test_data_protection_covers_every_stateful_resource(reports: dict[str, Report]) -> None:
    protected = {p.logical_id: p for p in reports["Prod"].facts(protection.TOPIC).resources}
    stateful = {r.logical_id for r in reports["Prod"].environment.resources if r.stateful}
    assert stateful <= set(protected)
    bucket = protected["InvocationLoggingBucketF12B4122"]
    assert bucket.at_rest == "SSE-KMS with InvocationLoggingKeyEAF2C151"
    assert bucket.in_transit.startswith("TLS only")
    assert bucket.on_delete == "Retain"
    assert all(protected[lid].on_delete == "Retain" for lid in stateful)
    dev = {p.logical_id: p for p in reports["Dev"].facts(protection.TOPIC).resources}
    assert dev["InvocationLoggingBucketF12B4122"].on_delete.startswith("Delete; objects emptied first by")


def test_booleans_written_as_strings_are_read_as_cloudformation_reads_them(assembly_copy: Path) -> None:
    # GIVEN key rotation and point-in-time recovery turned off with the string "false", which CloudFormation
    # accepts for a boolean
    def strings(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::KMS::Key":
                resource["Properties"]["EnableKeyRotation"] = "false"
            if resource["Type"] == "AWS::DynamoDB::Table":
                recovery = resource["Properties"].setdefault("PointInTimeRecoverySpecification", {})
                recovery["PointInTimeRecoveryEnabled"] = "false"

    mutate_template(assembly_copy, "Prod/Platform", strings)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the pack says they are off, and the keys fail the encryption evidence
    protected = report.facts(protection.TOPIC).resources
    keys = [p for p in protected if p.type == "AWS::KMS::Key"]
    tables = [p for p in protected if p.type == "AWS::DynamoDB::Table"]
    assert keys and all(p.at_rest.endswith("rotation off") and p.at_rest_ok is False for p in keys)
    assert tables and all("no point-in-time recovery" in p.retention for p in tables)
    assert controls.evaluate_evidence(report.environment)["ENCRYPTION-AT-REST"].status == "FAIL"


def test_a_stateful_resource_whose_encryption_is_not_read_fails_encryption_at_rest(
    assembly_copy: Path,
) -> None:
    # GIVEN a stateful resource of a type the Data protection topic does not read (a Kinesis stream, no
    # StreamEncryption: not encrypted)
    def add_stream(template: dict[str, Any]) -> None:
        template["Resources"]["AuditStream"] = {
            "Type": "AWS::Kinesis::Stream",
            "Properties": {"ShardCount": 1},
        }

    mutate_template(assembly_copy, "Prod/Platform", add_stream)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the pack does not claim every stateful resource is encrypted: the evidence fails, naming it
    evidence = controls.evaluate_evidence(report.environment)["ENCRYPTION-AT-REST"]
    assert evidence.status == "FAIL" and "AuditStream" in evidence.detail


def test_retention_given_by_a_parameter_or_in_hours_is_shown_not_a_crash(assembly_copy: Path) -> None:
    # GIVEN a queue whose retention is a template parameter, and one that keeps messages one hour
    def retention(template: dict[str, Any]) -> None:
        queues = [r for r in template["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
        queues[0]["Properties"]["MessageRetentionPeriod"] = {"Ref": "RetentionSeconds"}
        queues[1]["Properties"]["MessageRetentionPeriod"] = 3600

    mutate_template(assembly_copy, "Prod/Platform", retention)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the pack is built and says what the template says (not "0 days" for an hour)
    retentions = {
        p.retention for p in report.facts(protection.TOPIC).resources if p.type == "AWS::SQS::Queue"
    }
    assert {
        "messages kept <RetentionSeconds> seconds",
        "messages kept 0.04 days (3600 seconds)",
    } <= retentions


@pytest.mark.parametrize(
    "narrowing",
    [
        {"Action": "s3:GetObject"},  # every other action still works over plain HTTP
        {"Principal": {"AWS": "arn:aws:iam::333333333333:role/one-role"}},  # everyone else still may
        {"Resource": {"Fn::GetAtt": ["InvocationLoggingBucketF12B4122", "Arn"]}},  # the objects still may
    ],
    ids=["one-action", "one-principal", "bucket-not-objects"],
)
def test_a_tls_deny_that_leaves_requests_open_is_not_tls_only(
    assembly_copy: Path, narrowing: dict[str, Any]
) -> None:
    # GIVEN the invocation log bucket's aws:SecureTransport deny narrowed to part of what it must deny
    def narrow(template: dict[str, Any]) -> None:
        policy = template["Resources"]["InvocationLoggingBucketPolicyB5B55033"]["Properties"]
        (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        deny.update(narrowing)

    mutate_template(assembly_copy, "Prod/Platform", narrow)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the bucket is not shown as TLS only, and the evidence fails naming it
    protected = {p.logical_id: p for p in report.facts(protection.TOPIC).resources}
    assert protected["InvocationLoggingBucketF12B4122"].in_transit_ok is False
    evidence = controls.evaluate_evidence(report.environment)["TLS-ONLY"]
    assert evidence.status == "FAIL" and "InvocationLoggingBucketF12B4122" in evidence.detail


def test_alarms_are_grouped_by_use_case_and_resolve_their_notifications(
    example_reports: dict[str, Report], example_config: PlatformConfig
) -> None:
    alarms = example_reports["Prod"].facts(operations.TOPIC).alarms
    groups = Counter(a.group for a in alarms)
    assert {c.id for c in example_config.contracts_for("prod")} <= set(groups)
    assert all(groups[c.id] == 6 for c in example_config.contracts_for("prod"))
    assert {"OrchestrationApiMonitoring", "InvocationLogDeliveryAlarm"} <= set(groups)
    throttle = next(a for a in alarms if a.logical_id.startswith("PolicyQaMonitoringAlarmsThrottleRate"))
    assert "InvocationThrottles" in throttle.metric and throttle.condition == "GreaterThanThreshold 1"
    assert throttle.notifies[0].startswith(
        "NotificationsTopicAE679CBD -> email genai-platform-oncall@example.com"
    )
    assert "https https://events.pagerduty.example.com" in throttle.notifies[0]


def test_an_alarm_with_its_actions_disabled_notifies_nobody(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the invocation log delivery alarm keeps its actions but has them disabled (ActionsEnabled false)
    def disable(template: dict[str, Any]) -> None:
        (alarm,) = [
            r
            for lid, r in template["Resources"].items()
            if lid.startswith("InvocationLogDeliveryAlarm") and r["Type"] == "AWS::CloudWatch::Alarm"
        ]
        alarm["Properties"]["ActionsEnabled"] = False

    alarms = sum(
        r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for template in _templates(synthesized, "Prod")
        for r in template["Resources"].values()
    )
    mutate_template(assembly_copy, "Prod/Platform", disable)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN it notifies nobody: counted so, a red flag, and the log delivery evidence fails
    assert dict(operations.TOPIC.counts(report.facts(operations.TOPIC)))["Alarms and budgets"].startswith(
        f"{alarms} alarms (1 notify nobody)"
    )
    assert any(f.label.startswith("InvocationLogDeliveryAlarm") for f in report.red_flags)
    evidence = controls.evaluate_evidence(report.environment)["LOG-DELIVERY-ALARM"]
    assert evidence.status == "FAIL"


def test_a_waf_rate_rule_that_only_counts_is_no_rate_limit(assembly_copy: Path) -> None:
    # GIVEN the API's WAF rate-based rule set to Count instead of Block
    def count_only(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::WAFv2::WebACL":
                for rule in resource["Properties"]["Rules"]:
                    if "RateBasedStatement" in rule["Statement"]:
                        rule["Action"] = {"Count": {}}

    mutate_template(assembly_copy, "Prod/Platform", count_only)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the pack does not call it a rate limit
    assert controls.evaluate_evidence(report.environment)["WAF-RATE-LIMIT"].status == "FAIL"


# ------------------------------------------------------------------ controls


def test_controls_file_is_valid_and_covers_all_ten_owasp_risks() -> None:
    mapping = controls.load_controls()
    owasp = {c.id: c for c in mapping if c.framework == "owasp_llm_2025"}
    assert set(owasp) == OWASP_2025
    assert {owasp["LLM05"].coverage, owasp["LLM07"].coverage} == {"not covered"}
    assert owasp["LLM08"].coverage == "not applicable"
    lens = [c for c in mapping if c.framework == "genai_lens"]
    assert all(re.fullmatch(r"GEN(SEC|OPS|REL|COST|PERF|SUS)\d\d-BP\d\d", c.id) for c in lens)
    assert {c.id.split("-")[0][:6] for c in lens} >= {"GENSEC", "GENOPS", "GENREL", "GENCOS"}


def test_controls_file_refuses_unknown_evidence(tmp_path: Path) -> None:
    bad = tmp_path / "controls.yaml"
    bad.write_text(
        "owasp_llm_2025:\n  - {id: LLM01, title: x, coverage: partial, evidence: [NO-SUCH-CHECK]}\n"
    )
    with pytest.raises(ValueError, match=r"unknown evidence \['NO-SUCH-CHECK'\] \(no topic offers it\)"):
        controls.load_controls(bad)


def test_two_topics_offering_the_same_evidence_id_are_refused() -> None:
    with pytest.raises(
        ValueError, match="CROSS-REGION-ROUTING is offered by topics 'inventory' and 'inventory'"
    ):
        controls.evidence_checks([inventory.TOPIC, inventory.TOPIC])


def test_every_control_evidence_passes_in_the_synthesized_assembly(
    reports: dict[str, Report], config: PlatformConfig
) -> None:
    for env in ENVIRONMENTS:
        environment = reports[env].environment
        evidence = controls.evaluate_evidence(environment)
        assert set(evidence) == set(controls.evidence_checks(TOPICS))
        # but the quality gates: the session's evaluation ran one suite of one use case (evaluation_results)
        gate = evidence.pop("EVAL-QUALITY-GATE")
        # and grounding, which applies only where a contract sets it (a fork may ground no use case)
        grounding = evidence.pop("GUARDRAIL-GROUNDING")
        grounded = any(c.guardrail.grounded for c in config.contracts_for(env.lower()))
        assert grounding.status == ("PASS" if grounded else "NOT APPLICABLE"), grounding.detail
        assert {k: (e.status, e.detail) for k, e in evidence.items() if e.status != "PASS"} == {}
        missing = [
            f"{uc} / suite {suite}"
            for uc in sorted(environment.use_cases)
            for suite in suite_names(ROOT, uc)
            if (uc, suite) != EVALUATED
        ]
        assert (gate.status, gate.detail) == ("NOT RUN", "the run has no results of " + ", ".join(missing))


def test_a_run_that_left_out_suites_of_deployed_use_cases_does_not_show_the_gate_as_met(
    synthesized: Synthesized, evaluation_results: Path
) -> None:
    # GIVEN the session's evaluation: one suite of one use case (a run limited with --use-case and --suite)
    topic = EvaluationTopic(results=evaluation_results)
    env = load_environment(synthesized.outdir, "Prod", topics=(topic,))
    facts = env.extract(topic)
    # THEN the pack says which suites are not evaluated, in its summary, its evidence and its section
    assert facts.not_evaluated and all(" / suite " in name for name in facts.not_evaluated)
    ((_, summary),) = topic.counts(facts)
    assert summary.endswith(f"gate passed on those, {len(facts.not_evaluated)} not evaluated"), summary
    html = render_html(Document("pack", [], [topic.render(facts, None)]))  # type: ignore[arg-type]
    assert "Not evaluated by this run" in html and facts.not_evaluated[0] in html
    # AND with every suite of every deployed use case in the run, the gate is shown as met only where the run
    # measured a deployed environment: the offline run's answers are the emulator's
    gate = dict(topic.evidence())["EVAL-QUALITY-GATE"]
    complete = replace(facts, not_evaluated=())
    assert complete.run is not None and complete.run.mode == "offline"
    status, detail = gate.run(complete)
    assert status == "NOT RUN" and "nothing was measured against a deployed environment" in detail, detail
    measured = "0123456789abcdef0123456789abcdef01234567"
    deployed = replace(
        complete,
        # clean: the session's run took the dirty flag of the checkout the tests run in
        run=replace(complete.run, mode="deployed", target="staging", commit=measured, dirty=False),
        candidate=measured,
    )
    status, detail = gate.run(deployed)
    assert status == "PASS" and detail.startswith("quality gates met (run against staging, commit "), detail
    # AND only for the commit the pack describes: a run of another commit, or a pack whose commit is unknown,
    # is no evidence (the run may have failed, or passed, on code that is not the candidate)
    other = replace(deployed, candidate="f" * 40)
    status, detail = gate.run(other)
    assert status == "NOT RUN" and f"measured commit {measured}, this pack is of commit {'f' * 40}:" in detail
    failed_elsewhere = replace(
        other, run=replace(deployed.run, gate_messages=("policy-qa/golden: 0.5 < 0.9",))
    )
    assert gate.run(failed_elsewhere) == (status, detail)
    status, detail = gate.run(replace(deployed, candidate=None))
    assert status == "NOT RUN" and "this pack's commit is unknown" in detail and "pass --commit" in detail
    # AND only for a run against this environment or, for production, the readiness gate's environment (a
    # dev run measured dev's deployment: other accounts, regions, models, guardrail versions)
    assert facts.accepted_targets == ("prod", "staging")
    status, detail = gate.run(replace(deployed, run=replace(deployed.run, target="dev")))
    assert status == "NOT RUN" and detail.startswith("the run measured dev, this pack is of prod"), detail
    assert "a run against prod or staging (the readiness gate's, for production)" in detail


def test_only_production_takes_another_environments_run_and_only_the_readiness_gates(tmp_path: Path) -> None:
    from compliance.report.topics.evaluation import evidence_targets

    # the shipped pipeline: dev, staging, prod
    assert [evidence_targets(ROOT, env) for env in ("dev", "staging", "prod")] == [
        ("dev",),
        ("staging",),
        ("prod", "staging"),
    ]
    # a pipeline with its own order, and a checkout without one (or with a broken one): each its own alone
    (tmp_path / "delivery").mkdir()
    pipeline = tmp_path / "delivery" / "pipeline.yaml"
    pipeline.write_text("environments: [test, preprod, live]\n", encoding="utf-8")
    assert evidence_targets(tmp_path, "live") == ("live", "preprod")
    assert evidence_targets(tmp_path, "preprod") == ("preprod",)
    pipeline.write_text("environments: [test, live\n", encoding="utf-8")
    assert evidence_targets(tmp_path, "live") == ("live",)
    assert evidence_targets(tmp_path / "nowhere", "prod") == ("prod",)


def test_evidence_fails_when_what_it_checks_is_missing(synthesized: Synthesized) -> None:
    env = load_environment(synthesized.outdir, "Prod", topics=TOPICS)
    facts = env.extract(inventory.TOPIC)
    use_case = min(enabled_use_cases("prod"))
    broken = tuple(
        replace(r, spec=None, problems=("limits is required",)) if r.use_case == use_case else r
        for r in facts.runtime
    )
    env.set_extract(inventory.TOPIC, replace(facts, runtime=broken))
    evidence = controls.evaluate_evidence(env)
    assert evidence["TOKEN-CAPS"].status == "FAIL" and use_case in evidence["TOKEN-CAPS"].detail


def test_the_evaluation_topic_reads_a_rewritten_results_file_again(
    synthesized: Synthesized, evaluation_results: Path, tmp_path: Path
) -> None:
    # The topic parses a results file once for all environments; a run written over it (same path, even
    # of the same size) is what the next pack shows.
    results = tmp_path / "results.json"
    document = json.loads(evaluation_results.read_text(encoding="utf-8"))
    results.write_text(json.dumps(document), encoding="utf-8")
    topic = EvaluationTopic(results=results)
    first = load_environment(synthesized.outdir, "Dev", topics=(topic,)).extract(topic)
    assert first.run is not None and first.run.started_at == document["started_at"]
    # another environment that deploys the evaluated use case reads the same run (each shows only its own
    # use cases' results)
    other = "Prod" if EVALUATED[0] in enabled_use_cases("prod") else "Staging"
    assert load_environment(synthesized.outdir, other, topics=(topic,)).extract(topic).run == first.run

    started = document["started_at"]
    document["started_at"] = started[:-1] + ("0" if started[-1] != "0" else "1")  # same length
    before = results.stat()
    results.write_text(json.dumps(document), encoding="utf-8")
    os.utime(results, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert results.stat().st_size == before.st_size
    again = load_environment(synthesized.outdir, "Dev", topics=(topic,)).extract(topic)
    assert again.run is not None and again.run.started_at == document["started_at"] != started


# ------------------------------------------------------------------ rendering


def test_template_text_is_escaped_in_both_formats() -> None:
    hostile = '<script>alert("x")</script> | **bold** [link](http://x)'
    document = Document(
        "t <b>",
        [Paragraph("# not a heading")],
        [Section("s", "S", [Table("t", ["A|B"], [[Cell(hostile), Cell(hostile, code=True)]])])],
        [("Commit", hostile)],
    )
    html_text = render_html(document)
    assert (
        "<script>alert" not in html_text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html_text
    )
    markdown = render_markdown(document)
    table_row = next(line for line in markdown.splitlines() if "alert" in line and "Commit" not in line)
    assert table_row.count(" | ") == 1  # the cell separator only: every | in the data is escaped
    prose = re.sub(r"`[^`]*`", "", markdown)  # code spans show their content literally, never as HTML
    assert "<script>" not in prose and "&lt;script&gt;" in prose and "\\*\\*bold\\*\\*" in prose
    assert "\\# not a heading" in markdown


@pytest.mark.slow
def test_cfn_lint_findings_come_back_from_worker_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The gate lints in worker processes while its rules run (compliance.lint, run at synth only).
    monkeypatch.setenv("BEDROCK_PLATFORM_CACHE_DIR", str(tmp_path / "cache"))
    stacks = [
        StackTemplate(name, "111111111111", "us-east-1", FIXTURES / f"{kind}.template.json", {})
        for name, kind in (("Bad/Stack", "lint_error"), ("Good/Stack", "lint_clean"))
    ]
    run = LintRun(stacks, parallel=True)
    assert run.workers, "nothing was cached yet: every template goes to a worker"
    results = run.wait()
    assert list(results) == ["Bad/Stack", "Good/Stack"]
    assert results["Good/Stack"] == []
    assert any("E3002" in line and "NotAQueueProperty" in line for line in results["Bad/Stack"])

    # the same templates again: read from the cache, no worker, the same findings
    again = LintRun(stacks, parallel=True)
    assert not again.workers and not again.local
    assert again.wait() == results


@pytest.mark.slow
def test_a_changed_template_is_linted_again_and_the_cache_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BEDROCK_PLATFORM_CACHE_DIR", str(tmp_path / "cache"))
    template = tmp_path / "t.template.json"
    template.write_text((FIXTURES / "lint_clean.template.json").read_text())
    stack = StackTemplate("S/Stack", "111111111111", "us-east-1", template, {})
    assert LintRun([stack], in_process=False).wait() == {"S/Stack": []}
    template.write_text((FIXTURES / "lint_error.template.json").read_text())  # same name, new content
    changed = LintRun([stack], in_process=False)
    assert changed.workers and any("E3002" in line for line in changed.wait()["S/Stack"])
    # the same region matters too: a template is linted for its stack's region
    moved = LintRun([StackTemplate("S/Stack", "111111111111", "eu-west-1", template, {})], in_process=False)
    assert moved.workers
    _stop(moved)
    monkeypatch.setenv("BEDROCK_PLATFORM_CACHE_DIR", "off")
    off = LintRun([stack], in_process=False)
    assert off.workers
    _stop(off)


def _held_by_another_process(entry: Path) -> int:
    """Take the claim on a cache entry as a second process would: its own descriptor of the lock file (an
    ``flock`` on another open file conflicts even within one process)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(f"{entry}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return descriptor


@pytest.mark.parametrize(
    "other_writes_it",
    [
        pytest.param(True, id="other-writes"),
        pytest.param(False, id="other-fails", marks=pytest.mark.slow),  # ~1.2 CPU-s: it lints the template
    ],
)
def test_a_template_another_process_is_linting_is_waited_for_not_linted_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, other_writes_it: bool
) -> None:
    # GIVEN another process (a second synth, another test worker) linting the same template right now
    monkeypatch.setenv("BEDROCK_PLATFORM_CACHE_DIR", str(tmp_path / "cache"))
    stack = StackTemplate("S/Stack", "111111111111", "us-east-1", FIXTURES / "lint_error.template.json", {})
    entry = tmp_path / "cache" / lint._cache_name(stack)
    descriptor = _held_by_another_process(entry)
    # WHEN this process needs its findings
    run = LintRun([stack], in_process=False)
    # THEN it starts no cfn-lint of its own, and waits for the other one's result
    assert not run.workers and [s.name for s in run.elsewhere] == ["S/Stack"]
    other = [{"check": "E0000", "message": "theirs", "line": 1, "resource": "Q"}]

    def the_other_process_finishes() -> None:
        time.sleep(0.3)
        if other_writes_it:
            lint.write_cache(lint._cache_name(stack), other)
        os.close(descriptor)

    finisher = threading.Thread(target=the_other_process_finishes)
    finisher.start()
    findings = run.findings()["S/Stack"]
    finisher.join()
    if other_writes_it:  # its result, read from the cache: not linted here
        assert [f.message for f in findings] == ["theirs"]
    else:  # it ended without a result: linted here after all
        assert any(f.check == "E3002" for f in findings)


def _stop(run: LintRun) -> None:
    """A run whose start is all a test needs to see (a cache miss starts a worker): no need to wait for it."""
    run.cancel()


# ------------------------------------------------------------------ adding a topic


@dataclass(frozen=True)
class _FunctionFacts:
    functions: tuple[tuple[str, str], ...]  # logical ID, runtime


class _FunctionsTopic(Topic[_FunctionFacts]):
    """A topic as another issue would add one (evaluation results, human review, ...): one module."""

    id = "functions"
    title = "Lambda functions"

    def extract(self, env: Environment) -> _FunctionFacts:
        return _FunctionFacts(
            tuple(
                (r.logical_id, str(r.properties.get("Runtime"))) for r in env.of_type("AWS::Lambda::Function")
            )
        )

    def diff(self, now: _FunctionFacts, then: _FunctionFacts, matching: Matching) -> list[Change]:
        before = dict(then.functions)
        return [
            Change(self.id, lid, "changed", f"runtime {before[lid]} -> {runtime}", level=ATTENTION)
            for lid, runtime in now.functions
            if lid in before and before[lid] != runtime
        ]

    def render(self, facts: _FunctionFacts, ctx: RenderContext) -> Section:
        table = Table("functions", ["Function", "Runtime"])
        for lid, runtime in facts.functions:
            table.add(
                [code(lid), cell(runtime, flag=BAD if runtime.startswith("nodejs") else None)], subjects=[lid]
            )
        return Section(self.id, self.title, [table])

    def counts(self, facts: _FunctionFacts) -> list[tuple[str, str]]:
        return [("Lambda functions", str(len(facts.functions)))]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "PYTHON-ONLY": EvidenceCheck(
                "every function runs Python",
                lambda f: verdict(
                    [lid for lid, runtime in f.functions if not runtime.startswith("python")], "all Python"
                ),
            )
        }


def test_a_new_topic_is_one_module_and_one_registry_line(
    synthesized: Synthesized, assembly_copy: Path
) -> None:
    # GIVEN the registry with one more topic, before the control mapping (as topics/__init__.py would list it)
    topic = _FunctionsTopic()
    topics = (*TOPICS[:-2], topic, *TOPICS[-2:])

    def older_runtime(template: dict[str, Any]) -> None:
        lid, _ = next(
            (k, v)
            for k, v in template["Resources"].items()
            if k.startswith("OrchestrationApiFunction") and v["Type"] == "AWS::Lambda::Function"
        )
        template["Resources"][lid]["Properties"]["Runtime"] = "python3.12"

    mutate_template(assembly_copy, "Prod/Platform", older_runtime)
    report = build_reports(synthesized.outdir, environments=["Prod"], against=assembly_copy, topics=topics)[
        "Prod"
    ]
    functions = report.facts(topic).functions
    # THEN it has its section (and the resource index sees it), its line in the summary, its changes in the
    # release diff, grouped and classified, and its evidence among the control mapping's checks
    assert "## Lambda functions" in report.markdown()
    assert f"| Lambda functions | {len(functions)} |" in report.markdown()
    assert report.changes is not None
    (change,) = report.changes.topic("functions")
    assert change.level == ATTENTION and change.detail.startswith("runtime python3.12 -> python")
    evidence = controls.evaluate_evidence(report.environment)
    assert evidence["PYTHON-ONLY"].status == (
        "FAIL" if any(not r.startswith("python") for _, r in functions) else "PASS"
    )
    index = {row[0].text: row[4].text for row in _table(report, "resources-index").rows}
    assert all("Lambda functions" in index[lid] for lid, _ in functions)


def test_a_model_past_its_end_of_life_is_not_called_soon() -> None:
    # a release's stack read against a newer catalog (an older pack, a diff): negative days "after" the
    # catalog's date, badged SOON, misread what is already past
    from compliance.report.topics.inventory import end_of_life_cell
    from platform_config.catalog import ModelCatalog

    catalog = ModelCatalog.load()
    past = next(
        m
        for m, v in catalog.models.items()
        if v.get("end_of_life") and str(v["end_of_life"]) < catalog.retrieved
    )
    found = end_of_life_cell(past, catalog)
    assert "days before the catalog's date" in found.text and " -" not in found.text, found.text
    assert found.badge == "PAST END OF LIFE" and found.flag, found


# ------------------------------------------------------------------ evaluation evidence and the commit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _deployed_facts(*, dirty: bool = False, **facts: Any) -> EvaluationFacts:
    """A passing run against staging of :data:`COMMIT`, as production's pack reads it (staging is the
    environment before production: its run is evidence for prod)."""
    run = RunResult(
        target="staging",
        mode="deployed",
        commit=COMMIT,
        dirty=dirty,
        started_at="2026-12-03T12:00:00Z",
        use_cases={},
        gate_passed=True,
    )
    accepted = ("prod", "staging")
    return EvaluationFacts(
        **{
            "target": "prod",
            "run": run,
            "records": (),
            "candidate": COMMIT,
            "accepted_targets": accepted,
            **facts,
        }
    )


def test_uncommitted_changes_in_the_run_or_the_pack_are_no_evidence_for_the_commit() -> None:
    gate = dict(EvaluationTopic().evidence())["EVAL-QUALITY-GATE"]
    # GIVEN a passing run against staging of the commit the pack describes: the evidence is met
    assert gate.run(_deployed_facts())[0] == "PASS"
    # WHEN the run had uncommitted changes (suites, gates or contracts edited in the checkout it ran from)
    status, detail = gate.run(_deployed_facts(dirty=True))
    # THEN it measured files that are not the commit: no evidence for it
    assert status == "NOT RUN", detail
    assert "measured commit 0123456789ab with uncommitted changes" in detail and "clean checkout" in detail
    # AND a pack written from a checkout with uncommitted changes describes an assembly that is not the
    # commit: no run of the commit is evidence for it
    status, detail = gate.run(_deployed_facts(candidate_changed=True))
    assert status == "NOT RUN", detail
    assert "this pack is of commit 0123456789ab with uncommitted changes" in detail


@pytest.mark.parametrize(
    ("header", "candidate"),
    [
        (COMMIT, (COMMIT, False)),
        (f"{COMMIT} + uncommitted changes", (COMMIT, True)),
        (COMMIT.upper(), (COMMIT, False)),
        ("0123456789ab", (None, False)),  # a short --commit names no commit the run can be matched to
        ("unknown (not a git checkout ...; pass --commit)", (None, False)),
    ],
)
def test_the_pack_header_gives_the_commit_the_evaluation_evidence_is_matched_to(
    header: str, candidate: tuple[str | None, bool]
) -> None:
    assert report_candidate(header) == candidate


def test_a_run_of_another_commit_names_both_commits_in_full() -> None:
    # GIVEN a run of a commit that shares its first 12 digits with the pack's (or is a prefix of it)
    gate = dict(EvaluationTopic().evidence())["EVAL-QUALITY-GATE"]
    for measured in (COMMIT[:16], COMMIT[:39] + "8"):
        facts = _deployed_facts()
        assert facts.run is not None
        status, detail = gate.run(replace(facts, run=replace(facts.run, commit=measured)))
        # THEN the approver reads two different commits, not the same 12 digits twice
        assert status == "NOT RUN", detail
        assert f"measured commit {measured}, this pack is of commit {COMMIT}:" in detail, detail


def _set_grounding(filters: list[dict[str, Any]] | None) -> Mutation:
    """Give every use case's guardrail these contextual grounding filters (None: no grounding policy)."""

    def mutation(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Bedrock::Guardrail":
                properties = resource["Properties"]
                properties.pop("ContextualGroundingPolicyConfig", None)
                if filters is not None:
                    properties["ContextualGroundingPolicyConfig"] = {"FiltersConfig": filters}

    return mutation


def test_grounding_evidence_is_not_applicable_where_no_contract_grounds_answers(assembly_copy: Path) -> None:
    # GIVEN no use case's guardrail in Prod checks contextual grounding (no contract sets it)
    mutate_template(assembly_copy, "Prod/Platform", _set_grounding(None))
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    facts = report.facts(controls.TOPIC)
    # THEN the evidence is not applicable, and says what that leaves (not a failure of the pack)
    evidence = facts.evidence["GUARDRAIL-GROUNDING"]
    assert (evidence.status, evidence.detail) == (
        "NOT APPLICABLE",
        "no contract sets contextual grounding: no answer is checked against a source it was given "
        "(LLM09 rests on the other evidence)",
    )
    # AND a control citing it alongside passing evidence passes, and says which evidence did not apply
    (llm09,) = [r for r in facts.results if r.control.id == "LLM09"]
    assert llm09.status == "PASS"
    assert "GUARDRAIL-GROUNDING: NOT APPLICABLE" in report.markdown()


def test_grounding_evidence_fails_when_guardrails_check_relevance_only(assembly_copy: Path) -> None:
    # GIVEN every guardrail with a contextual grounding policy that checks relevance, not grounding
    mutate_template(assembly_copy, "Prod/Platform", _set_grounding([{"Type": "RELEVANCE", "Threshold": 0.7}]))
    evidence = controls.evaluate_evidence(
        build_reports(assembly_copy, environments=["Prod"])["Prod"].environment
    )
    # THEN grounding is not checked where the contract asked for a contextual check: a failure
    assert evidence["GUARDRAIL-GROUNDING"].status == "FAIL"
    assert "no guardrail checks contextual grounding" in evidence["GUARDRAIL-GROUNDING"].detail


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("NOT APPLICABLE",), "NOT APPLICABLE"),
        (("NOT APPLICABLE", "NOT APPLICABLE"), "NOT APPLICABLE"),
        (("NOT APPLICABLE", "PASS"), "PASS"),
        (("NOT APPLICABLE", "NOT RUN"), "NOT RUN"),
        (("PASS", "NOT APPLICABLE", "FAIL"), "FAIL"),
        ((), "NO EVIDENCE"),
    ],
)
def test_a_control_result_ignores_evidence_that_does_not_apply(
    statuses: tuple[str, ...], expected: str
) -> None:
    control = controls.Control("owasp_llm_2025", "LLM09", "t", "partial", (), "", "", "")
    evidence = tuple(controls.Evidence(f"E{i}", s, "") for i, s in enumerate(statuses))
    assert controls.ControlResult(control, evidence).status == expected
