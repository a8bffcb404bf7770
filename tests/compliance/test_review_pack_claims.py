"""What a compliance reviewer reads in the pack says what the templates say: each test names a line of the
pack that read otherwise (a stale claim, a count that means something else than the rows it counts, a limit
that limits nothing) and checks it against the synthesized template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from compliance.report.build import Report, build_reports
from compliance.report.document import BAD, Table
from compliance.report.topics import access, controls, human_review, inventory, operations, protection
from tests.compliance.conftest import ENVIRONMENTS, mutate_template, text_delivery_on


def _table(report: Report, table_id: str) -> Table:
    (table,) = [t for t in report.document.tables() if t.id == table_id]
    return table


def _usage_plan(report: Report) -> operations.Limit:
    (plan,) = [
        limit
        for limit in report.facts(operations.TOPIC).limits
        if limit.resource.startswith("OrchestrationApiUsagePlan")
    ]
    return plan


def _prompt(report: Report) -> protection.Protection:
    (prompt,) = [
        p for p in report.facts(protection.TOPIC).resources if p.logical_id == "PolicyQaPrompt7BA780EF"
    ]
    return prompt


def test_a_usage_plan_no_method_requires_a_key_for_is_not_presented_as_a_limit(
    reports: dict[str, Report], assembly_copy: Path
) -> None:
    # GIVEN Prod as synthesized: every method is AWS_IAM, none requires an API key (ApiKeyRequired unset)
    plan = _usage_plan(reports["Prod"])
    # THEN the plan's throttle and quota are not shown as a consumption limit in force: API Gateway applies
    # a usage plan to requests that carry one of its API keys, on methods that require one
    assert plan.control == "API usage plan, not enforced"
    assert "no method requires an API key" in plan.setting

    # GIVEN every method requires an API key
    def require_keys(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::ApiGateway::Method":
                resource["Properties"]["ApiKeyRequired"] = True

    mutate_template(assembly_copy, "Prod/Platform", require_keys)
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    # THEN the plan is a limit again
    plan = _usage_plan(report)
    assert plan.control == "API usage plan" and "not enforced" not in plan.setting


def test_api_throttling_names_the_path_as_a_caller_writes_it(reports: dict[str, Report]) -> None:
    # MethodSettings' ResourcePath escapes "/" as "~1" (JSON Pointer); the pack shows the path itself
    settings = [
        limit.setting
        for limit in reports["Prod"].facts(operations.TOPIC).limits
        if limit.control == "API throttling"
    ]
    assert any(s.startswith("POST /use-cases/{useCaseId}/feedback:") for s in settings), settings
    assert not any("~1" in s for s in settings)


def test_the_summarys_unrestricted_wildcard_count_is_the_rows_access_flags(
    reports: dict[str, Report],
) -> None:
    for env in ENVIRONMENTS:
        report = reports[env]
        (line,) = [
            v for what, v in access.TOPIC.counts(report.facts(access.TOPIC)) if what == "IAM principals"
        ]
        found = re.search(r"(\d+) statements? with an unrestricted wildcard", line)
        assert found, line
        flagged = [
            row
            for row in _table(report, "access-grants").rows
            if row[2].text == "Allow"
            and any(c.flag == BAD and c.badge == "UNRESTRICTED WILDCARD" for c in row)
        ]
        assert int(found.group(1)) == len(flagged), (env, line, len(flagged))


def _reviewer_reads(report: Report, use_case: str) -> str:
    (row,) = [r for r in _table(report, "human-review-policy").rows if r[0].text == use_case]
    return row[5].text


def test_a_reviewer_of_a_use_case_that_stores_no_text_is_told_whether_the_invocation_record_has_it(
    example_reports: dict[str, Report], example_assembly_copy: Path
) -> None:
    # GIVEN Prod: support-ticket-summary stores no text, and Bedrock's text delivery is off in the account
    assembly_copy = example_assembly_copy
    reads = _reviewer_reads(example_reports["Prod"], "support-ticket-summary")
    # THEN the pack does not send the reviewer to an invocation record that holds no text
    assert "text delivery is off" in reads and "holds no text" in reads, reads
    # GIVEN text delivery on
    mutate_template(assembly_copy, "Prod/Platform", lambda t: text_delivery_on(t, ("Create", "Update")))
    report = build_reports(assembly_copy, environments=["Prod"])["Prod"]
    reads = _reviewer_reads(report, "support-ticket-summary")
    assert "holds the prompt and the response" in reads, reads


def test_the_review_path_shows_the_construct_path_the_resource_index_shows(
    reports: dict[str, Report],
) -> None:
    report = reports["Prod"]
    index = {row[0].text: row[2].text for row in _table(report, "resources-index").rows}
    rows = _table(report, "human-review-resources").rows
    assert rows
    for row in rows:
        assert row[2].text == index[row[0].text], row[0].text


def test_the_control_mapping_names_every_role_that_may_invoke_a_model(
    example_reports: dict[str, Report],
) -> None:
    # GIVEN Prod (the examples' app: policy-qa is model-graded there), where the review scoring function's
    # role invokes the judge profile besides the orchestrator
    invokers = {r for p in example_reports["Prod"].facts(inventory.TOPIC).profiles for r in p.invokable_by}
    assert any(r.startswith("HumanReviewScoringFunction") for r in invokers), invokers
    # THEN the mapping's claims about who may invoke do not say that only the orchestrator may
    claims = {c.id: c.how for c in controls.load_controls() if c.id in ("GENSEC01-BP01", "LLM06")}
    for control_id, how in claims.items():
        assert "scoring function" in how and "orchestrator" in how, (control_id, how)
        assert not re.search(r"only the orchestrator|the only caller", how, re.IGNORECASE), (control_id, how)


def test_the_system_prompt_records_are_in_data_protection(
    example_reports: dict[str, Report], example_assembly_copy: Path
) -> None:
    # GIVEN Prod (the examples' app: policy-qa's prompt is changed below): each use case's system prompt is
    # an AWS::Bedrock::Prompt (its text, tagged confidential) with a retained PromptVersion, and no
    # CustomerEncryptionKeyArn
    report, assembly_copy = example_reports["Prod"], example_assembly_copy
    protected = {p.logical_id: p for p in report.facts(protection.TOPIC).resources}
    prompts = [
        r.logical_id for r in report.environment.resources if r.type.startswith("AWS::Bedrock::Prompt")
    ]
    assert len(prompts) == 2 * len(report.facts(human_review.TOPIC).use_cases)
    # THEN the pack says how each is encrypted and kept, not only that it exists (resource index: "only here")
    assert set(prompts) <= set(protected)
    assert "no CustomerEncryptionKeyArn" in _prompt(report).at_rest
    index = {row[0].text: row[4].text for row in _table(report, "resources-index").rows}
    assert all("Data protection" in index[p] for p in prompts)

    # GIVEN the prompt encrypted with the stack's own key
    def own_key(template: dict[str, Any]) -> None:
        template["Resources"]["PolicyQaPrompt7BA780EF"]["Properties"]["CustomerEncryptionKeyArn"] = {
            "Fn::GetAtt": ["OrchestrationApiKey4BD54C38", "Arn"]
        }

    mutate_template(assembly_copy, "Prod/Platform", own_key)
    prompt = _prompt(build_reports(assembly_copy, environments=["Prod"])["Prod"])
    assert prompt.at_rest == "KMS with OrchestrationApiKey4BD54C38"


def test_the_control_mapping_knows_the_prompts_are_in_bedrock_prompt_management(
    reports: dict[str, Report],
) -> None:
    # GIVEN Prod deploys Bedrock Prompt Management records of its system prompts
    assert any(r.type == "AWS::Bedrock::Prompt" for r in reports["Prod"].environment.resources)
    # THEN the prompt-catalog control and the prompt-leakage risk do not say there is none / only the asset
    mapping = {c.id: c for c in controls.load_controls()}
    catalog = mapping["GENSEC04-BP01"]
    assert "No prompt catalog service" not in catalog.gaps
    assert "AWS::Bedrock::Prompt" in catalog.how
    assert "Bedrock Prompt Management" in mapping["LLM07"].gaps


def test_the_pack_says_who_may_review_and_which_use_cases_one_reviewer_role_decides(
    reports: dict[str, Report],
) -> None:
    # GIVEN Prod: one reviewer role, trusting its account (any principal there whose own IAM policy lets it
    # assume the role, with a source identity), decides the items of every use case that sends outputs to
    # people; the template names no reviewer
    report = reports["Prod"]
    (row,) = _table(report, "human-review-reviewers").rows
    role, who, decides = (c.text for c in row)
    (account,) = report.environment.accounts
    # THEN the pack names the role, who may assume it as the trust policy says, and that IAM outside this
    # template decides who that is; and every use case whose items it decides
    assert role.startswith("HumanReviewReviewerRole"), role
    assert f"arn:aws:iam::{account}:root" in who and "sts:SourceIdentity" in who, who
    assert "outside this template" in who and row[1].flag is not None, who
    sent = [r.use_case for r in report.facts(human_review.TOPIC).use_cases if r.goes_to_people]
    assert sent and all(use_case in decides for use_case in sent), decides
    assert "every use case" in decides, decides
