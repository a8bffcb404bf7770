"""The contract's ``review`` section: safe defaults, the shipped policies, and every rule failing on a bad
file with its file, line, field, value and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platform_config import PlatformConfig
from platform_spec.contract import ReviewMode, ReviewPolicy, RiskTier
from tests.config.conftest import FieldDeleter, FieldSetter
from tests.config.test_loader import check, load_error, only_problem
from tests.support.contracts import contract_files, examples_root

RFP = "contracts/rfp-drafting.yaml"
POLICY_QA = "contracts/policy-qa.yaml"
SUPPORT = "contracts/support-ticket-summary.yaml"


def test_defaults_are_safe() -> None:
    # With no review section, flagged outputs go to people and the flags are on; nothing is held.
    policy = ReviewPolicy()
    assert policy.mode is ReviewMode.FLAGGED and not policy.hold_for_review
    assert policy.flags.guardrail_intervention and policy.flags.high_risk and policy.flags.negative_feedback
    assert policy.flags.low_score == 0.5
    assert policy.audit_retention_days > policy.retention_days


def test_every_high_risk_contract_sends_outputs_to_people_and_holding_ones_store_text(
    real_config: PlatformConfig,
) -> None:
    contracts = {c.id: c for env in real_config.environments for c in real_config.contracts_for(env.name)}
    assert contracts
    for contract in contracts.values():
        if contract.risk_tier is RiskTier.HIGH:
            assert contract.review.mode is not ReviewMode.NONE, contract.id
        if contract.review.hold_for_review:
            assert contract.review.mode is ReviewMode.ALL and contract.logging.prompts_and_responses
    # The examples' high-risk contract holds its answers for review; the others sample and flag (the
    # tests' copy of an example where a fork retired it).
    files = contract_files(examples_root())
    assert any(
        d["risk_tier"] == "high" and d.get("review", {}).get("hold_for_review") for d in files.values()
    )
    assert any(d.get("review", {}).get("mode") == "sampled" for d in files.values())


def test_live_scoring_comes_from_the_golden_suite_and_the_rubric_only_where_text_may_be_stored(
    real_config: PlatformConfig,
) -> None:
    for env in real_config.environments:
        for contract in real_config.contracts_for(env.name):
            live = contract.live_scoring
            evaluation = real_config.evaluations.get(contract.id)
            golden = evaluation.suites.get("golden") if evaluation else None
            if golden is not None:
                assert live.suite == "golden"
                assert live.expectations == golden.document.defaults
            assert (live.rubric is not None) == bool(
                evaluation and evaluation.policy.model_graded and contract.logging.prompts_and_responses
            )


def _review(set_field: FieldSetter, file: str, values: dict[str, Any]) -> None:
    for name, value in values.items():
        set_field(file, f"review.{name}", value)


@pytest.mark.parametrize(
    ("file", "values", "field", "bad", "fix", "message"),
    [
        (RFP, {"mode": "flagged"}, "review.mode", "flagged", "set review.mode: all", "every held answer"),
        (
            SUPPORT,
            {"hold_for_review": True, "mode": "all", "sample_rate": 0},
            "review.hold_for_review",
            True,
            "allow storing text",
            "forbids storing response text",
        ),
        (POLICY_QA, {"sample_rate": 0}, "review.sample_rate", 0, "set a share such as 0.05", "no output"),
        (
            POLICY_QA,
            {"mode": "flagged"},
            "review.sample_rate",
            0.05,
            "set review.mode: sampled",
            "only used in mode sampled",
        ),
        (
            RFP,
            {"audit_retention_days": 90},
            "review.audit_retention_days",
            90,
            "set audit_retention_days above 90",
            "outlive the item",
        ),
        (
            RFP,
            {"mode": "none", "hold_for_review": False},
            "review.mode",
            "none",
            "use mode flagged",
            "high risk-tier",
        ),
    ],
)
def test_a_bad_review_policy_is_refused_with_its_fix(
    config_root: Path,
    set_field: FieldSetter,
    file: str,
    values: dict[str, Any],
    field: str,
    bad: Any,
    fix: str,
    message: str,
) -> None:
    _review(set_field, file, values)
    error = load_error(config_root, field.replace(".", r"\."))
    check(only_problem(error), file=file, field=field, value=bad, fix=fix, message=message)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("review.sample_rate", 1.5),
        ("review.sla_hours", 0),
        ("review.flags.low_score", -0.1),
        ("review.mode", "some"),
    ],
)
def test_review_bounds_are_schema_errors(
    config_root: Path, set_field: FieldSetter, field: str, bad: Any
) -> None:
    set_field(POLICY_QA, field, bad)
    error = load_error(config_root, field.replace(".", r"\."))
    assert any(p.file == POLICY_QA and p.field == field for p in error.problems), str(error)


def test_a_contract_without_a_review_section_gets_the_defaults(
    config_root: Path, delete_field: FieldDeleter
) -> None:
    from platform_config import load_platform

    delete_field(POLICY_QA, "review")
    config = load_platform(config_root)
    (policy_qa,) = [c for c in config.contracts_for("dev") if c.id == "policy-qa"]
    assert policy_qa.review == ReviewPolicy()
