"""Which resource of one environment is which resource of another: the pairing every topic's diff uses.

Resources are matched by logical ID: it is what CloudFormation matches on, and it is identical across
environments by design. A logical ID that disappears is a removal, or a replacement when a resource of the
same type now sits at the same construct path under another logical ID. When two *different* environments
are compared, logical IDs that embed the stack name (CDK does so for some generated resources, e.g. Lambda
permissions) cannot match; those are paired by construct path instead, and environment-specific values
(environment name, account, stack-name prefixes with their hash) are normalized away so that only real
differences remain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compliance.report.environment import Environment

Normalize = Callable[[str], str]


def normalizer(env: Environment, enabled: bool) -> Normalize:
    """A function that replaces ``env``'s own names (Stage, account, region, stack prefixes) by placeholders."""
    if not enabled:
        return lambda text: text
    stage = env.name
    substitutions: list[tuple[re.Pattern[str], str]] = []
    for stack in env.stacks:
        local = stack.name.split("/", 1)[1] if "/" in stack.name else stack.name
        prefix = re.escape(f"{stage}{local.replace('/', '')}")
        substitutions.append((re.compile(rf"{prefix}(\w*?)[0-9A-F]{{8}}\b"), r"{stack}\1"))
        substitutions.append((re.compile(prefix), "{stack}"))
        region, account = re.escape(stack.region), re.escape(stack.account)
        substitutions.append((re.compile(rf":{region}:{account}(?=[:/])"), ":{region}:{account}"))
        substitutions.append((re.compile(account), "{account}"))
        # Not in foundation-model ARNs (no account): their regions are what the grants allow, not where we are.
        substitutions.append((re.compile(rf"(?<!bedrock:)\b{region}\b"), "{region}"))
    substitutions.append((re.compile(rf"\b{re.escape(stage)}\b"), "{Env}"))
    substitutions.append((re.compile(rf"\b{re.escape(stage.lower())}\b"), "{env}"))
    # Every pattern above matches only text that contains one of these literally (a stack prefix starts
    # with the Stage's name): a text with none of them is returned as it is, without the ~7 regex passes
    # per stack (most strings of a template name none; a Prod-against-Staging pack ran ~170,000 of them).
    literals = {stage, stage.lower(), *(s.account for s in env.stacks), *(s.region for s in env.stacks)}

    def normalize(text: str) -> str:
        if not any(literal in text for literal in literals):
            return text
        for pattern, replacement in substitutions:
            text = pattern.sub(replacement, text)
        return text

    return normalize


def normalize_tree(value: Any, normalize: Normalize) -> Any:
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, list):
        return [normalize_tree(v, normalize) for v in value]
    if isinstance(value, dict):
        return {k: normalize_tree(v, normalize) for k, v in value.items()}
    return value


@dataclass
class Matching:
    """How the resources of ``current`` and ``baseline`` correspond."""

    current: Environment
    baseline: Environment
    cross_environment: bool
    norm_now: Normalize
    norm_then: Normalize
    #: current logical ID -> baseline logical ID, for resources that are the same resource
    pairs: dict[str, str] = field(default_factory=dict)
    #: current logical ID -> baseline logical ID, for a resource CloudFormation replaces (same construct
    #: path and type, new logical ID) in the same environment
    renamed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)  # baseline logical IDs
    added: list[str] = field(default_factory=list)  # current logical IDs
    #: every logical ID of either side -> the current logical ID it corresponds to
    ids: dict[str, str] = field(default_factory=dict)
    #: use cases of either side, for telling a resource's use case
    use_cases: tuple[str, ...] = ()

    def baseline_id(self, current_id: str) -> str | None:
        return self.pairs.get(current_id)

    def use_case_of(self, logical_id: str) -> str:
        """The use case of a logical ID of either side ("" for the platform)."""
        return self.current.use_case_of(logical_id, self.use_cases) or self.baseline.use_case_of(
            logical_id, self.use_cases
        )


def match(current: Environment, baseline: Environment, *, cross_environment: bool | None = None) -> Matching:
    """Pair the resources of ``current`` with those of ``baseline``.

    ``cross_environment`` (default: the environments' names differ) pairs resources by construct path
    when logical IDs differ and normalizes environment-specific values."""
    cross = current.name != baseline.name if cross_environment is None else cross_environment
    result = Matching(
        current,
        baseline,
        cross,
        normalizer(current, cross),
        normalizer(baseline, cross),
        use_cases=tuple(sorted({*current.use_cases, *baseline.use_cases})),
    )
    now, then = current.by_id, baseline.by_id
    result.pairs = {lid: lid for lid in now if lid in then}
    result.removed = [lid for lid in then if lid not in now]
    result.added = [lid for lid in now if lid not in then]
    by_path_now = {
        (now[lid].type, result.norm_now(now[lid].relative_path)): lid
        for lid in result.added
        if now[lid].relative_path
    }
    for old in list(result.removed):
        key = (then[old].type, result.norm_then(then[old].relative_path))
        if then[old].relative_path and key in by_path_now:
            new = by_path_now.pop(key)
            result.removed.remove(old)
            result.added.remove(new)
            if cross:
                result.pairs[new] = old
            else:
                result.renamed[new] = old
    result.ids = {
        **{new: new for new in now},
        **{old: new for new, old in result.pairs.items()},
        **{old: new for new, old in result.renamed.items()},
    }
    return result
