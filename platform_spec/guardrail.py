"""A guardrail policy as Bedrock receives it, and its fingerprint: standard library only.

The CDK side renders a contract's policy into ``AWS::Bedrock::Guardrail`` properties with
:func:`render_policy` and publishes a new version whenever :func:`policy_fingerprint` changes (the
version's description carries it). The evaluation harness computes the same fingerprint from the same
contract, so a result names the exact policy it was measured on, offline or deployed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

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
