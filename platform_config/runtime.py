"""The orchestrator's runtime configuration, derived from production contracts (no CDK involved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from platform_config.model import Contract


def runtime_config(contracts: Sequence[Contract], environment: str) -> dict[str, Any]:
    """The static policy the orchestrator Lambda enforces (``runtime_config.json``, schema version 2),
    derived from the same contracts as the infrastructure. ``lambdas/orchestrator/runtime_config.py``
    parses it; a test keeps the two in step.

    Resource identifiers (profile IDs, guardrail version) are deploy-time values and travel separately
    in the ``BEDROCK_RESOURCES`` environment variable.
    """
    config: dict[str, Any] = {"schema_version": 2, "environment": environment, "use_cases": {}}
    for contract in contracts:
        if contract.prompt is None:
            raise ValueError(f"contract {contract.id!r} has no prompt; add prompts/{contract.id}.yaml")
        config["use_cases"][contract.id] = {
            "purpose": contract.purpose,
            "risk_tier": contract.risk_tier.value,
            "routes": {
                route: {
                    "source": source.identifier,
                    "model_id": source.model_id,
                    "price_per_1k_input_usd": source.price_per_1k_input_usd,
                    "price_per_1k_output_usd": source.price_per_1k_output_usd,
                    "price_per_1k_cache_read_usd": source.price_per_1k_cache_read_usd,
                    "price_per_1k_cache_write_usd": source.price_per_1k_cache_write_usd,
                    "prompt_cache_min_tokens": source.prompt_cache_min_tokens,
                }
                for route, source in contract.routes.items()
            },
            "tiers": [
                {
                    "name": tier.name,
                    "route": tier.name,
                    **({"max_input_chars": tier.max_input_chars} if tier.max_input_chars else {}),
                    **({"max_messages": tier.max_messages} if tier.max_messages else {}),
                }
                for tier in contract.tiers
            ],
            "guardrail": {
                "blocked_input_message": contract.guardrail.blocked_input_message,
                "blocked_output_message": contract.guardrail.blocked_output_message,
                "grounding": contract.guardrail.contextual_grounding is not None,
            },
            "limits": {
                "max_input_tokens": contract.limits.max_input_tokens,
                "max_output_tokens": contract.limits.max_output_tokens,
            },
            "latency_p95_ms": contract.latency_p95_ms,
            "log_prompts_and_responses": contract.logging.prompts_and_responses,
            "conversation": {
                "caller_history": contract.conversation.caller_history.value,
                "cache_context": contract.conversation.cache_context,
            },
            "prompt": {"version": contract.prompt.version, "system": contract.prompt.system},
        }
    return config
