"""Typed, frozen configuration objects.

Everything under ``stacks/`` and ``constructs/`` takes these objects, never raw dictionaries: the
loader (``platform_config.loader``) is the only code that reads files, and it validates everything
before a single construct is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class RemovalPolicyName(StrEnum):
    RETAIN = "retain"
    DESTROY = "destroy"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FilterStrength(StrEnum):
    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ContentFilterType(StrEnum):
    SEXUAL = "SEXUAL"
    VIOLENCE = "VIOLENCE"
    HATE = "HATE"
    INSULTS = "INSULTS"
    MISCONDUCT = "MISCONDUCT"
    PROMPT_ATTACK = "PROMPT_ATTACK"


class SensitiveAction(StrEnum):
    BLOCK = "BLOCK"
    ANONYMIZE = "ANONYMIZE"


class ContentGuarding(StrEnum):
    """How an enforced guardrail treats content in a request (SelectiveContentGuarding): ``SELECTIVE``
    evaluates only what the caller tags for guarding, ``COMPREHENSIVE`` evaluates everything."""

    SELECTIVE = "SELECTIVE"
    COMPREHENSIVE = "COMPREHENSIVE"


class ModelSourceKind(StrEnum):
    CROSS_REGION_PROFILE = "cross-region-profile"
    FOUNDATION_MODEL = "foundation-model"


@dataclass(frozen=True)
class NotificationTargets:
    emails: tuple[str, ...] = ()
    https_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnforcedGuardrailConfig:
    """The account-level enforced guardrail of an environment (``environments/<name>.yaml``,
    ``enforced_guardrail``): a baseline policy Bedrock applies to every model call in the account and
    region, on top of any guardrail the caller names, or an opt-out with its reason."""

    policy: GuardrailPolicy | None
    opt_out_reason: str | None = None
    #: For user messages: COMPREHENSIVE evaluates all of them, whatever the caller tags.
    messages: ContentGuarding = ContentGuarding.COMPREHENSIVE
    #: For system prompts: SELECTIVE evaluates only what the caller tags.
    system: ContentGuarding = ContentGuarding.SELECTIVE

    @property
    def opted_out(self) -> bool:
        return self.policy is None


@dataclass(frozen=True)
class EnvironmentConfig:
    """One deployment target (``environments/<name>.yaml``)."""

    name: str
    account: str
    region: str
    tags: Mapping[str, str]
    log_retention_days: int
    removal_policy: RemovalPolicyName
    owns_invocation_logging: bool
    notifications: NotificationTargets
    source_file: str
    reserved_concurrency: int
    production: bool = False
    #: Set when the environment owns the account-and-region settings (``owns_invocation_logging``).
    enforced_guardrail: EnforcedGuardrailConfig | None = None


@dataclass(frozen=True)
class ModelSource:
    """What an application inference profile copies from.

    ``identifier`` is either a system-defined cross-region inference profile id (``us.anthropic...``)
    or a foundation model id (``anthropic...``). ``model_id`` is the foundation model behind it and
    ``destination_regions`` every region the source can route a request to (one region for a
    foundation model), which is what a least-privilege invoke grant must cover.
    """

    identifier: str
    kind: ModelSourceKind
    model_id: str
    geography: str | None
    destination_regions: tuple[str, ...]
    price_per_1k_input_usd: float | None = None
    price_per_1k_output_usd: float | None = None
    prompt_caching: bool = False
    #: False when the catalog's price comes from a secondary source, not the AWS pricing page.
    price_confirmed: bool = True

    @property
    def routes_globally(self) -> bool:
        return self.geography == "global"


@dataclass(frozen=True)
class ContentFilter:
    type: ContentFilterType
    input_strength: FilterStrength
    output_strength: FilterStrength


@dataclass(frozen=True)
class DeniedTopic:
    name: str
    definition: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class PiiEntity:
    type: str
    action: SensitiveAction


@dataclass(frozen=True)
class RegexFilter:
    name: str
    pattern: str
    action: SensitiveAction
    description: str = ""


@dataclass(frozen=True)
class ContextualGrounding:
    grounding_threshold: float | None = None
    relevance_threshold: float | None = None


@dataclass(frozen=True)
class GuardrailPolicy:
    content_filters: tuple[ContentFilter, ...]
    denied_topics: tuple[DeniedTopic, ...]
    pii_entities: tuple[PiiEntity, ...]
    regexes: tuple[RegexFilter, ...]
    words: tuple[str, ...]
    managed_word_lists: tuple[str, ...]
    contextual_grounding: ContextualGrounding | None
    blocked_input_message: str
    blocked_output_message: str

    def strength_of(self, filter_type: ContentFilterType) -> ContentFilter | None:
        return next((f for f in self.content_filters if f.type is filter_type), None)


@dataclass(frozen=True)
class TokenLimits:
    max_input_tokens: int
    max_output_tokens: int
    #: Tokens per minute this use case may use on its primary model (its share of the account quota).
    tpm_quota: int | None = None


@dataclass(frozen=True)
class LoggingRule:
    """What may be recorded about an invocation of this use case.

    ``prompts_and_responses`` governs both Bedrock's account-level text delivery (which is only
    switched on when every enabled contract in the environment allows it) and whether the
    orchestrator may write prompt or response text to its own logs. ``images``, ``embeddings``,
    ``video`` and ``audio`` govern the other delivery flags the same way (default false).
    """

    prompts_and_responses: bool
    images: bool = False
    embeddings: bool = False
    video: bool = False
    audio: bool = False


@dataclass(frozen=True)
class RoutingTier:
    """A cheaper route for requests that meet every condition (classify-then-route).

    Tiers are tried in order; the first whose conditions all hold picks its route, else ``primary``.
    """

    name: str
    source: ModelSource
    max_input_chars: int | None = None
    max_messages: int | None = None


@dataclass(frozen=True)
class PromptTemplate:
    """A versioned system prompt (``prompts/<use case>.yaml``), reviewed like code."""

    version: str
    system: str
    source_file: str


@dataclass(frozen=True)
class AlarmThresholds:
    """Alerting thresholds a contract may tighten; the defaults are the platform's."""

    throttle_rate_percent: float = 1.0
    server_error_rate_percent: float = 1.0
    guardrail_intervention_rate_percent: float = 10.0
    tpm_quota_usage_percent: float = 80.0
    min_invocations: int = 20


