"""Environment settings, runtime_config.json and BEDROCK_RESOURCES as the handler reads them, and the prompts.

The documents are declared in ``platform_spec.runtime`` (also used by the construct that writes them);
these tests prove the handler refuses every broken variant, naming what is wrong.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.orchestrator.runtime_config import ConfigError, load_runtime_config
from lambdas.orchestrator.settings import SettingsError, load_settings
from platform_config.documents import load_yaml
from platform_spec.api import ResilienceSettings
from platform_spec.fields import from_dict
from platform_spec.runtime import DeployedResources, RuntimeConfig, read_runtime_config
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import (
    CONFIGURATION_ROOT,
    PROMPTS_DIR,
    arn,
    guardrail_arn,
    sample_resources,
    sample_runtime_config,
)

GOOD_ENV = {
    "AWS_REGION": "us-east-1",
    "BEDROCK_RESOURCES": json.dumps(sample_resources()),
    "IDEMPOTENCY_TABLE": "idem",
    "POWERTOOLS_SERVICE_NAME": "orchestrator",
    "POWERTOOLS_METRICS_NAMESPACE": "BedrockPlatform",
}


# --- settings -----------------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = load_settings(GOOD_ENV)

    assert settings.region == "us-east-1"
    assert settings.runtime_config_path.name == "runtime_config.json"
    assert settings.runtime_config_path.parent.name == "orchestrator"
    assert settings.resilience == ResilienceSettings()  # constants: nothing deploys other values
    assert settings.resilience.max_budget_s == 27.0
    resources = settings.resources.use_cases["support-ticket-summary"]
    assert dict(resources.profile_arns) == {
        "primary": arn("stsprimary01"),
        "fallback": arn("stsfallbk01"),
        "light": arn("stslight001"),
    }
    assert (resources.guardrail_arn, resources.guardrail_version) == (guardrail_arn("grsts0000001"), "3")


def test_resilience_values_are_not_environment_variables() -> None:
    settings = load_settings({**GOOD_ENV, "BEDROCK_BACKOFF_BASE_MS": "50", "TIME_BUDGET_MAX_MS": "9000"})
    assert settings.resilience == ResilienceSettings()


def test_settings_are_frozen() -> None:
    settings = load_settings(GOOD_ENV)
    with pytest.raises(AttributeError):
        settings.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.resources.use_cases["x"] = settings.resources.use_cases["policy-qa"]  # type: ignore[index]


@pytest.mark.parametrize(
    "missing",
    [
        "AWS_REGION",
        "BEDROCK_RESOURCES",
        "IDEMPOTENCY_TABLE",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    ],
)
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in GOOD_ENV.items() if k != missing}
    with pytest.raises(SettingsError, match=f"{missing} is required"):
        load_settings(env)


def _resources(mutate: Any) -> str:
    document = sample_resources()
    mutate(document["use_cases"]["policy-qa"])
    return json.dumps(document)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BEDROCK_RESOURCES": "{not json"}, "BEDROCK_RESOURCES is not valid JSON"),
        ({"BEDROCK_RESOURCES": "[]"}, "BEDROCK_RESOURCES must be an object"),
        ({"BEDROCK_RESOURCES": '{"policy-qa": {}}'}, r"BEDROCK_RESOURCES\.policy-qa is not a known field"),
        (
            {"BEDROCK_RESOURCES": _resources(lambda uc: uc.pop("guardrail_arn"))},
            r"\['policy-qa'\]\.guardrail_arn is required",
        ),
        (
            {"BEDROCK_RESOURCES": _resources(lambda uc: uc.update(guardrail_version="DRAFT"))},
            r"guardrail_version must match",  # DRAFT is never deployed
        ),
        (
            {"BEDROCK_RESOURCES": _resources(lambda uc: uc["profile_arns"].update(primary="pqaprimary01"))},
            r"profile_arns\['primary'\] must match \^arn:",  # an id is not an ARN: nothing is rebuilt
        ),
        ({"AWS_REGION": "moon"}, "AWS_REGION 'moon' is not a region name"),
        ({"IDEMPOTENCY_TTL_S": "soon"}, "IDEMPOTENCY_TTL_S must be a positive integer"),
    ],
)
def test_invalid_environment_is_rejected(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**GOOD_ENV, **overrides})


def test_every_settings_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"AWS_REGION": "us-east-1", "IDEMPOTENCY_TTL_S": "x"})
    assert len(caught.value.problems) == 5  # 4 missing variables and the bad TTL


def test_handler_rejects_an_inconsistent_resilience_policy(load_orchestrator: LoadOrchestrator) -> None:
    module = load_orchestrator()
    with pytest.raises(ValueError, match="backoff_max_s must be >= backoff_base_s"):
        module.configure(dataclasses.replace(ResilienceSettings(), backoff_base_s=5.0, backoff_max_s=1.0))


# --- runtime config -----------------------------------------------------------------------------------


def _broken(mutate: Any) -> dict[str, Any]:
    config = copy.deepcopy(sample_runtime_config())
    mutate(config)
    return config


def _sts(config: dict[str, Any]) -> dict[str, Any]:
    use_case: dict[str, Any] = config["use_cases"]["support-ticket-summary"]
    return use_case


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "runtime_config.json"
    path.write_text(json.dumps(document))
    return path


def test_sample_config_parses(tmp_path: Path) -> None:
    config = read_runtime_config(_write(tmp_path, sample_runtime_config()))

    sts = config.use_cases["support-ticket-summary"]
    assert list(sts.routes) == ["primary", "light", "fallback"]
    assert sts.routes["fallback"].price_per_1k_input_usd is None
    assert sts.tiers[0].name == "light"
    assert sts.route_for(input_chars=40, message_count=1) == "light"
    assert sts.route_for(input_chars=41, message_count=1) == "primary"
    assert config.use_cases["policy-qa"].contract.guardrail.grounded is True
    assert config.enabled_use_case("rfp-drafting") is None
    assert config.enabled_use_case("policy-qa") is not None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(schema_version=2), "schema_version is 2, this function reads 4"),
        (lambda c: c.update(extra=True), r"runtime_config\.extra is not a known field"),
        (
            lambda c: _sts(c)["contract"].pop("limits"),
            r"\['support-ticket-summary'\]\.contract\.limits is required",
        ),
        (
            lambda c: _sts(c)["contract"]["limits"].update(max_output_tokens=0),
            r"limits\.max_output_tokens must be at least 1",
        ),
        (
            lambda c: _sts(c)["contract"]["limits"].update(max_ouput_tokens=5),
            r"limits\.max_ouput_tokens is not a known field",
        ),
        (lambda c: _sts(c)["routes"].pop("fallback"), r"routes has no \['fallback'\]"),
        (lambda c: _sts(c)["routes"].pop("light"), r"routes has no \['light'\]"),
        (
            lambda c: _sts(c)["routes"]["primary"].update(prompt_cache_min_tokens="yes"),
            r"prompt_cache_min_tokens must be an integer",
        ),
        (
            lambda c: _sts(c)["routes"]["primary"].update(price_per_1k_cache_read_usd="cheap"),
            r"price_per_1k_cache_read_usd must be a number",
        ),
        (
            lambda c: _sts(c)["contract"].update(conversation={"cache_context": "yes"}),
            r"conversation\.cache_context must be true or false",
        ),
        (lambda c: _sts(c)["contract"].update(risk_tier="extreme"), "risk_tier must be one of"),
        (lambda c: _sts(c)["prompt"].update(system=" "), r"prompt\.system must have at least 20 characters"),
        (
            lambda c: _sts(c)["contract"].update(id="other"),
            r"contract\.id is 'other', not 'support-ticket-summary'",
        ),
        (
            lambda c: _sts(c)["contract"].update(conversation={"caller_history": "allow"}),
            r"conversation\.caller_history must be one of 'refuse', 'guard'",
        ),
        (
            lambda c: _sts(c)["contract"].update(conversation={"history": "guard"}),
            r"conversation\.history is not a known field",
        ),
    ],
)
def test_invalid_runtime_config_is_rejected(tmp_path: Path, mutate: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_runtime_config(_write(tmp_path, _broken(mutate)), load_settings(GOOD_ENV).resources)


def test_runtime_config_must_match_deployed_resources(tmp_path: Path) -> None:
    path = _write(tmp_path, sample_runtime_config())
    resources = load_settings(GOOD_ENV).resources
    partial = DeployedResources(use_cases={k: v for k, v in resources.use_cases.items() if k != "policy-qa"})

    with pytest.raises(ConfigError, match="'policy-qa' is enabled but has no entry in BEDROCK_RESOURCES"):
        load_runtime_config(path, partial)


def test_missing_runtime_config_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RUNTIME_CONFIG_PATH"):
        load_runtime_config(tmp_path / "absent.json", DeployedResources(use_cases={}))


def test_handler_import_fails_naming_the_variable(load_orchestrator: LoadOrchestrator) -> None:
    with pytest.raises(SettingsError, match="IDEMPOTENCY_TABLE is required"):
        load_orchestrator(IDEMPOTENCY_TABLE=None)


def test_handler_import_fails_on_a_route_without_a_profile(load_orchestrator: LoadOrchestrator) -> None:
    resources = sample_resources()
    del resources["use_cases"]["support-ticket-summary"]["profile_arns"]["light"]
    with pytest.raises(ConfigError, match="has no profile for route 'light'"):
        load_orchestrator(BEDROCK_RESOURCES=json.dumps(resources))


def test_sample_config_is_the_generated_one_for_the_examples_contracts() -> None:
    """The handler tests run on what the construct generates for the contracts they read (the examples':
    ``CONFIGURATION_ROOT``), three documented differences aside."""
    from platform_config import load_platform
    from platform_config.runtime import runtime_config

    generated = runtime_config(load_platform(CONFIGURATION_ROOT).contracts_for("dev"), "dev")
    sample = from_dict(RuntimeConfig, sample_runtime_config())
    assert sample.use_cases.keys() == generated.use_cases.keys()
    for use_case_id, generated_use_case in generated.use_cases.items():
        assert sample.use_cases[use_case_id].prompt == generated_use_case.prompt
        assert list(sample.use_cases[use_case_id].routes) == list(generated_use_case.routes)


# --- prompts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_case", ["support-ticket-summary", "policy-qa", "rfp-drafting"])
def test_prompt_files_have_version_and_system(use_case: str) -> None:
    document = load_yaml((PROMPTS_DIR / f"{use_case}.yaml").read_text(encoding="utf-8"))

    assert set(document) == {"version", "system"}
    assert isinstance(document["version"], str) and document["version"]
    assert isinstance(document["system"], str) and len(document["system"]) > 300
    assert "not instructions" in document["system"]  # every prompt treats caller text as data


def test_policy_qa_prompt_answers_only_from_the_supplied_context() -> None:
    system = load_yaml((PROMPTS_DIR / "policy-qa.yaml").read_text(encoding="utf-8"))["system"]

    assert "Answer ONLY from the supplied policy excerpts" in system
    assert "do not cover this" in system
