"""Access: every IAM principal, what its identity policies allow on which resources, and every resource-based
policy (bucket, topic, queue and key policies, Lambda permissions). Also the API's own access control:
whether every method requires authorization and validates its body."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.report.cfn import as_list, is_unrestricted, ref_target, render_value
from compliance.report.document import BAD, WARN, Cell, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.matching import Matching, Normalize
from compliance.report.topic import (
    ATTENTION,
    REVIEW,
    ROUTINE,
    Change,
    EvidenceCheck,
    RenderContext,
    Topic,
    verdict,
)

PRINCIPAL_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
SERVICES = ("bedrock", "kms", "s3", "dynamodb", "logs", "sns", "sqs", "iam", "sts", "lambda", "xray")
#: A list of actions or resources longer than this is collapsed in the report.
LONG_LIST = 5
_RESOURCE_POLICY_PROPERTIES = {
    "AWS::S3::BucketPolicy": ("Bucket", "PolicyDocument"),
    "AWS::SNS::TopicPolicy": ("Topics", "PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("Queues", "PolicyDocument"),
    "AWS::KMS::Key": (None, "KeyPolicy"),
    "AWS::Logs::ResourcePolicy": (None, "PolicyDocument"),
}


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement as it applies to one principal or resource."""

    holder: str  # the principal's (or, for resource policies, the resource's) logical ID
    source: str  # the policy resource (or "<role> inline <name>") that grants it
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: str  # rendered JSON, "" when none
    principal: str = ""  # resource policies: who the statement is about
    negated: tuple[str, ...] = ()  # "NotAction" / "NotResource" / "NotPrincipal" when used

    def grants(self) -> list[Grant]:
        return [
            Grant(self.holder, self.effect, action, resource, self.condition, self.source, self.principal)
            for action in self.actions or ("",)
            for resource in self.resources or ("",)
        ]


@dataclass(frozen=True, order=True)
class Grant:
    """One action on one resource: the unit the diff compares."""

    holder: str
    effect: str
    action: str
    resource: str
    condition: str
    source: str
    principal: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.effect, self.principal, self.action, self.resource)

    @property
    def wildcard(self) -> bool:
        """A wildcard in the action, the resource, or (resource policies) the principal: ``*`` lets anyone."""
        return "*" in self.action or "*" in self.resource or "*" in self.principal

    @property
    def unrestricted(self) -> bool:
        return is_unrestricted(self.action, self.resource)


@dataclass(frozen=True)
class Principal:
    logical_id: str
    type: str
    trust: tuple[str, ...]
    managed_policy_arns: tuple[str, ...]
    statements: tuple[Statement, ...]

    def grants(self) -> list[Grant]:
        return [grant for statement in self.statements for grant in statement.grants()]


@dataclass(frozen=True)
class Method:
    logical_id: str
    http_method: str
    authorization: str
    validates_body: bool


@dataclass(frozen=True)
class AccessFacts:
    principals: tuple[Principal, ...]
    resource_policies: tuple[Statement, ...]
    methods: tuple[Method, ...]


# ---------------------------------------------------------------------------------------------------
# Extract


