"""Estimated request cost from the route's list prices (USD per 1,000 tokens).

Estimates only: batch/priority tiers, 1-hour cache writes and discounts are not modelled. Prompt-cache
tokens are priced at the route's cache rates: Converse reports them apart from ``inputTokens``
(``usage.cacheReadInputTokens`` / ``cacheWriteInputTokens``,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html), so the three are
added, each at its own rate. That ``inputTokens`` excludes the cached tokens follows Anthropic's usage
convention and the stub's; it cannot be proven offline. A route with an unknown (null) price for a kind
of token the answer used yields ``None``, never 0, so dashboards cannot under-report.
"""

from __future__ import annotations

from .runtime_config import ModelSource

_DECIMALS = 8


def estimate_cost_usd(
    route: ModelSource,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    priced = (
        (input_tokens, route.price_per_1k_input_usd),
        (output_tokens, route.price_per_1k_output_usd),
        (cache_read_tokens, route.price_per_1k_cache_read_usd),
        (cache_write_tokens, route.price_per_1k_cache_write_usd),
    )
    if route.price_per_1k_input_usd is None or route.price_per_1k_output_usd is None:
        return None
    if any(tokens and price is None for tokens, price in priced):
        return None
    cost = sum(tokens * (price or 0.0) for tokens, price in priced) / 1000
    return round(cost, _DECIMALS)
