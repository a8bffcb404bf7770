"""The config loader: the real configuration loads, and every validation rule names file, field, value and fix.

Each rule test breaks one field of a copy of the real configuration (``config_root``) and expects a
:class:`ConfigError` whose problem points at exactly that field, so a rule that stops firing, fires on
the wrong field or cascades into unrelated problems fails here.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import platform_config.loader as loader
from platform_config import ConfigError, PlatformConfig, Problem, load_platform, schemas
from platform_config.catalog import CATALOG_FILE, ModelCatalog
from platform_config.documents import load_yaml, parse_yaml
from platform_config.model import (
    CallerHistory,
    ContentFilterType,
    FilterStrength,
    ModelSourceKind,
    RemovalPolicyName,
    RiskTier,
)
from tests.support.contracts import contract_files, enabled_use_cases, example_file

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "platform_config" / "schemas"

SetField = Callable[[str, str, Any], None]
DeleteField = Callable[[str, str], None]
EditYaml = Callable[[str, Callable[[Any], Any]], None]

DEV, STAGING, PROD = "environments/dev.yaml", "environments/staging.yaml", "environments/prod.yaml"
POLICY_QA, RFP, SUPPORT = (
    "contracts/policy-qa.yaml",
    "contracts/rfp-drafting.yaml",
    "contracts/support-ticket-summary.yaml",
)
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"

_NO_VALUE = object()


def only_problem(error: ConfigError) -> Problem:
    """The single problem of an error: one broken field must not cascade into other problems."""
    assert len(error.problems) == 1, str(error)
    return error.problems[0]


def problem_at(error: ConfigError, file: str, field: str) -> Problem:
    found = [p for p in error.problems if p.file == file and p.field == field]
    assert len(found) == 1, f"expected one problem at {file} {field}:\n{error}"
    return found[0]


def check(
    problem: Problem,
    *,
    file: str,
    field: str,
    value: Any = _NO_VALUE,
    fix: str,
    message: str = "",
    line: bool = True,
) -> None:
    """Assert where the problem is, what value it quotes and that its fix and message say ``fix``/``message``."""
    assert (problem.file, problem.field) == (file, field), problem.render()
    if value is _NO_VALUE:
        assert not problem.has_value, problem.render()
    else:
        assert problem.has_value, problem.render()
        assert problem.value == value, problem.render()
    assert fix in problem.fix, problem.render()
    assert message in problem.message, problem.render()
    if line:
        assert isinstance(problem.line, int), problem.render()
        assert problem.line >= 1
    rendered = problem.render()
    assert rendered.startswith(f"{file}:" if problem.line is None else f"{file}:{problem.line}: ")
    assert f": {field}: " in rendered
    assert f"Fix: {problem.fix}" in rendered


def load_error(root: Path, match: str) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as caught:
        load_platform(root)
    return caught.value


# ====================================================================== 1. the real configuration


def test_real_config_has_three_environments(real_config: PlatformConfig) -> None:
    by_name = {env.name: env for env in real_config.environments}
    assert set(by_name) == {"dev", "staging", "prod"}

    dev, staging, prod = by_name["dev"], by_name["staging"], by_name["prod"]
    assert (dev.account, dev.region) == ("111111111111", "us-east-1")
    assert (staging.account, staging.region) == ("222222222222", "us-east-1")
    assert (prod.account, prod.region) == ("333333333333", "us-west-2")
    assert [e.production for e in (dev, staging, prod)] == [False, False, True]
    assert dev.removal_policy is RemovalPolicyName.DESTROY
    assert staging.removal_policy is prod.removal_policy is RemovalPolicyName.RETAIN
    assert [e.log_retention_days for e in (dev, staging, prod)] == [30, 90, 365]
    assert all(e.owns_invocation_logging for e in (dev, staging, prod))
    assert [e.reserved_concurrency for e in (dev, staging, prod)] == [5, 10, 50]
    assert prod.tags["data-classification"] == "confidential"
    assert prod.notifications.emails == ("genai-platform-oncall@example.com",)
    assert prod.notifications.https_endpoints[0].startswith("https://")
    assert dev.notifications.https_endpoints == ()
    assert prod.source_file == PROD
    assert real_config.environment("prod") is prod
    with pytest.raises(KeyError):
        real_config.environment("qa")


def test_real_config_enables_contracts_per_environment(
    real_config: PlatformConfig, example_config: PlatformConfig
) -> None:
    ids = {env.name: {c.id for c in real_config.contracts_for(env.name)} for env in real_config.environments}
    # what each contract file's `environments` list says, read without the loader
    assert ids == {env.name: enabled_use_cases(env.name) for env in real_config.environments}
    assert all(ids.values())  # every environment runs at least one use case
    assert real_config.contracts_for("qa") == ()
    for env_name in ids:
        for contract in real_config.contracts_for(env_name):
            assert contract.enabled_in(env_name)
            assert contract.source_file == f"contracts/{contract.id}.yaml"
    # a contract enabled in some environments only (the example rfp-drafting: the tests' copy where a fork
    # retired it)
    rfp = next(c for c in example_config.contracts_for("dev") if c.id == "rfp-drafting")
    assert rfp.environments == ("dev", "staging")
    assert not rfp.enabled_in("prod")


def _contract(config: PlatformConfig, env: str, contract_id: str) -> Any:
    return next(c for c in config.contracts_for(env) if c.id == contract_id)


def test_context_caching_is_off_unless_the_contract_says_callers_repeat_it(
    real_config: PlatformConfig, config_root: Path, set_field: SetField
) -> None:
    assert not any(c.conversation.cache_context for c in real_config.contracts_for("dev"))
    set_field(POLICY_QA, "conversation.cache_context", True)
    assert _contract(load_platform(config_root), "dev", "policy-qa").conversation.cache_context is True


def test_caller_history_is_refused_unless_the_contract_guards_it(
    real_config: PlatformConfig, example_config: PlatformConfig
) -> None:
    history = {c.id: c.conversation.caller_history for c in real_config.contracts_for("dev")}
    # GUARD only where the contract file says so; REFUSE, the default, everywhere else
    stated = {
        cid: data.get("conversation", {}).get("caller_history", CallerHistory.REFUSE.value)
        for cid, data in contract_files().items()
        if cid in history
    }
    assert {cid: mode.value for cid, mode in history.items()} == stated
    # both modes occur: the shipped examples (the tests' copy where a fork retired one)
    examples = {c.id: c.conversation.caller_history for c in example_config.contracts_for("dev")}
    assert examples["policy-qa"] is CallerHistory.GUARD  # set in the example's contract
    assert examples["rfp-drafting"] is CallerHistory.REFUSE  # the default


def test_example_config_cost_fields(example_config: PlatformConfig) -> None:
    # the shipped examples' files (the tests' copy where a fork retired one)
    qa = _contract(example_config, "prod", "policy-qa")
    assert (qa.owner_team, qa.cost_center, qa.application) == (
        "people-technology",
        "CC-2210",
        "employee-helpdesk",
    )
    assert qa.risk_tier is RiskTier.MEDIUM
    assert qa.daily_budget_usd == 120.0 and isinstance(qa.daily_budget_usd, float)
    assert (qa.limits.max_input_tokens, qa.limits.max_output_tokens) == (12000, 800)
    assert qa.latency_p95_ms == 8000
    assert qa.logging.prompts_and_responses is True
    assert qa.alarms.guardrail_intervention_rate_percent == 15
    assert qa.alarms.throttle_rate_percent == 1.0  # platform default

    support = _contract(example_config, "dev", "support-ticket-summary")
    assert (support.owner_team, support.cost_center, support.application) == (
        "customer-support-tools",
        "CC-4102",
        "support-console",
    )
    assert support.daily_budget_usd == 40.0
    assert support.logging.prompts_and_responses is False
    assert (support.logging.images, support.logging.embeddings) == (False, False)
    assert support.alarms.throttle_rate_percent == 2
    assert support.alarms.min_invocations == 20

    rfp = _contract(example_config, "staging", "rfp-drafting")
    assert (rfp.cost_center, rfp.daily_budget_usd, rfp.risk_tier) == ("CC-7730", 60.0, RiskTier.HIGH)


def test_real_config_fills_in_secure_default_content_filters(
    real_config: PlatformConfig, example_config: PlatformConfig
) -> None:
    for env in real_config.environments:
        for contract in real_config.contracts_for(env.name):
            filters = {f.type: (f.input_strength, f.output_strength) for f in contract.guardrail.filters()}
            assert set(filters) == set(ContentFilterType), contract.id
            assert filters[ContentFilterType.PROMPT_ATTACK] == (FilterStrength.HIGH, FilterStrength.NONE)
            for ftype in ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"):
                assert filters[ContentFilterType(ftype)] == (FilterStrength.HIGH, FilterStrength.HIGH)
    # the example support-ticket-summary writes no content_filters at all: every one comes from the defaults
    # (the tests' copy where a fork retired it)
    guardrail = _contract(example_config, "dev", "support-ticket-summary").guardrail
    assert guardrail.strength_of(ContentFilterType.PROMPT_ATTACK).output_strength is FilterStrength.NONE
    assert set(guardrail.sensitive_information.pii_entities) >= {"EMAIL", "CREDIT_DEBIT_CARD_NUMBER"}
    assert guardrail.sensitive_information.regexes[0].pattern == "ACCT-[0-9]{8}"


def test_override_to_medium_is_allowed_and_others_keep_defaults(
    config_root: Path, set_field: SetField
) -> None:
    set_field(SUPPORT, "guardrail.content_filters.INSULTS", {"input": "MEDIUM", "output": "MEDIUM"})
    guardrail = _contract(load_platform(config_root), "dev", "support-ticket-summary").guardrail
    insults = guardrail.strength_of(ContentFilterType.INSULTS)
    assert (insults.input_strength, insults.output_strength) == (FilterStrength.MEDIUM, FilterStrength.MEDIUM)
    hate = guardrail.strength_of(ContentFilterType.HATE)
    assert (hate.input_strength, hate.output_strength) == (FilterStrength.HIGH, FilterStrength.HIGH)


def test_example_config_resolves_model_sources_per_region(example_config: PlatformConfig) -> None:
    # the shipped examples' files (the tests' copy where a fork retired one)
    qa = _contract(example_config, "prod", "policy-qa")
    assert qa.primary.identifier == f"us.{SONNET_45}"
    assert qa.primary.kind is ModelSourceKind.CROSS_REGION_PROFILE
    assert qa.primary.model_id == SONNET_45
    assert qa.primary.geography == "us"
    assert "us-west-2" in qa.primary.destination_regions and "us-east-1" in qa.primary.destination_regions
    assert list(qa.primary.destination_regions) == sorted(set(qa.primary.destination_regions))
    assert not qa.primary.routes_globally
    assert qa.fallback.identifier == "us.amazon.nova-pro-v1:0"
    assert qa.fallback.model_id == "amazon.nova-pro-v1:0"
    assert qa.fallback.destination_regions == ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
    assert qa.primary.prompt_caching is True
    assert qa.primary.prompt_cache_min_tokens == 1024  # Claude Sonnet 4.5, Bedrock prompt-caching table
    # cache rates follow the input price of the profile used (us.* here): read 0.1x, write 1.25x
    assert qa.primary.price_per_1k_cache_read_usd == pytest.approx(qa.primary.price_per_1k_input_usd * 0.1)
    assert qa.primary.price_per_1k_cache_write_usd == pytest.approx(qa.primary.price_per_1k_input_usd * 1.25)
    assert qa.fallback.prompt_cache_min_tokens == 1000  # Nova Pro

    rfp = _contract(example_config, "dev", "rfp-drafting")
    assert rfp.primary.identifier == f"global.{SONNET_45}"
    assert rfp.primary.kind is ModelSourceKind.CROSS_REGION_PROFILE
    assert rfp.primary.geography == "global"
    assert rfp.primary.destination_regions == ("*",)
    assert rfp.primary.routes_globally


def test_foundation_model_source_resolves_to_its_own_region(config_root: Path, set_field: SetField) -> None:
    set_field(RFP, "model.fallback", "amazon.nova-pro-v1:0")  # on demand in us-east-1 (dev and staging)
    rfp = _contract(load_platform(config_root), "staging", "rfp-drafting")
    assert rfp.fallback.kind is ModelSourceKind.FOUNDATION_MODEL
    assert (rfp.fallback.geography, rfp.fallback.destination_regions) == (None, ("us-east-1",))


def test_every_caching_model_in_the_catalog_has_a_minimum() -> None:
    catalog = ModelCatalog.load()
    caching = {model_id: m for model_id, m in catalog.models.items() if m.get("prompt_caching")}
    assert caching  # the check below means something
    for model_id, model in caching.items():
        assert isinstance(model.get("prompt_cache_min_tokens"), int), model_id
    haiku = catalog.resolve("global.anthropic.claude-haiku-4-5-20251001-v1:0", "us-east-1").source
    assert haiku is not None and haiku.prompt_cache_min_tokens == 4096
    assert (haiku.price_per_1k_cache_read_usd, haiku.price_per_1k_cache_write_usd) == (0.0001, 0.00125)


def test_a_caching_model_without_a_minimum_is_refused(tmp_path: Path) -> None:
    data = load_yaml(CATALOG_FILE.read_text(encoding="utf-8"))
    del data["models"]["amazon.nova-pro-v1:0"]["prompt_cache_min_tokens"]
    broken = tmp_path / "model_catalog.yaml"
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")

    with pytest.raises(
        ValueError, match=r"'amazon.nova-pro-v1:0' has prompt_caching: true but prompt_cache_min"
    ):
        ModelCatalog.load(broken).resolve("us.amazon.nova-pro-v1:0", "us-east-1")


def test_real_config_objects_are_frozen(real_config: PlatformConfig) -> None:
    env = real_config.environments[0]
    contract = real_config.contracts_for(env.name)[0]
    targets = [
        (real_config, "environments", ()),
        (env, "region", "eu-west-1"),
        (env.notifications, "emails", ()),
        (contract, "daily_budget_usd", 1e9),
        (contract.primary, "destination_regions", ("*",)),
        (contract.guardrail, "content_filters", ()),
        (contract.guardrail.filters()[0], "input_strength", FilterStrength.NONE),
        (contract.limits, "max_output_tokens", 10**6),
        (contract.logging, "prompts_and_responses", True),
        (contract.alarms, "min_invocations", 1),
    ]
    for obj, name, value in targets:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, value)
    assert isinstance(contract.environments, tuple)
    assert isinstance(contract.guardrail.denied_topics, tuple)


def test_a_file_read_again_is_parsed_once_and_each_reader_gets_its_own_data() -> None:
    text = example_file(POLICY_QA).read_text(encoding="utf-8")
    node, data = parse_yaml(text)
    data["id"] = "changed by a caller"
    data["guardrail"].clear()

    again_node, again = parse_yaml(text)
    assert again_node is node  # the one parse, kept
    assert again == load_yaml(text) and again["id"] == "policy-qa" and again["guardrail"]
    assert parse_yaml(text + "# edited\n")[0] is not node  # other text, parsed anew
    for _ in range(2):  # an error is raised each time, never kept as a result
        with pytest.raises(yaml.YAMLError):
            parse_yaml(text + "region: us-east-1: oops\n")


# ====================================================================== 2. one test per validation rule
# --------------------------------------------------------------- file-level


def _replace_line(path: Path, starting: str, replacement: str) -> int:
    """Replace the first line of ``path`` that starts with ``starting``; its index (0-based)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, text in enumerate(lines) if text.startswith(starting))
    lines[index] = replacement
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index


