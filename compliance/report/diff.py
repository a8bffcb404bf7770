"""What changed between two environments' facts, grouped the way a reviewer triages them.

Resources are matched by logical ID: it is what CloudFormation matches on, and it is identical across
environments by design. A logical ID that disappears is a removal, or a replacement when a resource of
the same type now sits at the same construct path under another logical ID. When two *different*
environments are compared, logical IDs that embed the stack name (CDK does so for some generated
resources, e.g. Lambda permissions) cannot match; those are paired by construct path instead, and
environment-specific values (environment name, account, stack-name prefixes with their hash) are
normalized away so that only real differences remain.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from compliance.report.facts import EnvironmentFacts, Grant, Guardrail

GROUPS: tuple[tuple[str, str], ...] = (
    ("replaced", "Resources replaced or removed"),
    ("permissions", "Permissions widened or narrowed"),
    ("guardrails", "Guardrail policy changed"),
    ("protection", "Encryption, retention or logging changed"),
    ("other", "Other changes"),
)
#: Changes every synth (CDK analytics): never a review item.
_IGNORED_TYPES = {"AWS::CDK::Metadata"}
STRENGTH = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}

#: Replacement-causing properties the CloudFormation registry schemas (which cfn-lint ships) do not mark
#: create-only, from the CloudFormation property reference ("Update requires: Replacement").
EXTRA_CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("KeySchema", "LocalSecondaryIndexes"),
}
#: Used when cfn-lint (a dev dependency) is not installed.
FALLBACK_CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::Bedrock::ApplicationInferenceProfile": ("Description", "InferenceProfileName", "ModelSource"),
    "AWS::Bedrock::GuardrailVersion": ("Description", "GuardrailIdentifier"),
    "AWS::IAM::Role": ("Path", "RoleName"),
}
#: Properties compared by the specific groups, left out of "Other changes".
_COVERED_PROPERTIES = {
    "AWS::IAM::Role": {"AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns"},
    "AWS::IAM::Policy": {"PolicyDocument", "Roles", "Users", "Groups"},
    "AWS::IAM::ManagedPolicy": {"PolicyDocument", "Roles", "Users", "Groups"},
    "AWS::S3::BucketPolicy": {"PolicyDocument"},
    "AWS::SNS::TopicPolicy": {"PolicyDocument"},
    "AWS::SQS::QueuePolicy": {"PolicyDocument"},
    "AWS::KMS::Key": {"KeyPolicy", "EnableKeyRotation", "PendingWindowInDays"},
    "AWS::Lambda::Permission": {"Action", "Principal", "SourceArn", "SourceAccount"},
    "AWS::Bedrock::Guardrail": {
        "ContentPolicyConfig",
        "TopicPolicyConfig",
        "SensitiveInformationPolicyConfig",
        "WordPolicyConfig",
        "ContextualGroundingPolicyConfig",
        "BlockedInputMessaging",
        "BlockedOutputsMessaging",
        "KmsKeyArn",
        "Name",
    },
    "AWS::S3::Bucket": {"BucketEncryption", "LifecycleConfiguration", "VersioningConfiguration"},
    "AWS::Logs::LogGroup": {"KmsKeyId", "RetentionInDays"},
    "AWS::DynamoDB::Table": {
        "SSESpecification",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
    },
    "AWS::SNS::Topic": {"KmsMasterKeyId"},
    "AWS::SQS::Queue": {"KmsMasterKeyId", "SqsManagedSseEnabled", "MessageRetentionPeriod"},
    "Custom::BedrockModelInvocationLogging": {"Create", "Update", "Delete"},
}


@dataclass(frozen=True)
class Change:
    group: str
    resource: str  # logical ID (for permissions: the principal or the resource holding the policy)
    kind: str  # removed, replaced, widened, narrowed, weakened, strengthened, changed, added
    detail: str
    type: str = ""
    stateful: bool = False
    wildcard: bool = False


@dataclass
class EnvironmentDiff:
    current: str
    baseline: str
    cross_environment: bool
    changes: list[Change] = field(default_factory=list)

    def group(self, key: str) -> list[Change]:
        changes = [c for c in self.changes if c.group == key]
        if key == "replaced":
            changes.sort(key=lambda c: (not c.stateful, c.kind != "removed", c.resource))
        return changes


@cache
def create_only_properties(resource_type: str, region: str) -> tuple[str, ...]:
    """Top-level properties whose change makes CloudFormation replace the resource."""
    names: list[str] = []
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
        names = [
            str(p).split("/")[2] for p in schema.get("createOnlyProperties", []) if str(p).count("/") >= 2
        ]
    except Exception:  # cfn-lint missing, or a type/region it has no schema for (custom resources)
        names = list(FALLBACK_CREATE_ONLY.get(resource_type, ()))
    return tuple(dict.fromkeys([*names, *EXTRA_CREATE_ONLY.get(resource_type, ())]))


# ---------------------------------------------------------------------------------------------------
# Normalization across environments


def _normalizer(facts: EnvironmentFacts, enabled: bool) -> Callable[[str], str]:
    if not enabled:
        return lambda text: text
    stage = facts.name
    substitutions: list[tuple[re.Pattern[str], str]] = []
    for stack in facts.stacks:
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

    def normalize(text: str) -> str:
        for pattern, replacement in substitutions:
            text = pattern.sub(replacement, text)
        return text

    return normalize


def _normalize_tree(value: Any, normalize: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return normalize(value)
    if isinstance(value, list):
        return [_normalize_tree(v, normalize) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_tree(v, normalize) for k, v in value.items()}
    return value


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------------
# The diff


def diff(
    current: EnvironmentFacts, baseline: EnvironmentFacts, *, cross_environment: bool | None = None
) -> EnvironmentDiff:
    """What changed from ``baseline`` to ``current``.

    ``cross_environment`` (default: the environments' names differ) pairs resources by construct path
    when logical IDs differ and normalizes environment-specific values.
    """
    cross = current.name != baseline.name if cross_environment is None else cross_environment
    result = EnvironmentDiff(current.name, baseline.name, cross)
    norm_now = _normalizer(current, cross)
    norm_then = _normalizer(baseline, cross)
    now = current.by_id
    then = baseline.by_id
    pairs: dict[str, str] = {lid: lid for lid in now if lid in then}  # current id -> baseline id
    removed = [lid for lid in then if lid not in now]
    added = [lid for lid in now if lid not in then]
    by_path_now = {
        (now[lid].type, norm_now(now[lid].relative_path)): lid for lid in added if now[lid].relative_path
    }
    renamed: dict[str, str] = {}
    for old in list(removed):
        key = (then[old].type, norm_then(then[old].relative_path))
        if then[old].relative_path and key in by_path_now:
            new = by_path_now.pop(key)
            removed.remove(old)
            added.remove(new)
            if cross:
                pairs[new] = old
            else:
                renamed[new] = old
    region = current.stacks[0].region if current.stacks else "us-east-1"

    for lid in removed:
        resource = then[lid]
        result.changes.append(
            Change(
                "replaced",
                lid,
                "removed",
                f"{resource.type} is no longer in the template: CloudFormation deletes it"
                + (f" ({resource.on_delete} on delete)" if resource.stateful else ""),
                resource.type,
                resource.stateful,
            )
        )
    for new, old in renamed.items():
        resource = now[new]
        result.changes.append(
            Change(
                "replaced",
                new,
                "replaced",
                f"logical ID changed from {old} to {new} at {resource.relative_path}: CloudFormation creates "
                f"a new {resource.type} and deletes the old one ({then[old].on_delete} on delete)",
                resource.type,
                resource.stateful,
            )
        )
    for new, old in sorted(pairs.items()):
        a, b = then[old], now[new]
        if b.type in _IGNORED_TYPES:
            continue
        if a.type != b.type:
            result.changes.append(
                Change(
                    "replaced", new, "replaced", f"type changed from {a.type} to {b.type}", b.type, b.stateful
                )
            )
            continue
        before = _normalize_tree(a.properties, norm_then)
        after = _normalize_tree(b.properties, norm_now)
        for name in create_only_properties(b.type, region):
            if before.get(name) != after.get(name):
                note = (
                    " (a new guardrail version is published whenever the policy fingerprint changes)"
                    if b.type == "AWS::Bedrock::GuardrailVersion"
                    else ""
                )
                result.changes.append(
                    Change(
                        "replaced",
                        new,
                        "replaced",
                        f"replacement-causing property {name} changed: {_short(before.get(name))} -> "
                        f"{_short(after.get(name))}{note}",
                        b.type,
                        b.stateful,
                    )
                )
        covered = set(_COVERED_PROPERTIES.get(b.type, set())) | set(create_only_properties(b.type, region))
        others = sorted(
            k for k in set(before) | set(after) if k not in covered and before.get(k) != after.get(k)
        )
        if others:
            result.changes.append(
                Change(
                    "other",
                    new,
                    "changed",
                    "; ".join(
                        f"{k}: {_short(before.get(k), 70)} -> {_short(after.get(k), 70)}" for k in others
                    ),
                    b.type,
                    b.stateful,
                )
            )
        if (a.deletion_policy or "Delete") != (b.deletion_policy or "Delete"):
            result.changes.append(
                Change(
                    "protection",
                    new,
                    "weakened" if b.deletion_policy != "Retain" else "strengthened",
                    f"on delete: {a.on_delete} -> {b.on_delete}",
                    b.type,
                    b.stateful,
                )
            )
    for lid in added:
        if lid not in renamed:
            result.changes.append(
                Change("other", lid, "added", f"new {now[lid].type}", now[lid].type, now[lid].stateful)
            )

    ids = {
        **{new: new for new in now},
        **{old: new for new, old in pairs.items()},
        **{old: new for new, old in renamed.items()},
    }
    result.changes.extend(_permission_changes(current, baseline, norm_now, norm_then, ids))
    result.changes.extend(_guardrail_changes(current, baseline, pairs))
    result.changes.extend(_protection_changes(current, baseline, pairs, norm_now, norm_then))
    result.changes = [
        change
        if change.type
        else replace(change, type=(now.get(change.resource) or then.get(change.resource) or _NONE).type)
        for change in result.changes
    ]
    return result


class _NoResource:
    type = ""


_NONE = _NoResource()


def _grant_index(
    facts: EnvironmentFacts, normalize: Callable[[str], str], ids: dict[str, str] | None = None
) -> dict[tuple[str, str, str, str, str], Grant]:
    """Every grant by (holder, effect, principal, action, resource). Several statements may allow the same
    action on the same resource under different conditions (a model reached through either of two
    profiles); IAM allows the request if any of them holds, so their conditions are kept together as
    alternatives, joined by " OR " (an unconditioned grant makes them moot)."""
    grants: list[Grant] = [g for p in facts.principals for g in p.grants()]
    grants.extend(g for s in facts.resource_policies for g in s.grants())
    index: dict[tuple[str, str, str, str, str], Grant] = {}
    alternatives: dict[tuple[str, str, str, str, str], set[str]] = {}
    for grant in grants:
        holder = (ids or {}).get(grant.holder, grant.holder)
        normalized = Grant(
            holder,
            grant.effect,
            normalize(grant.action),
            normalize(grant.resource),
            normalize(grant.condition),
            grant.source,
            normalize(grant.principal),
        )
        key = (holder, *normalized.key)
        conditions = alternatives.setdefault(key, set())
        conditions.add(normalized.condition)
        merged = "" if "" in conditions else _OR.join(sorted(conditions))
        index[key] = dataclasses.replace(normalized, condition=merged)
    return index


_OR = " OR "


def _condition_change(before: str, after: str) -> str:
    """How the conditions of the same grant changed: fewer alternatives narrow it, more widen it."""
    old, new = set(before.split(_OR)) if before else {""}, set(after.split(_OR)) if after else {""}
    if "" in new:
        return "widened"
    if "" in old or new < old:
        return "narrowed"
    return "widened" if new > old else "changed"


def _describe_grant(grant: Grant) -> str:
    parts = [f"{grant.effect} {grant.action or '(no action)'} on {grant.resource or '(no resource)'}"]
    if grant.principal:
        parts.append(f"for {grant.principal}")
    if grant.condition:
        parts.append(f"if {grant.condition}")
    parts.append(f"(via {grant.source})")
    if grant.unrestricted:
        parts.append("[UNRESTRICTED WILDCARD]")
    elif grant.wildcard:
        parts.append("[WILDCARD]")
    return " ".join(parts)


def _permission_changes(
    current: EnvironmentFacts,
    baseline: EnvironmentFacts,
    norm_now: Callable[[str], str],
    norm_then: Callable[[str], str],
    ids: dict[str, str],
) -> Iterable[Change]:
    now = _grant_index(current, norm_now)
    then = _grant_index(baseline, norm_then, ids)
    for key in sorted(set(now) | set(then)):
        a, b = then.get(key), now.get(key)
        if a and b:
            if a.condition != b.condition:
                kind = _condition_change(a.condition, b.condition)
                yield Change(
                    "permissions",
                    b.holder,
                    kind,
                    f"condition of {b.effect} {b.action} on {b.resource}: {a.condition or 'none'} -> "
                    f"{b.condition or 'none'}",
                    wildcard=b.wildcard,
                )
            continue
        grant = b or a
        assert grant is not None
        gained = b is not None
        widened = gained == (grant.effect == "Allow")
        yield Change(
            "permissions",
            grant.holder,
            "widened" if widened else "narrowed",
            f"{'+' if gained else '-'} {_describe_grant(grant)}",
            wildcard=grant.wildcard and gained,
        )
    principals_now = {p.logical_id: p for p in current.principals}
    for principal in baseline.principals:
        other = principals_now.get(ids.get(principal.logical_id, principal.logical_id))
        if other is None:
            continue
        for label, before, after in (
            ("trust", principal.trust, other.trust),
            ("managed policy", principal.managed_policy_arns, other.managed_policy_arns),
        ):
            old = {norm_then(x) for x in before}
            new = {norm_now(x) for x in after}
            for item in sorted(new - old):
                yield Change(
                    "permissions", other.logical_id, "widened", f"+ {label}: {item}", wildcard="*" in item
                )
            for item in sorted(old - new):
                yield Change("permissions", other.logical_id, "narrowed", f"- {label}: {item}")


def _guardrail_changes(
    current: EnvironmentFacts, baseline: EnvironmentFacts, pairs: dict[str, str]
) -> Iterable[Change]:
    before = {g.logical_id: g for g in baseline.guardrails}
    for guardrail in current.guardrails:
        old = before.get(pairs.get(guardrail.logical_id, ""))
        if old is not None:
            for kind, detail in _compare_guardrails(old, guardrail):
                yield Change("guardrails", guardrail.logical_id, kind, detail, "AWS::Bedrock::Guardrail")


def _compare_guardrails(a: Guardrail, b: Guardrail) -> Iterable[tuple[str, str]]:
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
                    f"{kind} {direction} filter {'lowered' if lower else 'raised'} {old} -> {new}",
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
                f"denied topic {name} changed: definition or examples now {_short(topics_b[name][2:], 200)}",
            )
    pii_a, pii_b = dict(a.pii), dict(b.pii)
    for entity in sorted(pii_a.keys() - pii_b.keys()):
        yield "weakened", f"PII entity {entity} no longer handled (was {pii_a[entity]})"
    for entity in sorted(pii_b.keys() - pii_a.keys()):
        yield "strengthened", f"PII entity {entity} now handled ({pii_b[entity]})"
    for entity in sorted(pii_a.keys() & pii_b.keys()):
        if pii_a[entity] != pii_b[entity]:
            weaker = pii_a[entity] == "BLOCK"
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


def _protection_changes(
    current: EnvironmentFacts,
    baseline: EnvironmentFacts,
    pairs: dict[str, str],
    norm_now: Callable[[str], str],
    norm_then: Callable[[str], str],
) -> Iterable[Change]:
    before = {p.logical_id: p for p in baseline.protection}
    for item in current.protection:
        old = before.get(pairs.get(item.logical_id, ""))
        if old is None:
            continue
        for label, a, b, ok_a, ok_b in (
            ("at rest", old.at_rest, item.at_rest, old.at_rest_ok, item.at_rest_ok),
            ("in transit", old.in_transit, item.in_transit, old.in_transit_ok, item.in_transit_ok),
            ("retention", old.retention, item.retention, old.retention_ok, item.retention_ok),
        ):
            if norm_then(a) == norm_now(b):
                continue
            kind = "changed"
            if ok_a and not ok_b:
                kind = "weakened"
            elif ok_b and not ok_a:
                kind = "strengthened"
            elif label == "retention":
                kind = _retention_direction(a, b)
            yield Change(
                "protection", item.logical_id, kind, f"{label}: {a} -> {b}", item.type, item.stateful
            )
    logging_before = {lg.logical_id: lg for lg in baseline.invocation_logging}
    for lg in current.invocation_logging:
        old_lg = logging_before.get(pairs.get(lg.logical_id, ""))
        if old_lg is None:
            continue
        for kind_name in sorted(set(lg.delivery) | set(old_lg.delivery)):
            a_on, b_on = old_lg.delivery.get(kind_name), lg.delivery.get(kind_name)
            if bool(a_on) != bool(b_on):
                yield Change(
                    "protection",
                    lg.logical_id,
                    "changed",
                    f"{kind_name} data delivery {'on' if a_on else 'off'} -> {'on' if b_on else 'off'}"
                    + (" (prompts and responses are now logged)" if kind_name == "text" and b_on else ""),
                    "Custom::BedrockModelInvocationLogging",
                )
        for label, a_value, b_value in (
            ("S3 destination", old_lg.s3_bucket, lg.s3_bucket),
            ("CloudWatch Logs destination", old_lg.log_group, lg.log_group),
            ("bucket expiration days", old_lg.bucket_expiration_days, lg.bucket_expiration_days),
            ("log retention days", old_lg.log_retention_days, lg.log_retention_days),
            ("bucket key", old_lg.bucket_key, lg.bucket_key),
            ("log group key", old_lg.log_group_key, lg.log_group_key),
        ):
            if norm_then(str(a_value)) != norm_now(str(b_value)):
                yield Change(
                    "protection",
                    lg.logical_id,
                    _retention_direction(str(a_value), str(b_value)) if "days" in label else "changed",
                    f"invocation logging {label}: {a_value} -> {b_value}",
                    "Custom::BedrockModelInvocationLogging",
                )


def _retention_direction(before: str, after: str) -> str:
    a = re.search(r"\d+", before)
    b = re.search(r"\d+", after)
    if a and b and int(a.group()) != int(b.group()):
        return "shortened" if int(b.group()) < int(a.group()) else "lengthened"
    return "changed"
