"""A contract's ``latency_p95_ms`` must fit what the orchestrator's primary route can wait in its time budget
(``platform_spec.api.max_latency_p95_s``), refused otherwise with file, field, value and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_config import PlatformConfig
from platform_config.loader import load_platform
from platform_spec.api import FUNCTION_TIMEOUT_S, ResilienceSettings, max_latency_p95_s
from tests.config.conftest import FieldSetter
from tests.config.test_loader import check, load_error, only_problem

RFP = "contracts/rfp-drafting.yaml"  # holds its answers for review
SUPPORT = "contracts/support-ticket-summary.yaml"


def test_the_limit_is_the_primary_share_the_budget_can_give() -> None:
    policy = ResilienceSettings()
    # 28 s function, 0.5 s to answer, at most 27 s on Bedrock; 1 s to connect; 3 s kept for the fallback
    assert max_latency_p95_s(held=False) == policy.max_budget_s - 1.0 - 3.0 == 23.0
    # a held answer also reserves one 3 s attempt of its PutItem
    assert max_latency_p95_s(held=True) == FUNCTION_TIMEOUT_S - 0.5 - 3.0 - 1.0 - 3.0 == 20.5


def test_every_shipped_contract_fits(real_config: PlatformConfig) -> None:
    for env in real_config.environments:
        for contract in real_config.contracts_for(env.name):
            limit = max_latency_p95_s(held=contract.review.hold_for_review)
            assert contract.latency_p95_ms <= limit * 1000, contract.id


@pytest.mark.parametrize(
    ("file", "held", "limit_ms"),
    [(RFP, True, 20_500), (SUPPORT, False, 23_000)],
    ids=["held", "not-held"],
)
def test_a_p95_the_primary_cannot_wait_is_refused_with_its_fix(
    config_root: Path, set_field: FieldSetter, file: str, held: bool, limit_ms: int
) -> None:
    # at the limit: accepted
    set_field(file, "latency_p95_ms", limit_ms)
    load_platform(config_root)
    # one millisecond over: refused, naming the file, the field, the value and the largest value that fits
    set_field(file, "latency_p95_ms", limit_ms + 1)
    error = load_error(config_root, "latency_p95_ms")
    check(
        only_problem(error),
        file=file,
        field="latency_p95_ms",
        value=limit_ms + 1,
        fix=f"lower latency_p95_ms to {limit_ms} or less",
        message="3 s to store the held answer" if held else "27 s Bedrock budget",
    )