def render_tree(value: Any) -> Any:
    """A value with every intrinsic rendered, so it compares and prints as plain data."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            return render_value(value)
        return {key: render_tree(child) for key, child in value.items()}
    if isinstance(value, list):
        return [render_tree(child) for child in value]
    return value


def _render_principal(principal: Any) -> str:
    if principal is None:
        return ""
    if isinstance(principal, str):
        return principal
    if isinstance(principal, dict) and not (len(principal) == 1 and next(iter(principal)).startswith("Fn::")):
        return "; ".join(
            f"{kind} {', '.join(render_value(v) for v in as_list(values))}"
            for kind, values in sorted(principal.items())
        )
    return render_value(principal)


def statements(document: Any, holder: str, source: str, *, resource_policy: bool = False) -> list[Statement]:
    found: list[Statement] = []
    if not isinstance(document, dict):
        return found
    for raw in as_list(document.get("Statement")):
        if not isinstance(raw, dict):
            continue
        negated = tuple(key for key in ("NotAction", "NotResource", "NotPrincipal") if key in raw)
        actions = as_list(raw.get("Action", raw.get("NotAction")))
        resources = as_list(raw.get("Resource", raw.get("NotResource")))
        principal = raw.get("Principal", raw.get("NotPrincipal"))
        found.append(
            Statement(
                holder=holder,
                source=source,
                sid=str(raw.get("Sid", "")),
                effect=str(raw.get("Effect", "")),
                actions=tuple(sorted(render_value(a) for a in actions)),
                resources=tuple(render_value(r) for r in resources),
                condition=json.dumps(render_tree(raw["Condition"]), sort_keys=True)
                if raw.get("Condition")
                else "",
                principal=_render_principal(principal) if resource_policy or principal is not None else "",
                negated=negated,
            )
        )
    return found


def _principals(resources: Sequence[Resource], by_id: Mapping[str, Resource]) -> list[Principal]:
    attached: dict[str, list[Statement]] = defaultdict(list)
    seen_policies: set[tuple[str, str]] = set()
    for resource in resources:
        if resource.type not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        holders = [
            ref_target(value) or f"(by name) {render_value(value)}"
            for key in ("Roles", "Users", "Groups")
            for value in as_list(resource.properties.get(key))
        ]
        for holder in holders:
            seen_policies.add((holder, resource.logical_id))
            attached[holder].extend(
                statements(resource.properties.get("PolicyDocument"), holder, resource.logical_id)
            )
    principals = []
    for resource in resources:
        if resource.type not in PRINCIPAL_TYPES:
            continue
        props = resource.properties
        held = list(attached.get(resource.logical_id, []))
        for policy in as_list(props.get("Policies")):
            if isinstance(policy, dict):
                name = render_value(policy.get("PolicyName", "inline"))
                held.extend(
                    statements(
                        policy.get("PolicyDocument"),
                        resource.logical_id,
                        f"{resource.logical_id} inline {name}",
                    )
                )
        managed = []
        for arn in as_list(props.get("ManagedPolicyArns")):
            target = ref_target(arn)
            if target and target in by_id and by_id[target].type == "AWS::IAM::ManagedPolicy":
                if (resource.logical_id, target) not in seen_policies:
                    held.extend(
                        statements(
                            by_id[target].properties.get("PolicyDocument"), resource.logical_id, target
                        )
                    )
                continue
            managed.append(render_value(arn))
        trust = [
            " ".join(
                part
                for part in (
                    f"{statement.effect} {statement.principal or '(no principal)'}",
                    f"to {', '.join(statement.actions)}",
                    f"if {statement.condition}" if statement.condition else "",
                )
                if part
            )
            for statement in statements(props.get("AssumeRolePolicyDocument"), resource.logical_id, "trust")
        ]
        principals.append(
            Principal(resource.logical_id, resource.type, tuple(trust), tuple(managed), tuple(held))
        )
    known = {p.logical_id for p in principals}
    for holder, held_statements in sorted(attached.items()):
        if holder not in known:
            principals.append(Principal(holder, "(not in this template)", (), (), tuple(held_statements)))
    return principals


def _resource_policies(resources: Sequence[Resource]) -> list[Statement]:
    found: list[Statement] = []
    for resource in resources:
        if resource.type in _RESOURCE_POLICY_PROPERTIES:
            target_key, document_key = _RESOURCE_POLICY_PROPERTIES[resource.type]
            document = resource.properties.get(document_key)
            if document is None:
                continue
            targets = (
                [ref_target(t) or render_value(t) for t in as_list(resource.properties.get(target_key))]
                if target_key
                else [resource.logical_id]
            )
            for target in targets:
                found.extend(statements(document, target, resource.logical_id, resource_policy=True))
        elif resource.type == "AWS::Lambda::Permission":
            props = resource.properties
            conditions = {
                key: render_value(props[key]) for key in ("SourceArn", "SourceAccount") if key in props
            }
            function = props.get("FunctionName")
            found.append(
                Statement(
                    holder=ref_target(function) or render_value(function),
                    source=resource.logical_id,
                    sid="",
                    effect="Allow",
                    actions=(render_value(props.get("Action", "")),),
                    resources=(render_value(function),),
                    condition=json.dumps(conditions, sort_keys=True) if conditions else "",
                    principal=render_value(props.get("Principal", "")),
                )
            )
    return found


def _methods(resources: Sequence[Resource]) -> list[Method]:
    return [
        Method(
            r.logical_id,
            str(r.properties.get("HttpMethod", "")),
            str(r.properties.get("AuthorizationType") or "NONE"),
            bool(r.properties.get("RequestValidatorId") and r.properties.get("RequestModels")),
        )
        for r in resources
        if r.type == "AWS::ApiGateway::Method"
    ]


# ---------------------------------------------------------------------------------------------------
# Diff


_OR = " OR "


def _grant_index(
    facts: AccessFacts, normalize: Normalize, ids: Mapping[str, str] | None = None
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


def _level(kind: str, wildcard: bool) -> str:
    """Wider access with a wildcard needs a decision; wider access deserves a look; narrower is routine."""
    if kind == "widened":
        return ATTENTION if wildcard else REVIEW
    return ROUTINE if kind == "narrowed" else REVIEW


def _grant_use_case(grant: Grant, matching: Matching) -> str:
    """A grant on one use case's resource (its inference profile, its guardrail) belongs to that use case."""
    for logical_id in _referenced_ids(grant.resource + " " + grant.condition):
        use_case = matching.use_case_of(logical_id)
        if use_case:
            return use_case
    return ""


