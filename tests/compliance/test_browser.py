"""The HTML review pack opens in a real (headless) browser: it renders, its script runs without error and
its tables hold the rows the assembly implies."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.report.build import Report
from platform_config import PlatformConfig
from tests.compliance.browser import Rendered, chromium, render, summarize
from tests.infra.conftest import Synthesized

FIXTURES = Path(__file__).with_name("fixtures")
SECTIONS = [
    "Changes against environment Staging of this assembly",
    "Summary",
    "Bedrock inventory",
    "Access",
    "Data protection",
    "Operations",
    "Acknowledged cdk-nag findings",
    "Ignored cfn-lint checks",
    "Control mapping",
    "Resource index",
]

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="chromium is not installed: apt-get install -y chromium (make test installs it)",
)


@pytest.fixture(scope="module")
def prod_page(report_dir: Path) -> Rendered:
    return render(report_dir / "Prod.html")


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
    assert tables["acknowledgments"] == len(reports["Prod"].facts.acknowledgments) > 40
    assert tables["controls-owasp-llm-2025"] == 10


def test_the_dev_report_renders_without_script_errors(report_dir: Path, config: PlatformConfig) -> None:
    rendered = render(report_dir / "Dev.html")
    assert rendered.script_errors == []
    profiles = sum(len(c.inference_profiles) for c in config.contracts_for("dev"))
    assert summarize(rendered.dom).tables["bedrock-profiles"] == profiles
