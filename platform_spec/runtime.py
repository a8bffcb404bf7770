"""What the CDK side hands the orchestrator Lambda, declared once.

Two documents travel from synth to the function:

* ``runtime_config.json`` in the asset: :class:`RuntimeConfig`, the static policy of every use case
  enabled in the environment. Each use case carries its whole production contract
  (:class:`~platform_spec.contract.ContractDocument`), the model sources its routes resolve to and its
  prompt, so a field added to the contract reaches the Lambda with no other edit.
* The ``BEDROCK_RESOURCES`` environment variable: :class:`DeployedResources`, the ARNs CloudFormation
  assigns at deploy time (application inference profiles, guardrail and its published version). The
  Lambda uses them as given; it never rebuilds an ARN from an id, a region and an account.

Both are written with :func:`platform_spec.fields.to_dict` and read with
:func:`platform_spec.fields.from_dict` (standard library only, every problem reported at once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Annotated, Final

from platform_spec.contract import ContractDocument, ModelSource, ModelTier, PromptDocument
from platform_spec.fields import Spec, SpecError, from_dict, spec
from platform_spec.review import GUARDRAIL_VERSION_PATTERN, LiveScoring

#: Bumped whenever a change to these dataclasses would make an older function misread the file.
SCHEMA_VERSION: Final = 4
RUNTIME_CONFIG_FILE: Final = "runtime_config.json"

#: Every route name a use case may have besides its routing tiers.
PRIMARY: Final = "primary"
FALLBACK: Final = "fallback"


class Env:
    """Names of the orchestrator's environment variables (set by the construct, read by the handler)."""

    RESOURCES: Final = "BEDROCK_RESOURCES"
    IDEMPOTENCY_TABLE: Final = "IDEMPOTENCY_TABLE"
    SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
    REGION: Final = "AWS_REGION"
    #: Optional: where runtime_config.json is (default: beside the handler). Tests and the demo set it.
    RUNTIME_CONFIG_PATH: Final = "RUNTIME_CONFIG_PATH"
    #: Optional: how long an idempotent answer is replayed, in seconds.
    IDEMPOTENCY_TTL_S: Final = "IDEMPOTENCY_TTL_S"


@spec
class RuntimeUseCase:
    """One use case as the orchestrator enforces it."""

    contract: ContractDocument
    #: Every route by name, in the order they are tried: ``primary``, each tier, ``fallback``.
    routes: Mapping[str, ModelSource]
    prompt: PromptDocument
    enabled: bool = True
    #: What every live output is scored against (the golden suite's defaults, the rubric): the scoring
    #: function reads it, and the orchestrator where text may not leave the request.
    scoring: LiveScoring = field(default_factory=LiveScoring)

    # Shortcuts to the contract fields the handler reads on every request (the contract is the source).

    @property
    def id(self) -> str:
        return self.contract.id

    @property
    def tiers(self) -> tuple[ModelTier, ...]:
        return self.contract.model.tiers

    @property
    def log_prompts_and_responses(self) -> bool:
        return self.contract.logging.prompts_and_responses

    def route_for(self, *, input_chars: int, message_count: int) -> str:
        """Classify-then-route: the name of the first tier whose conditions all hold, else ``primary``."""
        for tier in self.tiers:
            if tier.matches(input_chars=input_chars, message_count=message_count):
                return tier.name
        return PRIMARY


@spec
class RuntimeConfig:
    """``runtime_config.json``: every use case of one environment (generated at synth)."""

    schema_version: int = SCHEMA_VERSION
    environment: str
    use_cases: Mapping[str, RuntimeUseCase]

    def enabled_use_case(self, use_case_id: str) -> RuntimeUseCase | None:
        use_case = self.use_cases.get(use_case_id)
        return use_case if use_case is not None and use_case.enabled else None

    def problems(self) -> list[str]:
        """Rules across fields: ids match their keys, routes cover primary, fallback and every tier."""
        found = []
        for key, use_case in self.use_cases.items():
            where = f"use_cases[{key!r}]"
            if use_case.id != key:
                found.append(f"{where}.contract.id is {use_case.id!r}, not {key!r}")
            wanted = [PRIMARY, *(t.name for t in use_case.tiers), FALLBACK]
            missing = [route for route in wanted if route not in use_case.routes]
            if missing:
                found.append(f"{where}.routes has no {missing}")
        return found


Arn = Annotated[str, Spec(pattern=r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:[A-Za-z0-9/._:-]+$")]


@spec
class UseCaseResources:
    """The deployed Bedrock resources of one use case (ARNs, as CloudFormation returns them)."""

    #: route name -> application inference profile ARN
    profile_arns: Mapping[str, Arn]
    guardrail_arn: Arn
    #: a published, numeric version: DRAFT is never deployed
    guardrail_version: Annotated[str, Spec(pattern=GUARDRAIL_VERSION_PATTERN)]


@spec
class DeployedResources:
    """``BEDROCK_RESOURCES``: every use case's deployed resources, by use case id."""

    use_cases: Mapping[str, UseCaseResources]

    def problems(self, config: RuntimeConfig) -> list[str]:
        """Every enabled use case has a guardrail and a profile for each of its routes."""
        found = []
        for use_case in config.use_cases.values():
            if not use_case.enabled:
                continue
            deployed = self.use_cases.get(use_case.id)
            if deployed is None:
                found.append(f"use case {use_case.id!r} is enabled but has no entry in {Env.RESOURCES}")
                continue
            for route in use_case.routes:
                if route not in deployed.profile_arns:
                    found.append(f"{Env.RESOURCES}[{use_case.id!r}] has no profile for route {route!r}")
        return found


def read_runtime_config(path: Path) -> RuntimeConfig:
    """Read and check ``runtime_config.json``; :class:`SpecError` lists every problem."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError([f"cannot read {path} ({Env.RUNTIME_CONFIG_PATH}): {exc.strerror}"]) from exc
    except ValueError as exc:
        raise SpecError([f"{path} is not valid JSON: {exc}"]) from exc
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version != SCHEMA_VERSION:
        raise SpecError(
            [
                f"{path}: schema_version is {version!r}, this function reads {SCHEMA_VERSION}; redeploy both together"
            ]
        )
    config = from_dict(RuntimeConfig, document, where="runtime_config")
    problems = config.problems()
    if problems:
        raise SpecError(problems)
    return config


def read_resources(raw: str) -> DeployedResources:
    """Parse ``BEDROCK_RESOURCES``; :class:`SpecError` lists every problem."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise SpecError([f"{Env.RESOURCES} is not valid JSON: {exc}"]) from exc
    return from_dict(DeployedResources, document, where=Env.RESOURCES)