def test_yaml_syntax_error_names_file_and_line(config_root: Path) -> None:
    region = _replace_line(config_root / DEV, "region:", "region: us-east-1: oops")

    error = load_error(config_root, r"environments/dev\.yaml:\d+: \(file\): is not valid YAML")
    check(only_problem(error), file=DEV, field="(file)", fix="fix the YAML syntax", message="not valid YAML")
    assert only_problem(error).line == region + 1


def test_an_unclosed_quote_is_reported_where_it_opens_not_at_the_end_of_the_file(config_root: Path) -> None:
    # GIVEN a value whose quote is never closed: the parser reads on to the end of the file
    region = _replace_line(config_root / DEV, "region:", 'region: "us-east-1')
    # THEN the problem is at the line the quote opens, and the fix says so
    problem = only_problem(load_error(config_root, r"\(file\): is not valid YAML"))
    assert problem.line == region + 1, problem.render()
    assert f"starts at line {region + 1}" in problem.fix and "close" in problem.fix, problem.fix


def test_top_level_must_be_a_mapping(config_root: Path) -> None:
    (config_root / POLICY_QA).write_text("- id: policy-qa\n- purpose: nope\n", encoding="utf-8")
    error = load_error(config_root, r"must be a YAML mapping of contract fields")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="(file)",
        value=[{"id": "policy-qa"}, {"purpose": "nope"}],
        fix="contract.schema.json",
    )


