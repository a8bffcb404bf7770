"""Read ``environments/*.yaml`` and ``contracts/*.yaml``, validate them, and build frozen objects.

Validation runs in three passes and reports every problem at once:

1. each file parses as YAML and matches its JSON Schema (``platform_config/schemas``);
2. rules the schema cannot express (file name equals id, guardrail floors, regexes compile, the
   model source exists and can be called from every region the contract is enabled in);
3. rules across files (duplicate ids, unknown environments, invocation logging owned twice in one
   account and region).

If anything is wrong, :class:`~platform_config.errors.ConfigError` is raised before any construct is
built, naming the file, line, field, bad value and fix.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from platform_config.catalog import ModelCatalog
from platform_config.errors import ConfigError, Problem
from platform_config.model import (
    AlarmThresholds,
    ContentFilter,
    ContentFilterType,
    ContentGuarding,
    ContextualGrounding,
    Contract,
    DeniedTopic,
    EnforcedGuardrailConfig,
    EnvironmentConfig,
    FilterStrength,
    GuardrailPolicy,
    LoggingRule,
    ModelSource,
    NotificationTargets,
    PiiEntity,
    PlatformConfig,
    PromptTemplate,
    RegexFilter,
    RemovalPolicyName,
    RiskTier,
    RoutingTier,
    SensitiveAction,
    TokenLimits,
)

SCHEMA_DIR = Path(__file__).parent / "schemas"

#: Secure defaults for every guardrail; a contract may strengthen them, or weaken one to MEDIUM.
DEFAULT_CONTENT_FILTERS: dict[ContentFilterType, tuple[FilterStrength, FilterStrength]] = {
    ContentFilterType.PROMPT_ATTACK: (FilterStrength.HIGH, FilterStrength.NONE),
    ContentFilterType.HATE: (FilterStrength.HIGH, FilterStrength.HIGH),
    ContentFilterType.INSULTS: (FilterStrength.HIGH, FilterStrength.HIGH),
    ContentFilterType.SEXUAL: (FilterStrength.HIGH, FilterStrength.HIGH),
    ContentFilterType.VIOLENCE: (FilterStrength.HIGH, FilterStrength.HIGH),
    ContentFilterType.MISCONDUCT: (FilterStrength.HIGH, FilterStrength.HIGH),
}
MINIMUM_STRENGTH = FilterStrength.MEDIUM
_STRENGTH_ORDER = [FilterStrength.NONE, FilterStrength.LOW, FilterStrength.MEDIUM, FilterStrength.HIGH]

#: PII entity types Amazon Bedrock Guardrails accept (AWS::Bedrock::Guardrail PiiEntityConfig.Type).
PII_ENTITY_TYPES = frozenset(
    {
        "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER",
        "CA_SOCIAL_INSURANCE_NUMBER", "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY",
        "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL", "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD", "PHONE", "PIN", "SWIFT_CODE",
        "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
        "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER",
        "US_BANK_ROUTING_NUMBER", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER",
        "US_SOCIAL_SECURITY_NUMBER", "VEHICLE_IDENTIFICATION_NUMBER",
    }
)  # fmt: skip


@cache
def _validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


class _Document:
    """A parsed YAML file that remembers the line of every field, for error messages."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.display = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        self.data: Any = None
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.duplicate_keys: list[tuple[tuple[str | int, ...], int]] = []
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        self.data = yaml.safe_load(text)
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, path: tuple[str | int, ...]) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key, value in node.value:
                child = (*path, key.value)
                if key.value in seen:  # YAML would silently keep only the last value
                    self.duplicate_keys.append((child, key.start_mark.line + 1))
                seen.add(key.value)
                self.lines[child] = key.start_mark.line + 1
                self._index(value, child)
                self.lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, (*path, i))

    def line_of(self, path: Iterable[str | int]) -> int | None:
        parts = tuple(path)
        while parts and parts not in self.lines:
            parts = parts[:-1]
        return self.lines.get(parts)

    def problem(self, path: Iterable[str | int], message: str, fix: str = "", **value: Any) -> Problem:
        parts = tuple(path)
        return Problem(
            file=self.display,
            field=_dotted(parts),
            message=message,
            fix=fix,
            value=value.get("value"),
            has_value="value" in value,
            line=self.line_of(parts),
        )


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


