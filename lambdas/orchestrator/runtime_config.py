"""``runtime_config.json``: the static, per-environment policy of every use case (generated at synth).

Schema (``schema_version`` 2; unknown keys are errors, so a typo fails at init, not silently)::

    {"schema_version": 2, "environment": "dev",
     "use_cases": {"<id>": {
        "purpose": str, "risk_tier": "low" | "medium" | "high",
        "enabled": bool,                                   # optional, default true
        "routes": {"primary": ROUTE, "fallback": ROUTE, "<other>": ROUTE, ...},
        "tiers": [{"name": str, "route": "<route other than fallback>",
                   "max_input_chars": int, "max_messages": int}],   # optional; >= 1 condition each
        "guardrail": {"blocked_input_message": str, "blocked_output_message": str,
                      "grounding": bool},                  # grounding optional, default false
        "limits": {"max_input_tokens": int, "max_output_tokens": int},
        "latency_p95_ms": int,
        "log_prompts_and_responses": bool,
        "conversation": {"caller_history": "refuse" | "guard",    # optional, default refuse
                         "cache_context": bool},                # optional, default false
        "prompt": {"version": str, "system": str}}}}

    ROUTE = {"source": str, "model_id": str, "price_per_1k_input_usd": number | null,
             "price_per_1k_output_usd": number | null, "price_per_1k_cache_read_usd": number | null,
             "price_per_1k_cache_write_usd": number | null,
             "prompt_cache_min_tokens": int | null}     # null: the model has no prompt caching

Tiers are tried in order; the first whose conditions all hold (``input chars <= max_input_chars``,
``messages <= max_messages``) picks its route, otherwise ``primary``. ``fallback`` is always the fallback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .settings import UseCaseResources

SCHEMA_VERSION: Final = 2
RISK_TIERS: Final = frozenset({"low", "medium", "high"})
#: ``conversation.caller_history``: refuse assistant turns (400), or check them with the guardrail.
CALLER_HISTORY: Final = ("refuse", "guard")


class ConfigError(ValueError):
    """runtime_config.json is invalid or does not match BEDROCK_RESOURCES."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid runtime config: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    source: str
    model_id: str
    price_per_1k_input_usd: float | None
    price_per_1k_output_usd: float | None
    prompt_cache_min_tokens: int | None  # None: no prompt caching on this route's model
    price_per_1k_cache_read_usd: float | None = None
    price_per_1k_cache_write_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    route: str
    max_input_chars: int | None = None
    max_messages: int | None = None

    def matches(self, *, input_chars: int, message_count: int) -> bool:
        if self.max_input_chars is not None and input_chars > self.max_input_chars:
            return False
        return not (self.max_messages is not None and message_count > self.max_messages)


@dataclass(frozen=True, slots=True)
class GuardrailPolicy:
    blocked_input_message: str
    blocked_output_message: str
    grounding: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    max_input_tokens: int
    max_output_tokens: int


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    version: str
    system: str


@dataclass(frozen=True, slots=True)
class UseCase:
    id: str
    purpose: str
    risk_tier: str
    routes: Mapping[str, Route]
    tiers: tuple[Tier, ...]
    guardrail: GuardrailPolicy
    limits: Limits
    latency_p95_ms: int
    log_prompts_and_responses: bool
    prompt: PromptTemplate
    enabled: bool = True
    caller_history: str = "refuse"
    cache_context: bool = False

    @property
    def guards_caller_history(self) -> bool:
        return self.caller_history == "guard"

    def route_for(self, *, input_chars: int, message_count: int) -> Route:
        """Classify-then-route: the first matching tier's route, else primary."""
        for tier in self.tiers:
            if tier.matches(input_chars=input_chars, message_count=message_count):
                return self.routes[tier.route]
        return self.routes["primary"]

    @property
    def fallback(self) -> Route:
        return self.routes["fallback"]


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    schema_version: int
    environment: str
    use_cases: Mapping[str, UseCase]

    def enabled_use_case(self, use_case_id: str) -> UseCase | None:
        use_case = self.use_cases.get(use_case_id)
        return use_case if use_case is not None and use_case.enabled else None