def test_empty_file_is_not_a_mapping(config_root: Path) -> None:
    (config_root / STAGING).write_text("# nothing yet\n", encoding="utf-8")
    error = load_error(config_root, r"environments/staging\.yaml: \(file\): must be a YAML mapping")
    check(only_problem(error), file=STAGING, field="(file)", value=None, fix="field: value", line=False)


@pytest.mark.parametrize("file", [POLICY_QA, "prompts/policy-qa.yaml", "delivery/pipeline.yaml"])
def test_a_file_that_is_not_utf8_is_a_problem_with_its_line_not_a_traceback(
    config_root: Path, file: str
) -> None:
    # GIVEN a file saved as Latin-1 (an accented letter is one byte, 0xE9, no UTF-8) and a second problem
    if not (config_root / "delivery").exists():
        shutil.copytree(ROOT / "delivery", config_root / "delivery")
    path = config_root / file
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"# caf\xe9 " + lines[2]
    path.write_bytes(b"\n".join(lines))
    staging = config_root / STAGING
    text = staging.read_text(encoding="utf-8")
    staging.write_text(text.replace("reserved_concurrency:", "reserved_concurency:"), encoding="utf-8")

    # THEN both are reported: the byte with its file, line and column, and the other file's problem
    error = load_error(config_root, r"is not UTF-8")
    check(problem_at(error, file, "(file)"), file=file, field="(file)", fix="save the file as UTF-8")
    assert problem_at(error, file, "(file)").line == 3
    assert "byte e9 at column 6" in problem_at(error, file, "(file)").message
    problem_at(error, STAGING, "reserved_concurency")


# --------------------------------------------------------------- schema rule families


@pytest.mark.parametrize(
    ("file", "field"),
    [
        (STAGING, "account"),
        (POLICY_QA, "guardrail.blocked_output_message"),
        (SUPPORT, "limits.max_output_tokens"),
    ],
)
def test_missing_required_field(config_root: Path, delete_field: DeleteField, file: str, field: str) -> None:
    delete_field(file, field)
    error = load_error(config_root, rf"{re.escape(field)}: is required but missing")
    name = field.rsplit(".", 1)[-1]
    check(only_problem(error), file=file, field=field, fix=f"add `{name}`", message="is required")


def test_unknown_field_suggests_the_known_one(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "reserved_concurency", 5)
    error = load_error(config_root, r"reserved_concurency: is not a known field")
    check(
        only_problem(error),
        file=DEV,
        field="reserved_concurency",
        fix="did you mean `reserved_concurrency`?",
        message="not a known field",
    )
    assert "allowed fields: account," in only_problem(error).fix


def test_unknown_nested_field_suggests_the_known_one(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "guardrail.contextual_grounding.grounding_threshold", 0.5)
    error = load_error(config_root, r"guardrail\.contextual_grounding\.grounding_threshold: is not a known")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="guardrail.contextual_grounding.grounding_threshold",
        fix="did you mean `grounding`?",
    )


def test_every_unknown_field_is_reported(config_root: Path, edit_yaml: EditYaml) -> None:
    edit_yaml(RFP, lambda d: d.update(owner_tema="x", budget_usd=5))
    error = load_error(config_root, r"2 configuration problems")
    check(
        problem_at(error, RFP, "owner_tema"), file=RFP, field="owner_tema", fix="did you mean `owner_team`?"
    )
    check(problem_at(error, RFP, "budget_usd"), file=RFP, field="budget_usd", fix="allowed fields:")


@pytest.mark.parametrize(
    ("file", "field", "bad", "fix"),
    [
        (DEV, "removal_policy", "delete", "use one of 'retain', 'destroy'"),
        (
            POLICY_QA,
            "guardrail.content_filters.MISCONDUCT.input",
            "STRONG",
            "use one of 'NONE', 'LOW', 'MEDIUM'",
        ),
        (POLICY_QA, "risk_tier", "hihg", "did you mean 'high'?"),
        (POLICY_QA, "conversation.caller_history", "allow", "use one of 'refuse', 'guard'"),
        (
            SUPPORT,
            "guardrail.sensitive_information.pii_entities.EMAIL",
            "REDACT",
            "use one of 'BLOCK', 'ANONYMIZE'",
        ),
    ],
)
def test_enum_value_not_allowed(
    config_root: Path, set_field: SetField, file: str, field: str, bad: str, fix: str
) -> None:
    set_field(file, field, bad)
    error = load_error(config_root, rf"{re.escape(field)}: is not allowed \(got '{bad}'\)")
    check(only_problem(error), file=file, field=field, value=bad, fix=fix, message="is not allowed")


def test_content_filter_type_not_allowed(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "guardrail.content_filters.PROMPT_ATACK", {"input": "HIGH", "output": "NONE"})
    error = load_error(config_root, r"content_filters\.PROMPT_ATACK: is not an allowed key")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="guardrail.content_filters.PROMPT_ATACK",
        value="PROMPT_ATACK",
        fix="did you mean 'PROMPT_ATTACK'?",
    )


@pytest.mark.parametrize(
    ("file", "field", "bad", "fix"),
    [
        (PROD, "account", "33333333333", "write the 12-digit account id in quotes"),
        (PROD, "region", "us-west", "write a region name such as us-east-1"),
        (RFP, "id", "RFP_Drafting", "lower-case words joined by hyphens"),
        (RFP, "owner_team", "sales & engineering", "use 1-256 letters, digits, spaces or _.:/=+@-"),
        (SUPPORT, "model.source", "Claude Haiku", "write a model id such as us.anthropic."),
        (STAGING, "notifications.emails.0", "genai-platform-staging.example.com", "write an e-mail address"),
    ],
)
def test_value_has_the_wrong_format(
    config_root: Path, set_field: SetField, file: str, field: str, bad: str, fix: str
) -> None:
    set_field(file, field, bad)
    dotted = re.sub(r"\.(\d+)", r"[\1]", field)  # notifications.emails.0 -> notifications.emails[0]
    error = load_error(config_root, rf"{re.escape(dotted)}: has the wrong format")
    check(only_problem(error), file=file, field=dotted, value=bad, fix=fix)


@pytest.mark.parametrize(
    ("file", "field", "bad", "expected", "fix"),
    [
        (DEV, "account", 111111111111, "string", 'in quotes, e.g. account: "012345678901"'),
        (
            POLICY_QA,
            "limits.max_input_tokens",
            "lots",
            "integer",
            "write a whole number at least 1 and at most 200000, without quotes (Largest estimated input",
        ),
        (
            STAGING,
            "owns_invocation_logging",
            "yes please",
            "boolean",
            "write true or false, without quotes (Whether this environment sets",
        ),
        (
            SUPPORT,
            "environments",
            "dev",
            "array",
            "write a list: [a, b] on one line, or one `- item` line per item under the field (Environments",
        ),
        (
            POLICY_QA,
            "conversation.cache_context",
            "sometimes",
            "boolean",
            "write true or false, without quotes",
        ),
    ],
)
def test_value_has_the_wrong_type(
    config_root: Path, set_field: SetField, file: str, field: str, bad: Any, expected: str, fix: str
) -> None:
    set_field(file, field, bad)
    error = load_error(config_root, rf"{re.escape(field)}: must be of type {expected}")
    check(only_problem(error), file=file, field=field, value=bad, fix=fix)


