"""The HTML review pack opens in a real (headless) browser: it renders, its script runs without error, its
tables hold the rows the assembly implies, its header names commit, date and tools, long lists are folded,
and every link (red flag -> row -> acknowledgment) lands on an element of the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance.report.build import Report
from compliance.report.topics import TOPICS, access, acknowledgments
from platform_config import PlatformConfig
from tests.compliance.browser import Rendered, chromium, render, summarize
from tests.compliance.conftest import META
from tests.infra.conftest import Synthesized

FIXTURES = Path(__file__).with_name("fixtures")
SECTIONS = ["Summary", "Changes against environment Staging of this assembly", *(t.title for t in TOPICS)]

pytestmark = [
    pytest.mark.skipif(
        chromium() is None,
        reason="chromium is not installed: apt-get install -y chromium (make test installs it)",
    ),
    pytest.mark.slow,  # every test here reads a page a real browser rendered
]


@pytest.fixture(scope="module")
def prod_page(report_dir: Path) -> Rendered:
    return render(report_dir / "Prod.html")


@pytest.fixture(scope="module")
def dev_page(report_dir: Path) -> Rendered:
    return render(report_dir / "Dev.html")


@pytest.fixture(scope="module")
def example_dev_page(example_report_dir: Path, report_dir: Path, dev_page: Rendered) -> Rendered:
    """:func:`dev_page` of the examples' app: ``dev_page`` itself while the repository ships them all."""
    return dev_page if example_report_dir == report_dir else render(example_report_dir / "Dev.html")


def test_the_harness_reports_script_errors() -> None:
    # A check that cannot fail proves nothing: this page calls a function that does not exist.
    rendered = render(FIXTURES / "broken_page.html")
    assert any("notAFunction" in error for error in rendered.script_errors)
    assert summarize(rendered.dom).tables == {"t": 2}


def test_the_report_renders_every_section_without_script_errors(prod_page: Rendered) -> None:
    assert prod_page.script_errors == []
    summary = summarize(prod_page.dom)
    assert [h for h in summary.headings if h in SECTIONS] == SECTIONS
    assert "flag-filter" in summary.ids  # the (optional) script ran and added its control


def test_the_header_names_commit_date_and_tool_versions(
    prod_page: Rendered, reports: dict[str, Report]
) -> None:
    (meta,) = re.findall(r'<dl id="report-meta">(.*?)</dl>', prod_page.dom, re.DOTALL)
    for label, value in reports["Prod"].document.meta:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in meta.replace("&lt;", "<").replace("&gt;", ">")
    assert META.commit in meta and "2026-11-30T09:00:00+00:00" in meta and "cfn-lint 1." in meta


def test_the_tables_hold_one_row_per_item(
    prod_page: Rendered, synthesized: Synthesized, reports: dict[str, Report], config: PlatformConfig
) -> None:
    resources = [r for s in synthesized.stacks if s.name.startswith("Prod/") for r in s.resources.values()]
    tables = summarize(prod_page.dom).tables
    count = lambda kind: sum(1 for r in resources if r["Type"] == kind)  # noqa: E731
    prod = config.contracts_for("prod")
    # one profile per route of every use case Prod runs, and one per model-graded use case's judge
    profiles = sum(len(c.inference_profiles) for c in prod)
    assert tables["bedrock-profiles"] == count("AWS::Bedrock::ApplicationInferenceProfile") == profiles
    # the use cases' guardrails; the account's enforced baseline has its own table
    enforced = count("AWS::Bedrock::EnforcedGuardrailConfiguration")
    assert tables["bedrock-guardrails"] == count("AWS::Bedrock::Guardrail") - enforced == len(prod)
    assert enforced == 1 and tables["bedrock-enforced"] == 8
    assert tables["operations-alarms"] == count("AWS::CloudWatch::Alarm") + count(
        "AWS::CloudWatch::CompositeAlarm"
    )
    assert tables["access-principals"] == count("AWS::IAM::Role")
    assert tables["resources-index"] == len(resources)
    assert tables["acknowledgments"] == len(reports["Prod"].facts(acknowledgments.TOPIC).acknowledgments) > 40
    assert tables["controls-owasp-llm-2025"] == 10
    assert tables["summary-red-flags"] == min(len(reports["Prod"].red_flags), 8)


@pytest.mark.parametrize("env", ["Prod", "Dev"])
def test_every_link_lands_on_an_element_of_the_page(
    env: str, prod_page: Rendered, dev_page: Rendered, reports: dict[str, Report]
) -> None:
    summary = summarize((prod_page if env == "Prod" else dev_page).dom)
    assert summary.links and set(summary.links) <= summary.ids
    # each red flag of the summary links to its row, and an acknowledged one to its acknowledgment's row
    for flag in reports[env].red_flags:
        assert flag.anchor in summary.ids
    acknowledged = [f for f in reports[env].red_flags if f.acknowledged]
    assert acknowledged
    assert all(any(target.startswith("ack-") for target in summary.links) for _ in acknowledged)


def test_long_iam_lists_are_folded_in_the_browser(
    example_dev_page: Rendered, example_reports: dict[str, Report]
) -> None:
    summary = summarize(example_dev_page.dom)
    expected = {
        table.id: sum(1 for row in table.rows for c in row if c.collapsed)
        for table in example_reports["Dev"].document.tables()
        if table.id.startswith("access-")
    }
    assert {k: v for k, v in summary.details.items() if k.startswith("access-")} == {
        k: v for k, v in expected.items() if v
    }
    assert sum(expected.values()) > 0
    longest = max(
        len(c.lines)
        for t in example_reports["Dev"].document.tables()
        if t.id == "access-grants"
        for row in t.rows
        for c in row
    )
    assert longest > access.LONG_LIST and f"and {longest - 3} more</summary>" in example_dev_page.dom


def test_the_dev_report_renders_without_script_errors(dev_page: Rendered, config: PlatformConfig) -> None:
    assert dev_page.script_errors == []
    profiles = sum(len(c.inference_profiles) for c in config.contracts_for("dev"))
    assert summarize(dev_page.dom).tables["bedrock-profiles"] == profiles