def _referenced_ids(text: str) -> Iterable[str]:
    """Logical IDs of ``<LogicalId>`` / ``<LogicalId.Attribute>`` placeholders in rendered text."""
    start = text.find("<")
    while start != -1:
        end = text.find(">", start)
        if end == -1:
            return
        yield text[start + 1 : end].split(".", 1)[0]
        start = text.find("<", end)


def diff_access(now: AccessFacts, then: AccessFacts, matching: Matching) -> list[Change]:
    changes: list[Change] = []
    current = _grant_index(now, matching.norm_now)
    before = _grant_index(then, matching.norm_then, matching.ids)
    for key in sorted(set(current) | set(before)):
        a, b = before.get(key), current.get(key)
        if a and b:
            if a.condition != b.condition:
                kind = _condition_change(a.condition, b.condition)
                if b.effect == "Deny":
                    # A deny that applies in fewer cases lets more through, and the other way round.
                    kind = {"widened": "narrowed", "narrowed": "widened"}.get(kind, kind)
                changes.append(
                    Change(
                        TOPIC.id,
                        b.holder,
                        kind,
                        f"condition of {b.effect} {b.action} on {b.resource}: {a.condition or 'none'} -> "
                        f"{b.condition or 'none'}",
                        level=_level(kind, b.wildcard),
                        wildcard=b.wildcard,
                        use_case=_grant_use_case(b, matching),
                    )
                )
            continue
        grant = b or a
        assert grant is not None
        gained = b is not None
        kind = "widened" if gained == (grant.effect == "Allow") else "narrowed"
        # a new Allow, or a Deny removed, with a wildcard: wider access with a wildcard
        wildcard = grant.wildcard and kind == "widened"
        changes.append(
            Change(
                TOPIC.id,
                grant.holder,
                kind,
                f"{'+' if gained else '-'} {_describe_grant(grant)}",
                level=_level(kind, wildcard),
                wildcard=wildcard,
                use_case=_grant_use_case(grant, matching),
            )
        )
    changes.extend(_method_changes(now, then, matching))
    principals_now = {p.logical_id: p for p in now.principals}
    for principal in then.principals:
        other = principals_now.get(matching.ids.get(principal.logical_id, principal.logical_id))
        if other is None:
            continue
        for label, old_items, new_items in (
            ("trust", principal.trust, other.trust),
            ("managed policy", principal.managed_policy_arns, other.managed_policy_arns),
        ):
            old = {matching.norm_then(x) for x in old_items}
            new = {matching.norm_now(x) for x in new_items}
            for item in sorted(new - old):
                # Who can assume a role, or an AWS managed policy: both widen access in ways no grant shows.
                changes.append(
                    Change(
                        TOPIC.id,
                        other.logical_id,
                        "widened",
                        f"+ {label}: {item}",
                        ATTENTION,
                        wildcard="*" in item,
                    )
                )
            for item in sorted(old - new):
                changes.append(Change(TOPIC.id, other.logical_id, "narrowed", f"- {label}: {item}", ROUTINE))
    return changes


def _method_changes(now: AccessFacts, then: AccessFacts, matching: Matching) -> list[Change]:
    """An API method that no longer requires authorization (or a new one that never did) lets anyone call
    it: wider access for everyone, a decision."""
    changes = []
    before = {m.logical_id: m for m in then.methods}
    for method in now.methods:
        old = before.get(matching.pairs.get(method.logical_id, ""))
        if old is not None and old.authorization == method.authorization:
            continue
        opened = method.authorization == "NONE" and method.http_method != "OPTIONS"
        if old is None and not opened:
            continue  # a new method that requires authorization: the resource diff lists it
        closed = old is not None and old.authorization == "NONE"
        changes.append(
            Change(
                TOPIC.id,
                method.logical_id,
                "widened" if opened else ("narrowed" if closed else "changed"),
                f"{method.http_method} authorization: {old.authorization if old else '(new method)'} -> "
                f"{method.authorization}" + (": anyone can call it" if opened else ""),
                level=ATTENTION if opened else (ROUTINE if closed else REVIEW),
            )
        )
    return changes


