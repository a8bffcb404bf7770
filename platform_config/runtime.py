"""The orchestrator's runtime configuration, derived from production contracts (no CDK involved)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from platform_config.model import Contract
from platform_spec.contract import ContractDocument, PromptDocument
from platform_spec.runtime import RuntimeConfig, RuntimeUseCase


def runtime_config(contracts: Sequence[Contract], environment: str) -> RuntimeConfig:
    """The static policy the orchestrator Lambda enforces (``runtime_config.json``), derived from the same
    contracts as the infrastructure: each use case's whole contract, its routes' model sources and its
    prompt. Resource ARNs are deploy-time values and travel in ``BEDROCK_RESOURCES``.
    """
    use_cases = {}
    for contract in contracts:
        if contract.prompt is None:
            raise ValueError(f"contract {contract.id!r} has no prompt; add prompts/{contract.id}.yaml")
        document = ContractDocument(
            **{f.name: getattr(contract, f.name) for f in dataclasses.fields(ContractDocument)}
        )
        use_cases[contract.id] = RuntimeUseCase(
            contract=document,
            routes=contract.routes,
            prompt=PromptDocument(version=contract.prompt.version, system=contract.prompt.system),
            scoring=contract.live_scoring,
        )
    return RuntimeConfig(environment=environment, use_cases=use_cases)