@dataclass(frozen=True)
class Contract:
    """A production contract (``contracts/<id>.yaml``): the single source for one use case."""

    id: str
    purpose: str
    boundary: str
    owner_team: str
    cost_center: str
    application: str
    risk_tier: RiskTier
    primary: ModelSource
    fallback: ModelSource
    guardrail: GuardrailPolicy
    limits: TokenLimits
    latency_p95_ms: int
    daily_budget_usd: float
    logging: LoggingRule
    environments: tuple[str, ...]
    source_file: str
    alarms: AlarmThresholds = field(default_factory=lambda: AlarmThresholds())
    prompt: PromptTemplate | None = None
    tiers: tuple[RoutingTier, ...] = ()

    @property
    def routes(self) -> dict[str, ModelSource]:
        """Every model route by name: ``primary``, each tier, then ``fallback``."""
        return {"primary": self.primary, **{t.name: t.source for t in self.tiers}, "fallback": self.fallback}

    def enabled_in(self, environment: str) -> bool:
        return environment in self.environments


@dataclass(frozen=True)
class PlatformConfig:
    """Every environment, and the contracts enabled in each, resolved for that environment's region."""

    environments: tuple[EnvironmentConfig, ...]
    contracts_by_environment: Mapping[str, tuple[Contract, ...]]

    def contracts_for(self, environment: str) -> tuple[Contract, ...]:
        return self.contracts_by_environment.get(environment, ())

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)
