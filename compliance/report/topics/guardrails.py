"""Guardrails: every use case's guardrail policy in plain language with its published version, and the
account-level enforced guardrail (its version and policy, or its opt-out reason).

In a release diff every guardrail change needs a reviewer's attention, whichever way it goes: a new
guardrail, a removed one, a weaker or a stronger policy, another enforced version.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.report.cfn import is_enabled, ref_target, render_value
from compliance.report.document import BAD, OK, Cell, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.matching import Matching
from compliance.report.topic import (
    ATTENTION,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    verdict,
)
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT, INVOCATION_LOGGING_TYPE

ENFORCED_GUARDRAIL_TYPE = "AWS::Bedrock::EnforcedGuardrailConfiguration"
GUARDRAIL_TYPE = "AWS::Bedrock::Guardrail"
STRENGTH = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}
STRONG = ("MEDIUM", "HIGH")
HARM_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")
#: What a PII entity or regex action does to the text: NONE only detects (nothing is blocked or masked).
PII_STRENGTH = {"NONE": 0, "ANONYMIZE": 1, "BLOCK": 2}


@dataclass(frozen=True)
class ContentFilter:
    type: str
    input_strength: str
    output_strength: str
    input_action: str = ""
    output_action: str = ""
    input_enabled: bool = True
    output_enabled: bool = True

    def _setting(self, direction: str) -> tuple[str, bool, str]:
        if direction == "input":
            return self.input_strength, self.input_enabled, self.input_action
        return self.output_strength, self.output_enabled, self.output_action

    def blocking(self, direction: str) -> str:
        """The strength at which this filter blocks in ``direction``: NONE when that direction is turned off
        (``InputEnabled: false``) or only detects (action ``NONE``)."""
        strength, enabled, action = self._setting(direction)
        return strength if enabled and action != "NONE" else "NONE"

    def describe(self, direction: str) -> str:
        strength, enabled, action = self._setting(direction)
        if not enabled:
            return f"NONE (set to {strength} but turned off: {direction.capitalize()}Enabled false)"
        if action == "NONE":
            return f"NONE (detects at {strength}, action NONE: nothing is blocked)"
        return strength


@dataclass(frozen=True)
class Guardrail:
    stack: str
    logical_id: str
    name: str
    description: str
    kms_key: str | None
    filters: tuple[ContentFilter, ...]
    topics: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # name, type, definition, examples
    pii: tuple[tuple[str, str], ...]  # entity type, action
    regexes: tuple[tuple[str, str, str, str], ...]  # name, pattern, action, description
    words: tuple[str, ...]
    managed_word_lists: tuple[str, ...]
    grounding: tuple[tuple[str, float], ...]  # GROUNDING / RELEVANCE, threshold
    blocked_input: str
    blocked_output: str
    versions: tuple[tuple[str, str], ...]  # version logical ID, description (carries the fingerprint)
    tags: dict[str, str]

    def strength(self, filter_type: str, direction: str) -> str:
        """The strength at which the filter blocks (NONE when it is absent, turned off or detect-only)."""
        for item in self.filters:
            if item.type == filter_type:
                return item.blocking(direction)
        return "NONE"

    def describe(self, filter_type: str, direction: str) -> str:
        for item in self.filters:
            if item.type == filter_type:
                return item.describe(direction)
        return "NONE"

    def summary(self) -> str:
        """One line a reviewer can read in a diff: what this guardrail blocks."""
        return (
            f"prompt attack on input {self.strength('PROMPT_ATTACK', 'input')}; "
            + f"{len(self.filters)} content filters; {len(self.topics)} denied topics; "
            + f"{len(self.pii)} PII entities, {len(self.regexes)} regexes; "
            + f"grounding {', '.join(f'{k} {v}' for k, v in self.grounding) or 'none'}; "
            + f"published version {'yes' if self.versions else 'NO'}"
        )


@dataclass(frozen=True)
class EnforcedGuardrail:
    """The account-level enforced guardrail a stack sets (AWS::Bedrock::EnforcedGuardrailConfiguration)."""

    stack: str
    logical_id: str
    guardrail: Guardrail | None  # the baseline guardrail, when it is defined in this environment
    version: str  # rendered GuardrailVersion: a GuardrailVersion's <Id.Version>, or a literal
    published: bool  # the version is a published GuardrailVersion of that guardrail (or a number)
    messages: str  # SelectiveContentGuarding: SELECTIVE / COMPREHENSIVE ("" when not set)
    system: str


@dataclass(frozen=True)
class EnforcedGuardrailOptOut:
    stack: str
    reason: str


@dataclass(frozen=True)
class GuardrailFacts:
    guardrails: tuple[Guardrail, ...]  # the use cases' (the enforced baseline is not among them)
    enforced: tuple[EnforcedGuardrail, ...]
    opt_outs: tuple[EnforcedGuardrailOptOut, ...]
    owns_account_settings: bool  # this environment sets the account-and-region settings (invocation logging)


# ---------------------------------------------------------------------------------------------------
# Extract


def _guardrails(resources: Sequence[Resource]) -> list[Guardrail]:
    versions: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for resource in resources:
        if resource.type == "AWS::Bedrock::GuardrailVersion":
            target = ref_target(resource.properties.get("GuardrailIdentifier"))
            if target:
                versions[target].append(
                    (resource.logical_id, render_value(resource.properties.get("Description", "")))
                )
    guardrails = []
    for resource in resources:
        if resource.type != GUARDRAIL_TYPE:
            continue
        props = resource.properties
        content = props.get("ContentPolicyConfig") or {}
        topics = (props.get("TopicPolicyConfig") or {}).get("TopicsConfig") or []
        sensitive = props.get("SensitiveInformationPolicyConfig") or {}
        words = props.get("WordPolicyConfig") or {}
        grounding = (props.get("ContextualGroundingPolicyConfig") or {}).get("FiltersConfig") or []
        key = props.get("KmsKeyArn")
        guardrails.append(
            Guardrail(
                stack=resource.stack,
                logical_id=resource.logical_id,
                name=render_value(props.get("Name", "")),
                description=render_value(props.get("Description", "")),
                kms_key=(ref_target(key) or render_value(key)) if key else None,
                filters=tuple(
                    ContentFilter(
                        str(f.get("Type")),
                        str(f.get("InputStrength", "NONE")),
                        str(f.get("OutputStrength", "NONE")),
                        str(f.get("InputAction", "")),
                        str(f.get("OutputAction", "")),
                        is_enabled(f.get("InputEnabled")),
                        is_enabled(f.get("OutputEnabled")),
                    )
                    for f in content.get("FiltersConfig") or []
                ),
                topics=tuple(
                    (
                        render_value(t.get("Name", "")),
                        str(t.get("Type", "DENY")),
                        render_value(t.get("Definition", "")),
                        tuple(render_value(e) for e in t.get("Examples") or []),
                    )
                    for t in topics
                ),
                pii=tuple(
                    (str(e.get("Type")), str(e.get("Action")))
                    for e in sensitive.get("PiiEntitiesConfig") or []
                ),
                regexes=tuple(
                    (
                        render_value(r.get("Name", "")),
                        render_value(r.get("Pattern", "")),
                        str(r.get("Action", "")),
                        render_value(r.get("Description", "")),
                    )
                    for r in sensitive.get("RegexesConfig") or []
                ),
                words=tuple(render_value(w.get("Text", "")) for w in words.get("WordsConfig") or []),
                managed_word_lists=tuple(
                    str(w.get("Type")) for w in words.get("ManagedWordListsConfig") or []
                ),
                grounding=tuple((str(g.get("Type")), float(g.get("Threshold", 0))) for g in grounding),
                blocked_input=render_value(props.get("BlockedInputMessaging", "")),
                blocked_output=render_value(props.get("BlockedOutputsMessaging", "")),
                versions=tuple(versions.get(resource.logical_id, [])),
                tags=resource.tags,
            )
        )
    return guardrails


def _enforced(resources: Sequence[Resource], guardrails: Sequence[Guardrail]) -> list[EnforcedGuardrail]:
    by_id = {g.logical_id: g for g in guardrails}
    kinds = {r.logical_id: r.type for r in resources}
    found = []
    for resource in resources:
        if resource.type != ENFORCED_GUARDRAIL_TYPE:
            continue
        props = resource.properties
        version = props.get("GuardrailVersion")
        guarding = props.get("SelectiveContentGuarding") or {}
        found.append(
            EnforcedGuardrail(
                stack=resource.stack,
                logical_id=resource.logical_id,
                guardrail=by_id.get(ref_target(props.get("GuardrailIdentifier")) or ""),
                version=render_value(version),
                published=kinds.get(ref_target(version) or "") == "AWS::Bedrock::GuardrailVersion"
                or (isinstance(version, str) and version.isdigit() and version != "0"),
                messages=str(guarding.get("Messages", "")),
                system=str(guarding.get("System", "")),
            )
        )
    return found


# ---------------------------------------------------------------------------------------------------
# Diff


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare_guardrails(a: Guardrail, b: Guardrail) -> Iterable[tuple[str, str]]:
    """(kind, detail) of every policy difference from ``a`` to ``b``: weakened, strengthened or changed."""
    kinds = sorted({f.type for f in a.filters} | {f.type for f in b.filters})
    for kind in kinds:
        present_a = any(f.type == kind for f in a.filters)
        present_b = any(f.type == kind for f in b.filters)
        if present_a and not present_b:
            yield (
                "weakened",
                f"content filter {kind} removed (was input {a.strength(kind, 'input')}, output {a.strength(kind, 'output')})",
            )
            continue
        if present_b and not present_a:
            yield (
                "strengthened",
                f"content filter {kind} added (input {b.strength(kind, 'input')}, output {b.strength(kind, 'output')})",
            )
            continue
        for direction in ("input", "output"):
            old, new = a.strength(kind, direction), b.strength(kind, direction)
            if old != new:
                lower = STRENGTH.get(new, 0) < STRENGTH.get(old, 0)
                yield (
                    "weakened" if lower else "strengthened",
                    f"{kind} {direction} filter {'lowered' if lower else 'raised'} "
                    f"{a.describe(kind, direction)} -> {b.describe(kind, direction)}",
                )
    topics_a = {t[0]: t for t in a.topics}
    topics_b = {t[0]: t for t in b.topics}
    for name in sorted(topics_a.keys() - topics_b.keys()):
        yield "weakened", f"denied topic removed: {name} ({topics_a[name][2]})"
    for name in sorted(topics_b.keys() - topics_a.keys()):
        yield "strengthened", f"denied topic added: {name} ({topics_b[name][2]})"
    for name in sorted(topics_a.keys() & topics_b.keys()):
        if topics_a[name] != topics_b[name]:
            yield (
                "changed",
                f"denied topic {name} changed: definition or examples now {_short(topics_b[name][2:])}",
            )
    pii_a, pii_b = dict(a.pii), dict(b.pii)
    for entity in sorted(pii_a.keys() - pii_b.keys()):
        yield "weakened", f"PII entity {entity} no longer handled (was {pii_a[entity]})"
    for entity in sorted(pii_b.keys() - pii_a.keys()):
        yield "strengthened", f"PII entity {entity} now handled ({pii_b[entity]})"
    for entity in sorted(pii_a.keys() & pii_b.keys()):
        if pii_a[entity] != pii_b[entity]:
            weaker = PII_STRENGTH.get(pii_b[entity], 0) < PII_STRENGTH.get(pii_a[entity], 0)
            yield (
                "weakened" if weaker else "strengthened",
                f"PII entity {entity}: {pii_a[entity]} -> {pii_b[entity]}",
            )
    regex_a = {r[0]: r for r in a.regexes}
    regex_b = {r[0]: r for r in b.regexes}
    for name in sorted(regex_a.keys() - regex_b.keys()):
        yield "weakened", f"regex {name} removed ({regex_a[name][1]}, {regex_a[name][2]})"
    for name in sorted(regex_b.keys() - regex_a.keys()):
        yield "strengthened", f"regex {name} added ({regex_b[name][1]}, {regex_b[name][2]})"
    for name in sorted(regex_a.keys() & regex_b.keys()):
        if regex_a[name] != regex_b[name]:
            yield (
                "changed",
                f"regex {name}: {regex_a[name][1]} {regex_a[name][2]} -> {regex_b[name][1]} {regex_b[name][2]}",
            )
    for label, old_words, new_words in (
        ("blocked word", a.words, b.words),
        ("managed word list", a.managed_word_lists, b.managed_word_lists),
    ):
        for word in sorted(set(old_words) - set(new_words)):
            yield "weakened", f"{label} removed: {word}"
        for word in sorted(set(new_words) - set(old_words)):
            yield "strengthened", f"{label} added: {word}"
    ground_a, ground_b = dict(a.grounding), dict(b.grounding)
    for kind in sorted(ground_a.keys() | ground_b.keys()):
        old_t, new_t = ground_a.get(kind), ground_b.get(kind)
        if old_t == new_t:
            continue
        if new_t is None:
            yield "weakened", f"contextual grounding {kind} check removed (threshold was {old_t})"
        elif old_t is None:
            yield "strengthened", f"contextual grounding {kind} check added (threshold {new_t})"
        else:
            yield (
                ("weakened" if new_t < old_t else "strengthened"),
                f"contextual grounding {kind} threshold {old_t} -> {new_t}",
            )
    for label, old_text, new_text in (
        ("blocked input message", a.blocked_input, b.blocked_input),
        ("blocked output message", a.blocked_output, b.blocked_output),
    ):
        if old_text != new_text:
            yield "changed", f"{label}: {old_text!r} -> {new_text!r}"
    if a.kms_key != b.kms_key:
        yield (
            "changed",
            f"policy encryption key: {a.kms_key or 'AWS owned key'} -> {b.kms_key or 'AWS owned key'}",
        )


def _guardrail_change(subject: str, kind: str, detail: str) -> Change:
    return Change(TOPIC.id, subject, kind, detail, level=ATTENTION, type=GUARDRAIL_TYPE)


def diff_guardrails(now: GuardrailFacts, then: GuardrailFacts, matching: Matching) -> list[Change]:
    changes = []
    before = {g.logical_id: g for g in then.guardrails}
    paired = set()
    for guardrail in now.guardrails:
        old = before.get(matching.pairs.get(guardrail.logical_id, ""))
        if old is None:
            changes.append(
                _guardrail_change(
                    guardrail.logical_id, "added", f"new guardrail {guardrail.name}: {guardrail.summary()}"
                )
            )
            continue
        paired.add(old.logical_id)
        changes.extend(
            _guardrail_change(guardrail.logical_id, kind, detail)
            for kind, detail in compare_guardrails(old, guardrail)
        )
    for old in then.guardrails:
        if old.logical_id not in paired:
            changes.append(
                _guardrail_change(
                    old.logical_id, "removed", f"guardrail {old.name} removed (was: {old.summary()})"
                )
            )
    enforced_before = {e.logical_id: e for e in then.enforced}
    for enforced in now.enforced:
        old_e = enforced_before.pop(matching.pairs.get(enforced.logical_id, ""), None)
        if old_e is None:
            changes.append(
                Change(
                    TOPIC.id,
                    enforced.logical_id,
                    "added",
                    f"account-level enforced guardrail now set, on version {enforced.version}",
                    level=ATTENTION,
                    type=ENFORCED_GUARDRAIL_TYPE,
                )
            )
            continue
        for label, a_value, b_value in (
            ("enforced version", matching.norm_then(old_e.version), matching.norm_now(enforced.version)),
            ("user messages evaluated", old_e.messages, enforced.messages),
            ("system prompts evaluated", old_e.system, enforced.system),
        ):
            if a_value != b_value:
                changes.append(
                    Change(
                        TOPIC.id,
                        enforced.logical_id,
                        "changed",
                        f"enforced guardrail {label}: {a_value or 'service default'} -> {b_value or 'service default'}",
                        level=ATTENTION,
                        type=ENFORCED_GUARDRAIL_TYPE,
                    )
                )
        if old_e.guardrail and enforced.guardrail:
            changes.extend(
                _guardrail_change(enforced.guardrail.logical_id, kind, f"enforced baseline: {detail}")
                for kind, detail in compare_guardrails(old_e.guardrail, enforced.guardrail)
            )
    for old_e in enforced_before.values():
        changes.append(
            Change(
                TOPIC.id,
                old_e.logical_id,
                "removed",
                "account-level enforced guardrail removed: Bedrock no longer applies a baseline to every call",
                level=ATTENTION,
                type=ENFORCED_GUARDRAIL_TYPE,
            )
        )
    old_reasons = {o.reason for o in then.opt_outs}
    for opt_out in now.opt_outs:
        if opt_out.reason not in old_reasons:
            changes.append(
                Change(
                    TOPIC.id,
                    opt_out.stack,
                    "weakened",
                    f"opted out of the account-level enforced guardrail: {opt_out.reason}",
                    level=ATTENTION,
                    type=ENFORCED_GUARDRAIL_TYPE,
                )
            )
    return changes


# ---------------------------------------------------------------------------------------------------
# Render


def _pii_action(action: str) -> str:
    return {
        "BLOCK": "blocked",
        "ANONYMIZE": "anonymized (masked)",
        "NONE": "NONE: detected only, neither blocked nor masked",
    }.get(action, action)


def guardrail_section(guardrail: Guardrail) -> Section:
    gid = guardrail.logical_id
    sub = Section(f"guardrail-{gid}", f"Guardrail {guardrail.name} ({gid})")
    sub.add(Paragraph(f"{guardrail.description}"))
    filters = Table(
        f"guardrail-{gid}-filters", ["Content filter", "Blocks prompts at", "Blocks responses at"]
    )
    for item in guardrail.filters:
        filters.add(
            [
                code(item.type),
                cell(
                    item.describe("input"),
                    flag=BAD
                    if item.type == "PROMPT_ATTACK" and item.blocking("input") not in STRONG
                    else None,
                ),
                cell(
                    item.describe("output")
                    + (" (not applicable to responses)" if item.type == "PROMPT_ATTACK" else "")
                ),
            ],
            subjects=[gid],
        )
    filters.empty = "No content filter: harmful content passes."
    sub.add(filters)
    topics = Table(
        f"guardrail-{gid}-topics", ["Denied topic", "Definition", "Examples"], empty="No denied topic."
    )
    for name, kind, definition, examples in guardrail.topics:
        topics.add([cell(f"{name} ({kind})"), cell(definition), cell("\n".join(examples))])
    sub.add(topics)
    pii = Table(f"guardrail-{gid}-pii", ["Sensitive information", "Action"], empty="No PII entity or regex.")
    for entity, action in guardrail.pii:
        pii.add(
            [
                code(entity),
                cell(_pii_action(action)),
            ]
        )
    for name, pattern, action, description in guardrail.regexes:
        pii.add(
            [
                code(f"regex {name}: {pattern}"),
                cell(f"{_pii_action(action)}: {description}"),
            ]
        )
    sub.add(pii)
    words = Table(f"guardrail-{gid}-words", ["Word filter", "Entries"], empty="No word filter.")
    if guardrail.words:
        words.add([cell("blocked words and phrases"), code("\n".join(guardrail.words))])
    if guardrail.managed_word_lists:
        words.add([cell("AWS managed lists"), code("\n".join(guardrail.managed_word_lists))])
    sub.add(words)
    grounding = Table(
        f"guardrail-{gid}-grounding",
        ["Contextual grounding check", "Threshold", "Meaning"],
        empty="No contextual grounding check: responses are not checked against the supplied sources.",
    )
    for kind, threshold in guardrail.grounding:
        meaning = (
            "responses scoring below this for being supported by the source are blocked"
            if kind == "GROUNDING"
            else "responses scoring below this for relevance to the query are blocked"
        )
        grounding.add([code(kind), cell(threshold), cell(meaning)])
    sub.add(grounding)
    messages = Table(f"guardrail-{gid}-messages", ["When", "The caller sees"])
    messages.add([cell("a prompt is blocked"), cell(guardrail.blocked_input)])
    messages.add([cell("a response is blocked"), cell(guardrail.blocked_output)])
    sub.add(messages)
    return sub


def _enforced_section(facts: GuardrailFacts) -> Section:
    sub = Section("bedrock-enforced-section", "Account-level enforced guardrail")
    sub.add(
        Paragraph(
            "Bedrock applies this guardrail to every model call in the account and region, including calls that "
            "never pass through the orchestration API, on top of any guardrail the caller names (the stricter "
            "action wins). It is set by the environment that owns the account-and-region settings "
            "(owns_invocation_logging), from the environment file's enforced_guardrail section."
        )
    )
    table = Table("bedrock-enforced", ["Stack", "Setting", "Value"], empty="")
    for enforced in facts.enforced:
        guardrail = enforced.guardrail
        attack = guardrail.strength("PROMPT_ATTACK", "input") if guardrail else "unknown"
        rows: list[tuple[str, Cell]] = [
            ("configuration", code(enforced.logical_id)),
            (
                "guardrail",
                code(
                    f"{guardrail.name} ({guardrail.logical_id})" if guardrail else "not in this environment"
                ),
            ),
            (
                "enforced version",
                code(
                    enforced.version,
                    flag=OK if enforced.published else BAD,
                    badge="" if enforced.published else "NOT PUBLISHED",
                ),
            ),
            ("prompt attack (input)", cell(attack, flag=OK if attack in STRONG else BAD)),
            (
                "PII",
                code("\n".join(f"{entity}: {action}" for entity, action in guardrail.pii))
                if guardrail and guardrail.pii
                else cell("none"),
            ),
            (
                "denied topics",
                cell(
                    "\n".join(name for name, *_ in guardrail.topics)
                    if guardrail and guardrail.topics
                    else "none"
                ),
            ),
            ("user messages evaluated", cell(enforced.messages or "service default")),
            ("system prompts evaluated", cell(enforced.system or "service default")),
        ]
        for name, value in rows:
            table.add([code(enforced.stack), cell(name), value], subjects=[enforced.logical_id])
    for opt_out in facts.opt_outs:
        table.add(
            [
                code(opt_out.stack),
                cell("opted out"),
                cell(opt_out.reason or "no reason recorded", flag=BAD, badge="OPTED OUT"),
            ]
        )
    if not table.rows:
        owns = facts.owns_account_settings
        table.add(
            [
                cell("-"),
                cell("enforced guardrail"),
                cell(
                    "none: this environment owns the account-and-region settings but sets no enforced guardrail"
                    if owns
                    else "set by another environment of this account and region (the owner of invocation logging)",
                    flag=BAD if owns else None,
                ),
            ]
        )
    sub.add(table)
    for enforced in facts.enforced:
        if enforced.guardrail is not None:
            sub.add(guardrail_section(enforced.guardrail))
    return sub


def render_guardrails(facts: GuardrailFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    overview = Table(
        "bedrock-guardrails",
        [
            "Guardrail",
            "Name",
            "Version resource",
            "Version description (policy fingerprint)",
            "Prompt attack (input)",
            "Encrypted with",
        ],
    )
    for guardrail in facts.guardrails:
        attack = guardrail.strength("PROMPT_ATTACK", "input")
        overview.add(
            [
                code(guardrail.logical_id),
                code(guardrail.name),
                code(
                    "\n".join(v for v, _ in guardrail.versions) or "none",
                    flag=None if guardrail.versions else BAD,
                ),
                cell(
                    "\n".join(d for _, d in guardrail.versions)
                    or "no published version: callers would use DRAFT"
                ),
                cell(attack, flag=OK if attack in STRONG else BAD),
                code(guardrail.kms_key or "AWS owned key"),
            ],
            subjects=[guardrail.logical_id],
        )
    section.add(overview)
    for guardrail in facts.guardrails:
        section.add(guardrail_section(guardrail))
    section.add(_enforced_section(facts))
    return section


# ---------------------------------------------------------------------------------------------------
# Evidence


def _all(facts: GuardrailFacts, problems: Callable[[Guardrail], list[str]], what: str) -> tuple[str, str]:
    if not facts.guardrails:
        return FAIL, "no guardrail in this environment"
    failures = [f"{g.logical_id}: {problem}" for g in facts.guardrails for problem in problems(g)]
    return verdict(failures, f"all {len(facts.guardrails)} guardrails {what}")


def _content_filters(facts: GuardrailFacts) -> tuple[str, str]:
    return _all(
        facts,
        lambda g: [
            f"{kind} {direction} is {g.describe(kind, direction)}"
            for kind in HARM_FILTERS
            for direction in ("input", "output")
            if g.strength(kind, direction) not in STRONG
        ],
        "filter HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT at MEDIUM or HIGH both ways",
    )


def _pii_problems(guardrail: Guardrail) -> list[str]:
    actions = [action for _, action in guardrail.pii] + [r[2] for r in guardrail.regexes]
    if not actions:
        return ["no PII entity or regex"]
    if not any(PII_STRENGTH.get(action, 0) for action in actions):
        return ["every PII entity and regex only detects (action NONE): nothing is blocked or anonymized"]
    return []


def _grounding(facts: GuardrailFacts) -> tuple[str, str]:
    """Grounding is opt-in per contract (``guardrail.contextual_grounding``): with no contextual check on
    any guardrail, nothing here asks for one (NOT APPLICABLE); a relevance check alone is not grounding."""
    if not any(g.grounding for g in facts.guardrails):
        return NOT_APPLICABLE, (
            "no contract sets contextual grounding: no answer is checked against a source it was given "
            "(LLM09 rests on the other evidence)"
        )
    grounded = [g.logical_id for g in facts.guardrails if any(t == "GROUNDING" for t, _ in g.grounding)]
    if not grounded:
        relevance = ", ".join(g.logical_id for g in facts.guardrails if g.grounding)
        return FAIL, f"no guardrail checks contextual grounding ({relevance}: relevance only)"
    others = [g.logical_id for g in facts.guardrails if g.logical_id not in grounded]
    return PASS, f"grounding checked by {', '.join(grounded)}" + (
        f"; not by {', '.join(others)} (their contracts set none)" if others else ""
    )


def _enforced_applied(facts: GuardrailFacts) -> tuple[str, str]:
    """An opt-out fails: it needs a reviewer's decision (the gate's rule accepts a recorded reason)."""
    if facts.opt_outs:
        reasons = "; ".join(f"{o.stack}: {o.reason}" for o in facts.opt_outs)
        return FAIL, f"opted out of the enforced guardrail ({reasons}): needs a reviewer's decision"
    unpublished = [e.logical_id for e in facts.enforced if not e.published]
    if unpublished:
        return FAIL, f"not on a published version: {', '.join(unpublished)}"
    if facts.enforced:
        return PASS, "enforced: " + ", ".join(f"{e.logical_id} on {e.version}" for e in facts.enforced)
    if facts.owns_account_settings:
        return FAIL, "this environment owns the account-and-region settings but enforces no guardrail"
    return PASS, "set by the environment of this account and region that owns the account-level settings"


class GuardrailsTopic(Topic[GuardrailFacts]):
    id = "guardrails"
    title = "Guardrails"
    covers: ClassVar[Mapping[str, frozenset[str]]] = {
        GUARDRAIL_TYPE: frozenset(
            {
                "ContentPolicyConfig",
                "TopicPolicyConfig",
                "SensitiveInformationPolicyConfig",
                "WordPolicyConfig",
                "ContextualGroundingPolicyConfig",
                "BlockedInputMessaging",
                "BlockedOutputsMessaging",
                "KmsKeyArn",
                "Name",
            }
        ),
        ENFORCED_GUARDRAIL_TYPE: frozenset({"GuardrailVersion", "SelectiveContentGuarding"}),
    }
    lifecycle: ClassVar[frozenset[str]] = frozenset({GUARDRAIL_TYPE, ENFORCED_GUARDRAIL_TYPE})

    def extract(self, env: Environment) -> GuardrailFacts:
        everything = _guardrails(env.resources)
        enforced = _enforced(env.resources, everything)
        enforced_ids = {e.guardrail.logical_id for e in enforced if e.guardrail}
        opt_outs = [
            EnforcedGuardrailOptOut(stack.name, str(opt_out.get("opt_out_reason", "")))
            for stack in env.stacks
            if isinstance(
                opt_out := (stack.template.get("Metadata") or {}).get(ENFORCED_GUARDRAIL_OPT_OUT), dict
            )
        ]
        return GuardrailFacts(
            tuple(g for g in everything if g.logical_id not in enforced_ids),
            tuple(enforced),
            tuple(opt_outs),
            owns_account_settings=bool(env.of_type(INVOCATION_LOGGING_TYPE)),
        )

    def diff(self, now: GuardrailFacts, then: GuardrailFacts, matching: Matching) -> list[Change]:
        return diff_guardrails(now, then, matching)

    def render(self, facts: GuardrailFacts, ctx: RenderContext) -> Section:
        return render_guardrails(facts, ctx)

    def counts(self, facts: GuardrailFacts) -> list[tuple[str, str]]:
        enforced = (
            "account-level enforced baseline "
            + (
                "on a published version"
                if all(e.published for e in facts.enforced)
                else "NOT on a published version"
            )
            if facts.enforced
            else ("OPTED OUT" if facts.opt_outs else "no enforced baseline here")
        )
        return [("Guardrails", f"{len(facts.guardrails)} of use cases; {enforced}")]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "GUARDRAIL-CONTENT-FILTERS": EvidenceCheck(
                "harm filters at MEDIUM or HIGH on input and output", _content_filters
            ),
            "GUARDRAIL-DENIED-TOPICS": EvidenceCheck(
                "every guardrail denies at least one topic",
                lambda f: _all(
                    f, lambda g: [] if g.topics else ["no denied topic"], "deny at least one topic"
                ),
            ),
            "GUARDRAIL-SENSITIVE-INFO": EvidenceCheck(
                "every guardrail blocks or anonymizes PII or regex matches",
                lambda f: _all(f, _pii_problems, "block or anonymize PII"),
            ),
            "GUARDRAIL-GROUNDING": EvidenceCheck(
                "contextual grounding checked (where contracts set it)", _grounding
            ),
            "ENFORCED-GUARDRAIL-APPLIED": EvidenceCheck(
                "an account-level guardrail on a published version is in force (an opt-out awaits a decision)",
                _enforced_applied,
            ),
        }


TOPIC = GuardrailsTopic()
