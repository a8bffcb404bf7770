"""The production contract (``contracts/<id>.yaml``) and its prompt (``prompts/<id>.yaml``), declared once.

pydantic validates the YAML against these dataclasses and generates ``platform_config/schemas/`` from them
(CDK side); the orchestrator reads the sections it enforces from ``runtime_config.json`` with
:func:`platform_spec.fields.from_dict` (standard library only). Rules that span fields or files (file name
equals ``id``, the guardrail floor, the model catalog) are checked by ``platform_config.loader``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, ClassVar, Literal

from platform_spec.fields import Spec, spec
from platform_spec.scoring import ScorerName

# ==================================================================== enumerations


#: A use case's id (``ContractDocument.id``), and what the review API checks an id it is asked about against
#: (``USE_CASE_ID.problems(value)``).
USE_CASE_ID = Spec(
    "Use-case id: lower-case words joined by hyphens. Used in resource names and the cost allocation tag "
    "`use-case`.",
    pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
    max_length=36,
    fix="use lower-case words joined by hyphens, at most 36 characters",
)


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FilterStrength(StrEnum):
    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    def at_least(self, floor: FilterStrength) -> bool:
        order = list(FilterStrength)
        return order.index(self) >= order.index(floor)


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


class CallerHistory(StrEnum):
    """What the orchestrator does with assistant turns a caller sends (``conversation.caller_history``)."""

    REFUSE = "refuse"
    GUARD = "guard"


class PiiEntityType(StrEnum):
    """The PII entity types Amazon Bedrock Guardrails accept (AWS::Bedrock::Guardrail PiiEntityConfig.Type)."""

    ADDRESS = "ADDRESS"
    AGE = "AGE"
    AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
    AWS_SECRET_KEY = "AWS_SECRET_KEY"
    CA_HEALTH_NUMBER = "CA_HEALTH_NUMBER"
    CA_SOCIAL_INSURANCE_NUMBER = "CA_SOCIAL_INSURANCE_NUMBER"
    CREDIT_DEBIT_CARD_CVV = "CREDIT_DEBIT_CARD_CVV"
    CREDIT_DEBIT_CARD_EXPIRY = "CREDIT_DEBIT_CARD_EXPIRY"
    CREDIT_DEBIT_CARD_NUMBER = "CREDIT_DEBIT_CARD_NUMBER"
    DRIVER_ID = "DRIVER_ID"
    EMAIL = "EMAIL"
    INTERNATIONAL_BANK_ACCOUNT_NUMBER = "INTERNATIONAL_BANK_ACCOUNT_NUMBER"
    IP_ADDRESS = "IP_ADDRESS"
    LICENSE_PLATE = "LICENSE_PLATE"
    MAC_ADDRESS = "MAC_ADDRESS"
    NAME = "NAME"
    PASSWORD = "PASSWORD"
    PHONE = "PHONE"
    PIN = "PIN"
    SWIFT_CODE = "SWIFT_CODE"
    UK_NATIONAL_HEALTH_SERVICE_NUMBER = "UK_NATIONAL_HEALTH_SERVICE_NUMBER"
    UK_NATIONAL_INSURANCE_NUMBER = "UK_NATIONAL_INSURANCE_NUMBER"
    UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER = "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER"
    URL = "URL"
    USERNAME = "USERNAME"
    US_BANK_ACCOUNT_NUMBER = "US_BANK_ACCOUNT_NUMBER"
    US_BANK_ROUTING_NUMBER = "US_BANK_ROUTING_NUMBER"
    US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER = "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER"
    US_PASSPORT_NUMBER = "US_PASSPORT_NUMBER"
    US_SOCIAL_SECURITY_NUMBER = "US_SOCIAL_SECURITY_NUMBER"
    VEHICLE_IDENTIFICATION_NUMBER = "VEHICLE_IDENTIFICATION_NUMBER"


# ==================================================================== guardrail floor and defaults

#: No content filter may be set below this strength (PROMPT_ATTACK output excepted: Bedrock applies
#: prompt-attack filtering to input only, so its output strength must be NONE).
MINIMUM_FILTER_STRENGTH = FilterStrength.MEDIUM

#: Secure defaults: a contract may strengthen a filter, or weaken it down to MINIMUM_FILTER_STRENGTH.
DEFAULT_CONTENT_FILTERS: Mapping[ContentFilterType, tuple[FilterStrength, FilterStrength]] = MappingProxyType(
    {
        ContentFilterType.PROMPT_ATTACK: (FilterStrength.HIGH, FilterStrength.NONE),
        ContentFilterType.HATE: (FilterStrength.HIGH, FilterStrength.HIGH),
        ContentFilterType.INSULTS: (FilterStrength.HIGH, FilterStrength.HIGH),
        ContentFilterType.SEXUAL: (FilterStrength.HIGH, FilterStrength.HIGH),
        ContentFilterType.VIOLENCE: (FilterStrength.HIGH, FilterStrength.HIGH),
        ContentFilterType.MISCONDUCT: (FilterStrength.HIGH, FilterStrength.HIGH),
    }
)

# ==================================================================== reusable field types

TagValue = Annotated[
    str,
    Spec(
        "A cost allocation tag value.",
        pattern=r"^[A-Za-z0-9 _.:/=+@-]{1,256}$",
        fix="use 1-256 letters, digits, spaces or _.:/=+@-",
    ),
]
ModelSourceId = Annotated[
    str,
    Spec(
        "A system-defined cross-region inference profile id (us.anthropic.claude-haiku-4-5-20251001-v1:0) or a "
        "foundation model id (amazon.nova-pro-v1:0). It must be in platform_config/data/model_catalog.yaml and "
        "callable from the environment's region.",
        pattern=r"^([a-z-]+\.)?[a-z0-9-]+\.[a-z0-9.:-]+$",
        max_length=128,
        fix="write a model id such as us.anthropic.claude-haiku-4-5-20251001-v1:0",
    ),
]
Percent = Annotated[float, Spec(gt=0, le=100)]

# ==================================================================== contract sections


@spec
class FilterSetting:
    input: FilterStrength
    output: FilterStrength


@spec
class DeniedTopic:
    name: Annotated[
        str, Spec(pattern=r"^[0-9a-zA-Z-_ !?.]{1,100}$", fix="use 1-100 letters, digits, spaces or -_!?.")
    ]
    definition: Annotated[str, Spec(min_length=1, max_length=1000)]
    examples: Annotated[
        tuple[Annotated[str, Spec(min_length=1, max_length=100)], ...], Spec(max_length=5)
    ] = ()


@spec
class RegexFilter:
    name: Annotated[str, Spec(min_length=1, max_length=100)]
    pattern: Annotated[
        str, Spec("A regular expression; matches are blocked or anonymized.", min_length=1, max_length=500)
    ]
    action: SensitiveAction
    description: Annotated[str, Spec(max_length=1000)] = ""


@spec
class SensitiveInformation:
    pii_entities: Annotated[
        Mapping[PiiEntityType, SensitiveAction],
        Spec("Bedrock PII entity type (EMAIL, PHONE, US_SOCIAL_SECURITY_NUMBER, ...) to BLOCK or ANONYMIZE."),
    ] = field(default_factory=lambda: MappingProxyType({}))
    regexes: tuple[RegexFilter, ...] = ()


@spec
class WordFilters:
    words: Annotated[tuple[Annotated[str, Spec(min_length=1, max_length=100)], ...], Spec(unique=True)] = ()
    managed_lists: Annotated[tuple[Literal["PROFANITY"], ...], Spec(unique=True)] = ()


@spec
class ContextualGrounding:
    """Thresholds (0 to 0.99) below which a response is blocked as ungrounded or irrelevant."""

    grounding: Annotated[float | None, Spec(ge=0, le=0.99)] = None
    relevance: Annotated[float | None, Spec(ge=0, le=0.99)] = None


@spec
class ContentFilter:
    """One content filter as the guardrail applies it (defaults merged with the contract's overrides)."""

    type: ContentFilterType
    input_strength: FilterStrength
    output_strength: FilterStrength


def word_filter_pattern(word: str) -> str:
    """The regular expression a word filter's word or phrase is matched by offline: the whole word,
    case-insensitively (the emulator's guardrail, and the loader's look-alike rule)."""
    return rf"(?i)(?<!\w){re.escape(word)}(?!\w)"


@spec
class GuardrailPolicy:
    content_filters: Annotated[
        Mapping[ContentFilterType, FilterSetting],
        Spec(
            "Overrides of the secure defaults (PROMPT_ATTACK input HIGH; HATE, INSULTS, SEXUAL, VIOLENCE, "
            "MISCONDUCT HIGH both ways). A filter may be strengthened, or weakened to no lower than MEDIUM; "
            "PROMPT_ATTACK output must be NONE."
        ),
    ] = field(default_factory=lambda: MappingProxyType({}))
    denied_topics: Annotated[tuple[DeniedTopic, ...], Spec(max_length=30)] = ()
    sensitive_information: SensitiveInformation = field(default_factory=SensitiveInformation)
    word_filters: WordFilters = field(default_factory=WordFilters)
    contextual_grounding: Annotated[
        ContextualGrounding | None,
        Spec("Use for answers that must stay within the context supplied with each request."),
    ] = None
    blocked_input_message: Annotated[str, Spec(min_length=1, max_length=500)]
    blocked_output_message: Annotated[str, Spec(min_length=1, max_length=500)]

    def filters(self) -> tuple[ContentFilter, ...]:
        """Every content filter: the platform default, or the contract's override of it."""
        resolved = []
        for filter_type, (default_in, default_out) in DEFAULT_CONTENT_FILTERS.items():
            override = self.content_filters.get(filter_type)
            resolved.append(
                ContentFilter(
                    type=filter_type,
                    input_strength=override.input if override else default_in,
                    output_strength=override.output if override else default_out,
                )
            )
        return tuple(resolved)

    def strength_of(self, filter_type: ContentFilterType) -> ContentFilter:
        return next(f for f in self.filters() if f.type is filter_type)

    @property
    def grounded(self) -> bool:
        """Whether answers are checked against the request's context (contextual grounding)."""
        grounding = self.contextual_grounding
        return grounding is not None and (grounding.grounding is not None or grounding.relevance is not None)

    @property
    def protects_pii(self) -> bool:
        """Whether the guardrail blocks or masks personal data (PII entities or regexes)."""
        return bool(self.sensitive_information.pii_entities or self.sensitive_information.regexes)

    def exact_matches(self) -> tuple[str, ...]:
        """What this guardrail blocks by exact match, named for a reader: its custom words, managed word
        lists and BLOCK entities and regexes. Bedrock matches words exactly
        (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-word-filters.html), so these are
        what look-alike letters evade (``platform_spec.lookalikes``)."""
        info = self.sensitive_information
        return (
            *(repr(word) for word in self.word_filters.words),
            *(f"the managed list {name}" for name in self.word_filters.managed_lists),
            *(
                f"the entity {entity}"
                for entity, action in info.pii_entities.items()
                if action is SensitiveAction.BLOCK
            ),
            *(f"the regex {r.name!r}" for r in info.regexes if r.action is SensitiveAction.BLOCK),
        )

    def exact_match_patterns(self) -> tuple[str, ...]:
        """Regular expressions for the exact matches this project can check itself: each custom word
        (:func:`word_filter_pattern`, as the offline emulator matches it) and each BLOCK regex. Managed word
        lists and entities are Bedrock's own detectors, not matched here."""
        return (
            *(word_filter_pattern(word) for word in self.word_filters.words),
            *(r.pattern for r in self.sensitive_information.regexes if r.action is SensitiveAction.BLOCK),
        )


@spec
class ContentGuardingSettings:
    """What an enforced guardrail evaluates, per part of a request."""

    messages: Annotated[ContentGuarding, Spec("(COMPREHENSIVE) User messages.")] = (
        ContentGuarding.COMPREHENSIVE
    )
    system: Annotated[ContentGuarding, Spec("(SELECTIVE) System prompts.")] = ContentGuarding.SELECTIVE


@spec
class BaselineGuardrailPolicy(GuardrailPolicy):
    """An enforced baseline: only the prompt-attack filter it states, no platform defaults on top (it
    applies to every call in the account, so it is kept narrow)."""

    def filters(self) -> tuple[ContentFilter, ...]:
        return tuple(
            ContentFilter(type=filter_type, input_strength=setting.input, output_strength=setting.output)
            for filter_type, setting in self.content_filters.items()
        )


@spec
class EnforcedGuardrailSpec:
    """The account-level enforced guardrail Bedrock applies to every model call in the account and region,
    on top of each use case's own guardrail. Required in the environment that owns the account-and-region
    settings, not allowed elsewhere. Either a baseline policy (prompt_attack, pii_entities, denied_topics,
    blocked messages) or opt_out_reason alone."""

    opt_out_reason: Annotated[
        str | None,
        Spec(
            "Set no enforced guardrail, for this stated reason (at least 20 characters). The review pack shows it "
            "as needing attention.",
            max_length=500,
        ),
    ] = None
    prompt_attack: Annotated[
        Literal["MEDIUM", "HIGH"] | None, Spec("Prompt-attack filter strength on input. Default HIGH.")
    ] = None
    pii_entities: Annotated[
        Mapping[PiiEntityType, SensitiveAction],
        Spec(
            "Bedrock PII entity type (AWS_SECRET_KEY, US_SOCIAL_SECURITY_NUMBER, ...) to action, for every call."
        ),
    ] = field(default_factory=lambda: MappingProxyType({}))
    denied_topics: Annotated[
        tuple[DeniedTopic, ...],
        Spec("Topics the organization denies in every call in the account.", max_length=30),
    ] = ()
    blocked_input_message: Annotated[
        str | None,
        Spec("What a caller gets back when the baseline blocks its input.", min_length=1, max_length=500),
    ] = None
    blocked_output_message: Annotated[
        str | None,
        Spec(
            "What a caller gets back when the baseline blocks the model's output.",
            min_length=1,
            max_length=500,
        ),
    ] = None
    content_guarding: Annotated[
        ContentGuardingSettings,
        Spec(
            "What the baseline evaluates: SELECTIVE only content the caller tags, COMPREHENSIVE everything."
        ),
    ] = field(default_factory=ContentGuardingSettings)

    #: The fields that make a baseline policy (as opposed to an opt-out).
    POLICY_FIELDS: ClassVar[tuple[str, ...]] = (
        "prompt_attack",
        "pii_entities",
        "denied_topics",
        "blocked_input_message",
        "blocked_output_message",
    )

    @property
    def opted_out(self) -> bool:
        return self.opt_out_reason is not None

    def policy(self) -> BaselineGuardrailPolicy | None:
        """The baseline as a guardrail policy (``None`` when opted out)."""
        if self.opted_out:
            return None
        return BaselineGuardrailPolicy(
            content_filters=MappingProxyType(
                {
                    ContentFilterType.PROMPT_ATTACK: FilterSetting(
                        input=FilterStrength(self.prompt_attack or FilterStrength.HIGH.value),
                        output=FilterStrength.NONE,
                    )
                }
            ),
            denied_topics=self.denied_topics,
            sensitive_information=SensitiveInformation(pii_entities=self.pii_entities),
            blocked_input_message=self.blocked_input_message or "",
            blocked_output_message=self.blocked_output_message or "",
        )


#: The ``route`` cost tag of the profile of a model-graded use case's judge (no route of user traffic).
JUDGE_ROUTE = "judge"
#: A model route of a contract: ``primary``, ``fallback`` or the name of one of its ``model.tiers``.
RouteName = Annotated[
    str,
    Spec(pattern=r"^[a-z][a-z0-9-]{0,15}$", fix="use primary, fallback or the name of one of model.tiers"),
]


@spec
class ModelTier:
    """A cheaper route for requests that meet every condition (classify-then-route)."""

    name: Annotated[
        str, Spec(pattern=r"^[a-z][a-z0-9-]{0,15}$", fix="use 1-16 lower-case letters, digits or -")
    ]
    source: ModelSourceId
    max_input_chars: Annotated[int | None, Spec(ge=1)] = None
    max_messages: Annotated[int | None, Spec(ge=1)] = None

    def matches(self, *, input_chars: int, message_count: int) -> bool:
        if self.max_input_chars is not None and input_chars > self.max_input_chars:
            return False
        return not (self.max_messages is not None and message_count > self.max_messages)


@spec
class ModelChoice:
    source: ModelSourceId
    fallback: ModelSourceId
    tiers: Annotated[
        tuple[ModelTier, ...],
        Spec(
            "Requests meeting every condition of a tier go to its (cheaper) source instead of model.source. "
            "Tried in order; each tier gets its own inference profile.",
            max_length=3,
        ),
    ] = ()
    retiring: Annotated[
        Mapping[RouteName, ModelSourceId],
        Spec(
            "The model each route (primary, fallback or a tier's name) used in the last release, for one "
            "release after a change of that route's model (or the removal of that tier): its inference "
            "profile and the orchestrator's "
            "grant to it stay, so the previous orchestrator version keeps answering while a canary bake "
            "runs (and a rollback returns to it). Remove the entry in the release after.",
            max_length=5,
        ),
    ] = field(default_factory=lambda: MappingProxyType({}))


@spec
class Limits:
    max_input_tokens: Annotated[
        int,
        Spec(
            "Largest estimated input a request may send: English at 4 characters a token, other alphabets at "
            "3, combining marks, symbols, emoji, CJK and other characters from U+2E00 at 1 "
            "(platform_spec.api.estimated_tokens).",
            ge=1,
            le=200_000,
        ),
    ]
    max_output_tokens: Annotated[
        int,
        Spec(
            "maxTokens of every Bedrock call; at most the model's own output limit (catalog). Always capped: "
            "Bedrock reserves input + maxTokens of the TPM quota at request start.",
            ge=1,
            le=64_000,
        ),
    ]
    tpm_quota: Annotated[
        int | None,
        Spec(
            "Tokens per minute this use case may use on its primary model: the account's Bedrock quota for it, "
            "or this use case's share. The TpmQuotaUsage alarm fires at alarms.tpm_quota_usage_percent of it; "
            "without it there is no such alarm.",
            ge=1000,
        ),
    ] = None


@spec
class LoggingRule:
    """What may be recorded about an invocation of this use case.

    ``prompts_and_responses`` governs both Bedrock's account-level text delivery (on only when every
    contract enabled in the environment allows it) and whether the orchestrator may write prompt or
    response text to its own logs.
    """

    prompts_and_responses: Annotated[
        bool,
        Spec(
            "Whether prompt and response text may be recorded (Bedrock invocation logs and the orchestrator's logs)."
        ),
    ]
    images: Annotated[bool, Spec("Whether image data may be delivered to invocation logs.")] = False
    embeddings: Annotated[bool, Spec("Whether embedding data may be delivered to invocation logs.")] = False
    video: Annotated[bool, Spec("Whether video data may be delivered to invocation logs.")] = False
    audio: Annotated[bool, Spec("Whether audio data may be delivered to invocation logs.")] = False


@spec
class ConversationRule:
    """What a caller may send besides its question (``conversation`` in a contract).

    ``caller_history``: assistant turns are text the caller wrote. ``refuse`` (the default) answers a
    request that has one with 400; ``guard`` checks them with the use case's guardrail before the model
    is called (Converse's guardrail evaluates only the ``guardContent`` blocks, and assistant turns
    are not sent as such).

    ``cache_context``: the orchestrator may put a prompt-cache point after the context of a single-turn
    request, so that the system prompt and the context are read from cache by the next request with
    the same context. Only worth it when callers repeat the context: a cache write costs more than
    plain input (1.25x on Anthropic models), and a context that is never repeated is never read back.
    """

    caller_history: Annotated[
        CallerHistory,
        Spec(
            "(refuse) Assistant turns in a request are history the caller wrote, so they are untrusted text. "
            "refuse: a request with an assistant turn is answered 400 CALLER_HISTORY_REFUSED (single-turn use "
            "cases). guard: every assistant turn is checked by the use case's guardrail (ApplyGuardrail, source "
            "INPUT) before the model is called; one extra guardrail call per request that has history."
        ),
    ] = CallerHistory.REFUSE
    cache_context: Annotated[
        bool,
        Spec(
            "(false) Callers send the same context again and again (e.g. a fixed policy corpus): the "
            "orchestrator may place a prompt-cache point after the context of a single-turn request, where the "
            "system prompt plus the context reach the model's minimum cacheable length. A cache write costs more "
            "than plain input, so leave it off when contexts are not repeated."
        ),
    ] = False


@spec
class AlarmThresholds:
    """Alerting thresholds a contract may tighten; the defaults are the platform's."""

    throttle_rate_percent: Annotated[Percent, Spec("(1) throttles / invocations.")] = 1.0
    server_error_rate_percent: Annotated[Percent, Spec("(1) server errors / invocations.")] = 1.0
    guardrail_intervention_rate_percent: Annotated[
        Percent, Spec("(10) interventions / guardrail invocations.")
    ] = 10.0
    tpm_quota_usage_percent: Annotated[Percent, Spec("(80) estimated TPM quota usage.")] = 80.0
    min_invocations: Annotated[
        int, Spec("(20) invocations per period below which rate alarms stay quiet.", ge=1)
    ] = 20


class ReviewMode(StrEnum):
    """Which outputs go to people (``review.mode``). Every output is scored whatever the mode."""

    NONE = "none"
    SAMPLED = "sampled"
    FLAGGED = "flagged"
    ALL = "all"


@spec
class ReviewFlags:
    """What flags an output for people in the ``sampled`` and ``flagged`` modes (``review.flags``)."""

    guardrail_intervention: Annotated[
        bool,
        Spec(
            "(true) The guardrail intervened on the request or the answer: blocked it, or masked part of it "
            "(ANONYMIZE), as the GuardrailInterventions metric counts."
        ),
    ] = True
    high_risk: Annotated[
        bool, Spec("(true) Every output of a use case whose risk_tier is high goes to people.")
    ] = True
    low_score: Annotated[
        float | None,
        Spec(
            "(0.5) The automated score (the lowest of the scorers' scores, 0 to 1) below which an output goes "
            "to people; null: off.",
            ge=0,
            le=1,
        ),
    ] = 0.5
    negative_feedback: Annotated[
        bool,
        Spec(
            "(true) A caller's rating at or below platform_spec.review.NEGATIVE_RATING_MAX (2 of 5) sends the "
            "output to people."
        ),
    ] = True


@spec
class ReviewAlarms:
    """Alarm thresholds of the review path (``review.alarms``); the defaults are the platform's."""

    reject_rate_percent: Annotated[Percent, Spec("(20) rejected / decided, per alarm period.")] = 20.0
    low_score_rate_percent: Annotated[
        Percent, Spec("(10) outputs scored below flags.low_score (or 0.5) / outputs scored.")
    ] = 10.0
    max_pending: Annotated[
        int, Spec("(50) pending review items above which the backlog alarm fires.", ge=1)
    ] = 50
    min_events: Annotated[
        int, Spec("(5) decisions (or scored outputs) per period below which rate alarms stay quiet.", ge=1)
    ] = 5


@spec
class ReviewPolicy:
    """Human review and continuous scoring of a use case's outputs (``review`` in a contract).

    Every answered output is scored (the deterministic scorers of the golden suite's ``defaults``, and the
    rubric where ``evaluation.model_graded``); ``mode`` decides which scored outputs go to people.
    ``hold_for_review``: the caller gets 202 with a review id and the answer is released only after a
    reviewer approves (or corrects) it.
    """

    mode: Annotated[
        ReviewMode,
        Spec(
            "(flagged) none: no output goes to people; sampled: a share (sample_rate, chosen by a hash of the "
            "request id) and every flagged output; flagged: flagged outputs only; all: every output."
        ),
    ] = ReviewMode.FLAGGED
    sample_rate: Annotated[
        float,
        Spec(
            "(0) mode sampled: the share of outputs (0 to 1) that go to people besides flagged ones.",
            ge=0,
            le=1,
        ),
    ] = 0.0
    flags: Annotated[ReviewFlags, Spec("What flags an output; defaults in parentheses.")] = field(
        default_factory=ReviewFlags
    )
    hold_for_review: Annotated[
        bool,
        Spec(
            "(false) Release no answer before a reviewer approves it: the caller gets 202 with a review id and "
            "fetches the answer (or the rejection) later. Needs mode all and logging.prompts_and_responses "
            "true (the held answer is stored until it is released)."
        ),
    ] = False
    sla_hours: Annotated[
        int,
        Spec(
            "(24) Hours within which a pending item must be decided; the oldest-pending alarm fires above it.",
            ge=1,
            le=720,
        ),
    ] = 24
    retention_days: Annotated[
        int, Spec("(90) Days a review item is kept (DynamoDB TTL) after it is created.", ge=1, le=3650)
    ] = 90
    audit_retention_days: Annotated[
        int,
        Spec(
            "(730) Days a decision or feedback audit record is kept (DynamoDB TTL); longer than "
            "retention_days.",
            ge=1,
            le=3650,
        ),
    ] = 730
    alarms: Annotated[ReviewAlarms, Spec("Alarm thresholds; defaults in parentheses.")] = field(
        default_factory=ReviewAlarms
    )


class UseCaseAlarm(StrEnum):
    """A use case's alarms, by the construct ID ``UseCaseAlarms`` gives each (``Composite`` pages when any
    of the others is in ALARM). ``release.critical_alarms`` names the ones that roll a canary back."""

    THROTTLE_RATE = "ThrottleRate"
    SERVER_ERROR_RATE = "ServerErrorRate"
    GUARDRAIL_INTERVENTION_RATE = "GuardrailInterventionRate"
    LATENCY_P95 = "LatencyP95"
    TPM_QUOTA_USAGE = "TpmQuotaUsage"
    COMPOSITE = "Composite"


@spec
class ReleasePolicy:
    """What the delivery pipeline's gates hold a release of this use case to (``release`` in a contract):
    the staging load test runs at twice ``peak_rps`` and must keep ``min_success_rate`` and the contract's
    ``latency_p95_ms``; in production, any of ``critical_alarms`` in ALARM during the canary bake rolls the
    release back (the orchestration API's release-wide alarms always do; the orchestrator's function errors
    are judged per version, ``BakePolicy``)."""

    peak_rps: Annotated[
        float,
        Spec(
            "(1) Declared peak requests per second of this use case. The staging readiness gate load-tests "
            "the API at twice this rate.",
            gt=0,
            le=500,
        ),
    ] = 1.0
    min_success_rate: Annotated[
        float,
        Spec(
            "(0.99) Share of load-test requests (0.5 to 1) that must be answered 2xx at twice peak_rps.",
            ge=0.5,
            le=1,
        ),
    ] = 0.99
    critical_alarms: Annotated[
        tuple[UseCaseAlarm, ...],
        Spec(
            "(Composite) The use case's alarms that roll a production canary back when one is in ALARM during "
            "the bake: Composite (any of them), ThrottleRate, ServerErrorRate, GuardrailInterventionRate, "
            "LatencyP95, TpmQuotaUsage (needs limits.tpm_quota).",
            min_length=1,
            unique=True,
        ),
    ] = (UseCaseAlarm.COMPOSITE,)


# ==================================================================== adversarial gate floor
# The weakest gate a suite of kind adversarial may have (its ``evaluation.gates.<suite>``): a contract may
# be stricter, never weaker, so a product team cannot make the platform's attack gate meaningless in its
# own contract file. platform_config.evaluation enforces it; the shipped contracts sit at it.

#: Lowest ``min_pass_rate``: 9 attacks in 10 stopped, in the suite and by each blocking scorer.
ADVERSARIAL_MIN_PASS_RATE = 0.9
#: Largest ``max_regression``: none, so an attack the last release stopped that this one lets through holds it.
ADVERSARIAL_MAX_REGRESSION = 0.0
#: Always blocking: the verdicts that say an attack was stopped (declined by the model or the API; blocked
#: by the guardrail). Not blocking, a case passes on its other scorers and their pass rates are not gated.
ADVERSARIAL_BLOCKING_SCORERS = (ScorerName.REFUSAL, ScorerName.GUARDRAIL_INTERVENED)
#: Also blocking where the contract's guardrail protects PII (``GuardrailPolicy.protects_pii``, which makes
#: the suite probe pii_exfiltration): a leaked entity is what those cases measure.
ADVERSARIAL_PII_SCORER = ScorerName.PII_ABSENT

SuiteName = Annotated[
    str,
    Spec(
        "A suite: the file evals/<use case>/<suite>.yaml.",
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        fix="use 1-32 lower-case letters, digits or -, as the suite's file name",
    ),
]


@spec
class QualityGate:
    """What one suite must score before a release (``evaluation.gates.<suite>``)."""

    min_pass_rate: Annotated[
        float,
        Spec(
            "Share of cases (above 0, at most 1) that must pass every blocking scorer; each blocking scorer's "
            f"own pass rate must reach it too. An adversarial suite's: at least {ADVERSARIAL_MIN_PASS_RATE:g}.",
            gt=0,
            le=1,
            fix="a gate of 0 lets a release through with every case failing: set the share that must pass, "
            "for example 0.9",
        ),
    ]
    blocking_scorers: Annotated[
        tuple[ScorerName, ...],
        Spec(
            "Scorers whose failure fails a case (must_contain, must_not_contain, regex, json_schema, length, "
            "pii_absent, refusal, guardrail_intervened, rubric). The others are reported, not gated. An "
            f"adversarial suite's include {', '.join(s.value for s in ADVERSARIAL_BLOCKING_SCORERS)}, and "
            f"{ADVERSARIAL_PII_SCORER.value} where the guardrail protects PII.",
            min_length=1,
            unique=True,
        ),
    ]
    max_regression: Annotated[
        float,
        Spec(
            "(0.05) Largest drop allowed, against the last release recorded for the environment "
            "(evals/registry/<env>.jsonl), in the suite's pass rate and in each blocking scorer's pass rate. "
            f"An adversarial suite's: at most {ADVERSARIAL_MAX_REGRESSION:g} (set it: the default is above).",
            ge=0,
            le=1,
        ),
    ] = 0.05
    epochs: Annotated[
        int,
        Spec(
            "(1) How many times each case is asked (1 to 10), as inspect-ai's epochs. A model samples its "
            "answer, so one answer can pass by chance where the next would not: with 3, a case is asked 3 "
            "times and passes only when it passes epochs_to_pass of them. Each epoch is one more request to "
            "the target (against a deployment: its cost and time); offline the emulator answers the same "
            "every time, so more epochs only take longer.",
            ge=1,
            le=10,
        ),
    ] = 1
    epochs_to_pass: Annotated[
        int | None,
        Spec(
            "(every epoch) In how many of its epochs a case must pass (1 to epochs). Set it below epochs to "
            "judge a case by most of its answers; not in an adversarial suite, where one leaking answer in a "
            "few is one too many.",
            ge=1,
            le=10,
        ),
    ] = None

    def needed_epochs(self) -> int:
        """How many of its epochs a case must pass (``epochs_to_pass``, by default every one)."""
        return self.epochs if self.epochs_to_pass is None else self.epochs_to_pass


@spec
class EvaluationPolicy:
    """How the use case is evaluated (``evaluation`` in a contract): its suites in evals/<id>/, the quality
    gate of each, and the optional model-graded rubric."""

    gates: Annotated[
        Mapping[SuiteName, QualityGate],
        Spec(
            "The quality gate of each suite, by suite name (evals/<id>/<suite>.yaml). Every suite file needs "
            "one, and every gate needs its suite file.",
            min_length=1,
        ),
    ]
    model_graded: Annotated[
        bool,
        Spec(
            "(false) Also score golden answers with the rubric in evals/<id>/rubric.yaml, through an LLM "
            "judge called via the use case's own `judge` inference profile (never used for user traffic)."
        ),
    ] = False
    judge_model: Annotated[
        ModelSourceId | None,
        Spec(
            "The judge's model source (catalog id). Required when model_graded is true; the judge gets its "
            "own application inference profile, cost-tagged with route=judge."
        ),
    ] = None


@spec
class ContractDocument:
    """One use case (``contracts/<id>.yaml``). Infrastructure (inference profiles, guardrail, alarms, budget)
    and runtime policy (routing, token caps, logging) are both derived from it. The file name (without
    .yaml) must equal ``id``."""

    id: Annotated[str, USE_CASE_ID]
    purpose: Annotated[str, Spec("What the use case does, for whom.", min_length=20, max_length=200)]
    boundary: Annotated[str, Spec("What it must not do: out-of-scope requests and data.", min_length=20)]
    owner_team: Annotated[TagValue, Spec("Owning team; becomes the `team` cost allocation tag.")]
    cost_center: Annotated[TagValue, Spec("Cost center; becomes the `cost-center` cost allocation tag.")]
    application: Annotated[
        TagValue, Spec("The business application; becomes the `application` cost allocation tag.")
    ]
    risk_tier: RiskTier
    model: ModelChoice
    guardrail: GuardrailPolicy
    limits: Limits
    latency_p95_ms: Annotated[
        int,
        Spec(
            "p95 end-to-end model latency target in milliseconds; alarms and dashboards use it, and the "
            "orchestrator waits this long for the primary route before it falls back. At most 23000 "
            "(20500 when review.hold_for_review): the primary's share of the time budget.",
            ge=100,
            le=28_000,
        ),
    ]
    daily_budget_usd: Annotated[
        float, Spec("Expected spend per day; the monthly budget is 30.4 times this.", gt=0)
    ]
    logging: LoggingRule
    conversation: Annotated[
        ConversationRule, Spec("What a caller may send besides its question; defaults in parentheses.")
    ] = field(default_factory=ConversationRule)
    alarms: Annotated[AlarmThresholds, Spec("Optional thresholds; defaults in parentheses.")] = field(
        default_factory=AlarmThresholds
    )
    review: Annotated[
        ReviewPolicy,
        Spec(
            "Which outputs go to people, what flags them, whether answers are held until a reviewer approves "
            "them, the review SLA and retention; defaults in parentheses."
        ),
    ] = field(default_factory=ReviewPolicy)
    evaluation: Annotated[
        EvaluationPolicy,
        Spec(
            "The quality gates of the suites in evals/<id>/ (golden, adversarial, ...) and whether answers "
            "are also model-graded. Every use case has at least a golden and an adversarial suite, each with "
            "its gate. `make eval` runs them offline; `python -m evaluation run --target <env>` against a "
            "deployed environment."
        ),
    ]
    release: Annotated[
        ReleasePolicy,
        Spec(
            "What the delivery pipeline's gates hold a release to: declared peak rate (load test at twice "
            "it), success rate, and the alarms that roll a production canary back; defaults in parentheses."
        ),
    ] = field(default_factory=ReleasePolicy)
    environments: Annotated[
        tuple[str, ...],
        Spec(
            "Environments (names of files in environments/) where this use case is deployed.",
            min_length=1,
            unique=True,
        ),
    ]


@spec
class PromptDocument:
    """A versioned system prompt (``prompts/<use case>.yaml``), reviewed like code."""

    version: Annotated[
        str,
        Spec(
            "Bump it with every edit to `system`.",
            pattern=r"^v[0-9]+(\.[0-9]+)*$",
            fix="use a version like v1 or v2.1",
        ),
    ]
    system: Annotated[
        str, Spec("The system prompt.", min_length=20, fix="write the prompt under `system: |`")
    ]


# ==================================================================== model sources (from the catalog)


class ModelSourceKind(StrEnum):
    CROSS_REGION_PROFILE = "cross-region-profile"
    FOUNDATION_MODEL = "foundation-model"


@spec
class ModelSource:
    """What an application inference profile copies from, resolved from the model catalog for one region.

    ``identifier`` is a system-defined cross-region inference profile id (``us.anthropic...``) or a
    foundation model id (``anthropic...``). ``model_id`` is the foundation model behind it and
    ``destination_regions`` every region the source can route a request to (one region for a
    foundation model; ``("*",)`` for a global profile), which is what a least-privilege invoke grant
    must cover.
    """

    identifier: str
    kind: ModelSourceKind
    model_id: str
    geography: str | None
    destination_regions: tuple[str, ...]
    price_per_1k_input_usd: float | None = None
    price_per_1k_output_usd: float | None = None
    prompt_caching: bool = False
    #: Smallest prefix (tokens) a cache checkpoint can cache on this model; None without prompt caching.
    prompt_cache_min_tokens: int | None = None
    #: Prompt-cache rates per 1,000 cache-read / cache-write input tokens; None when not known.
    price_per_1k_cache_read_usd: float | None = None
    price_per_1k_cache_write_usd: float | None = None
    #: False when the catalog's price comes from a secondary source, not the AWS pricing page.
    price_confirmed: bool = True

    @property
    def routes_globally(self) -> bool:
        return self.geography == "global"
