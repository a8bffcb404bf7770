"""Estimated request cost from the route's list prices (USD per 1,000 tokens).

Estimates only: prompt-cache read/write rates, batch/priority tiers and discounts are not modelled.
A route with an unknown (null) price yields ``None``, never 0, so dashboards cannot under-report.
"""

from __future__ import annotations

from .runtime_config import Route

_DECIMALS = 8


def estimate_cost_usd(route: Route, *, input_tokens: int, output_tokens: int) -> float | None:
    if route.price_per_1k_input_usd is None or route.price_per_1k_output_usd is None:
        return None
    cost = (
        input_tokens * route.price_per_1k_input_usd + output_tokens * route.price_per_1k_output_usd
    ) / 1000
    return round(cost, _DECIMALS)