def load_runtime_config(path: Path, resources: Mapping[str, UseCaseResources]) -> RuntimeConfig:
    """Read, parse and cross-check the file against BEDROCK_RESOURCES; ``ConfigError`` lists every problem."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read {path} (RUNTIME_CONFIG_PATH): {exc.strerror}"]) from exc
    except ValueError as exc:
        raise ConfigError([f"{path} is not valid JSON: {exc}"]) from exc
    config = parse_runtime_config(document)
    problems = check_resources(config, resources)
    if problems:
        raise ConfigError(problems)
    return config


def check_resources(config: RuntimeConfig, resources: Mapping[str, UseCaseResources]) -> list[str]:
    """Every enabled use case needs a guardrail and a profile for each of its routes."""
    problems: list[str] = []
    for use_case in config.use_cases.values():
        if not use_case.enabled:
            continue
        deployed = resources.get(use_case.id)
        if deployed is None:
            problems.append(f"use case {use_case.id!r} is enabled but has no entry in BEDROCK_RESOURCES")
            continue
        for route in use_case.routes:
            if route not in deployed.profiles:
                problems.append(f"BEDROCK_RESOURCES[{use_case.id!r}] has no profile for route {route!r}")
    return problems


# --- parsing ------------------------------------------------------------------------------------------


class _Reader:
    """Collects problems while reading a JSON document."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def obj(
        self,
        value: Any,
        where: str,
        required: set[str],
        optional: frozenset[str] = frozenset(),
        *,
        open_ended: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problems.append(f"{where} must be an object")
            return {}
        for key in sorted(required - value.keys()):
            self.problems.append(f"{where}.{key} is required")
        if not open_ended:
            for key in sorted(value.keys() - required - optional):
                self.problems.append(f"{where}.{key} is not a known key")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{where} must be a non-empty string")
            return ""
        return value

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.problems.append(f"{where} must be true or false")
            return False
        return value

    def integer(self, value: Any, where: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problems.append(f"{where} must be an integer >= {minimum}")
            return minimum
        return value

    def price(self, value: Any, where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.problems.append(f"{where} must be a number >= 0 or null")
            return None
        return float(value)


_USE_CASE_REQUIRED: Final = {
    "purpose",
    "risk_tier",
    "routes",
    "guardrail",
    "limits",
    "latency_p95_ms",
    "log_prompts_and_responses",
    "prompt",
}
_ROUTE_KEYS: Final = {
    "source",
    "model_id",
    "price_per_1k_input_usd",
    "price_per_1k_output_usd",
    "price_per_1k_cache_read_usd",
    "price_per_1k_cache_write_usd",
    "prompt_cache_min_tokens",
}


def parse_runtime_config(document: Any) -> RuntimeConfig:
    """Validate a parsed runtime_config.json document; ``ConfigError`` lists every problem."""
    r = _Reader()
    top = r.obj(document, "runtime_config", {"schema_version", "environment", "use_cases"})
    version = top.get("schema_version")
    if "schema_version" in top and version != SCHEMA_VERSION:
        r.problems.append(f"runtime_config.schema_version must be {SCHEMA_VERSION}, got {version!r}")
    environment = r.text(top.get("environment"), "runtime_config.environment") if "environment" in top else ""
    raw_use_cases = top.get("use_cases")
    use_cases: dict[str, UseCase] = {}
    if "use_cases" in top:
        if not isinstance(raw_use_cases, dict) or not raw_use_cases:
            r.problems.append("runtime_config.use_cases must be a non-empty object")
        else:
            for use_case_id, raw in raw_use_cases.items():
                use_case = _parse_use_case(r, use_case_id, raw)
                if use_case is not None:
                    use_cases[use_case_id] = use_case
    if r.problems:
        raise ConfigError(r.problems)
    return RuntimeConfig(
        schema_version=SCHEMA_VERSION, environment=environment, use_cases=MappingProxyType(use_cases)
    )


def _parse_use_case(r: _Reader, use_case_id: str, raw: Any) -> UseCase | None:
    where = f"use_cases[{use_case_id!r}]"
    before = len(r.problems)
    doc = r.obj(raw, where, set(_USE_CASE_REQUIRED), frozenset({"tiers", "enabled", "conversation"}))
    if not doc:
        return None
    risk_tier = doc.get("risk_tier")
    if risk_tier not in RISK_TIERS:
        r.problems.append(f"{where}.risk_tier must be one of {sorted(RISK_TIERS)}")

    routes: dict[str, Route] = {}
    # Routes besides primary and fallback exist to be picked by a tier.
    raw_routes = r.obj(doc.get("routes"), f"{where}.routes", {"primary", "fallback"}, open_ended=True)
    for name, raw_route in raw_routes.items():
        route_where = f"{where}.routes.{name}"
        route_doc = r.obj(raw_route, route_where, set(_ROUTE_KEYS))
        if not route_doc:
            continue
        routes[name] = Route(
            name=name,
            source=r.text(route_doc.get("source"), f"{route_where}.source"),
            model_id=r.text(route_doc.get("model_id"), f"{route_where}.model_id"),
            price_per_1k_input_usd=r.price(
                route_doc.get("price_per_1k_input_usd"), f"{route_where}.price_per_1k_input_usd"
            ),
            price_per_1k_output_usd=r.price(
                route_doc.get("price_per_1k_output_usd"), f"{route_where}.price_per_1k_output_usd"
            ),
            prompt_cache_min_tokens=(
                None
                if route_doc.get("prompt_cache_min_tokens") is None
                else r.integer(route_doc["prompt_cache_min_tokens"], f"{route_where}.prompt_cache_min_tokens")
            ),
            price_per_1k_cache_read_usd=r.price(
                route_doc.get("price_per_1k_cache_read_usd"), f"{route_where}.price_per_1k_cache_read_usd"
            ),
            price_per_1k_cache_write_usd=r.price(
                route_doc.get("price_per_1k_cache_write_usd"), f"{route_where}.price_per_1k_cache_write_usd"
            ),
        )

    tiers: list[Tier] = []
    raw_tiers = doc.get("tiers", [])
    if not isinstance(raw_tiers, list):
        r.problems.append(f"{where}.tiers must be a list")
        raw_tiers = []
    for index, raw_tier in enumerate(raw_tiers):
        tier_where = f"{where}.tiers[{index}]"
        tier_doc = r.obj(
            raw_tier, tier_where, {"name", "route"}, frozenset({"max_input_chars", "max_messages"})
        )
        if not tier_doc:
            continue
        route_name = tier_doc.get("route")
        if route_name == "fallback" or route_name not in routes:
            r.problems.append(f"{tier_where}.route must name a route of this use case other than 'fallback'")
        conditions = {
            key: r.integer(tier_doc[key], f"{tier_where}.{key}")
            for key in ("max_input_chars", "max_messages")
            if key in tier_doc
        }
        if not conditions:
            r.problems.append(f"{tier_where} needs at least one condition (max_input_chars, max_messages)")
        tiers.append(
            Tier(name=r.text(tier_doc.get("name"), f"{tier_where}.name"), route=str(route_name), **conditions)
        )

    guardrail_doc = r.obj(
        doc.get("guardrail"),
        f"{where}.guardrail",
        {"blocked_input_message", "blocked_output_message"},
        frozenset({"grounding"}),
    )
    guardrail = GuardrailPolicy(
        blocked_input_message=r.text(
            guardrail_doc.get("blocked_input_message"), f"{where}.guardrail.blocked_input_message"
        ),
        blocked_output_message=r.text(
            guardrail_doc.get("blocked_output_message"), f"{where}.guardrail.blocked_output_message"
        ),
        grounding=r.flag(guardrail_doc.get("grounding", False), f"{where}.guardrail.grounding"),
    )
    limits_doc = r.obj(doc.get("limits"), f"{where}.limits", {"max_input_tokens", "max_output_tokens"})
    limits = Limits(
        max_input_tokens=r.integer(limits_doc.get("max_input_tokens"), f"{where}.limits.max_input_tokens"),
        max_output_tokens=r.integer(limits_doc.get("max_output_tokens"), f"{where}.limits.max_output_tokens"),
    )
    prompt_doc = r.obj(doc.get("prompt"), f"{where}.prompt", {"version", "system"})
    prompt = PromptTemplate(
        version=r.text(prompt_doc.get("version"), f"{where}.prompt.version"),
        system=r.text(prompt_doc.get("system"), f"{where}.prompt.system"),
    )
    conversation = r.obj(
        doc.get("conversation", {}),
        f"{where}.conversation",
        set(),
        frozenset({"caller_history", "cache_context"}),
    )
    caller_history = conversation.get("caller_history", "refuse")
    if caller_history not in CALLER_HISTORY:
        r.problems.append(f"{where}.conversation.caller_history must be one of {list(CALLER_HISTORY)}")
    use_case = UseCase(
        id=use_case_id,
        purpose=r.text(doc.get("purpose"), f"{where}.purpose"),
        risk_tier=str(risk_tier),
        routes=MappingProxyType(routes),
        tiers=tuple(tiers),
        guardrail=guardrail,
        limits=limits,
        latency_p95_ms=r.integer(doc.get("latency_p95_ms"), f"{where}.latency_p95_ms"),
        log_prompts_and_responses=r.flag(
            doc.get("log_prompts_and_responses"), f"{where}.log_prompts_and_responses"
        ),
        prompt=prompt,
        enabled=r.flag(doc.get("enabled", True), f"{where}.enabled"),
        caller_history=str(caller_history),
        cache_context=r.flag(conversation.get("cache_context", False), f"{where}.conversation.cache_context"),
    )
    return use_case if len(r.problems) == before else None
