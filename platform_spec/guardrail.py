"""A guardrail policy as Bedrock receives it, its fingerprint, and ApplyGuardrail's answer read:
standard library only.

The CDK side renders a contract's policy into ``AWS::Bedrock::Guardrail`` properties with
:func:`render_policy` and publishes a new version whenever :func:`policy_fingerprint` changes (the
version's description carries it). The evaluation harness computes the same fingerprint from the same
contract, so a result names the exact policy it was measured on, offline or deployed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from platform_spec.contract import GuardrailPolicy


def render_policy(policy: GuardrailPolicy) -> dict[str, Any]:
    """The CloudFormation properties (other than name, key and tags) a policy becomes."""
    props: dict[str, Any] = {
        "BlockedInputMessaging": policy.blocked_input_message,
        "BlockedOutputsMessaging": policy.blocked_output_message,
        "ContentPolicyConfig": {
            "FiltersConfig": [
                {
                    "Type": f.type.value,
                    "InputStrength": f.input_strength.value,
                    "OutputStrength": f.output_strength.value,
                }
                for f in policy.filters()
            ]
        },
    }
    if policy.denied_topics:
        props["TopicPolicyConfig"] = {
            "TopicsConfig": [
                {
                    "Name": t.name,
                    "Definition": t.definition,
                    "Type": "DENY",
                    **({"Examples": list(t.examples)} if t.examples else {}),
                }
                for t in policy.denied_topics
            ]
        }
    sensitive: dict[str, Any] = {}
    information = policy.sensitive_information
    if information.pii_entities:
        sensitive["PiiEntitiesConfig"] = [
            {"Type": entity.value, "Action": action.value}
            for entity, action in information.pii_entities.items()
        ]
    if information.regexes:
        sensitive["RegexesConfig"] = [
            {
                "Name": r.name,
                "Pattern": r.pattern,
                "Action": r.action.value,
                **({"Description": r.description} if r.description else {}),
            }
            for r in information.regexes
        ]
    if sensitive:
        props["SensitiveInformationPolicyConfig"] = sensitive
    words: dict[str, Any] = {}
    if policy.word_filters.words:
        words["WordsConfig"] = [{"Text": w} for w in policy.word_filters.words]
    if policy.word_filters.managed_lists:
        words["ManagedWordListsConfig"] = [{"Type": m} for m in policy.word_filters.managed_lists]
    if words:
        props["WordPolicyConfig"] = words
    grounding = policy.contextual_grounding
    if grounding is not None:
        filters = []
        if grounding.grounding is not None:
            filters.append({"Type": "GROUNDING", "Threshold": grounding.grounding})
        if grounding.relevance is not None:
            filters.append({"Type": "RELEVANCE", "Threshold": grounding.relevance})
        if filters:
            props["ContextualGroundingPolicyConfig"] = {"FiltersConfig": filters}
    return props


def policy_fingerprint(rendered: Mapping[str, Any]) -> str:
    """A short, stable hash of a rendered policy: the published version changes exactly when it does."""
    canonical = json.dumps(rendered, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# ==================================================================== what ApplyGuardrail said

#: ApplyGuardrail's two ``action`` values
#: (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ApplyGuardrail.html).
PASSED: Final = "NONE"
INTERVENED: Final = "GUARDRAIL_INTERVENED"


class Verdict(StrEnum):
    """What a guardrail did to a text: passed it, masked part of it (every finding ANONYMIZED), or
    blocked it."""

    NONE = "NONE"
    MASKED = "MASKED"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True, slots=True)
class GuardrailReading:
    """ApplyGuardrail's response, read: the verdict, the text as it leaves the guardrail (the masked text
    for MASKED; ``None`` otherwise) and what fired, one ``<policy>:<name>`` each (``topic:Legal advice``,
    ``pii:EMAIL``, ``content:HATE``, ``grounding:GROUNDING``)."""

    verdict: Verdict
    text: str | None
    fired: tuple[str, ...]


def has_action(node: Any, action: str) -> bool:
    """Whether any finding under ``node`` (a guardrail assessment, any depth) has ``action``."""
    if isinstance(node, Mapping):
        if node.get("action") == action:
            return True
        return any(has_action(value, action) for value in node.values())
    if isinstance(node, list):
        return any(has_action(value, action) for value in node)
    return False


def masked_only(*assessments: Any) -> bool:
    """Whether an intervention's findings (any number of assessments, e.g. Converse's input and output
    ones) are all masks: at least one ANONYMIZED and no BLOCKED. Anything else is a block (fails closed)."""
    return not any(has_action(a, "BLOCKED") for a in assessments) and any(
        has_action(a, "ANONYMIZED") for a in assessments
    )


def fired_policies(assessments: Any) -> tuple[str, ...]:
    """What fired in ApplyGuardrail's (or a Converse trace's) ``assessments``, in order, without repeats:
    topics, PII types, regexes, words, managed word lists, content filters, grounding filters that acted
    (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailAssessment.html)."""
    fired: list[str] = []
    for assessment in assessments if isinstance(assessments, list) else []:
        if not isinstance(assessment, Mapping):
            continue
        for topic in (assessment.get("topicPolicy") or {}).get("topics") or []:
            fired.append(f"topic:{topic.get('name')}")
        sensitive = assessment.get("sensitiveInformationPolicy") or {}
        fired += [f"pii:{e.get('type')}" for e in sensitive.get("piiEntities") or []]
        fired += [f"regex:{e.get('name')}" for e in sensitive.get("regexes") or []]
        words = assessment.get("wordPolicy") or {}
        fired += [f"word:{w.get('match')}" for w in words.get("customWords") or []]
        fired += [f"word:{w.get('type')}" for w in words.get("managedWordLists") or []]
        fired += [
            f"content:{f.get('type')}" for f in (assessment.get("contentPolicy") or {}).get("filters") or []
        ]
        fired += [
            f"grounding:{f.get('type')}"
            for f in (assessment.get("contextualGroundingPolicy") or {}).get("filters") or []
            if f.get("action") != "NONE"
        ]
    return tuple(dict.fromkeys(fired))


#: What a mask puts where it removed a finding: the PII type in braces, ``{NAME}`` or ``{EMAIL}``
#: (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-sensitive-filters.html); aws-cdk's
#: bedrock-alpha describes "identifier tags (for example: [NAME-1]...)", so a bracketed tag is read too.
_PLACEHOLDER: Final = re.compile(r"\{[^{}\n]{1,100}\}|\[[^\[\]\n]{1,100}\]")


def masks(original: str, masked: str) -> bool:
    """Whether ``masked`` is ``original`` with spans replaced by mask placeholders: the text between the
    placeholders appears in ``original`` in order, from its start to its end (and it is not ``original``
    with nothing masked)."""
    pieces = _PLACEHOLDER.split(masked)
    if len(pieces) == 1:
        return False
    if not original.startswith(pieces[0]) or not original.endswith(pieces[-1]):
        return False
    at = len(pieces[0])
    for piece in pieces[1:-1]:
        found = original.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return at <= len(original) - len(pieces[-1])


def read_apply_guardrail(
    response: Any, *, guarded: str | None = None, masks_block: bool = False
) -> GuardrailReading:
    """ApplyGuardrail's response as a :class:`GuardrailReading`; ``ValueError`` for a response that is
    not one (an unknown ``action``, or a mask without its text).

    ``action`` is ``NONE`` or ``GUARDRAIL_INTERVENED``, and an intervention is a block or a mask: "If the
    response results in a guardrail intervention or violation, it will be overridden with pre-configured
    blocked messaging or masking of the sensitive information"
    (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-how.html). The findings tell them
    apart: a masked entity's ``action`` is ``ANONYMIZED``, a blocked one's ``BLOCKED``
    (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailPiiEntityFilter.html,
    ``GuardrailRegexFilter`` alike). An intervention with no ANONYMIZED finding, or any BLOCKED one, is
    BLOCKED (fails closed). With ``masks_block`` every intervention is BLOCKED: the text goes on as written,
    where a mask found in another block (a folded copy, ``platform_spec.lookalikes``) would not apply.

    A mask's text: with ``guarded`` (the text the caller had guarded), the output that :func:`masks` it,
    whichever its position (the API reference does not say whether ``outputs`` has one entry per content
    block, or only the guarded ones), and ``ValueError`` when none does: never another block's text, such
    as a grounding source, in its place. Without ``guarded``, ``outputs[0]``."""
    action = response.get("action") if isinstance(response, Mapping) else None
    if action not in (PASSED, INTERVENED):
        raise ValueError(f"ApplyGuardrail action {action!r} is neither {PASSED} nor {INTERVENED}")
    assert isinstance(response, Mapping)
    assessments = response.get("assessments")
    fired = fired_policies(assessments)
    if action == PASSED:
        return GuardrailReading(Verdict.NONE, None, fired)
    if masks_block or not masked_only(assessments):
        return GuardrailReading(Verdict.BLOCKED, None, fired)
    outputs = response.get("outputs")
    texts: list[str] = [
        o["text"]
        for o in (outputs if isinstance(outputs, list) else [])
        if isinstance(o, Mapping) and isinstance(o.get("text"), str)
    ]
    if guarded is None:
        if not texts:
            raise ValueError("ApplyGuardrail masked the text but returned no outputs[0].text")
        return GuardrailReading(Verdict.MASKED, texts[0], fired)
    found = next((t for t in texts if masks(guarded, t)), None)
    if found is None:
        raise ValueError("ApplyGuardrail masked the text but no output is the guarded text masked")
    return GuardrailReading(Verdict.MASKED, found, fired)