#: How to fix a value outside a schema limit (``{}`` is the limit).
_LIMIT_FIXES = {
    "minimum": "use a value of at least {}",
    "maximum": "use a value of at most {}",
    "exclusiveMinimum": "use a value greater than {}",
    "exclusiveMaximum": "use a value less than {}",
    "minLength": "use at least {} characters",
    "maxLength": "use at most {} characters",
    "minItems": "list at least {} items",
    "maxItems": "list at most {} items",
    "uniqueItems": "remove the repeated items",
}


def _one_of(value: Any, allowed: Iterable[Any]) -> str:
    options = list(allowed)
    close = difflib.get_close_matches(value, [str(o) for o in options], n=1) if isinstance(value, str) else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}use one of {', '.join(repr(o) for o in options)}"


def _schema_problems(doc: _Document, error: ValidationError) -> list[Problem]:
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    description = schema.get("description", "")
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return [doc.problem([*path, name], "is required but missing", f"add `{name}`")]
    if error.validator == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        patterns = list(schema.get("patternProperties") or {})
        instance = error.instance if isinstance(error.instance, dict) else {}
        unknown = [
            k for k in instance if k not in allowed and not any(re.search(p, str(k)) for p in patterns)
        ]
        problems = []
        for name in unknown or ["?"]:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            fix = f"did you mean `{close[0]}`? " if close else ""
            problems.append(
                doc.problem(
                    [*path, str(name)], "is not a known field", f"{fix}allowed fields: {', '.join(allowed)}"
                )
            )
        return problems
    if "propertyNames" in error.schema_path:
        key = error.instance
        fix = (
            _one_of(key, error.validator_value)
            if error.validator == "enum"
            else (description or f"match the pattern {error.validator_value}")
        )
        return [doc.problem([*path, str(key)], "is not an allowed key", fix, value=key)]
    if error.validator == "enum":
        return [
            doc.problem(
                path, "is not allowed", _one_of(error.instance, error.validator_value), value=error.instance
            )
        ]
    if error.validator == "pattern":
        fix = description or f"match the pattern {error.validator_value}"
        return [doc.problem(path, "has the wrong format", fix, value=error.instance)]
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        fix = description or f"write a value of type {expected}"
        return [doc.problem(path, f"must be of type {expected}", fix, value=error.instance)]
    limit = _LIMIT_FIXES.get(str(error.validator))
    # jsonschema puts the value first ("0 is less than the minimum of 0"); drop only that copy of it.
    return [
        doc.problem(
            path,
            error.message.removeprefix(repr(error.instance)).strip() or error.message,
            limit.format(error.validator_value) if limit else description,
            value=error.instance,
        )
    ]


