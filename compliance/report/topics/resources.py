"""Resources: every resource of every template with its construct path, what CloudFormation does with it on
delete and the sections that discuss it; in a release diff, the resources added, removed or replaced (a
new logical ID, or a change of a property CloudFormation can only apply by replacing the resource) and every
other property change no other topic explains (each topic declares the properties it covers)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from compliance.cfn_values import ref_target, referenced_ids, render_value
from compliance.report.document import WARN, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.matching import Matching, normalize_tree
from compliance.report.topic import (
    ATTENTION,
    REVIEW,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    verdict,
)
from compliance.report.topics.protection import keeps_resource
from platform_spec.contract import JUDGE_ROUTE

#: Changes every synth (CDK analytics): never a review item.
IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})
#: Replacement-causing properties the CloudFormation registry schemas (which cfn-lint ships) do not mark
#: create-only, from the CloudFormation property reference ("Update requires: Replacement").
EXTRA_CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("KeySchema", "LocalSecondaryIndexes")
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
PROFILE_TYPE = "AWS::Bedrock::ApplicationInferenceProfile"
#: Why a replaced profile needs attention where releases are baked: the previous orchestrator version,
#: which keeps most of the traffic until the release is promoted (and is the one a rollback returns to),
#: names the old profile, which CloudFormation deletes once the update succeeds, and the function role's
#: grant moves to the new profile's ARN.
PROFILE_REPLACED_DURING_BAKE = (
    " (this environment bakes releases: the previous orchestrator version, which keeps most of the traffic "
    "until promotion and is the one a rollback returns to, still calls the old profile, which CloudFormation "
    "deletes and the function's role no longer grants, so its requests fail during the bake; a change of a "
    "route's model adds a profile instead (model.retiring keeps the old one): release a change of a "
    "profile's name or description where no older version serves traffic)"
)
#: Why removing a profile the previous orchestrator version calls needs attention where releases are baked,
#: and the fix (``model.retiring``, which keeps it as deployed for one more release).
PROFILE_REMOVED_DURING_BAKE = (
    "this environment bakes releases: the previous orchestrator version, which keeps most of the traffic "
    "until promotion and is the one a rollback returns to, still calls this profile, so its requests fail "
    "once CloudFormation deletes it and the function's role no longer grants it. Fix: {fix}"
)
_WORD = re.compile(r"[A-Za-z0-9]+")
_RAG_TYPES = re.compile(
    r"^AWS::(Bedrock::(KnowledgeBase|DataSource)|OpenSearchServerless::|OpenSearchService::|Kendra::|RDS::)"
)
_AGENT_TYPES = re.compile(r"^AWS::(Bedrock::(Agent|AgentAlias|Flow|FlowAlias)|BedrockAgentCore::)")
_CUSTOMIZATION_TYPES = re.compile(r"^AWS::(SageMaker::|Bedrock::(CustomModel|ModelCustomization))")


@dataclass(frozen=True)
class ResourceFacts:
    resources: tuple[Resource, ...]
    production: bool
    region: str
    #: Releases reach the orchestrator through a canary bake (``Environment.bakes_releases``).
    bakes_releases: bool
    #: resource type -> properties some other topic's diff explains; types whose additions and removals
    #: another topic reports
    covered: Mapping[str, frozenset[str]]
    lifecycle: frozenset[str]


@cache
def create_only_properties(resource_type: str, region: str) -> tuple[str, ...]:
    """Top-level properties whose change makes CloudFormation replace the resource (from the registry
    schema cfn-lint ships: its ``createOnlyProperties``; reading a schema is not linting)."""
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


def baked_references(resources: Sequence[Resource]) -> frozenset[str]:
    """Logical IDs that the functions a canary bake releases (those a Lambda alias serves) reference: what
    the version of such a function a release leaves behind keeps calling while the next release bakes."""
    by_id = {r.logical_id: r for r in resources}
    functions = {
        ref_target(r.properties.get("FunctionName")) for r in resources if r.type == "AWS::Lambda::Alias"
    }
    return frozenset(
        ref for lid in functions if lid in by_id for ref in referenced_ids(by_id[lid].properties)
    )


def retiring_profiles(resources: Sequence[Resource]) -> frozenset[str]:
    """Route profiles no function names: kept by ``model.retiring`` for the previous release's orchestrator
    version (a judge's profile is named by the scoring function, or by nothing where there is none)."""
    called = {
        ref for r in resources if r.type == "AWS::Lambda::Function" for ref in referenced_ids(r.properties)
    }
    return frozenset(
        r.logical_id
        for r in resources
        if r.type == PROFILE_TYPE and r.logical_id not in called and r.tags.get("route") != JUDGE_ROUTE
    )


#: Why a profile kept by ``model.retiring`` in the last release too is a review item.
STILL_RETIRING = (
    "kept by model.retiring in the last release too: the orchestrator version that called it is no longer "
    "the one a bake keeps serving, so the entry (and the grant to this profile) can go; remove "
    "`retiring: {{{route}: ...}}` from contracts/{use_case}.yaml"
)


def _retiring_fix(profile: Resource) -> str:
    """How a contract keeps ``profile`` (removed by a model change) for one more release."""
    use_case, route = profile.tags.get("use-case", "<use case>"), profile.tags.get("route", "<route>")
    source = render_value((profile.properties.get("ModelSource") or {}).get("CopyFrom", ""))
    model = source.rsplit("/", 1)[-1] or "<the route's previous model>"
    return (
        f"in contracts/{use_case}.yaml, add `retiring: {{{route}: {model}}}` under `model:` for this release "
        "(the profile and the grant to it stay exactly as deployed), and remove it in the release after"
    )


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_resources(now: ResourceFacts, then: ResourceFacts, matching: Matching) -> list[Change]:
    current, baseline = matching.current.by_id, matching.baseline.by_id
    changes: list[Change] = []

    def replaced_level(resource: Resource) -> str:
        # Replacing or deleting a key, bucket, log group, table or queue loses its data unless retained.
        return ATTENTION if resource.stateful else REVIEW

    # What the version a bake keeps serving (and rolls back to) calls: the baseline's baked functions'.
    still_called = baked_references(then.resources) if now.bakes_releases else frozenset()
    retiring_then, retiring_now = retiring_profiles(then.resources), retiring_profiles(now.resources)
    for lid in matching.removed:
        resource = baseline[lid]
        if resource.type in IGNORED_TYPES | now.lifecycle:
            continue
        level, note = replaced_level(resource), ""
        if resource.type == PROFILE_TYPE and lid in still_called:
            level, note = ATTENTION, f" ({PROFILE_REMOVED_DURING_BAKE.format(fix=_retiring_fix(resource))})"
        changes.append(
            Change(
                TOPIC.id,
                lid,
                "removed",
                f"{resource.type} is no longer in the template: CloudFormation deletes it"
                + (f" ({resource.on_delete} on delete)" if resource.stateful else "")
                + note,
                level,
                resource.type,
                resource.stateful,
            )
        )
    for new, old in matching.renamed.items():
        resource = current[new]
        changes.append(
            Change(
                TOPIC.id,
                new,
                "replaced",
                f"logical ID changed from {old} to {new} at {resource.relative_path}: CloudFormation creates "
                f"a new {resource.type} and deletes the old one ({baseline[old].on_delete} on delete)",
                replaced_level(resource),
                resource.type,
                resource.stateful,
            )
        )
    for new, old in sorted(matching.pairs.items()):
        a, b = baseline[old], current[new]
        if b.type in IGNORED_TYPES:
            continue
        if a.type != b.type:
            changes.append(
                Change(
                    TOPIC.id,
                    new,
                    "replaced",
                    f"type changed from {a.type} to {b.type}",
                    replaced_level(b),
                    b.type,
                    b.stateful,
                )
            )
            continue
        if new in retiring_now and old in retiring_then:
            changes.append(
                Change(
                    TOPIC.id,
                    new,
                    "changed",
                    STILL_RETIRING.format(
                        route=b.tags.get("route", "<route>"), use_case=b.tags.get("use-case", "<use case>")
                    ),
                    REVIEW,
                    b.type,
                    b.stateful,
                )
            )
        before = normalize_tree(a.properties, matching.norm_then)
        after = normalize_tree(b.properties, matching.norm_now)
        create_only = create_only_properties(b.type, now.region)
        for name in create_only:
            if before.get(name) != after.get(name):
                level = replaced_level(b)
                note = ""
                if b.type == "AWS::Bedrock::GuardrailVersion":
                    note = " (a new guardrail version is published whenever the policy fingerprint changes)"
                elif b.type == PROFILE_TYPE and old in still_called:
                    level, note = ATTENTION, PROFILE_REPLACED_DURING_BAKE
                changes.append(
                    Change(
                        TOPIC.id,
                        new,
                        "replaced",
                        f"replacement-causing property {name} changed: {_short(before.get(name))} -> "
                        f"{_short(after.get(name))}{note}",
                        level,
                        b.type,
                        b.stateful,
                    )
                )
        covered = set(now.covered.get(b.type, frozenset())) | set(create_only)
        others = sorted(
            k for k in set(before) | set(after) if k not in covered and before.get(k) != after.get(k)
        )
        if others:
            changes.append(
                Change(
                    TOPIC.id,
                    new,
                    "changed",
                    "; ".join(
                        f"{k}: {_short(before.get(k), 70)} -> {_short(after.get(k), 70)}" for k in others
                    ),
                    REVIEW,
                    b.type,
                    b.stateful,
                )
            )
    for lid in matching.added:
        resource = current[lid]
        if lid in matching.renamed or resource.type in IGNORED_TYPES | now.lifecycle:
            continue
        changes.append(
            Change(TOPIC.id, lid, "added", f"new {resource.type}", REVIEW, resource.type, resource.stateful)
        )
    return changes


def _text_of(blocks: Sequence[Any]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.extend(c.text for row in block.rows for c in row)
        elif isinstance(block, Section):
            parts.append(_text_of(block.blocks))
    return "\n".join(parts)


def render_resources(facts: ResourceFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    section.add(
        Paragraph(
            f"Every resource of every template of {ctx.env.name} ({len(facts.resources)}), with the sections that "
            "discuss it."
        )
    )
    words = [(s.title, set(_WORD.findall(_text_of(s.blocks)))) for s in ctx.earlier]
    table = Table("resources-index", ["Logical ID", "Type", "Construct path", "On delete", "Discussed in"])
    for resource in facts.resources:
        where = [title for title, found in words if resource.logical_id in found]
        table.add(
            [
                code(resource.logical_id),
                code(resource.type),
                code(resource.construct_path),
                cell(
                    resource.on_delete,
                    flag=WARN
                    if resource.stateful
                    and not keeps_resource(resource.deletion_policy, resource.type)
                    and facts.production
                    else None,
                ),
                cell(", ".join(where) or "only here"),
            ],
            subjects=[resource.logical_id],
        )
    section.add(table)
    return section


def _absent(pattern: re.Pattern[str], what: str) -> EvidenceCheck:
    def check(facts: ResourceFacts) -> tuple[str, str]:
        present = [f"{r.logical_id} ({r.type})" for r in facts.resources if pattern.match(r.type)]
        return verdict(
            [f"{what} now deployed without a mapped control: {', '.join(present)}"] if present else [],
            f"no {what} deployed",
        )

    return EvidenceCheck(f"no {what} deployed", check)


class ResourcesTopic(Topic[ResourceFacts]):
    id = "resources"
    title = "Resource index"

    def extract(self, env: Environment) -> ResourceFacts:
        covered: dict[str, frozenset[str]] = {}
        lifecycle: set[str] = set()
        for topic in env.topics:
            for resource_type, properties in topic.covers.items():
                covered[resource_type] = covered.get(resource_type, frozenset()) | properties
            lifecycle |= topic.lifecycle
        return ResourceFacts(
            tuple(env.resources),
            env.production,
            env.stacks[0].region if env.stacks else "us-east-1",
            env.bakes_releases,
            covered,
            frozenset(lifecycle),
        )

    def diff(self, now: ResourceFacts, then: ResourceFacts, matching: Matching) -> list[Change]:
        return diff_resources(now, then, matching)

    def render(self, facts: ResourceFacts, ctx: RenderContext) -> Section:
        return render_resources(facts, ctx)

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "NO-AGENTS": _absent(_AGENT_TYPES, "agent or flow"),
            "NO-RAG": _absent(_RAG_TYPES, "knowledge base or vector store"),
            "NO-MODEL-CUSTOMIZATION": _absent(_CUSTOMIZATION_TYPES, "model customization"),
        }


TOPIC = ResourcesTopic()