def test_an_unquoted_account_id_with_a_leading_zero_is_explained_as_octal(config_root: Path) -> None:
    # YAML 1.1 reads 0 followed by the digits 0-7 as octal: the id arrives as another number entirely
    path = config_root / DEV
    path.write_text(
        path.read_text(encoding="utf-8").replace('account: "111111111111"', "account: 012345670123"),
        encoding="utf-8",
    )
    error = load_error(config_root, r"account: must be of type string, but YAML read it as a number")
    check(only_problem(error), file=DEV, field="account", value=1402433619, fix="in quotes", message="octal")


@pytest.mark.parametrize(
    ("file", "field", "bad", "message", "fix"),
    [
        (POLICY_QA, "latency_p95_ms", 10, "less than the minimum of 100", "at least 100"),  # 10 is in 100
        (
            POLICY_QA,
            "limits.max_output_tokens",
            100_000,
            "greater than the maximum of 64000",
            "at most 64000",
        ),
        (SUPPORT, "daily_budget_usd", 0, "less than or equal to the minimum of 0", "greater than 0"),
        (SUPPORT, "alarms.throttle_rate_percent", 150, "greater than the maximum of 100", "at most 100"),
        (DEV, "reserved_concurrency", 0, "less than the minimum of 1", "at least 1"),
        (DEV, "reserved_concurrency", 1001, "greater than the maximum of 1000", "at most 1000"),
        (SUPPORT, "alarms.min_invocations", 0, "less than the minimum of 1", "at least 1"),
        (
            SUPPORT,
            "evaluation.gates.golden.min_pass_rate",
            0,
            "less than or equal to the minimum of 0",
            "a gate of 0 lets a release through with every case failing",
        ),
        (SUPPORT, "evaluation.gates.golden.min_pass_rate", 1.5, "greater than the maximum of 1", "at most 1"),
        (POLICY_QA, "purpose", "Answers things.", "is too short", "at least 20 characters"),
    ],
)
def test_value_out_of_bounds(
    config_root: Path, set_field: SetField, file: str, field: str, bad: Any, message: str, fix: str
) -> None:
    set_field(file, field, bad)
    error = load_error(config_root, rf"{re.escape(field)}: is {re.escape(message.removeprefix('is '))}")
    check(only_problem(error), file=file, field=field, value=bad, fix=fix, message=message)
    if field.endswith("min_pass_rate") and bad == 1.5:
        # the field's own fix is about a gate of 0: it does not explain an upper bound
        assert "a gate of 0" not in only_problem(error).fix, only_problem(error).fix


@pytest.mark.parametrize(
    ("file", "field", "bad", "message", "fix"),
    [
        (POLICY_QA, "environments", [], "has too few items", "list at least 1 item(s)"),
        (
            POLICY_QA,
            "guardrail.denied_topics.0.examples",
            [f"Example question {i}?" for i in range(6)],
            "has too many items",
            "list at most 5 item(s)",
        ),
    ],
)
def test_list_size_out_of_bounds_names_the_limit(
    config_root: Path, set_field: SetField, file: str, field: str, bad: Any, message: str, fix: str
) -> None:
    # pydantic's context of a list error holds its type before its limit: the fix read "list at least Tuple items"
    set_field(file, field, bad)
    dotted = re.sub(r"\.(\d+)", r"[\1]", field)
    error = load_error(config_root, rf"{re.escape(dotted)}: {message}")
    check(only_problem(error), file=file, field=dotted, value=bad, fix=fix, message=message)
    assert only_problem(error).fix == fix


def test_log_retention_must_be_a_cloudwatch_value(config_root: Path, set_field: SetField) -> None:
    set_field(STAGING, "log_retention_days", 45)
    error = load_error(config_root, r"log_retention_days: is not allowed \(got 45\)")
    check(
        only_problem(error), file=STAGING, field="log_retention_days", value=45, fix="use one of 1, 3, 5, 7"
    )
    assert "3653" in only_problem(error).fix


# --------------------------------------------------------------- semantic rules, one file


@pytest.mark.parametrize(
    ("file", "field", "bad", "fix"),
    [
        (DEV, "name", "qa", "rename the file to qa.yaml or set name: dev"),
        (RFP, "id", "rfp", "rename the file to rfp.yaml or set id: rfp-drafting"),
    ],
)
def test_name_must_equal_file_name(
    config_root: Path, set_field: SetField, file: str, field: str, bad: str, fix: str
) -> None:
    set_field(file, field, bad)
    stem = Path(file).stem
    error = load_error(config_root, rf"{field}: must equal the file name '{stem}'")
    # No cascade: contracts naming `dev` are not also told that environment is unknown.
    check(only_problem(error), file=file, field=field, value=bad, fix=fix)


def test_production_must_retain(config_root: Path, set_field: SetField) -> None:
    set_field(PROD, "removal_policy", "destroy")
    error = load_error(config_root, r"removal_policy: must be retain in a production environment")
    check(
        only_problem(error),
        file=PROD,
        field="removal_policy",
        value="destroy",
        fix="set removal_policy: retain",
    )


def test_non_production_may_destroy(config_root: Path, set_field: SetField) -> None:
    set_field(STAGING, "removal_policy", "destroy")
    assert load_platform(config_root).environment("staging").removal_policy is RemovalPolicyName.DESTROY


def test_prompt_attack_output_must_be_none(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "guardrail.content_filters.PROMPT_ATTACK", {"input": "HIGH", "output": "HIGH"})
    field = "guardrail.content_filters.PROMPT_ATTACK.output"
    error = load_error(config_root, rf"{re.escape(field)}: must be NONE")
    check(only_problem(error), file=POLICY_QA, field=field, value="HIGH", fix="set output: NONE")


@pytest.mark.parametrize(
    ("filter_type", "strengths", "direction", "bad"),
    [
        ("HATE", {"input": "LOW", "output": "HIGH"}, "input", "LOW"),
        ("VIOLENCE", {"input": "HIGH", "output": "NONE"}, "output", "NONE"),
        ("SEXUAL", {"input": "MEDIUM", "output": "LOW"}, "output", "LOW"),
        ("PROMPT_ATTACK", {"input": "LOW", "output": "NONE"}, "input", "LOW"),
    ],
)
def test_filter_weakened_below_medium(
    config_root: Path,
    set_field: SetField,
    filter_type: str,
    strengths: dict[str, str],
    direction: str,
    bad: str,
) -> None:
    set_field(SUPPORT, f"guardrail.content_filters.{filter_type}", strengths)
    field = f"guardrail.content_filters.{filter_type}.{direction}"
    error = load_error(config_root, rf"{re.escape(field)}: is below the platform floor of MEDIUM")
    check(only_problem(error), file=SUPPORT, field=field, value=bad, fix="use MEDIUM or HIGH")


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("CREDIT_CARD_NUMBER", "CREDIT_DEBIT_CARD_NUMBER"),
        # a type written with its kind spelt out: the type it starts with, not the closest spelling
        # ('CA_HEALTH_NUMBER', 'MAC_ADDRESS')
        ("PHONE_NUMBER", "PHONE"),
        ("EMAIL_ADDRESS", "EMAIL"),
    ],
)
def test_unknown_pii_entity_type_suggests_one(
    config_root: Path, set_field: SetField, written: str, meant: str
) -> None:
    set_field(SUPPORT, f"guardrail.sensitive_information.pii_entities.{written}", "BLOCK")
    field = f"guardrail.sensitive_information.pii_entities.{written}"
    error = load_error(config_root, rf"{re.escape(field)}: is not an allowed key")
    check(
        only_problem(error),
        file=SUPPORT,
        field=field,
        value=written,
        fix=f"did you mean '{meant}'? use one of the 31 values listed in "
        "platform_config/schemas/contract.schema.json",
    )


