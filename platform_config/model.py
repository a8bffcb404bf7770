"""Typed, frozen configuration objects: the documents of ``platform_spec``, resolved for deployment.

Everything under ``stacks/`` and ``constructs/`` takes these objects, never raw dictionaries: the
loader (``platform_config.loader``) is the only code that reads files, and it validates everything
before a single construct is built.

A field is declared once, in ``platform_spec``: :class:`EnvironmentConfig` and :class:`Contract` *are*
the YAML documents (subclasses of their dataclasses) plus what the loader resolves (the file they came
from, model sources from the catalog, the prompt), so a new contract field appears here without an edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from platform_spec.contract import (
    AlarmThresholds,
    CallerHistory,
    ContentFilter,
    ContentFilterType,
    ContentGuarding,
    ContextualGrounding,
    ContractDocument,
    ConversationRule,
    DeniedTopic,
    EnforcedGuardrailSpec,
    FilterStrength,
    GuardrailPolicy,
    Limits,
    LoggingRule,
    ModelSource,
    ModelSourceKind,
    PiiEntityType,
    PromptDocument,
    RegexFilter,
    RiskTier,
    SensitiveAction,
)
from platform_spec.environment import (
    EnvironmentDocument,
    NetworkPlacement,
    NetworkSubnet,
    NotificationTargets,
    RemovalPolicyName,
)
from platform_spec.review import LiveScoring

if TYPE_CHECKING:
    from platform_config.delivery import DeliveryConfig
    from platform_config.evaluation import UseCaseEvaluation

__all__ = [
    "AlarmThresholds",
    "CallerHistory",
    "ContentFilter",
    "ContentFilterType",
    "ContentGuarding",
    "ContextualGrounding",
    "Contract",
    "ConversationRule",
    "DeniedTopic",
    "EnforcedGuardrailSpec",
    "EnvironmentConfig",
    "FilterStrength",
    "GuardrailPolicy",
    "Limits",
    "LoggingRule",
    "ModelSource",
    "ModelSourceKind",
    "NetworkPlacement",
    "NetworkSubnet",
    "NotificationTargets",
    "PiiEntityType",
    "PlatformConfig",
    "PromptTemplate",
    "RegexFilter",
    "RemovalPolicyName",
    "RiskTier",
    "RoutingTier",
    "SensitiveAction",
    "TokenLimits",
]

#: The contract's ``limits`` section (the name constructs have always used).
TokenLimits = Limits


def _fields_of(document: Any) -> dict[str, Any]:
    return {f.name: getattr(document, f.name) for f in dataclasses.fields(document)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvironmentConfig(EnvironmentDocument):
    """One deployment target (``environments/<name>.yaml``)."""

    source_file: str

    @classmethod
    def from_document(cls, document: EnvironmentDocument, *, source_file: str) -> EnvironmentConfig:
        return cls(**_fields_of(document), source_file=source_file)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PromptTemplate(PromptDocument):
    """A versioned system prompt (``prompts/<use case>.yaml``) and the file it came from."""

    source_file: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RoutingTier:
    """A cheaper route for requests that meet every condition of the contract's ``model.tiers`` entry,
    with its model source resolved for the environment's region."""

    name: str
    source: ModelSource
    max_input_chars: int | None = None
    max_messages: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Contract(ContractDocument):
    """A production contract (``contracts/<id>.yaml``) resolved for one environment: the single source for
    one use case. Every field of the YAML document is here as written; the loader adds the model sources
    resolved from the catalog for the environment's region, the prompt and the file it came from."""

    source_file: str
    primary: ModelSource
    fallback: ModelSource
    tiers: tuple[RoutingTier, ...] = ()
    prompt: PromptTemplate | None = None
    #: The model-graded rubric's judge (``evaluation.judge_model``) resolved for the region; None unless
    #: the contract enables model-graded scoring. Not a route: no user traffic goes to it.
    judge: ModelSource | None = None
    #: What every live output is scored against (the golden suite's defaults, the rubric), derived from
    #: ``evals/<id>/`` by the loader (``platform_config.evaluation.live_scoring``).
    live_scoring: LiveScoring = dataclasses.field(default_factory=LiveScoring)
    #: ``model.retiring`` resolved for the region: route -> the model that route used in the last release.
    #: Each keeps its inference profile and the orchestrator's grant for one more release; no route.
    retiring: Mapping[str, ModelSource] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_document(cls, document: ContractDocument, **resolved: Any) -> Contract:
        return cls(**_fields_of(document), **resolved)

    @property
    def routes(self) -> dict[str, ModelSource]:
        """Every model route by name: ``primary``, each tier, then ``fallback``."""
        return {"primary": self.primary, **{t.name: t.source for t in self.tiers}, "fallback": self.fallback}

    @property
    def inference_profiles(self) -> dict[str, ModelSource]:
        """Every application inference profile the use case gets, by its ``route`` tag: each route, and
        ``judge`` for a model-graded use case (a profile, but no route of user traffic)."""
        return {**self.routes, **({"judge": self.judge} if self.judge is not None else {})}

    def enabled_in(self, environment: str) -> bool:
        return environment in self.environments


@dataclasses.dataclass(frozen=True)
class PlatformConfig:
    """Every environment, and the contracts enabled in each, resolved for that environment's region."""

    environments: tuple[EnvironmentConfig, ...]
    contracts_by_environment: Mapping[str, tuple[Contract, ...]]
    #: Each use case's evaluation suites and rubric (``evals/<id>/``), validated against its contract.
    evaluations: Mapping[str, UseCaseEvaluation] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The delivery pipeline (``delivery/pipeline.yaml``), or None where the repository has none.
    delivery: DeliveryConfig | None = None

    def contracts_for(self, environment: str) -> tuple[Contract, ...]:
        return self.contracts_by_environment.get(environment, ())

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)
