"""``delivery/pipeline.yaml`` and the contracts' ``release`` section: the shipped file loads, and every rule
refuses a bad file with the file, line, field, value and fix (one ``pytest.raises`` per rule)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_config import ConfigError, PlatformConfig, load_platform
from platform_config.errors import Problem
from platform_spec.contract import UseCaseAlarm
from platform_spec.delivery import DEFAULT_BAKE_MINUTES, DEFAULT_MIN_INVOCATIONS, MAX_BAKE_MINUTES
from tests.config.conftest import ROOT, FieldSetter, YamlEditor

PIPELINE = "delivery/pipeline.yaml"


@pytest.fixture
def delivery_root(config_root: Path) -> Path:
    shutil.copytree(
        ROOT / "delivery", config_root / "delivery", ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    return config_root


def _problem(root: Path, file: str, field: str, match: str, *, line: bool = True) -> Problem:
    with pytest.raises(ConfigError, match=match) as caught:
        load_platform(root)
    found = [p for p in caught.value.problems if p.file == file and p.field == field]
    assert len(found) == 1, str(caught.value)
    problem = found[0]
    rendered = problem.render()
    where = f"{file}:{problem.line}: " if line else f"{file}: "
    assert rendered.startswith(f"{where}{field}: ") and (isinstance(problem.line, int) or not line), rendered
    assert f"Fix: {problem.fix}" in rendered and problem.fix
    return problem


def test_the_shipped_delivery_file_loads(real_config: PlatformConfig) -> None:
    delivery = real_config.delivery
    assert delivery is not None
    assert [e.name for e in delivery.stages] == ["dev", "staging", "prod"]
    assert delivery.readiness.name == "staging" and delivery.production.name == "prod"
    assert delivery.bake.minutes == DEFAULT_BAKE_MINUTES == 72 * 60
    assert delivery.bake.min_invocations == DEFAULT_MIN_INVOCATIONS
    assert delivery.account not in {e.account for e in delivery.stages}
    assert all(c.release.peak_rps > 0 for e in delivery.stages for c in real_config.contracts_for(e.name))


def test_without_the_file_there_is_no_pipeline(config_root: Path) -> None:
    assert load_platform(config_root).delivery is None


def test_a_yml_file_is_not_silently_ignored(delivery_root: Path) -> None:
    (delivery_root / PIPELINE).rename(delivery_root / "delivery" / "pipeline.yml")
    problem = _problem(delivery_root, "delivery/pipeline.yml", "(file)", "only .yaml is read", line=False)
    assert "rename it" in problem.fix


def test_an_unknown_environment_is_named_with_a_suggestion(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    set_field(PIPELINE, "environments.1", "stagin")
    problem = _problem(delivery_root, PIPELINE, "environments[1]", "is not a known environment")
    assert problem.value == "stagin" and "did you mean 'staging'?" in problem.fix


def test_production_must_come_last(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field(PIPELINE, "environments", ["dev", "prod", "staging"])
    with pytest.raises(ConfigError) as caught:
        load_platform(delivery_root)
    fields = {p.field: p for p in caught.value.problems if p.file == PIPELINE}
    assert "before the readiness gate and without the canary bake" in fields["environments[1]"].message
    assert "production: false" in fields["environments[2]"].message


def test_the_delivery_account_is_its_own(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field(PIPELINE, "account", "222222222222")
    set_field(PIPELINE, "source.connection_arn", _connection("us-east-1", "222222222222"))
    problem = _problem(delivery_root, PIPELINE, "account", "is also the account of environment staging")
    assert problem.value == "222222222222" and "dedicated delivery account" in problem.fix


def _connection(region: str, account: str) -> str:
    return f"arn:aws:codeconnections:{region}:{account}:connection/0f3c9d52-7a1e-4c8b-9b0e-2d6f5e8a1c47"


def test_the_connection_is_in_the_delivery_account_and_region(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    set_field(PIPELINE, "source.connection_arn", _connection("eu-west-1", "444444444444"))
    problem = _problem(
        delivery_root, PIPELINE, "source.connection_arn", "region eu-west-1, but the pipeline runs"
    )
    assert "create the connection in the delivery account and region" in problem.fix


def test_a_malformed_connection_arn_is_refused(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field(PIPELINE, "source.connection_arn", "arn:aws:codestar:us-east-1:444444444444:connection/x")
    problem = _problem(delivery_root, PIPELINE, "source.connection_arn", "connection_arn")
    assert "Connections" in problem.fix


def test_the_poll_fits_in_the_bake(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field(PIPELINE, "bake.minutes", 30)
    set_field(PIPELINE, "bake.poll_minutes", 45)
    problem = _problem(delivery_root, PIPELINE, "bake.poll_minutes", "is longer than the bake itself")
    assert problem.value == 45 and "at most 30" in problem.fix


def test_a_bake_that_would_exceed_the_state_machine_history_is_refused(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    set_field(PIPELINE, "bake.minutes", MAX_BAKE_MINUTES)
    set_field(PIPELINE, "bake.poll_minutes", 1)
    problem = _problem(delivery_root, PIPELINE, "bake.poll_minutes", "25,000 history events")
    assert "use at least" in problem.fix


def test_a_bake_longer_than_the_pipeline_action_allows_is_refused(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    set_field(PIPELINE, "bake.minutes", MAX_BAKE_MINUTES + 1)
    problem = _problem(delivery_root, PIPELINE, "bake.minutes", "bake.minutes")
    assert problem.value == MAX_BAKE_MINUTES + 1


def test_a_minimum_of_invocations_the_canary_could_never_serve_is_refused(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    # the canary's 10 % of prod's declared peaks (every contract enabled there in the copy) for a 60-minute bake
    copied = load_platform(delivery_root)
    assert copied.delivery is not None
    production = copied.delivery.production.name
    peaks = {
        c.id: c.release.peak_rps for c in copied.contracts_for(production) if c.release.peak_rps is not None
    }
    reachable = math.floor(0.1 * sum(peaks.values()) * 60 * 60)
    set_field(PIPELINE, "bake.minutes", 60)
    set_field(PIPELINE, "bake.min_invocations", reachable + 1)
    problem = _problem(delivery_root, PIPELINE, "bake.min_invocations", "is more than the canary could serve")
    assert problem.value == reachable + 1
    assert (
        f"declared peak of {sum(peaks.values()):g} requests per second" in problem.message
        and f"is {reachable} invocations" in problem.message
    )
    assert all(f"{uc} {rps:g}" in problem.message for uc, rps in peaks.items())
    assert problem.fix == f"use at most {reachable}, or lengthen bake.minutes"
    set_field(PIPELINE, "bake.min_invocations", reachable)
    assert load_platform(delivery_root).delivery is not None


def test_without_a_use_case_in_production_the_bake_asks_for_no_canary_traffic(
    delivery_root: Path, set_field: FieldSetter, real_config: PlatformConfig
) -> None:
    assert real_config.delivery is not None
    production = real_config.delivery.production.name
    assert real_config.delivery.bake.min_invocations == DEFAULT_MIN_INVOCATIONS
    # GIVEN no contract enabled in production (a platform brought up before its first use case goes live)
    for contract in sorted((delivery_root / "contracts").glob("*.yaml")):
        environments = yaml.safe_load(contract.read_text(encoding="utf-8"))["environments"]
        set_field(f"contracts/{contract.name}", "environments", [e for e in environments if e != production])
    # THEN nothing could serve the canary its minimum, so the bake does not wait for traffic that cannot come
    delivery = load_platform(delivery_root).delivery
    assert delivery is not None and delivery.bake.min_invocations == 0


def test_promotion_cannot_be_made_to_need_no_invocations(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field(PIPELINE, "bake.min_invocations", 0)
    problem = _problem(delivery_root, PIPELINE, "bake.min_invocations", "bake.min_invocations")
    assert problem.value == 0


def test_a_use_case_cannot_reach_production_untested(delivery_root: Path, set_field: FieldSetter) -> None:
    set_field("contracts/policy-qa.yaml", "environments", ["dev", "prod"])
    problem = _problem(
        delivery_root, "contracts/policy-qa.yaml", "environments", "would reach production untested"
    )
    assert "add staging to environments" in problem.fix


def test_a_misspelt_readiness_environment_is_reported_once(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    # GIVEN staging misspelt: the contract names an unknown environment, and so not staging
    set_field("contracts/policy-qa.yaml", "environments", ["dev", "stagin", "prod"])
    with pytest.raises(ConfigError) as caught:
        load_platform(delivery_root)
    # THEN the typo is the one problem, with its "did you mean", not also "add staging to environments"
    [problem] = caught.value.problems
    assert (problem.file, problem.field, problem.value) == (
        "contracts/policy-qa.yaml",
        "environments[1]",
        "stagin",
    )
    assert "did you mean 'staging'?" in problem.fix


def test_declared_peaks_must_fit_the_reserved_concurrency(
    delivery_root: Path, set_field: FieldSetter
) -> None:
    set_field("contracts/support-ticket-summary.yaml", "release.peak_rps", 400)
    with pytest.raises(ConfigError, match="so Lambda would throttle it") as caught:
        load_platform(delivery_root)
    problems = [p for p in caught.value.problems if p.field == "reserved_concurrency"]
    assert problems and all("raise reserved_concurrency" in p.fix for p in problems)
    assert all("support-ticket-summary" in p.message for p in problems)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("release.peak_rps", 0, "peak_rps"),
        ("release.min_success_rate", 0.2, "min_success_rate"),
        ("release.critical_alarms", [], "critical_alarms"),
        ("release.critical_alarms", ["Composite", "Composite"], "critical_alarms"),
        ("release.critical_alarms", ["Paging"], "critical_alarms"),
    ],
)
def test_a_bad_release_section_is_refused(
    config_root: Path, set_field: FieldSetter, field: str, value: Any, match: str
) -> None:
    set_field("contracts/policy-qa.yaml", field, value)
    with pytest.raises(ConfigError, match=match) as caught:
        load_platform(config_root)
    assert any(
        p.file == "contracts/policy-qa.yaml" and p.field.startswith(field) for p in caught.value.problems
    )


def test_a_critical_alarm_the_use_case_does_not_have_is_refused(
    config_root: Path, edit_yaml: YamlEditor
) -> None:
    def mutate(data: Any) -> None:
        data.setdefault("release", {})["critical_alarms"] = [UseCaseAlarm.TPM_QUOTA_USAGE.value]
        (data.get("limits") or {}).pop("tpm_quota", None)

    edit_yaml("contracts/policy-qa.yaml", mutate)
    problem = _problem(
        config_root, "contracts/policy-qa.yaml", "release.critical_alarms", "limits.tpm_quota is not set"
    )
    assert "set limits.tpm_quota" in problem.fix


@pytest.mark.parametrize(
    ("region", "problem_fields"),
    [
        # a typo: one problem on the region, not also "the connection is in another region"
        ("us-easst-1", {"delivery/pipeline.yaml": ["region"]}),
        # a real region without Bedrock models in the catalog is a region (the connection is then elsewhere)
        ("ap-east-2", {"delivery/pipeline.yaml": ["source.connection_arn"]}),
    ],
)
def test_the_delivery_region_must_be_an_aws_region(
    delivery_root: Path, set_field: FieldSetter, region: str, problem_fields: dict[str, list[str]]
) -> None:
    set_field("delivery/pipeline.yaml", "region", region)
    with pytest.raises(ConfigError) as caught:
        load_platform(delivery_root)
    found: dict[str, list[str]] = {}
    for problem in caught.value.problems:
        found.setdefault(problem.file, []).append(problem.field)
    assert found == problem_fields, str(caught.value)
    if region == "us-easst-1":
        (problem,) = caught.value.problems
        assert (problem.value, problem.message) == (region, "is not an AWS region")
        assert problem.fix.startswith("did you mean 'us-east-1'?")