def test_non_string_pii_key_is_a_problem_not_a_crash(config_root: Path) -> None:
    path = config_root / POLICY_QA
    # YAML 1.1 reads an unquoted NO as false; the loader must report it, not crash.
    path.write_text(
        path.read_text(encoding="utf-8").replace("EMAIL: ANONYMIZE", "EMAIL: ANONYMIZE\n      NO: BLOCK"),
        encoding="utf-8",
    )
    error = load_error(config_root, r"is not an allowed key \(got False\)")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="guardrail.sensitive_information.pii_entities.False",
        value=False,
        fix="YAML reads unquoted yes/no/on/off as true/false: quote it.",
    )


def test_regex_must_compile(config_root: Path, set_field: SetField) -> None:
    set_field(RFP, "guardrail.sensitive_information.regexes.0.pattern", "CN-([A-Z]{2}-[0-9]{6}")
    field = "guardrail.sensitive_information.regexes[0].pattern"
    error = load_error(config_root, rf"{re.escape(field)}: is not a valid regular expression")
    check(
        only_problem(error),
        file=RFP,
        field=field,
        value="CN-([A-Z]{2}-[0-9]{6}",
        fix="fix the pattern",
        message="missing )",
    )


def test_denied_topic_names_are_distinct(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "guardrail.denied_topics.1.name", "Legal advice")
    error = load_error(config_root, r"guardrail\.denied_topics: names a topic twice \(got 'Legal advice'\)")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="guardrail.denied_topics",
        value="Legal advice",
        fix="distinct name",
    )


# --------------------------------------------------------------- model sources


def test_model_source_not_in_catalog_suggests_one(config_root: Path, set_field: SetField) -> None:
    typo = "us.anthropic.claude-sonet-4-5-20250929-v1:0"
    set_field(POLICY_QA, "model.source", typo)
    error = load_error(
        config_root, r"model\.source: is not a model in platform_config/data/model_catalog\.yaml"
    )
    # One problem for the typo, not one per environment.
    problem = only_problem(error)
    # The suggestion keeps the cross-region prefix the contract wrote: the bare model id cannot be invoked
    # on demand in us-east-1, so following a suggestion without it would only lead to the next error.
    check(problem, file=POLICY_QA, field="model.source", value=typo, fix=f"did you mean 'us.{SONNET_45}'?")
    assert "'dev', 'staging', 'prod'" in problem.message


def test_foundation_model_not_on_demand_in_region(config_root: Path, set_field: SetField) -> None:
    set_field(RFP, "model.source", SONNET_45)  # in_region is empty: only cross-region profiles
    error = load_error(config_root, r"model\.source: cannot be invoked on demand in us-east-1")
    check(
        only_problem(error),
        file=RFP,
        field="model.source",
        value=SONNET_45,
        fix=f"use a cross-region profile (au.{SONNET_45}",
        message="(environments 'dev', 'staging')",
    )
    assert f"us.{SONNET_45}" in only_problem(error).fix


def test_cross_region_prefix_not_callable_from_region(config_root: Path, set_field: SetField) -> None:
    set_field(RFP, "model.source", f"eu.{SONNET_45}")
    error = load_error(config_root, r"model\.source: the 'eu' profile cannot be called from us-east-1")
    check(
        only_problem(error),
        file=RFP,
        field="model.source",
        value=f"eu.{SONNET_45}",
        fix=f"use a profile callable from us-east-1: global.{SONNET_45}, us.{SONNET_45}",
    )


def test_model_without_that_geography(config_root: Path, set_field: SetField) -> None:
    set_field(RFP, "model.fallback", "jp.amazon.nova-pro-v1:0")
    error = load_error(
        config_root, r"model\.fallback: model 'amazon\.nova-pro-v1:0' has no 'jp' cross-region"
    )
    check(
        only_problem(error),
        file=RFP,
        field="model.fallback",
        value="jp.amazon.nova-pro-v1:0",
        fix="use one of the prefixes ['apac', 'eu', 'us']",
    )


def test_fallback_must_differ_from_source(config_root: Path, set_field: SetField) -> None:
    set_field(SUPPORT, "model.fallback", "us.anthropic.claude-haiku-4-5-20251001-v1:0")
    error = load_error(config_root, r"model\.fallback: is the same as model\.source")
    check(
        only_problem(error),
        file=SUPPORT,
        field="model.fallback",
        value="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        fix="choose a different model",
    )


def test_latency_target_must_fit_api_gateway_timeout(config_root: Path, set_field: SetField) -> None:
    # The schema's maximum (28000) catches it before the loader's own >= 29000 rule can.
    set_field(POLICY_QA, "latency_p95_ms", 29000)
    error = load_error(config_root, r"latency_p95_ms: is greater than the maximum of 28000 \(got 29000\)")
    check(only_problem(error), file=POLICY_QA, field="latency_p95_ms", value=29000, fix="at most 28000")


# --------------------------------------------------------------- cross-file rules


def test_duplicate_contract_ids_across_files(config_root: Path) -> None:
    copy = "contracts/policy-qa-v2.yaml"
    shutil.copy(config_root / POLICY_QA, config_root / copy)
    shutil.copy(config_root / "prompts" / "policy-qa.yaml", config_root / "prompts" / "policy-qa-v2.yaml")
    error = load_error(config_root, r"id: is used by more than one contract file")
    duplicates = [p for p in error.problems if "more than one contract file" in p.message]
    assert sorted(p.file for p in duplicates) == sorted([POLICY_QA, copy])
    for problem in duplicates:
        check(problem, file=problem.file, field="id", value="policy-qa", fix="give each contract a unique id")
        assert f"({copy}, {POLICY_QA})" in problem.message
    # The copy's id does not match its file name either; nothing else is reported.
    (mismatch,) = [p for p in error.problems if p not in duplicates]
    check(mismatch, file=copy, field="id", value="policy-qa", fix="set id: policy-qa-v2")


def test_duplicate_environment_names_across_files(
    config_root: Path, set_field: SetField, delete_field: DeleteField
) -> None:
    copy = "environments/staging-b.yaml"
    shutil.copy(config_root / STAGING, config_root / copy)
    set_field(copy, "owns_invocation_logging", False)
    delete_field(copy, "enforced_guardrail")  # only the owner of the account-level settings sets it
    error = load_error(config_root, r"name: is used by more than one environment file")
    duplicates = [p for p in error.problems if "more than one environment file" in p.message]
    assert sorted(p.file for p in duplicates) == sorted([copy, STAGING])
    for problem in duplicates:
        check(
            problem,
            file=problem.file,
            field="name",
            value="staging",
            fix="give each environment a unique name",
        )
        assert f"({copy}, {STAGING})" in problem.message
    (mismatch,) = [p for p in error.problems if p not in duplicates]
    check(mismatch, file=copy, field="name", value="staging", fix="set name: staging-b")


def test_contract_enabled_in_unknown_environment(config_root: Path, set_field: SetField) -> None:
    set_field(POLICY_QA, "environments", ["dev", "stagng", "prod"])
    error = load_error(config_root, r"environments\[1\]: is not a known environment \(got 'stagng'\)")
    check(
        only_problem(error),
        file=POLICY_QA,
        field="environments[1]",
        value="stagng",
        fix="did you mean 'staging'? use one of ['dev', 'prod', 'staging'] or add environments/stagng.yaml",
    )


def test_invocation_logging_owned_twice_in_one_account_and_region(
    config_root: Path, set_field: SetField, delete_field: DeleteField
) -> None:
    set_field(STAGING, "account", "111111111111")  # dev's account, and both are in us-east-1
    error = load_error(config_root, r"share account 111111111111 in us-east-1")
    assert len(error.problems) == 2, str(error)
    for file in (DEV, STAGING):
        problem = problem_at(error, file, "owns_invocation_logging")
        check(
            problem,
            file=file,
            field="owns_invocation_logging",
            value=True,
            fix="set owns_invocation_logging: true in exactly one of them",
        )
        assert "environments dev, staging" in problem.message

    set_field(STAGING, "owns_invocation_logging", False)
    delete_field(STAGING, "enforced_guardrail")  # it moves with the ownership of the account-level settings
    assert not load_platform(config_root).environment("staging").owns_invocation_logging