# ---------------------------------------------------------------------------------------------------
# Render


def _service(action: str) -> str:
    prefix = action.split(":", 1)[0].lower() if ":" in action else action
    return prefix if prefix in SERVICES else ("all services" if action == "*" else "other")


def _by_service(actions: Sequence[str]) -> dict[str, list[str]]:
    """A statement's actions by service: the grants table's rows."""
    services: dict[str, list[str]] = {}
    for action in actions:
        services.setdefault(_service(action), []).append(action)
    return services


def _grant_flags(actions: Sequence[str], resources: Sequence[str], negated: Sequence[str]) -> Cell:
    unrestricted = [a for a in actions if a == "*" or a.endswith(":*")] + [r for r in resources if r == "*"]
    wildcards = [x for x in (*actions, *resources) if "*" in x and x not in unrestricted]
    notes = [f"unrestricted: {', '.join(unrestricted)}"] if unrestricted else []
    if wildcards:
        notes.append("wildcard in:\n" + "\n".join(wildcards))
    if negated:
        notes.append(f"uses {', '.join(negated)}")
    if unrestricted:
        return cell("\n".join(notes), flag=BAD, badge="UNRESTRICTED WILDCARD")
    if wildcards:
        return cell("\n".join(notes), flag=WARN, badge="WILDCARD")
    return cell("\n".join(notes), flag=WARN if notes else None)


def wildcard_findings(actions: Sequence[str], resources: Sequence[str]) -> list[str]:
    """The cdk-nag finding ids (AwsSolutions-IAM5) that would acknowledge these wildcards."""
    return [f"IAM5[Action::{a}]" for a in actions if "*" in a] + [
        f"IAM5[Resource::{r}]" for r in resources if "*" in r
    ]


