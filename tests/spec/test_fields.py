"""platform_spec.fields: one declaration, two validators (pydantic on the CDK side, from_dict in a Lambda)
that must agree on every document."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from pydantic import ValidationError

from platform_config.documents import adapter, load_yaml
from platform_spec.contract import ContractDocument, Limits, PromptDocument
from platform_spec.environment import EnvironmentDocument
from platform_spec.fields import SpecError, from_dict, to_dict
from tests.support.contracts import example_file

ROOT = Path(__file__).resolve().parents[2]
KINDS: dict[str, type] = {
    "contracts": ContractDocument,
    "environments": EnvironmentDocument,
    "prompts": PromptDocument,
}
REAL = [(kind, path) for kind in KINDS for path in sorted((ROOT / kind).glob("*.yaml"))]


@pytest.mark.parametrize(("kind", "path"), REAL, ids=[f"{k}/{p.name}" for k, p in REAL])
def test_both_validators_read_every_real_file_the_same(kind: str, path: Path) -> None:
    data = load_yaml(path.read_text(encoding="utf-8"))
    by_pydantic = adapter(KINDS[kind]).validate_python(data)
    by_stdlib = from_dict(KINDS[kind], data)
    assert to_dict(by_pydantic) == to_dict(by_stdlib)
    # to_dict writes what from_dict reads
    assert from_dict(KINDS[kind], to_dict(by_stdlib)) == by_stdlib


def _contract() -> dict[str, Any]:
    # the shipped example, or the tests' copy of it in a fork that retired it
    return load_yaml(example_file("contracts/policy-qa.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


BAD = {
    "below ge": (_set("limits.max_output_tokens", 0), "limits.max_output_tokens must be at least 1"),
    "above le": (_set("latency_p95_ms", 28_001), "latency_p95_ms must be at most 28000"),
    "not above gt": (_set("daily_budget_usd", 0), "daily_budget_usd must be greater than 0"),
    "pattern": (_set("id", "Policy_QA"), "id must match"),
    "too short": (_set("purpose", "short"), "purpose must have at least 20 characters"),
    "enum": (_set("risk_tier", "extreme"), "risk_tier must be one of 'low', 'medium', 'high'"),
    "enum key": (_set("guardrail.content_filters.NOPE", {"input": "HIGH", "output": "HIGH"}), "key 'NOPE'"),
    "literal item": (
        _set("guardrail.word_filters.managed_lists", ["SWEARING"]),
        "managed_lists[0] must be one of",
    ),
    "repeated items": (_set("environments", ["dev", "dev"]), "environments must not repeat an item"),
    "bool is not int": (_set("limits.max_input_tokens", True), "limits.max_input_tokens must be an integer"),
    "string is not int": (
        _set("limits.max_input_tokens", "12000"),
        "limits.max_input_tokens must be an integer",
    ),
    "unknown field": (_set("limits.max_images", 3), "limits.max_images is not a known field"),
    "missing field": (
        _delete("guardrail.blocked_input_message"),
        "guardrail.blocked_input_message is required",
    ),
    "wrong container": (_set("model", "us.amazon.nova-pro-v1:0"), "model must be an object"),
    # YAML's .inf and .nan are floats: an infinite budget is above its minimum and has no maximum
    "infinite number": (_set("daily_budget_usd", float("inf")), "daily_budget_usd must be a finite number"),
    "not a number": (_set("review.sample_rate", float("nan")), "review.sample_rate must be a finite number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_both_validators_refuse_the_same_bad_values(case: str) -> None:
    mutate, stdlib_message = BAD[case]
    doc = copy.deepcopy(_contract())
    mutate(doc)
    with pytest.raises(ValidationError):
        adapter(ContractDocument).validate_python(doc)
    with pytest.raises(SpecError) as caught:
        from_dict(ContractDocument, doc, where="contract")
    assert any(stdlib_message in problem for problem in caught.value.problems), caught.value.problems


def test_from_dict_reports_every_problem_with_its_path() -> None:
    doc = _contract()
    doc["limits"] = {"max_input_tokens": 0, "max_output_tokens": "many", "surprise": 1}
    doc["risk_tier"] = "extreme"
    with pytest.raises(SpecError) as caught:
        from_dict(ContractDocument, doc, where="runtime_config")
    problems = caught.value.problems
    # the allowed fields are Limits' own, whatever a later field adds (README, "Add a contract field")
    allowed = ", ".join(sorted(field.name for field in dataclasses.fields(Limits)))
    assert f"runtime_config.limits.surprise is not a known field (allowed: {allowed})" in problems
    assert "runtime_config.limits.max_input_tokens must be at least 1 (got 0)" in problems
    assert "runtime_config.limits.max_output_tokens must be an integer (got 'many')" in problems
    assert any(p.startswith("runtime_config.risk_tier must be one of") for p in problems)


def test_mappings_read_by_from_dict_are_read_only() -> None:
    env = from_dict(EnvironmentDocument, load_yaml((ROOT / "environments" / "dev.yaml").read_text()))
    assert isinstance(env.tags, MappingProxyType)
    with pytest.raises(TypeError):
        env.tags["owner"] = "someone"  # type: ignore[index]


def test_defaults_come_from_the_dataclass() -> None:
    limits = from_dict(Limits, {"max_input_tokens": 10, "max_output_tokens": 5})
    assert limits.tpm_quota is None
    # every field not given takes its declared default, including fields added later
    defaults = {f.name: f.default for f in dataclasses.fields(Limits) if f.default is not dataclasses.MISSING}
    assert defaults["tpm_quota"] is None
    assert to_dict(limits) == {"max_input_tokens": 10, "max_output_tokens": 5, **defaults}