def _read(path: Path, root: Path, kind: str, problems: list[Problem]) -> _Document | None:
    try:
        doc = _Document(path, root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        problems.append(
            Problem(
                rel,
                "(file)",
                f"is not valid YAML: {getattr(exc, 'problem', exc)}",
                "fix the YAML syntax",
                line=mark.line + 1 if mark else None,
            )
        )
        return None
    if not isinstance(doc.data, dict):
        problems.append(
            doc.problem(
                [],
                f"must be a YAML mapping of {kind} fields",
                f"write one `field: value` line per field, as described in "
                f"platform_config/schemas/{kind}.schema.json",
                value=doc.data,
            )
        )
        return None
    for key_path, line in doc.duplicate_keys:
        problems.append(
            Problem(
                doc.display,
                _dotted(key_path),
                "is set more than once; YAML would silently keep only the last value",
                "remove the duplicate key",
                line=line,
            )
        )
    errors = sorted(_validator(kind).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        problems.extend(_schema_problems(doc, error))
    return None if errors or doc.duplicate_keys else doc


# ---------------------------------------------------------------- environments


def _environment(doc: _Document, problems: list[Problem]) -> EnvironmentConfig:
    d = doc.data
    if d["name"] != doc.path.stem:
        problems.append(
            doc.problem(
                ["name"],
                f"must equal the file name {doc.path.stem!r}",
                f"rename the file to {d['name']}.yaml or set name: {doc.path.stem}",
                value=d["name"],
            )
        )
    if d.get("production") and d["removal_policy"] != RemovalPolicyName.RETAIN:
        problems.append(
            doc.problem(
                ["removal_policy"],
                "must be retain in a production environment: "
                "deleting the stack would delete invocation logs and keys",
                "set removal_policy: retain",
                value=d["removal_policy"],
            )
        )
    notifications = d.get("notifications") or {}
    return EnvironmentConfig(
        name=d["name"],
        account=d["account"],
        region=d["region"],
        tags=MappingProxyType(dict(d.get("tags") or {})),
        log_retention_days=d["log_retention_days"],
        removal_policy=RemovalPolicyName(d["removal_policy"]),
        owns_invocation_logging=d["owns_invocation_logging"],
        notifications=NotificationTargets(
            emails=tuple(notifications.get("emails") or ()),
            https_endpoints=tuple(notifications.get("https_endpoints") or ()),
        ),
        production=d.get("production", False),
        reserved_concurrency=d["reserved_concurrency"],
        source_file=doc.display,
        enforced_guardrail=_enforced_guardrail(doc, problems),
    )


#: What an opt-out reason may not be: it must say why.
_PLACEHOLDER_REASONS = ("todo", "tbd", "n/a", "none", "not needed", "later")
MIN_OPT_OUT_REASON = 20
_ENFORCED_POLICY_FIELDS = (
    "prompt_attack",
    "pii_entities",
    "denied_topics",
    "blocked_input_message",
    "blocked_output_message",
    "content_guarding",
)


def _enforced_guardrail(doc: _Document, problems: list[Problem]) -> EnforcedGuardrailConfig | None:
    """``enforced_guardrail``: required where the environment owns the account-and-region settings,
    refused elsewhere; a baseline policy or an opt-out with its reason, never both."""
    d = doc.data
    raw = d.get("enforced_guardrail")
    path = ["enforced_guardrail"]
    if not d["owns_invocation_logging"]:
        if raw is not None:
            problems.append(
                doc.problem(
                    path,
                    "is set, but this environment does not own the account-and-region Bedrock settings "
                    "(owns_invocation_logging: false): the enforced guardrail is one setting per account "
                    "and region",
                    "remove it here, and set it in the environment of this account and region that has "
                    "owns_invocation_logging: true",
                )
            )
        return None
    if raw is None:
        problems.append(
            doc.problem(
                path,
                "is required: this environment owns the account-and-region Bedrock settings, and the "
                "enforced guardrail guards every model call in the account, also those that never pass "
                "through the orchestration API",
                "add enforced_guardrail: with prompt_attack, pii_entities, denied_topics, "
                "blocked_input_message and blocked_output_message, or enforced_guardrail: {opt_out_reason: "
                "<why this account needs none>}",
            )
        )
        return None
    policy_fields = [f for f in _ENFORCED_POLICY_FIELDS if f in raw]
    if "opt_out_reason" in raw:
        reason = str(raw["opt_out_reason"]).strip()
        if policy_fields:
            problems.append(
                doc.problem(
                    [*path, "opt_out_reason"],
                    f"cannot be combined with a baseline policy ({', '.join(policy_fields)})",
                    "either remove opt_out_reason to enforce the policy, or remove the policy fields to opt out",
                )
            )
        if len(reason) < MIN_OPT_OUT_REASON or reason.lower() in _PLACEHOLDER_REASONS:
            problems.append(
                doc.problem(
                    [*path, "opt_out_reason"],
                    f"must state why this account needs no enforced guardrail (at least {MIN_OPT_OUT_REASON} "
                    "characters, no placeholder)",
                    "write the reason a reviewer will read, e.g. which control guards direct Bedrock calls instead",
                    value=raw["opt_out_reason"],
                )
            )
        return EnforcedGuardrailConfig(policy=None, opt_out_reason=reason)
    for message in ("blocked_input_message", "blocked_output_message"):
        if message not in raw:
            problems.append(
                doc.problem(
                    [*path, message],
                    "is required for a baseline policy: it is what a blocked caller gets back",
                    f"add {message}: <text>",
                )
            )
    guarding = raw.get("content_guarding") or {}
    policy = GuardrailPolicy(
        content_filters=(
            ContentFilter(
                ContentFilterType.PROMPT_ATTACK,
                FilterStrength(raw.get("prompt_attack", FilterStrength.HIGH.value)),
                FilterStrength.NONE,
            ),
        ),
        denied_topics=_denied_topics(doc, raw.get("denied_topics") or [], [*path, "denied_topics"], problems),
        pii_entities=_pii_entities(doc, raw.get("pii_entities") or {}, [*path, "pii_entities"], problems),
        regexes=(),
        words=(),
        managed_word_lists=(),
        contextual_grounding=None,
        blocked_input_message=str(raw.get("blocked_input_message", "")),
        blocked_output_message=str(raw.get("blocked_output_message", "")),
    )
    return EnforcedGuardrailConfig(
        policy=policy,
        messages=ContentGuarding(guarding.get("messages", ContentGuarding.COMPREHENSIVE.value)),
        system=ContentGuarding(guarding.get("system", ContentGuarding.SELECTIVE.value)),
    )


# ---------------------------------------------------------------- contracts


def _strength_below(strength: FilterStrength, floor: FilterStrength) -> bool:
    return _STRENGTH_ORDER.index(strength) < _STRENGTH_ORDER.index(floor)


def _content_filters(
    doc: _Document, raw: dict[str, Any], problems: list[Problem]
) -> tuple[ContentFilter, ...]:
    filters = []
    for ftype, (default_in, default_out) in DEFAULT_CONTENT_FILTERS.items():
        override = raw.get(ftype.value) or {}
        strength_in = FilterStrength(override.get("input", default_in))
        strength_out = FilterStrength(override.get("output", default_out))
        path = ["guardrail", "content_filters", ftype.value]
        if ftype is ContentFilterType.PROMPT_ATTACK:
            if strength_out is not FilterStrength.NONE:
                problems.append(
                    doc.problem(
                        [*path, "output"],
                        "must be NONE: Bedrock applies prompt-attack filtering to input only",
                        "set output: NONE",
                        value=strength_out.value,
                    )
                )
            if _strength_below(strength_in, MINIMUM_STRENGTH):
                problems.append(
                    doc.problem(
                        [*path, "input"],
                        "is below the platform floor of MEDIUM",
                        "use MEDIUM or HIGH (default HIGH)",
                        value=strength_in.value,
                    )
                )
        else:
            for direction, strength in (("input", strength_in), ("output", strength_out)):
                if _strength_below(strength, MINIMUM_STRENGTH):
                    problems.append(
                        doc.problem(
                            [*path, direction],
                            "is below the platform floor of MEDIUM",
                            "use MEDIUM or HIGH (default HIGH)",
                            value=strength.value,
                        )
                    )
        filters.append(ContentFilter(ftype, strength_in, strength_out))
    return tuple(filters)


def _pii_entities(
    doc: _Document, raw: dict[str, Any], path: list[str | int], problems: list[Problem]
) -> tuple[PiiEntity, ...]:
    """A ``pii_entities`` mapping (entity type -> BLOCK or ANONYMIZE); unknown types are problems."""
    pii = []
    for entity, action in raw.items():
        if entity not in PII_ENTITY_TYPES:
            close = difflib.get_close_matches(str(entity), sorted(PII_ENTITY_TYPES), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            problems.append(
                doc.problem(
                    [*path, str(entity)],
                    "is not a Bedrock PII entity type",
                    f"{hint}see PII_ENTITY_TYPES in platform_config/loader.py",
                    value=entity,
                )
            )
        pii.append(PiiEntity(entity, SensitiveAction(action)))
    return tuple(pii)


def _denied_topics(
    doc: _Document, raw: list[dict[str, Any]], path: list[str | int], problems: list[Problem]
) -> tuple[DeniedTopic, ...]:
    """A ``denied_topics`` list; a name used twice is a problem."""
    names = [t["name"] for t in raw]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            doc.problem(path, "names a topic twice", "give every denied topic a distinct name", value=name)
        )
    return tuple(DeniedTopic(t["name"], t["definition"], tuple(t.get("examples") or ())) for t in raw)


def _guardrail(doc: _Document, raw: dict[str, Any], problems: list[Problem]) -> GuardrailPolicy:
    sensitive = raw.get("sensitive_information") or {}
    pii = _pii_entities(
        doc,
        sensitive.get("pii_entities") or {},
        ["guardrail", "sensitive_information", "pii_entities"],
        problems,
    )
    regexes = []
    for i, rx in enumerate(sensitive.get("regexes") or []):
        try:
            re.compile(rx["pattern"])
        except re.error as exc:
            problems.append(
                doc.problem(
                    ["guardrail", "sensitive_information", "regexes", i, "pattern"],
                    f"is not a valid regular expression ({exc})",
                    "fix the pattern",
                    value=rx["pattern"],
                )
            )
        regexes.append(
            RegexFilter(rx["name"], rx["pattern"], SensitiveAction(rx["action"]), rx.get("description", ""))
        )
    denied_topics = _denied_topics(
        doc, raw.get("denied_topics") or [], ["guardrail", "denied_topics"], problems
    )
    words = raw.get("word_filters") or {}
    grounding = raw.get("contextual_grounding")
    return GuardrailPolicy(
        content_filters=_content_filters(doc, raw.get("content_filters") or {}, problems),
        denied_topics=denied_topics,
        pii_entities=pii,
        regexes=tuple(regexes),
        words=tuple(words.get("words") or ()),
        managed_word_lists=tuple(words.get("managed_lists") or ()),
        contextual_grounding=ContextualGrounding(grounding.get("grounding"), grounding.get("relevance"))
        if grounding
        else None,
        blocked_input_message=raw["blocked_input_message"],
        blocked_output_message=raw["blocked_output_message"],
    )


def _model_sources(
    doc: _Document,
    regions: list[tuple[str, str]],
    catalog: ModelCatalog,
    problems: list[Problem],
) -> dict[str, dict[str, ModelSource]]:
    """Resolve ``model.source``, ``model.fallback`` and every tier's source for every region the
    contract is enabled in; keys are ``source``, ``fallback`` and ``tier:<name>``."""
    resolved: dict[str, dict[str, ModelSource]] = defaultdict(dict)
    model = doc.data["model"]
    roles: list[tuple[str, list[str | int], str]] = [
        ("source", ["model", "source"], model["source"]),
        ("fallback", ["model", "fallback"], model["fallback"]),
    ]
    tier_names = [t["name"] for t in model.get("tiers") or []]
    for i, tier in enumerate(model.get("tiers") or []):
        roles.append((f"tier:{tier['name']}", ["model", "tiers", i, "source"], tier["source"]))
        if tier["name"] in ("primary", "fallback") or tier_names.count(tier["name"]) > 1:
            problems.append(
                doc.problem(
                    ["model", "tiers", i, "name"],
                    "must be unique and not 'primary' or 'fallback' (it becomes a route name)",
                    "choose another name",
                    value=tier["name"],
                )
            )
    for role, path, identifier in roles:
        failed: dict[tuple[str, str], list[str]] = defaultdict(list)
        for env_name, region in regions:
            result = catalog.resolve(identifier, region)
            if result.source is None:
                failed[(result.problem, result.fix)].append(env_name)
            else:
                resolved[env_name][role] = result.source
        # One problem per distinct failure, not one per environment (a typo fails in all of them).
        for (message, fix), env_names in failed.items():
            where = f"environment{'s' if len(env_names) > 1 else ''} {', '.join(map(repr, env_names))}"
            problems.append(doc.problem(path, f"{message} ({where})", fix, value=identifier))
    if model["source"] == model["fallback"]:
        problems.append(
            doc.problem(
                ["model", "fallback"],
                "is the same as model.source, so it cannot help when the source fails",
                "choose a different model or geography",
                value=model["fallback"],
            )
        )
    return resolved


PROMPT_VERSION = re.compile(r"^v[0-9]+(\.[0-9]+)*$")


def _prompt(contract: _Document, problems: list[Problem]) -> PromptTemplate | None:
    """``prompts/<id>.yaml`` beside ``contracts/``: the use case's versioned system prompt."""
    path = contract.path.parent.parent / "prompts" / f"{contract.path.stem}.yaml"
    display = f"prompts/{path.name}"
    if not path.is_file():
        problems.append(
            contract.problem(
                ["id"],
                f"has no prompt file {display}",
                f"add {display} with `version: v1` and `system: |` (the system prompt)",
            )
        )
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(Problem(display, "(file)", f"is not valid YAML: {exc}", "fix the YAML syntax"))
        return None
    found = []
    if not isinstance(data, dict):
        problems.append(
            Problem(
                display,
                "(file)",
                "must be a mapping with `version` and `system`",
                "write `version: v1` and `system: |` followed by the prompt",
            )
        )
        return None
    version, system = data.get("version"), data.get("system")
    if not isinstance(version, str) or not PROMPT_VERSION.match(version):
        found.append(
            Problem(
                display,
                "version",
                "must be a version like v1 or v2.1",
                "bump it with every edit to `system`",
                value=version,
                has_value=True,
            )
        )
    if not isinstance(system, str) or len(system.strip()) < 20:
        found.append(
            Problem(
                display,
                "system",
                "must be the system prompt text (at least 20 characters)",
                "write the prompt under `system: |`",
                value=system,
                has_value=True,
            )
        )
    unknown = sorted(set(data) - {"version", "system"})
    if unknown:
        found.append(Problem(display, unknown[0], "is not a known field", "allowed fields: version, system"))
    problems.extend(found)
    return (
        None
        if found
        else PromptTemplate(version=str(version), system=str(system).strip(), source_file=display)
    )


def _contract(
    doc: _Document,
    environments: dict[str, EnvironmentConfig],
    catalog: ModelCatalog,
    problems: list[Problem],
    unloaded: frozenset[str] = frozenset(),
) -> list[tuple[str, Contract]]:
    """One Contract object per environment it is enabled in (model sources resolve per region)."""
    d = doc.data
    if d["id"] != doc.path.stem:
        problems.append(
            doc.problem(
                ["id"],
                f"must equal the file name {doc.path.stem!r}",
                f"rename the file to {d['id']}.yaml or set id: {doc.path.stem}",
                value=d["id"],
            )
        )
    regions = []
    for i, env_name in enumerate(d["environments"]):
        if env_name in unloaded or (env_name not in environments and not environments):
            continue  # its environment file (or the empty folder) already has a problem of its own
        if env_name not in environments:
            close = difflib.get_close_matches(env_name, list(environments), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                doc.problem(
                    ["environments", i],
                    "is not a known environment",
                    f"{hint}use one of {sorted(environments)} or add environments/{env_name}.yaml",
                    value=env_name,
                )
            )
        else:
            regions.append((env_name, environments[env_name].region))
    guardrail = _guardrail(doc, d["guardrail"], problems)
    sources = _model_sources(doc, regions, catalog, problems)
    logging = d["logging"]
    common = {
        "id": d["id"],
        "purpose": d["purpose"],
        "boundary": d["boundary"],
        "owner_team": d["owner_team"],
        "cost_center": d["cost_center"],
        "application": d["application"],
        "risk_tier": RiskTier(d["risk_tier"]),
        "guardrail": guardrail,
        "limits": TokenLimits(
            d["limits"]["max_input_tokens"], d["limits"]["max_output_tokens"], d["limits"].get("tpm_quota")
        ),
        "latency_p95_ms": d["latency_p95_ms"],
        "daily_budget_usd": float(d["daily_budget_usd"]),
        "logging": LoggingRule(
            logging["prompts_and_responses"],
            logging.get("images", False),
            logging.get("embeddings", False),
            logging.get("video", False),
            logging.get("audio", False),
        ),
        "environments": tuple(d["environments"]),
        "source_file": doc.display,
        "alarms": AlarmThresholds(**(d.get("alarms") or {})),
        "prompt": _prompt(doc, problems),
    }
    tiers = d["model"].get("tiers") or []
    wanted = {"source", "fallback", *(f"tier:{t['name']}" for t in tiers)}
    return [
        (
            env_name,
            Contract(
                primary=roles["source"],
                fallback=roles["fallback"],
                tiers=tuple(
                    RoutingTier(
                        t["name"], roles[f"tier:{t['name']}"], t.get("max_input_chars"), t.get("max_messages")
                    )
                    for t in tiers
                ),
                **common,
            ),
        )
        for env_name, roles in sources.items()
        if wanted <= roles.keys()
    ]


# ---------------------------------------------------------------- cross-file rules


def _duplicates(docs: list[_Document], key: str, what: str, problems: list[Problem]) -> None:
    seen: dict[str, list[_Document]] = defaultdict(list)
    for doc in docs:
        seen[doc.data[key]].append(doc)
    for value, holders in seen.items():
        if len(holders) > 1:
            files = ", ".join(h.display for h in holders)
            for doc in holders:
                problems.append(
                    doc.problem(
                        [key],
                        f"is used by more than one {what} file ({files})",
                        f"give each {what} a unique {key}",
                        value=value,
                    )
                )


def _logging_owners(envs: list[EnvironmentConfig], problems: list[Problem]) -> None:
    owners: dict[tuple[str, str], list[EnvironmentConfig]] = defaultdict(list)
    for env in envs:
        if env.owns_invocation_logging:
            owners[(env.account, env.region)].append(env)
    for (account, region), holders in owners.items():
        if len(holders) > 1:
            names = ", ".join(h.name for h in holders)
            for env in holders:
                problems.append(
                    Problem(
                        env.source_file,
                        "owns_invocation_logging",
                        f"environments {names} share account {account} in {region}, and Bedrock invocation "
                        "logging is one setting per account and region: their stacks would overwrite each other",
                        "set owns_invocation_logging: true in exactly one of them",
                        value=True,
                        has_value=True,
                    )
                )


def _enforced_guardrail_conflicts(
    envs: list[EnvironmentConfig], contracts: dict[str, list[Contract]], problems: list[Problem]
) -> None:
    """The enforced guardrail applies to every call in the account, the orchestrator's included, on top
    of each use case's guardrail; the stricter action wins. A baseline that BLOCKs a PII type a
    contract enabled here ANONYMIZEs would block requests that contract is meant to answer."""
    for env in envs:
        policy = env.enforced_guardrail.policy if env.enforced_guardrail else None
        if policy is None:
            continue
        blocked = {p.type for p in policy.pii_entities if p.action is SensitiveAction.BLOCK}
        for contract in contracts.get(env.name, []):
            for entity in contract.guardrail.pii_entities:
                if entity.type in blocked and entity.action is SensitiveAction.ANONYMIZE:
                    problems.append(
                        Problem(
                            env.source_file,
                            f"enforced_guardrail.pii_entities.{entity.type}",
                            f"is BLOCK for every call in the account, but contract {contract.id} "
                            f"({contract.source_file}) anonymizes {entity.type} and expects such requests to "
                            "be answered",
                            f"use ANONYMIZE in the baseline, or BLOCK in {contract.source_file}",
                            value="BLOCK",
                            has_value=True,
                        )
                    )


def load_platform(root: Path | str, catalog: ModelCatalog | None = None) -> PlatformConfig:
    """Load ``<root>/environments/*.yaml`` and ``<root>/contracts/*.yaml``.

    Returns the whole, valid configuration or raises :class:`ConfigError` listing every problem.
    Contracts are resolved per environment (a model source's routing depends on the region), so
    :meth:`PlatformConfig.contracts_for` returns the contracts as resolved for that environment.
    """
    root = Path(root)
    catalog = catalog or ModelCatalog.load()
    problems: list[Problem] = []
    env_files = sorted((root / "environments").glob("*.yaml"))
    contract_files = sorted((root / "contracts").glob("*.yaml"))
    for folder in ("environments", "contracts"):
        for stray in sorted((root / folder).glob("*.yml")):
            problems.append(
                Problem(
                    f"{folder}/{stray.name}",
                    "(file)",
                    "is ignored: only *.yaml files are read",
                    f"rename it to {stray.stem}.yaml",
                )
            )
    if not env_files:
        problems.append(
            Problem(
                "environments/",
                "(folder)",
                "has no *.yaml files",
                "add one file per environment, e.g. environments/dev.yaml",
            )
        )

    env_docs = [d for d in (_read(p, root, "environment", problems) for p in env_files) if d]
    # Environment files that did not load, or whose name is wrong: contracts naming them are not told to
    # add the file as well (the file's own problem says what to fix).
    loaded = {d.path.stem for d in env_docs if d.data["name"] == d.path.stem}
    unloaded = frozenset(p.stem for p in env_files) - loaded
    _duplicates(env_docs, "name", "environment", problems)
    environments = [_environment(doc, problems) for doc in env_docs]
    _logging_owners(environments, problems)
    by_name = {env.name: env for env in environments}

    contract_docs = [d for d in (_read(p, root, "contract", problems) for p in contract_files) if d]
    _duplicates(contract_docs, "id", "contract", problems)
    resolved: dict[str, list[Contract]] = defaultdict(list)
    for doc in contract_docs:
        for env_name, contract in _contract(doc, by_name, catalog, problems, unloaded):
            resolved[env_name].append(contract)

    _enforced_guardrail_conflicts(environments, resolved, problems)

    if problems:
        raise ConfigError(problems)
    return PlatformConfig(
        environments=tuple(environments),
        contracts_by_environment=MappingProxyType({name: tuple(resolved.get(name, ())) for name in by_name}),
    )