def render_access(facts: AccessFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    principals = Table(
        "access-principals", ["Principal", "Type", "Who can assume it", "AWS managed policies"]
    )
    for principal in facts.principals:
        principals.add(
            [
                code(principal.logical_id),
                code(principal.type),
                code("\n".join(principal.trust) or "n/a"),
                code(
                    "\n".join(principal.managed_policy_arns) or "none",
                    flag=WARN if principal.managed_policy_arns else None,
                    badge="NOT IN TEMPLATE" if principal.managed_policy_arns else "",
                ),
            ],
            subjects=[principal.logical_id],
            findings=["IAM4"],
        )
    section.add(principals)
    section.add(
        Paragraph(
            "Identity policies per principal (inline policies, AWS::IAM::Policy and ManagedPolicy resources attached "
            "through Roles), one row per statement and service. AWS managed policies are listed above; their "
            f"content is defined by AWS and is not in the template. Lists longer than {LONG_LIST} items are folded."
        )
    )
    grants = Table(
        "access-grants",
        ["Principal", "Service", "Effect", "Actions", "Resources", "Condition", "Granted by", "Flags"],
    )
    for principal in facts.principals:
        for statement in principal.statements:
            for service, actions in sorted(_by_service(statement.actions).items()):
                grants.add(
                    [
                        code(principal.logical_id),
                        cell(service),
                        cell(statement.effect),
                        code("\n".join(actions), collapse=LONG_LIST),
                        code("\n".join(statement.resources), collapse=LONG_LIST),
                        code(statement.condition),
                        code(statement.source + (f" ({statement.sid})" if statement.sid else "")),
                        _grant_flags(actions, statement.resources, statement.negated),
                    ],
                    subjects=[principal.logical_id, statement.source],
                    findings=wildcard_findings(actions, statement.resources),
                )
    section.add(grants)
    resource_policies = Table(
        "access-resource-policies",
        ["Resource", "Policy", "Effect", "Principal", "Actions", "Resources", "Condition"],
        caption="Resource-based policies (bucket, topic, queue and key policies, Lambda permissions)",
    )
    for statement in facts.resource_policies:
        resource_policies.add(
            [
                code(statement.holder),
                code(statement.source),
                cell(statement.effect),
                code(
                    statement.principal,
                    flag=WARN if statement.effect == "Allow" and "*" in statement.principal else None,
                ),
                code("\n".join(statement.actions), collapse=LONG_LIST),
                code("\n".join(statement.resources), collapse=LONG_LIST),
                code(statement.condition),
            ],
            subjects=[statement.holder, statement.source],
        )
    section.add(resource_policies)
    methods = Table(
        "access-api-methods",
        ["Method", "HTTP method", "Authorization", "Body validated"],
        caption="API Gateway methods",
        empty="No API Gateway method.",
    )
    for method in facts.methods:
        open_method = method.authorization == "NONE" and method.http_method != "OPTIONS"
        methods.add(
            [
                code(method.logical_id),
                code(method.http_method),
                cell(
                    method.authorization,
                    flag=BAD if open_method else None,
                    badge="OPEN" if open_method else "",
                ),
                cell("yes" if method.validates_body else "no"),
            ],
            subjects=[method.logical_id],
            findings=["APIG4", "COG4"],
        )
    section.add(methods)
    return section


# ---------------------------------------------------------------------------------------------------
# Evidence


def _api_iam_auth(facts: AccessFacts) -> tuple[str, str]:
    if not facts.methods:
        return "PASS", "no API Gateway method deployed"
    open_methods = [
        m.logical_id for m in facts.methods if m.http_method != "OPTIONS" and m.authorization == "NONE"
    ]
    return verdict(
        [f"{m}: no authorization" for m in open_methods],
        f"all {len(facts.methods)} methods require IAM or an authorizer",
    )


def _api_request_validation(facts: AccessFacts) -> tuple[str, str]:
    writes = [m for m in facts.methods if m.http_method in ("POST", "PUT", "PATCH")]
    return verdict(
        [f"{m.logical_id}: body not validated against a model" for m in writes if not m.validates_body],
        f"{len(writes)} write methods validate their body",
    )


class AccessTopic(Topic[AccessFacts]):
    id = "access"
    title = "Access"
    covers: ClassVar[Mapping[str, frozenset[str]]] = {
        "AWS::IAM::Role": frozenset({"AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns"}),
        "AWS::IAM::Policy": frozenset({"PolicyDocument", "Roles", "Users", "Groups"}),
        "AWS::IAM::ManagedPolicy": frozenset({"PolicyDocument", "Roles", "Users", "Groups"}),
        "AWS::S3::BucketPolicy": frozenset({"PolicyDocument"}),
        "AWS::SNS::TopicPolicy": frozenset({"PolicyDocument"}),
        "AWS::SQS::QueuePolicy": frozenset({"PolicyDocument"}),
        "AWS::KMS::Key": frozenset({"KeyPolicy"}),
        "AWS::Lambda::Permission": frozenset({"Action", "Principal", "SourceArn", "SourceAccount"}),
        "AWS::ApiGateway::Method": frozenset({"AuthorizationType"}),
    }

    def extract(self, env: Environment) -> AccessFacts:
        return AccessFacts(
            tuple(_principals(env.resources, env.by_id)),
            tuple(_resource_policies(env.resources)),
            tuple(_methods(env.resources)),
        )

    def diff(self, now: AccessFacts, then: AccessFacts, matching: Matching) -> list[Change]:
        return diff_access(now, then, matching)

    def render(self, facts: AccessFacts, ctx: RenderContext) -> Section:
        return render_access(facts, ctx)

    def counts(self, facts: AccessFacts) -> list[tuple[str, str]]:
        # Counted as the grants table flags them (one row per statement and service), so the number is the
        # rows marked UNRESTRICTED WILDCARD in Access, not every action-resource pair they hold.
        wildcard = sum(
            1
            for p in facts.principals
            for statement in p.statements
            if statement.effect == "Allow"
            for actions in _by_service(statement.actions).values()
            if any(is_unrestricted(a, r) for a in actions for r in (statement.resources or ("",)))
        )
        return [
            (
                "IAM principals",
                f"{len(facts.principals)} ({wildcard} statement{'s' if wildcard != 1 else ''} with an "
                "unrestricted wildcard)",
            )
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "API-IAM-AUTH": EvidenceCheck("every API method requires authorization", _api_iam_auth),
            "API-REQUEST-VALIDATION": EvidenceCheck(
                "write methods validate their request body", _api_request_validation
            ),
        }


TOPIC = AccessTopic()
