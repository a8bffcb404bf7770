"""The review pack built from the real assembly: complete, faithful to the templates, escaped."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from compliance.assembly import StackTemplate
from compliance.bedrock_rules import RULES
from compliance.report import controls as control_map
from compliance.report.build import Report, build_reports
from compliance.report.cfn import parse_joined_json
from compliance.report.document import Cell, Document, Paragraph, Section, Table, render_html, render_markdown
from compliance.report.facts import NAG_PACK_NAMES, parse_model_source
from compliance.report.lint import REASONS_KEY, LintRun
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT
from tests.compliance.conftest import ENVIRONMENTS, mutate_template
from tests.infra.conftest import Synthesized

FIXTURES = Path(__file__).with_name("fixtures")
OWASP_2025 = {f"LLM{n:02d}" for n in range(1, 11)}


def _templates(synthesized: Synthesized, env: str) -> list[dict]:  # type: ignore[type-arg]
    return [s.template for s in synthesized.stacks if s.name.startswith(f"{env}/")]


def _acknowledgments_in_metadata(synthesized: Synthesized, env: str) -> list[tuple[str, str]]:
    """Counted straight from the stack metadata files, independently of the report code."""
    found = []
    for metadata_file in synthesized.outdir.glob(f"assembly-{env}/*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.extend((path, key.removeprefix("Annotation::")) for key in entry["data"])
    return found


def test_one_html_and_one_markdown_file_per_environment(report_dir: Path) -> None:
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(
        f"{env}{suffix}" for env in ENVIRONMENTS for suffix in (".html", ".md")
    )


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


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_acknowledgment_is_listed_with_its_reason(
    synthesized: Synthesized, reports: dict[str, Report], env: str
) -> None:
    expected = _acknowledgments_in_metadata(synthesized, env)
    listed = [(ack.construct_path, ack.finding) for ack, _ in reports[env].facts.acknowledgments]
    assert len(expected) > 40
    assert Counter(listed) == Counter(expected)
    (table,) = [t for t in reports[env].document.tables() if t.id == "acknowledgments"]
    assert len(table.rows) == len(expected)
    assert {row[4].text for row in table.rows} == set(_acknowledgment_reasons(synthesized, env))
    assert "Bedrock's Put/DeleteModelInvocationLoggingConfiguration" in reports[env].markdown()


def _acknowledgment_reasons(synthesized: Synthesized, env: str) -> list[str]:
    return [
        reason
        for metadata_file in synthesized.outdir.glob(f"assembly-{env}/*.metadata.json")
        for entries in json.loads(metadata_file.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for reason in entry["data"].values()
    ]


def test_an_acknowledgment_names_the_resources_it_covers(reports: dict[str, Report]) -> None:
    acks = {
        ack.finding: resources
        for ack, resources in reports["Prod"].facts.acknowledgments
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
        listed = {(i.logical_id, i.check, i.reason) for i in reports[env].facts.lint_ignores}
        assert expected and listed == expected


def test_summary_reports_every_nag_pack_cfn_lint_and_every_bedrock_rule(reports: dict[str, Report]) -> None:
    (checks,) = [t for t in reports["Prod"].document.tables() if t.id == "summary-checks"]
    results = {row[0].text: row[1].text for row in checks.rows}
    assert results == {
        **{f"cdk-nag {pack}": "PASS" for pack in NAG_PACK_NAMES},
        "cfn-lint": "PASS",
        **{rule: "PASS" for rule in RULES},
    }


def test_the_report_names_the_packs_the_app_runs() -> None:
    from bedrock_constructs.lint import REASONS_KEY as construct_reasons_key
    from bedrock_constructs.nag import NAG_PACKS

    assert tuple(pack().read_pack_name for pack in NAG_PACKS) == NAG_PACK_NAMES
    assert construct_reasons_key == REASONS_KEY


def test_invocation_logging_is_read_from_the_joined_create_call(reports: dict[str, Report]) -> None:
    (logging,) = reports["Prod"].facts.invocation_logging
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
    # support-ticket-summary does not allow prompt logging, so text delivery is off everywhere it runs
    assert logging.delivery["text"] is False


def test_joined_json_keeps_tokens_as_logical_ids() -> None:
    value = json.loads((FIXTURES / "joined_create_call.json").read_text())["value"]
    call, refs = parse_joined_json(value)
    config = call["parameters"]["loggingConfig"]
    assert config["s3Config"] == {"bucketName": "<LogBucket>", "keyPrefix": 'say "hi"'}
    assert config["cloudWatchConfig"]["roleArn"] == "<DeliveryRole.Arn>"
    assert config["imageDataDeliveryEnabled"] == "<ImageDeliveryParameter>"
    assert refs["<DeliveryRole.Arn>"] == {"DeliveryRole"}


def test_inventory_shows_each_profile_with_its_source_regions_and_tags(
    synthesized: Synthesized, reports: dict[str, Report]
) -> None:
    facts = reports["Prod"].facts
    templates = _templates(synthesized, "Prod")
    expected = {
        lid
        for template in templates
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Bedrock::ApplicationInferenceProfile"
    }
    assert {p.logical_id for p in facts.profiles} == expected
    primary = next(p for p in facts.profiles if p.logical_id.startswith("PolicyQaPrimaryProfile"))
    assert primary.source.endswith(":inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert (primary.geography, primary.model_id) == ("us", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert {"us-east-1", "us-east-2", "us-west-2"} <= set(primary.regions)
    assert "*" not in primary.regions  # Prod has no global profile
    assert primary.tags["use-case"] == "policy-qa" and primary.tags["route"] == "primary"
    assert primary.invokable_by == ("OrchestrationApiFunctionServiceRoleC7627CC8",)


def test_a_global_profile_shows_its_region_wildcard(reports: dict[str, Report]) -> None:
    rfp = next(
        p for p in reports["Dev"].facts.profiles if p.logical_id.startswith("RfpDraftingPrimaryProfile")
    )
    assert rfp.geography == "global"
    assert "*" in rfp.regions
    html_text = reports["Dev"].html()
    assert "ANY REGION" in html_text


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


def test_guardrail_policy_is_described_in_plain_language(reports: dict[str, Report]) -> None:
    guardrail = next(
        g for g in reports["Prod"].facts.guardrails if g.logical_id.startswith("PolicyQaGuardrail")
    )
    assert guardrail.strength("PROMPT_ATTACK", "input") == "HIGH"
    assert dict(guardrail.pii)["EMAIL"] == "ANONYMIZE"
    assert dict(guardrail.grounding) == {"GROUNDING": 0.8, "RELEVANCE": 0.7}
    assert [t[0] for t in guardrail.topics] == ["Legal advice", "Individual employee records"]
    assert "policy fingerprint" in guardrail.versions[0][1]
    markdown = reports["Prod"].markdown()
    for text in (
        "anonymized (masked)",
        "Legal advice",
        "project-bluebird",
        "I can only answer questions about published HR",
    ):
        assert text in markdown


def test_access_lists_every_role_and_flags_wildcards(reports: dict[str, Report]) -> None:
    facts = reports["Prod"].facts
    assert {p.logical_id for p in facts.principals} == {r.logical_id for r in facts.of_type("AWS::IAM::Role")}
    (grants,) = [t for t in reports["Prod"].document.tables() if t.id == "access-grants"]
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


def test_data_protection_covers_every_stateful_resource(reports: dict[str, Report]) -> None:
    facts = reports["Prod"].facts
    protected = {p.logical_id: p for p in facts.protection}
    stateful = {r.logical_id for r in facts.resources if r.stateful}
    assert stateful <= set(protected)
    bucket = protected["InvocationLoggingBucketF12B4122"]
    assert bucket.at_rest == "SSE-KMS with InvocationLoggingKeyEAF2C151"
    assert bucket.in_transit.startswith("TLS only")
    assert bucket.on_delete == "Retain"
    assert all(protected[lid].on_delete == "Retain" for lid in stateful)
    dev = {p.logical_id: p for p in reports["Dev"].facts.protection}
    assert dev["InvocationLoggingBucketF12B4122"].on_delete.startswith("Delete; objects emptied first by")


def test_alarms_are_grouped_by_use_case_and_resolve_their_notifications(reports: dict[str, Report]) -> None:
    alarms = reports["Prod"].facts.alarms
    groups = Counter(a.group for a in alarms)
    assert groups["policy-qa"] == 6 and groups["support-ticket-summary"] == 6
    assert {"OrchestrationApiMonitoring", "InvocationLogDeliveryAlarm"} <= set(groups)
    throttle = next(a for a in alarms if a.logical_id.startswith("PolicyQaMonitoringAlarmsThrottleRate"))
    assert "InvocationThrottles" in throttle.metric and throttle.condition == "GreaterThanThreshold 1"
    assert throttle.notifies[0].startswith(
        "NotificationsTopicAE679CBD -> email genai-platform-oncall@example.com"
    )
    assert "https https://events.pagerduty.example.com" in throttle.notifies[0]


def test_controls_file_is_valid_and_covers_all_ten_owasp_risks() -> None:
    controls = control_map.load_controls()
    owasp = {c.id: c for c in controls if c.framework == "owasp_llm_2025"}
    assert set(owasp) == OWASP_2025
    assert {owasp["LLM05"].coverage, owasp["LLM07"].coverage} == {"not covered"}
    assert owasp["LLM08"].coverage == "not applicable"
    lens = [c for c in controls if c.framework == "genai_lens"]
    assert all(re.fullmatch(r"GEN(SEC|OPS|REL|COST|PERF|SUS)\d\d-BP\d\d", c.id) for c in lens)
    assert {c.id.split("-")[0][:6] for c in lens} >= {"GENSEC", "GENOPS", "GENREL", "GENCOS"}


def test_controls_file_refuses_unknown_evidence(tmp_path: Path) -> None:
    bad = tmp_path / "controls.yaml"
    bad.write_text(
        "owasp_llm_2025:\n  - {id: LLM01, title: x, coverage: partial, evidence: [NO-SUCH-CHECK]}\n"
    )
    with pytest.raises(ValueError, match="unknown evidence"):
        control_map.load_controls(bad)


def test_every_control_evidence_passes_in_the_synthesized_assembly(reports: dict[str, Report]) -> None:
    for env in ENVIRONMENTS:
        evidence = control_map.evaluate_evidence(reports[env].facts)
        assert {k: (e.status, e.detail) for k, e in evidence.items() if e.status != "PASS"} == {}


def test_evidence_fails_when_what_it_checks_is_missing(reports: dict[str, Report]) -> None:
    facts = reports["Prod"].facts
    original = facts.runtime
    try:
        facts.runtime = [
            replace(r, spec=None, problems=("limits is required",)) if r.use_case == "policy-qa" else r
            for r in original
        ]
        evidence = control_map.evaluate_evidence(facts)
    finally:
        facts.runtime = original
    assert evidence["TOKEN-CAPS"].status == "FAIL" and "policy-qa" in evidence["TOKEN-CAPS"].detail


def test_template_text_is_escaped_in_both_formats() -> None:
    hostile = '<script>alert("x")</script> | **bold** [link](http://x)'
    document = Document(
        "t <b>",
        [Paragraph("# not a heading")],
        [Section("s", "S", [Table("t", ["A|B"], [[Cell(hostile), Cell(hostile, code=True)]])])],
    )
    html_text = render_html(document)
    assert (
        "<script>alert" not in html_text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html_text
    )
    markdown = render_markdown(document)
    table_row = next(line for line in markdown.splitlines() if "alert" in line)
    assert table_row.count(" | ") == 1  # the cell separator only: every | in the data is escaped
    prose = re.sub(r"`[^`]*`", "", markdown)  # code spans show their content literally, never as HTML
    assert "<script>" not in prose and "&lt;script&gt;" in prose and "\\*\\*bold\\*\\*" in prose
    assert "\\# not a heading" in markdown


def test_cfn_lint_findings_reach_the_report_from_worker_processes() -> None:
    stacks = [
        StackTemplate(name, "111111111111", "us-east-1", FIXTURES / f"{kind}.template.json", {})
        for name, kind in (("Bad/Stack", "lint_error"), ("Good/Stack", "lint_clean"))
    ]
    results = LintRun(stacks, parallel=True).wait()
    assert list(results) == ["Bad/Stack", "Good/Stack"]
    assert results["Good/Stack"] == []
    assert any("E3002" in line and "NotAQueueProperty" in line for line in results["Bad/Stack"])


def test_the_enforced_guardrail_is_shown_with_its_published_version_and_policy(
    reports: dict[str, Report],
) -> None:
    facts = reports["Prod"].facts
    (enforced,) = facts.enforced_guardrails
    assert enforced.published and enforced.guardrail is not None
    assert enforced.guardrail.name == "prod-enforced-baseline"
    # it is not counted among the use cases' guardrails
    assert enforced.guardrail.logical_id not in {g.logical_id for g in facts.guardrails}
    (table,) = [t for t in reports["Prod"].document.tables() if t.id == "bedrock-enforced"]
    rows = {row[1].text: row[2] for row in table.rows}
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
    assert control_map.evaluate_evidence(facts)["BEDROCK-ENFORCED-GUARDRAIL"].status == "PASS"


def test_an_opt_out_is_shown_as_needing_attention(assembly_copy: Path) -> None:
    reason = "The organization enforces a guardrail on this account through AWS Organizations policies."

    def opt_out(template: dict) -> None:  # type: ignore[type-arg]
        for lid in [
            k
            for k, v in template["Resources"].items()
            if v["Type"] == "AWS::Bedrock::EnforcedGuardrailConfiguration"
        ]:
            del template["Resources"][lid]
        template.setdefault("Metadata", {})[ENFORCED_GUARDRAIL_OPT_OUT] = {"opt_out_reason": reason}

    mutate_template(assembly_copy, "Prod/Platform", opt_out)
    report = build_reports(assembly_copy, environments=["Prod"], lint=False)["Prod"]
    (table,) = [t for t in report.document.tables() if t.id == "bedrock-enforced"]
    (row,) = [r for r in table.rows if r[1].text == "opted out"]
    assert row[2].text == reason and row[2].flag == "bad" and row[2].badge == "OPTED OUT"
    evidence = control_map.evaluate_evidence(report.facts)["BEDROCK-ENFORCED-GUARDRAIL"]
    assert (
        evidence.status == "FAIL"
        and "needs a reviewer's decision" in evidence.detail
        and reason in evidence.detail
    )