def test_model_source_valid_in_one_environment_region_only(config_root: Path, set_field: SetField) -> None:
    # Nova Lite is on demand in us-east-1 (dev, staging) but not in us-west-2 (prod).
    set_field(SUPPORT, "model.fallback", "amazon.nova-lite-v1:0")
    error = load_error(config_root, r"model\.fallback: cannot be invoked on demand in us-west-2")
    problem = only_problem(error)
    check(
        problem,
        file=SUPPORT,
        field="model.fallback",
        value="amazon.nova-lite-v1:0",
        fix="us.amazon.nova-lite-v1:0",
        message="(environment 'prod')",
    )
    assert "'dev'" not in problem.message and "'staging'" not in problem.message

    set_field(SUPPORT, "environments", ["dev", "staging"])
    config = load_platform(config_root)
    assert _contract(config, "dev", "support-ticket-summary").fallback.destination_regions == ("us-east-1",)


# ====================================================================== 3. every problem at once


def test_all_problems_are_reported_together(
    config_root: Path, set_field: SetField, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_field(DEV, "log_retention_days", 45)  # schema
    set_field(POLICY_QA, "guardrail.content_filters.PROMPT_ATTACK.output", "LOW")  # semantic
    set_field(SUPPORT, "environments", ["dev", "staging", "prd"])  # cross-file
    built: list[Any] = []
    monkeypatch.setattr(loader, "PlatformConfig", lambda **kw: built.append(kw))

    error = load_error(config_root, r"^3 configuration problems:")
    assert [(p.file, p.field) for p in error.problems] == sorted(
        [
            (DEV, "log_retention_days"),
            (POLICY_QA, "guardrail.content_filters.PROMPT_ATTACK.output"),
            (SUPPORT, "environments[2]"),
        ]
    )
    message = str(error)
    assert message.count("\n  - ") == 3
    for problem in error.problems:
        assert f"  - {problem.render()}" in message
    assert "did you mean 'prod'?" in message
    assert built == []


@pytest.mark.parametrize(
    ("module", "argv", "outcome"),
    [
        ("evaluation.__main__", ["run"], "nothing was evaluated"),
        ("evaluation.__main__", ["record", "--results", "results.json"], "nothing was recorded"),
        ("human_review.__main__", ["exercise"], "nothing was exercised"),
        ("delivery.gates", ["governance"], "the governance gate did not run"),
        ("compliance.acknowledgments", [], "nothing was audited"),
        (
            "delivery.loadtest",
            ["--use-case", "policy-qa", "--rps", "1", "--duration", "1", "--offline"],
            "nothing was sent",
        ),
        ("scripts/demo.py", [], "the demo did not start"),
    ],
)
def test_each_entry_point_says_what_a_configuration_problem_stopped(
    config_root: Path,
    set_field: SetField,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    argv: list[str],
    outcome: str,
) -> None:
    # GIVEN a bad field (the header said "nothing was synthesized" wherever the loader stopped)
    set_field(DEV, "log_retention_days", 45)
    shutil.copy(ROOT / "cdk.json", config_root / "cdk.json")
    # WHEN an entry point other than app.py loads it
    if module.endswith(".py"):  # a script of the checkout, whose root is where it lies
        spec = importlib.util.spec_from_file_location("entry_point", ROOT / module)
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        monkeypatch.setattr(script, "PROJECT_ROOT", config_root)
        code = script.main(argv)
    else:
        code = importlib.import_module(module).main(["--root", str(config_root), *argv])
    # THEN it exits 2 under a header that says what it did not do, then the problem
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"1 configuration problem; {outcome}:\n  - {DEV}:"), err
    assert "synthesized" not in err


def test_single_problem_is_counted_in_the_singular(config_root: Path, set_field: SetField) -> None:
    set_field(DEV, "log_retention_days", 45)
    assert str(load_error(config_root, r"^1 configuration problem:")).count("\n  - ") == 1


def test_invalid_environment_file_does_not_cascade_into_contracts(
    config_root: Path, set_field: SetField
) -> None:
    set_field(PROD, "account", "12345")
    error = load_error(config_root, r"^1 configuration problem:")
    check(only_problem(error), file=PROD, field="account", value="12345", fix="12-digit")


def test_schema_region_and_cross_file_problems_are_reported_in_one_run(
    config_root: Path, set_field: SetField
) -> None:
    """A schema problem in one field does not hide a region or cross-file problem in another."""
    set_field(POLICY_QA, "purpose", "Too short.")  # schema
    set_field(POLICY_QA, "model.source", f"eu.{SONNET_45}")  # region: not callable from us-*
    set_field(POLICY_QA, "environments", ["dev", "qa"])  # cross-file: unknown environment
    set_field(DEV, "log_retention_days", 45)  # schema, in an environment the contract names
    error = load_error(config_root, r"^4 configuration problems:")
    assert {(p.file, p.field) for p in error.problems} == {
        (POLICY_QA, "purpose"),
        (POLICY_QA, "model.source"),
        (POLICY_QA, "environments[1]"),
        (DEV, "log_retention_days"),
    }


@pytest.mark.parametrize(
    ("field", "written", "fix"),
    [
        ("daily_budget_usd", ".inf", "write a number above 0"),  # was accepted: a budget with no limit
        ("daily_budget_usd", "-.inf", "write a number above 0"),
        ("review.sample_rate", ".nan", "write a number at least 0 and at most 1"),
    ],
)
def test_yaml_infinity_and_nan_are_not_numbers_a_contract_may_use(
    config_root: Path, field: str, written: str, fix: str
) -> None:
    path = config_root / POLICY_QA
    key = field.rsplit(".", 1)[-1]
    original = path.read_text(encoding="utf-8")
    text, replaced = re.subn(rf"^(\s*{key}):.*$", rf"\1: {written}", original, count=1, flags=re.M)
    assert replaced == 1
    path.write_text(text, encoding="utf-8")

    error = load_error(config_root, rf"{re.escape(field)}: must be a finite number")
    problem = only_problem(error)
    assert (problem.file, problem.field, problem.fix) == (POLICY_QA, field, fix), problem.render()
    assert problem.has_value and not math.isfinite(problem.value)  # nan == nan is false: no check(value=)
    assert problem.render().startswith(f"{POLICY_QA}:{problem.line}: {field}: ")


@pytest.mark.parametrize(
    ("field", "written", "fix"),
    [("daily_budget_usd", "1e3", "write 1000"), ("latency_p95_ms", "8E3", "write 8000")],
)
def test_an_exponent_yaml_reads_as_text_is_explained(
    config_root: Path, field: str, written: str, fix: str
) -> None:
    path = config_root / POLICY_QA
    original = path.read_text(encoding="utf-8")
    text, replaced = re.subn(rf"^{field}:.*$", f"{field}: {written}", original, count=1, flags=re.M)
    assert replaced == 1
    path.write_text(text, encoding="utf-8")

    error = load_error(config_root, rf"{field}: must be of type (number|integer), but YAML read it as text")
    check(only_problem(error), file=POLICY_QA, field=field, value=written, fix=fix, message="1.0e+9, not 1e9")
    assert only_problem(error).fix == fix


@pytest.mark.parametrize(("region", "suggestion"), [("us-easst-1", "us-east-1"), ("eu-wset-1", "eu-west-1")])
def test_a_region_typo_is_reported_on_the_environment_not_on_every_contract(
    config_root: Path, set_field: SetField, region: str, suggestion: str
) -> None:
    # GIVEN a region of the right format that no catalogued model is offered in (every contract runs in dev)
    set_field(DEV, "region", region)

    # THEN one problem, on the environment's region, with a "did you mean": not one per contract and
    # model telling the contracts to change their cross-region prefix
    error = load_error(config_root, r"^1 configuration problem:")
    check(
        only_problem(error),
        file=DEV,
        field="region",
        value=region,
        fix=f"did you mean {suggestion!r}?",
        message="is not a region where platform_config/data/model_catalog.yaml offers any Bedrock model",
    )


