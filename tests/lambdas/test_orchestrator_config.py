"""Environment settings, runtime_config.json parsing, and the prompt files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.orchestrator.runtime_config import ConfigError, load_runtime_config, parse_runtime_config
from lambdas.orchestrator.settings import SettingsError, load_settings, profile_arn
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import PROMPTS_DIR, sample_resources, sample_runtime_config

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
    assert settings.account_id is None
    assert settings.runtime_config_path.name == "runtime_config.json"
    assert settings.runtime_config_path.parent.name == "orchestrator"
    assert settings.resilience.max_attempts_per_route == 3
    assert settings.resilience.backoff_base_s == 0.2
    assert settings.resilience.max_budget_s == 27.0
    resources = settings.resources["support-ticket-summary"]
    assert dict(resources.profiles) == {
        "primary": "stsprimary01",
        "fallback": "stsfallbk01",
        "light": "stslight001",
    }
    assert (resources.guardrail_id, resources.guardrail_version) == ("grsts0000001", "3")


def test_settings_are_frozen() -> None:
    settings = load_settings(GOOD_ENV)
    with pytest.raises(AttributeError):
        settings.region = "eu-west-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.resources["x"] = settings.resources["policy-qa"]  # type: ignore[index]


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BEDROCK_RESOURCES": "{not json"}, "BEDROCK_RESOURCES is not valid JSON"),
        ({"BEDROCK_RESOURCES": "[]"}, "BEDROCK_RESOURCES must be a non-empty JSON object"),
        (
            {"BEDROCK_RESOURCES": '{"uc": {"primary": "p", "guardrail": "g", "guardrail_version": "1"}}'},
            "has no 'fallback' profile",
        ),
        (
            {"BEDROCK_RESOURCES": '{"uc": {"primary": "p", "fallback": "f", "guardrail_version": "1"}}'},
            r"\['uc'\]\.guardrail must be",
        ),
        (
            {
                "BEDROCK_RESOURCES": '{"uc": {"primary": "p", "fallback": "f", "guardrail": "g", "guardrail_version": "v1"}}'
            },
            "guardrail_version must be",
        ),
        (
            {
                "BEDROCK_RESOURCES": '{"uc": {"primary": "a b", "fallback": "f", "guardrail": "g", "guardrail_version": "1"}}'
            },
            r"\.primary must be an inference profile id",
        ),
        ({"AWS_ACCOUNT_ID": "12345"}, "AWS_ACCOUNT_ID must be 12 digits"),
        ({"AWS_REGION": "moon"}, "AWS_REGION 'moon' is not a region name"),
        ({"BEDROCK_MAX_ATTEMPTS_PER_ROUTE": "0"}, "BEDROCK_MAX_ATTEMPTS_PER_ROUTE must be >= 1"),
        ({"BEDROCK_READ_TIMEOUT_MS": "soon"}, "BEDROCK_READ_TIMEOUT_MS must be an integer"),
        (
            {"BEDROCK_BACKOFF_BASE_MS": "500", "BEDROCK_BACKOFF_MAX_MS": "100"},
            "BEDROCK_BACKOFF_MAX_MS must be >=",
        ),
        ({"IDEMPOTENCY_TTL_S": "-1"}, "IDEMPOTENCY_TTL_S must be a positive integer"),
    ],
)
def test_bad_variable_is_named(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**GOOD_ENV, **overrides})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"AWS_REGION": "us-east-1", "CIRCUIT_WINDOW_MS": "x"})
    assert len(raised.value.problems) == 5


def test_resilience_overrides_are_milliseconds() -> None:
    settings = load_settings({**GOOD_ENV, "BEDROCK_BACKOFF_BASE_MS": "50", "TIME_BUDGET_MAX_MS": "9000"})
    assert settings.resilience.backoff_base_s == 0.05
    assert settings.resilience.max_budget_s == 9.0


def test_profile_arn() -> None:
    assert (
        profile_arn("abc123", partition="aws-us-gov", region="us-gov-west-1", account="123456789012")
        == "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:application-inference-profile/abc123"
    )
    full = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzz"
    assert profile_arn(full, partition="aws", region="eu-west-1", account="1") == full


# --- runtime config -----------------------------------------------------------------------------------


def _broken(mutate: Any) -> dict[str, Any]:
    config = copy.deepcopy(sample_runtime_config())
    mutate(config)
    return config


def _sts(config: dict[str, Any]) -> dict[str, Any]:
    use_case: dict[str, Any] = config["use_cases"]["support-ticket-summary"]
    return use_case


def test_sample_config_parses() -> None:
    config = parse_runtime_config(sample_runtime_config())

    sts = config.use_cases["support-ticket-summary"]
    assert set(sts.routes) == {"primary", "fallback", "light"}
    assert sts.routes["fallback"].price_per_1k_input_usd is None
    assert sts.tiers[0].route == "light"
    assert sts.route_for(input_chars=40, message_count=1).name == "light"
    assert sts.route_for(input_chars=41, message_count=1).name == "primary"
    assert config.use_cases["policy-qa"].guardrail.grounding is True
    assert config.enabled_use_case("rfp-drafting") is None
    assert config.enabled_use_case("policy-qa") is not None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(schema_version=1), "schema_version must be 2"),
        (lambda c: c.update(extra=True), r"runtime_config\.extra is not a known key"),
        (lambda c: _sts(c).pop("limits"), r"\['support-ticket-summary'\]\.limits is required"),
        (
            lambda c: _sts(c)["limits"].update(max_output_tokens=0),
            r"limits\.max_output_tokens must be an integer >= 1",
        ),
        (
            lambda c: _sts(c)["limits"].update(max_ouput_tokens=5),
            r"limits\.max_ouput_tokens is not a known key",
        ),
        (lambda c: _sts(c)["routes"].pop("fallback"), r"routes\.fallback is required"),
        (
            lambda c: _sts(c)["routes"]["primary"].update(price_per_1k_input_usd=-1),
            "must be a number >= 0 or null",
        ),
        (
            lambda c: _sts(c)["routes"]["primary"].update(prompt_cache_min_tokens="yes"),
            r"prompt_cache_min_tokens must be an integer >= 1",
        ),
        (
            lambda c: _sts(c)["routes"]["primary"].update(prompt_caching=True),
            r"routes\.primary\.prompt_caching is not a known key",
        ),
        (
            lambda c: _sts(c)["routes"]["primary"].update(price_per_1k_cache_read_usd="cheap"),
            r"price_per_1k_cache_read_usd must be a number >= 0 or null",
        ),
        (
            lambda c: _sts(c).update(conversation={"cache_context": "yes"}),
            r"conversation\.cache_context must be true or false",
        ),
        (lambda c: _sts(c)["tiers"][0].update(route="nope"), r"tiers\[0\]\.route must name a route"),
        (lambda c: _sts(c)["tiers"][0].update(route="fallback"), r"tiers\[0\]\.route must name a route"),
        (lambda c: _sts(c)["tiers"][0].pop("max_input_chars"), r"tiers\[0\] needs at least one condition"),
        (lambda c: _sts(c).update(risk_tier="extreme"), "risk_tier must be one of"),
        (lambda c: _sts(c)["prompt"].update(system=" "), r"prompt\.system must be a non-empty string"),
        (
            lambda c: _sts(c)["guardrail"].update(grounding="on"),
            r"guardrail\.grounding must be true or false",
        ),
        (
            lambda c: _sts(c).update(log_prompts_and_responses=None),
            "log_prompts_and_responses must be true or false",
        ),
        (
            lambda c: _sts(c).update(conversation={"caller_history": "allow"}),
            r"conversation\.caller_history must be one of \['refuse', 'guard'\]",
        ),
        (
            lambda c: _sts(c).update(conversation={"history": "guard"}),
            r"conversation\.history is not a known key",
        ),
    ],
)
def test_invalid_runtime_config_is_rejected(mutate: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_runtime_config(_broken(mutate))


def test_runtime_config_must_match_deployed_resources(tmp_path: Path) -> None:
    path = tmp_path / "runtime_config.json"
    path.write_text(json.dumps(sample_runtime_config()))
    resources = load_settings(GOOD_ENV).resources
    partial = {k: v for k, v in resources.items() if k != "policy-qa"}

    with pytest.raises(ConfigError, match="'policy-qa' is enabled but has no entry in BEDROCK_RESOURCES"):
        load_runtime_config(path, partial)


def test_missing_runtime_config_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RUNTIME_CONFIG_PATH"):
        load_runtime_config(tmp_path / "absent.json", {})


def test_handler_import_fails_naming_the_variable(load_orchestrator: LoadOrchestrator) -> None:
    with pytest.raises(SettingsError, match="IDEMPOTENCY_TABLE is required"):
        load_orchestrator(IDEMPOTENCY_TABLE=None)


def test_handler_import_fails_on_a_route_without_a_profile(load_orchestrator: LoadOrchestrator) -> None:
    resources = sample_resources()
    del resources["support-ticket-summary"]["light"]
    with pytest.raises(ConfigError, match="has no profile for route 'light'"):
        load_orchestrator(BEDROCK_RESOURCES=json.dumps(resources))


# --- prompts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_case", ["support-ticket-summary", "policy-qa", "rfp-drafting"])
def test_prompt_files_have_version_and_system(use_case: str) -> None:
    document = yaml.safe_load((PROMPTS_DIR / f"{use_case}.yaml").read_text(encoding="utf-8"))

    assert set(document) == {"version", "system"}
    assert isinstance(document["version"], str) and document["version"]
    assert isinstance(document["system"], str) and len(document["system"]) > 300
    assert "not instructions" in document["system"]  # every prompt treats caller text as data


def test_policy_qa_prompt_answers_only_from_the_supplied_context() -> None:
    system = yaml.safe_load((PROMPTS_DIR / "policy-qa.yaml").read_text(encoding="utf-8"))["system"]

    assert "Answer ONLY from the supplied policy excerpts" in system
    assert "do not cover this" in system
