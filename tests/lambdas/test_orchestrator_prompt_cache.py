"""Prompt caching: a cache point only where the cached prefix reaches the model's minimum, cache tokens
reported in the response, the log line and the metrics, and priced at the cache rates.

Minimums of the sample routes (from the model catalog): support-ticket-summary primary Claude Haiku 4.5
4,096 tokens, its fallback and light routes (Nova) 1,000; policy-qa primary Claude Sonnet 4.5 1,024.
Token estimates for the cached prefix: characters // 4 (``bedrock.prefix_tokens``).
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest

from bedrock_platform_devtools.bedrock_stub import BedrockStub, Fault
from lambdas.orchestrator.bedrock import CachePlan, cache_plan, prefix_tokens
from lambdas.orchestrator.pricing import estimate_cost_usd
from lambdas.orchestrator.validation import InvokeRequest, Message
from platform_spec.contract import ModelSource, ModelSourceKind
from platform_spec.fields import from_dict
from platform_spec.runtime import RuntimeConfig
from tests.lambdas.conftest import LoadOrchestrator
from tests.lambdas.orchestrator_testkit import (
    PROFILES,
    FakeLambdaContext,
    call,
    calls_to,
    converse_calls,
    invoke_event,
    output_lines,
    sample_route,
    sample_runtime_config,
    user,
)

STS = PROFILES["support-ticket-summary"]
QA = PROFILES["policy-qa"]
CACHE_POINT = {"cachePoint": {"type": "default"}}
TICKET = "Customer reports the October invoice PDF is blank when downloaded from the billing page."
HAIKU_MIN = 4096


def _system_of(chars: int) -> str:
    return ("You summarize support tickets. " * (chars // 31 + 1))[:chars]


def _config(sts_system_chars: int | None = None, *, qa_cache_context: bool = False) -> dict[str, Any]:
    config = sample_runtime_config()
    if sts_system_chars is not None:
        config["use_cases"]["support-ticket-summary"]["prompt"]["system"] = _system_of(sts_system_chars)
    config["use_cases"]["policy-qa"]["contract"]["conversation"]["cache_context"] = qa_cache_context
    return config


def _request(*texts: str, context: str | None = None) -> InvokeRequest:
    roles = ("user", "assistant")
    messages = tuple(Message(roles[i % 2], text) for i, text in enumerate(texts))
    return InvokeRequest(messages=messages, context=context, input_chars=0)


# --- where cache points go ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system_chars", "expected"),
    [
        (HAIKU_MIN * 4 - 1, False),  # 4,095 estimated tokens: one short of the minimum
        (HAIKU_MIN * 4, True),  # exactly the minimum
        (1_600, False),  # the size of today's prompts (~400 tokens)
    ],
)
def test_system_cache_point_only_from_the_minimum(system_chars: int, expected: bool) -> None:
    use_case = from_dict(RuntimeConfig, _config(system_chars)).use_cases["support-ticket-summary"]

    plan = cache_plan(use_case=use_case, request=_request(TICKET), min_tokens=HAIKU_MIN)

    assert plan == CachePlan(after_system=expected)


def test_no_cache_point_on_a_model_without_prompt_caching() -> None:
    use_case = from_dict(RuntimeConfig, _config(100_000)).use_cases["support-ticket-summary"]

    assert cache_plan(use_case=use_case, request=_request(TICKET), min_tokens=None) == CachePlan()


def test_context_cache_point_needs_a_stable_context_a_single_turn_and_the_minimum() -> None:
    stable = from_dict(RuntimeConfig, _config(qa_cache_context=True)).use_cases["policy-qa"]
    unstable = from_dict(RuntimeConfig, _config()).use_cases["policy-qa"]
    system = len(stable.prompt.system)
    reaching = "x" * (1024 * 4 - system)  # system + context = exactly 1,024 estimated tokens
    short = reaching[:-4]

    def plan(use_case: Any, request: InvokeRequest) -> CachePlan:
        return cache_plan(use_case=use_case, request=request, min_tokens=1024)

    assert plan(stable, _request("Q?", context=reaching)) == CachePlan(after_context=True)
    assert plan(stable, _request("Q?", context=short)) == CachePlan()
    assert plan(unstable, _request("Q?", context=reaching)) == CachePlan()  # callers do not repeat it
    assert plan(stable, _request("Q?", "A.", "Q2?", context=reaching)) == CachePlan()  # history first
    assert prefix_tokens(system + len(reaching)) == 1024


def test_todays_requests_carry_no_cache_point(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN the shipped prompts (~400 tokens, below every route's minimum)
    call(orchestrator, invoke_event(body=user(TICKET)), lambda_context)

    [converse] = converse_calls(stub)
    assert CACHE_POINT not in converse.body["system"]


def test_a_long_system_prompt_is_cached_and_read_back(
    load_orchestrator: LoadOrchestrator,
    lambda_context: FakeLambdaContext,
    stub: BedrockStub,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a system prompt of 4,200 estimated tokens: above Haiku 4.5's minimum
    module = load_orchestrator(_config(4_200 * 4))

    # WHEN the same use case is called twice
    first = call(module, invoke_event(body=user(TICKET)), lambda_context)
    second = call(module, invoke_event(body=user(TICKET + " Still blank today.")), lambda_context)

    # THEN the cache point follows the system prompt; the first request writes it, the second reads it
    for converse in converse_calls(stub):
        assert converse.body["system"][-1] == CACHE_POINT
    assert first.body["usage"]["cacheWriteInputTokens"] == 4_200
    assert first.body["usage"]["cacheReadInputTokens"] == 0
    assert second.body["usage"]["cacheReadInputTokens"] == 4_200
    assert second.body["usage"]["cacheWriteInputTokens"] == 0
    # priced at the route's cache rates (Haiku 4.5: read 0.1x, write 1.25x the input price)
    p = sample_route("support-ticket-summary", "primary")
    usage = second.body["usage"]
    assert second.body["estimatedCostUsd"] == pytest.approx(
        (
            usage["inputTokens"] * p["price_per_1k_input_usd"]
            + 4_200 * p["price_per_1k_cache_read_usd"]
            + usage["outputTokens"] * p["price_per_1k_output_usd"]
        )
        / 1000
    )
    assert first.body["estimatedCostUsd"] == pytest.approx(
        (
            first.body["usage"]["inputTokens"] * p["price_per_1k_input_usd"]
            + 4_200 * p["price_per_1k_cache_write_usd"]
            + first.body["usage"]["outputTokens"] * p["price_per_1k_output_usd"]
        )
        / 1000
    )
    # and reported in the log line and the metrics
    logs, emf = output_lines(capsys.readouterr().out)
    requests = [line for line in logs if line.get("message") == "request"]
    assert [(r["cacheReadInputTokens"], r["cacheWriteInputTokens"]) for r in requests] == [
        (0, 4_200),
        (4_200, 0),
    ]
    main = [doc for doc in emf if "Requests" in doc]
    assert [(d["CacheReadInputTokens"], d["CacheWriteInputTokens"]) for d in main] == [
        ([0.0], [4200.0]),
        ([4200.0], [0.0]),
    ]


def test_each_route_uses_its_own_minimum(
    load_orchestrator: LoadOrchestrator, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN a 2,000-token system prompt: below Haiku 4.5's 4,096, above Nova Lite's 1,000
    module = load_orchestrator(_config(2_000 * 4))
    stub.script(STS["primary"], [Fault.service_unavailable()] * 3)

    reply = call(module, invoke_event(body=user(TICKET)), lambda_context)

    assert reply.body["route"] == "fallback"
    by_route = {c.target.rsplit("/", 1)[-1]: c for c in converse_calls(stub)}
    primary, fallback = by_route[STS["primary"]], by_route[STS["fallback"]]
    assert CACHE_POINT not in primary.body["system"]
    assert fallback.body["system"][-1] == CACHE_POINT
    assert calls_to(stub, STS["fallback"]) == 1


def test_a_repeated_context_is_cached_after_the_context_block(
    load_orchestrator: LoadOrchestrator, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    # GIVEN policy-qa says callers repeat the context, and a 1,100-token policy excerpt
    module = load_orchestrator(_config(qa_cache_context=True))
    context = ("Remote Work Policy 4.2: up to 20 working days abroad per year with approval. " * 60)[:4_400]

    def ask(question: str) -> Any:
        body = {"messages": [{"role": "user", "content": question}], "context": context}
        return call(module, invoke_event("policy-qa", body), lambda_context)

    first = ask("How many days can I work from abroad?")
    second = ask("Do I need approval to work abroad?")

    # THEN the cache point sits between the grounding source and the question, and the second reads
    [one, two] = converse_calls(stub)
    for converse in (one, two):
        content = converse.body["messages"][-1]["content"]
        assert content[0]["guardContent"]["text"]["qualifiers"] == ["grounding_source"]
        assert content[1] == CACHE_POINT
        assert content[2]["guardContent"]["text"]["qualifiers"] == ["query"]
    assert first.body["usage"]["cacheWriteInputTokens"] > 1_024
    assert second.body["usage"]["cacheReadInputTokens"] == first.body["usage"]["cacheWriteInputTokens"]


# --- cost ------------------------------------------------------------------------------------------------


def _route(read: float | None, write: float | None) -> ModelSource:
    return ModelSource(
        identifier="us.x",
        kind=ModelSourceKind.CROSS_REGION_PROFILE,
        model_id="x",
        geography="us",
        destination_regions=("us-east-1",),
        price_per_1k_input_usd=0.003,
        price_per_1k_output_usd=0.015,
        prompt_cache_min_tokens=1024,
        price_per_1k_cache_read_usd=read,
        price_per_1k_cache_write_usd=write,
    )


def test_cost_prices_cache_tokens_at_cache_rates() -> None:
    route = _route(0.0003, 0.00375)

    cost = estimate_cost_usd(
        route, input_tokens=100, output_tokens=50, cache_read_tokens=2_000, cache_write_tokens=1_000
    )

    assert cost == pytest.approx((100 * 0.003 + 50 * 0.015 + 2_000 * 0.0003 + 1_000 * 0.00375) / 1000)
    # far below what the same tokens would cost at the input rate
    assert cost < estimate_cost_usd(route, input_tokens=3_100, output_tokens=50)  # type: ignore[operator]


def test_unknown_cache_price_makes_the_cost_unknown_only_when_cache_tokens_were_used() -> None:
    route = _route(None, None)

    assert estimate_cost_usd(route, input_tokens=100, output_tokens=50, cache_read_tokens=10) is None
    assert estimate_cost_usd(route, input_tokens=100, output_tokens=50, cache_write_tokens=10) is None
    assert estimate_cost_usd(route, input_tokens=100, output_tokens=50) == pytest.approx(0.00105)


def test_a_scripted_cache_read_is_priced_end_to_end(
    orchestrator: ModuleType, lambda_context: FakeLambdaContext, stub: BedrockStub
) -> None:
    stub.script(
        STS["primary"],
        [Fault.success(input_tokens=100, output_tokens=10, cache_read_tokens=5_000, cache_write_tokens=0)],
    )
    config = copy.deepcopy(sample_runtime_config())
    prices = config["use_cases"]["support-ticket-summary"]["routes"]["primary"]

    reply = call(orchestrator, invoke_event(body=user(TICKET)), lambda_context)

    assert reply.body["usage"]["cacheReadInputTokens"] == 5_000
    assert reply.body["estimatedCostUsd"] == pytest.approx(
        (
            100 * prices["price_per_1k_input_usd"]
            + 5_000 * prices["price_per_1k_cache_read_usd"]
            + 10 * prices["price_per_1k_output_usd"]
        )
        / 1000
    )