def test_every_region_of_the_real_configuration_is_in_the_catalog(real_config: PlatformConfig) -> None:
    regions = ModelCatalog.load().regions
    assert {env.region for env in real_config.environments} <= regions
    assert {"us-east-1", "eu-west-1", "ap-northeast-1", "us-gov-west-1"} <= regions
    assert "*" not in regions


def test_output_cap_above_the_model_limit_is_refused(config_root: Path, set_field: SetField) -> None:
    # support-ticket-summary routes short tickets to Nova Micro, whose output limit is 5,000 tokens.
    set_field(SUPPORT, "limits.max_output_tokens", 6000)
    error = load_error(
        config_root,
        r"limits.max_output_tokens: is above the output limit of model.fallback 'us.amazon.nova-lite-v1:0' "
        r"\(5000 tokens\), model.tiers\[0\].source 'us.amazon.nova-micro-v1:0' \(5000 tokens\)",
    )
    check(
        only_problem(error),
        file=SUPPORT,
        field="limits.max_output_tokens",
        value=6000,
        fix="use at most 5000, or route to models with larger output limits",
        message="Bedrock would reject every request",
    )
    set_field(SUPPORT, "limits.max_output_tokens", 5000)
    assert load_platform(config_root)


def test_catalog_output_limits_bound_every_shipped_contract(real_config: PlatformConfig) -> None:
    from platform_config.catalog import ModelCatalog

    catalog = ModelCatalog.load()
    for env in real_config.environments:
        for contract in real_config.contracts_for(env.name):
            for route, source in contract.routes.items():
                limit = catalog.max_output_tokens(source.identifier)
                assert limit is not None, f"{source.model_id} has no max_output_tokens in the catalog"
                assert contract.limits.max_output_tokens <= limit, (contract.id, route)


@pytest.mark.parametrize(
    ("broken", "line_of"),
    [
        ("region: us-east-1: oops", "region:"),
        ("\tregion: us-east-1", "region:"),  # a tab cannot indent YAML
    ],
)
def test_yaml_syntax_errors_point_at_their_line(config_root: Path, broken: str, line_of: str) -> None:
    index = _replace_line(config_root / (DEV if line_of == "region:" else RFP), line_of, broken)
    error = load_error(config_root, r"\(file\): is not valid YAML")
    problem = only_problem(error)
    assert problem.line is not None and index + 1 <= problem.line <= index + 2, problem.render()
    assert "fix the YAML syntax at that line" in problem.fix


# ====================================================================== 4. the JSON Schemas


#: schema -> the files it describes
SCHEMAS = {
    "environment": "environments/*.yaml",
    "contract": "contracts/*.yaml",
    "prompt": "prompts/*.yaml",
    "suite": "evals/*/*.yaml",
    "rubric": "evals/*/rubric.yaml",
    "delivery": "delivery/pipeline.yaml",
}


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_checked_in_schema_is_generated_from_the_dataclasses(kind: str) -> None:
    """One schema: the editors' JSON Schema is what platform_spec's dataclasses generate, nothing else."""
    checked_in = (SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert checked_in == schemas.render(kind), "run `python -m platform_config.schemas` and commit the result"


def test_schema_check_fails_on_a_stale_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in SCHEMAS:
        shutil.copy(SCHEMA_DIR / f"{kind}.schema.json", tmp_path / f"{kind}.schema.json")
    monkeypatch.setattr(schemas, "SCHEMA_DIR", tmp_path)
    assert schemas.main(["--check"]) == 0
    stale = json.loads((tmp_path / "contract.schema.json").read_text(encoding="utf-8"))
    del stale["properties"]["limits"]
    (tmp_path / "contract.schema.json").write_text(json.dumps(stale), encoding="utf-8")
    assert schemas.main(["--check"]) == 1
    assert schemas.main([]) == 0  # rewrites it
    assert schemas.main(["--check"]) == 0


REAL_FILES = [
    (kind, path)
    for kind, pattern in SCHEMAS.items()
    for path in sorted(ROOT.glob(pattern))
    if kind != "suite" or path.name != "rubric.yaml"
]


@pytest.mark.parametrize(
    ("kind", "path"), REAL_FILES, ids=[p.relative_to(ROOT).as_posix() for _, p in REAL_FILES]
)
def test_real_file_validates_against_its_schema(kind: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    schema_file = SCHEMA_DIR / f"{kind}.schema.json"
    validator = Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load_yaml(text))]
    assert errors == []
    # The editor modeline points at the same schema.
    modeline = re.search(r"# yaml-language-server: \$schema=(\S+)", text)
    assert modeline, f"{path.name} has no yaml-language-server modeline"
    assert (path.parent / modeline.group(1)).resolve() == schema_file.resolve()


@pytest.mark.parametrize("section", [{}, {"evaluation": None}], ids=["absent", "empty"])
def test_the_editor_flags_a_contract_without_its_evaluation_section(section: dict[str, None]) -> None:
    # GIVEN a shipped contract whose evaluation section is cut (absent, or `evaluation:` with nothing under
    # it), which the loader refuses (every use case needs its gates)
    path = next(p for kind, p in REAL_FILES if kind == "contract")
    contract = {k: v for k, v in load_yaml(path.read_text(encoding="utf-8")).items() if k != "evaluation"}
    # WHEN an editor validates it against the checked-in schema
    validator = Draft202012Validator(
        json.loads((SCHEMA_DIR / "contract.schema.json").read_text(encoding="utf-8"))
    )
    errors = list(validator.iter_errors({**contract, **section}))
    # THEN the editor flags it too, on the evaluation section
    assert errors, "the schema accepts a contract without an evaluation section"
    assert all(
        e.message.startswith("'evaluation' is") or list(e.absolute_path) == ["evaluation"] for e in errors
    )


def test_every_folder_has_real_files(real_config: PlatformConfig) -> None:
    # the schema test above is parametrized over these files: it must not be vacuous for any kind
    assert {kind for kind, _ in REAL_FILES} == set(SCHEMAS)
    contract_files = [p for kind, p in REAL_FILES if kind == "contract"]
    loaded = {c.id for env in real_config.environments for c in real_config.contracts_for(env.name)}
    assert {p.stem for p in contract_files} == loaded  # every contract file is loaded, under its file name


# ====================================================================== 5. no environments


def test_empty_environments_folder_is_a_clear_error(config_root: Path) -> None:
    for path in (config_root / "environments").glob("*.yaml"):
        path.unlink()
    error = load_error(
        config_root, r"^1 configuration problem:.*\n  - environments/: \(folder\): has no \*\.yaml"
    )
    check(
        only_problem(error),
        file="environments/",
        field="(folder)",
        fix="environments/dev.yaml",
        message="has no *.yaml files",
        line=False,
    )


def test_missing_environments_folder_is_the_same_clear_error(tmp_path: Path) -> None:
    error = load_error(tmp_path, r"environments/: \(folder\): has no \*\.yaml files")
    check(
        only_problem(error),
        file="environments/",
        field="(folder)",
        fix="add one file per environment",
        line=False,
    )


# ---------------------------------------------------------------- added with the lifecycle and file rules


def test_duplicate_yaml_key_is_reported_not_silently_overwritten(config_root) -> None:  # type: ignore[no-untyped-def]
    path = config_root / "environments" / "dev.yaml"
    path.write_text(path.read_text() + "log_retention_days: 7\n")
    with pytest.raises(
        ConfigError, match=r"environments/dev.yaml:\d+: log_retention_days: is set more than once"
    ):
        load_platform(config_root)


