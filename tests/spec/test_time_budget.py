"""The time budget's shared numbers (``platform_spec.api``): store-call bounds and the post-answer reserve."""

from __future__ import annotations

import pytest

from platform_spec.api import (
    FUNCTION_TIMEOUT_S,
    STORE_ATTEMPTS,
    STORE_CONNECT_TIMEOUT_S,
    STORE_READ_TIMEOUT_S,
    ResilienceSettings,
    bedrock_budget_s,
    post_answer_reserve_s,
    store_call_bounds,
    store_call_max_s,
)
from platform_spec.review import store_client_config


def test_a_store_call_is_bounded_by_the_time_left() -> None:
    worst = store_call_max_s()
    # time for every attempt at its worst: the configured client
    assert (
        store_call_bounds(float("inf")) == store_call_bounds(worst) == (STORE_READ_TIMEOUT_S, STORE_ATTEMPTS)
    )
    # less: one attempt (no retry delay), its read timeout cut to what is left after connecting
    assert store_call_bounds(worst - 0.01) == (STORE_READ_TIMEOUT_S, 1)
    assert store_call_bounds(STORE_CONNECT_TIMEOUT_S + 0.55) == (0.5, 1)
    # not even a short read fits: no call
    assert store_call_bounds(STORE_CONNECT_TIMEOUT_S + 0.1) is None
    assert store_call_bounds(0.0) is None


@pytest.mark.parametrize("seconds", [1.2, 1.5, 2.99, 3.0, 7.0, 11.99])
def test_a_bounded_store_call_ends_within_the_time_left(seconds: float) -> None:
    bounds = store_call_bounds(seconds)
    assert bounds is not None
    read_timeout_s, attempts = bounds
    assert store_call_max_s(attempts, read_timeout_s) <= seconds


def test_the_configured_store_client_is_the_one_the_worst_case_is_computed_from() -> None:
    config = store_client_config()
    assert (config["connect_timeout"], config["read_timeout"]) == (
        STORE_CONNECT_TIMEOUT_S,
        STORE_READ_TIMEOUT_S,
    )
    assert config["retries"] == {"mode": "standard", "total_max_attempts": STORE_ATTEMPTS}


def test_a_held_answer_reserves_one_store_attempt_in_the_bedrock_budget() -> None:
    policy = ResilienceSettings()
    free = bedrock_budget_s(FUNCTION_TIMEOUT_S, reserve_s=post_answer_reserve_s(held=False), policy=policy)
    held = bedrock_budget_s(FUNCTION_TIMEOUT_S, reserve_s=post_answer_reserve_s(held=True), policy=policy)
    assert free == policy.max_budget_s == 27.0
    assert held == FUNCTION_TIMEOUT_S - policy.safety_margin_s - (
        STORE_CONNECT_TIMEOUT_S + STORE_READ_TIMEOUT_S
    )
    assert bedrock_budget_s(1.0, reserve_s=3.0, policy=policy) == 0.0