def test_a_yml_file_is_reported_instead_of_ignored(config_root) -> None:  # type: ignore[no-untyped-def]
    (config_root / "contracts" / "policy-qa.yaml").rename(config_root / "contracts" / "policy-qa.yml")
    with pytest.raises(
        ConfigError,
        match=r"contracts/policy-qa.yml: \(file\): is ignored: only \*.yaml files are read\. "
        r"Fix: rename it to policy-qa.yaml",
    ):
        load_platform(config_root)


def test_a_model_past_its_end_of_life_is_refused(config_root) -> None:  # type: ignore[no-untyped-def]
    path = config_root / "contracts" / "policy-qa.yaml"
    path.write_text(
        path.read_text().replace(
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"
        )
    )
    with pytest.raises(
        ConfigError,
        match=r"model.source: model 'anthropic.claude-3-5-haiku-20241022-v1:0' reached "
        r"its Bedrock end of life on 2026-06-19",
    ):
        load_platform(config_root)


def test_loaded_mappings_are_read_only(real_config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        real_config.environments[0].tags["owner"] = "someone-else"  # type: ignore[index]
    with pytest.raises(TypeError):
        real_config.contracts_by_environment["prod"] = ()  # type: ignore[index]


# ---------------------------------------------------------------- prompts


def test_every_contract_has_its_versioned_prompt(real_config) -> None:  # type: ignore[no-untyped-def]
    for contracts in real_config.contracts_by_environment.values():
        for contract in contracts:
            assert contract.prompt is not None
            assert contract.prompt.source_file == f"prompts/{contract.id}.yaml"
            assert contract.prompt.version.startswith("v") and len(contract.prompt.system) > 100


def test_a_missing_prompt_file_is_reported_against_the_contract(config_root) -> None:  # type: ignore[no-untyped-def]
    (config_root / "prompts" / "policy-qa.yaml").unlink()
    with pytest.raises(
        ConfigError, match=r"contracts/policy-qa.yaml:\d+: id: has no prompt file prompts/policy-qa.yaml"
    ):
        load_platform(config_root)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: 1\nsystem: You answer questions about policies.\n",
            r"1: version: must be of type string, but YAML read it as a number .*Fix: use a version like v1",
        ),
        ("version: v2\nsystem: short\n", r"2: system: is too short \(got 'short'\). Fix: use at least 20"),
        (
            "version: v2\nsystem: You answer questions about policies.\nmodel: x\n",
            r"3: model: is not a known field. Fix: allowed fields: system, version",
        ),
        ("- a list\n", r"1: \(file\): must be a YAML mapping of prompt fields"),
    ],
)
def test_a_bad_prompt_file_names_the_field(config_root, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    (config_root / "prompts" / "rfp-drafting.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"prompts/rfp-drafting.yaml:" + message):
        load_platform(config_root)


# ---------------------------------------------------------------- retiring models


def test_a_retiring_model_resolves_per_region_and_is_no_route(config_root: Path, set_field: SetField) -> None:
    # support-ticket-summary's primary was Haiku 4.5; this release moves it to Sonnet 4.5 and keeps Haiku.
    set_field(SUPPORT, "model.source", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    set_field(SUPPORT, "model.retiring", {"primary": "us.anthropic.claude-haiku-4-5-20251001-v1:0"})
    for env in ("dev", "prod"):
        support = next(
            c for c in load_platform(config_root).contracts_for(env) if c.id == "support-ticket-summary"
        )
        assert {route: s.identifier for route, s in support.retiring.items()} == {
            "primary": "us.anthropic.claude-haiku-4-5-20251001-v1:0"
        }
        assert support.retiring["primary"].model_id == "anthropic.claude-haiku-4-5-20251001-v1:0"
        assert "us.anthropic.claude-haiku-4-5-20251001-v1:0" not in {
            s.identifier for s in support.routes.values()
        }


def test_a_retiring_entry_names_a_route_or_a_removed_tier_not_a_typo(
    config_root: Path, set_field: SetField, edit_yaml: Any
) -> None:
    set_field(SUPPORT, "model.retiring", {"primray": "us.amazon.nova-pro-v1:0"})
    error = load_error(config_root, r"model\.retiring\.primray: is not a route of this contract")
    check(
        only_problem(error),
        file=SUPPORT,
        field="model.retiring.primray",
        value="primray",
        fix="did you mean 'primary'?",
    )
    # A tier this release removes keeps its profile for the release too (the previous version routes to it)
    edit_yaml(SUPPORT, lambda c: c["model"].update(tiers=[], retiring={"light": "us.amazon.nova-micro-v1:0"}))
    support = next(
        c for c in load_platform(config_root).contracts_for("prod") if c.id == "support-ticket-summary"
    )
    assert (
        "light" not in support.routes and support.retiring["light"].identifier == "us.amazon.nova-micro-v1:0"
    )


def test_a_retiring_model_must_not_be_the_routes_current_one(config_root: Path, set_field: SetField) -> None:
    set_field(SUPPORT, "model.retiring", {"light": "us.amazon.nova-micro-v1:0"})
    error = load_error(config_root, r"model\.retiring\.light: is the model the light route uses now")
    check(
        only_problem(error),
        file=SUPPORT,
        field="model.retiring.light",
        value="us.amazon.nova-micro-v1:0",
        fix="put the model the light route used in the last release here, or remove the entry",
    )


def test_a_retiring_model_is_resolved_from_the_catalog_for_every_region(
    config_root: Path, set_field: SetField
) -> None:
    set_field(SUPPORT, "model.retiring", {"primary": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"})
    error = load_error(config_root, r"model\.retiring\.primary: the 'eu' profile cannot be called from")
    assert {(p.file, p.field, p.value) for p in error.problems} == {
        (SUPPORT, "model.retiring.primary", "eu.anthropic.claude-haiku-4-5-20251001-v1:0")
    }
    assert {p.fix for p in error.problems} == {
        "use a profile callable from us-east-1: global.anthropic.claude-haiku-4-5-20251001-v1:0, "
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "use a profile callable from us-west-2: global.anthropic.claude-haiku-4-5-20251001-v1:0, "
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    }


# ---------------------------------------------------------------- routing tiers


def test_tiers_resolve_per_region_and_come_between_primary_and_fallback(example_config) -> None:  # type: ignore[no-untyped-def]
    # the example with a tier (the tests' copy where a fork retired it)
    for env in ("dev", "prod"):
        support = next(c for c in example_config.contracts_for(env) if c.id == "support-ticket-summary")
        (tier,) = support.tiers
        assert (tier.name, tier.source.identifier, tier.max_input_chars, tier.max_messages) == (
            "light",
            "us.amazon.nova-micro-v1:0",
            2000,
            1,
        )
        assert list(support.routes) == ["primary", "light", "fallback"]


@pytest.mark.parametrize("name", ["primary", "fallback"])
def test_a_tier_may_not_reuse_a_route_name(config_root, name: str) -> None:  # type: ignore[no-untyped-def]
    path = config_root / "contracts" / "support-ticket-summary.yaml"
    path.write_text(path.read_text().replace("    - name: light", f"    - name: {name}"))
    with pytest.raises(
        ConfigError, match=r"model.tiers\[0\].name: must be unique and not 'primary' or 'fallback'"
    ):
        load_platform(config_root)


def test_a_tier_needs_a_condition_and_a_source_callable_in_every_region(config_root) -> None:  # type: ignore[no-untyped-def]
    path = config_root / "contracts" / "support-ticket-summary.yaml"
    text = path.read_text()
    path.write_text(text.replace("      max_input_chars: 2000\n      max_messages: 1\n", ""))
    with pytest.raises(
        ConfigError,
        match=r"model.tiers\[0\]: has no condition, so it would take every request .*Fix: add at least one "
        r"condition: max_input_chars or max_messages",
    ):
        load_platform(config_root)
    path.write_text(text.replace("source: us.amazon.nova-micro-v1:0", "source: eu.amazon.nova-micro-v1:0"))
    with pytest.raises(ConfigError, match=r"model.tiers\[0\].source: the 'eu' profile cannot be called from"):
        load_platform(config_root)
