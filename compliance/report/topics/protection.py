"""Data protection: per resource that holds data, keys or policy, its encryption at rest, in transit (a
resource policy that denies requests without ``aws:SecureTransport``), its retention, and what
CloudFormation does with it when the stack or the resource is deleted."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.report.cfn import is_true, ref_target, render_value
from compliance.report.document import BAD, OK, WARN, Cell, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.matching import Matching
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
from compliance.report.topics import access
from compliance.report.topics.invocation_logging import bucket_encryption, lifecycle_days, retention_direction

NOT_EVALUATED = "not evaluated for this type"
DEFAULT_POLICY = "Delete (CloudFormation default)"
#: How much of a resource a DeletionPolicy or UpdateReplacePolicy keeps, to tell a weaker policy from an
#: equivalent one. RetainExceptOnCreate "behaves like Retain for stack operations, except for the stack
#: operation that initially created the resource" (deleted only if that operation rolls back), so for a
#: resource an earlier release created it keeps what Retain keeps; Snapshot keeps a backup of the types that
#: support one and deletes the resource; Delete keeps nothing
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html).
_KEEPS = {"Delete": 0, "Snapshot": 1, "RetainExceptOnCreate": 2, "Retain": 2}
#: The types Snapshot backs up ("For resources that support snapshots"; on any other type it deletes, as
#: Delete does), and the types whose policy left out is Snapshot, not Delete ("The default policy is
#: Snapshot for AWS::RDS::DBCluster resources and for AWS::RDS::DBInstance resources that don't specify the
#: DBClusterIdentifier property"): same page as above.
SNAPSHOT_TYPES = frozenset(
    {
        "AWS::EC2::Volume",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Neptune::DBCluster",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::Redshift::Cluster",
    }
)
SNAPSHOT_BY_DEFAULT = frozenset({"AWS::RDS::DBCluster"})


def default_policy(resource_type: str, *, on_delete: bool = True) -> str:
    """The DeletionPolicy (``on_delete``) or UpdateReplacePolicy CloudFormation applies to a resource that
    names none: Delete, but a DeletionPolicy of Snapshot for the types above; "By default, CloudFormation
    then deletes the old resource" on replacement
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html)."""
    return "Snapshot" if on_delete and resource_type in SNAPSHOT_BY_DEFAULT else "Delete"


def kept(policy: object, resource_type: str, *, on_delete: bool = True) -> int:
    """How much a DeletionPolicy or UpdateReplacePolicy keeps of a resource of ``resource_type`` (``_KEEPS``):
    left out, the default (:func:`default_policy`); Snapshot on a type without snapshots keeps what Delete keeps; a value
    that is not one of the four (an intrinsic function) is not shown to keep anything."""
    if policy is None:
        policy = default_policy(resource_type, on_delete=on_delete)
    if policy == "Snapshot" and resource_type not in SNAPSHOT_TYPES:
        return _KEEPS["Delete"]
    return _KEEPS.get(policy, 0) if isinstance(policy, str) else 0


def keeps_resource(policy: object, resource_type: str) -> bool:
    """Whether a deletion policy keeps a resource a previous release created (Retain, RetainExceptOnCreate),
    as :func:`kept` ranks it."""
    return kept(policy, resource_type) == _KEEPS["Retain"]


@dataclass(frozen=True)
class Protection:
    logical_id: str
    type: str
    at_rest: str
    at_rest_ok: bool | None
    in_transit: str
    in_transit_ok: bool | None
    retention: str
    retention_ok: bool | None
    on_delete: str
    stateful: bool


@dataclass(frozen=True)
class OnDelete:
    """What CloudFormation does with a resource when it leaves the template or the stack is deleted."""

    logical_id: str
    type: str
    stateful: bool
    deletion_policy: str | None
    #: what CloudFormation does with the old resource when an update replaces it
    update_replace_policy: str | None = None

    @property
    def text(self) -> str:
        return self.deletion_policy or DEFAULT_POLICY


@dataclass(frozen=True)
class ProtectionFacts:
    resources: tuple[Protection, ...]
    production: bool
    on_delete: tuple[OnDelete, ...] = ()  # every resource


#: What a TLS-only deny must cover, by resource type: every action on a bucket (and its objects) or a queue;
#: publishing to a topic (what cdk-nag SNS3 requires: subscribers' delivery is set per subscription).
_TLS_ACTIONS = {"AWS::S3::Bucket": "s3:*", "AWS::SQS::Queue": "sqs:*", "AWS::SNS::Topic": "sns:Publish"}


def _tls_only(statements: Iterable[access.Statement], resource_type: str) -> access.Statement | None:
    """The statement that denies every principal the requests ``_TLS_ACTIONS`` names without TLS, if any."""
    required = _TLS_ACTIONS.get(resource_type, "*")
    service = required.split(":", 1)[0]
    for statement in statements:
        if statement.effect != "Deny" or not statement.condition or statement.negated:
            continue
        condition = json.loads(statement.condition)
        secure = condition.get("Bool", {}).get("aws:SecureTransport")
        everyone = statement.principal in ("*", "AWS *")
        actions = {a.lower() for a in statement.actions}
        covered = bool(actions & {"*", f"{service}:*", required.lower()})
        objects = resource_type != "AWS::S3::Bucket" or any(
            r == "*" or r.endswith("/*") for r in statement.resources
        )
        if str(secure).lower() == "false" and everyone and covered and objects:
            return statement
    return None


def _kms_or(key: Any, default: tuple[str, bool | None]) -> tuple[str, bool | None]:
    """Encryption at rest with the KMS key a property names, else what the service does without one."""
    return (f"KMS with {_key_label(key)}", True) if key else default


def _retention_period(seconds: Any) -> str:
    """An SQS retention period in days (days first, so a diff compares them), or as written when it is not a
    number (a reference to a parameter)."""
    if isinstance(seconds, int) or (isinstance(seconds, str) and seconds.isdigit()):
        days, rest = divmod(int(seconds), 86400)
        return f"{days} days" if not rest else f"{int(seconds) / 86400:.2f} days ({int(seconds)} seconds)"
    return f"{render_value(seconds)} seconds"


def encryption_rank(at_rest: str) -> int:
    """How much control an "at rest" statement of this topic gives the account over the data's key: 3 a key
    of its own (``KMS with <key>``), 2 an AWS managed key (``aws/s3``, ``alias/aws/sns``), 1 a key the
    service owns (SSE-S3, SSE-SQS, CloudWatch Logs' or DynamoDB's own), 0 none."""
    if at_rest.startswith("not encrypted"):
        return 0
    if "aws/" in at_rest:
        return 2
    if at_rest.startswith(("SSE-KMS with", "SSE-KMS (dual-layer) with", "KMS with")):
        return 3
    return 1


def _key_label(value: Any) -> str:
    return ref_target(value) or render_value(value)


def _protection(resources: Sequence[Resource], policies: Sequence[access.Statement]) -> list[Protection]:
    policies_by_target: dict[str, list[access.Statement]] = defaultdict(list)
    for statement in policies:
        policies_by_target[statement.holder].append(statement)
    auto_delete = {
        ref_target(r.properties.get("BucketName")): r.logical_id
        for r in resources
        # aws-cdk-lib's auto_delete_objects provider, or this project's EmptyBucketsOnDelete
        if r.type in ("Custom::S3AutoDeleteObjects", "Custom::EmptyBucketOnDelete")
    }
    found = []
    for resource in resources:
        props = resource.properties
        tls = _tls_only(policies_by_target.get(resource.logical_id, []), resource.type)
        tls_text: tuple[str, bool | None] = (
            (
                f"TLS only: {tls.source} denies {', '.join(tls.actions)} to anyone without aws:SecureTransport",
                True,
            )
            if tls
            else (
                f"no resource policy denies {_TLS_ACTIONS.get(resource.type, '*')} without TLS to anyone",
                False,
            )
        )
        https_api: tuple[str, bool | None] = ("service API is HTTPS only", None)
        on_delete = resource.on_delete
        at_rest: tuple[str, bool | None]
        retention: tuple[str, bool | None]
        in_transit: tuple[str, bool | None]
        if resource.type == "AWS::S3::Bucket":
            encryption, key = bucket_encryption(resource)
            at_rest = (
                (f"{encryption} with {key}" if key else encryption, True)
                if encryption
                else ("none declared (S3 applies SSE-S3 by default)", False)
            )
            expiration, noncurrent = lifecycle_days(resource)
            versioning = (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled"
            retention = (
                "; ".join(
                    part
                    for part in (
                        f"objects expire after {expiration} days" if expiration else "objects never expire",
                        f"noncurrent versions after {noncurrent} days" if noncurrent else "",
                        "versioned" if versioning else "not versioned",
                    )
                    if part
                ),
                expiration is not None,
            )
            in_transit = tls_text
            if resource.logical_id in auto_delete:
                on_delete += f"; objects emptied first by {auto_delete[resource.logical_id]}"
        elif resource.type in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            sse = props.get("SSESpecification") or {}
            if is_true(sse.get("SSEEnabled")):
                key = sse.get("KMSMasterKeyId")
                at_rest = (
                    f"SSE-KMS with {_key_label(key)}"
                    if key
                    else "SSE-KMS with aws/dynamodb (AWS managed key)",
                    True,
                )
            else:
                at_rest = ("AWS owned key (DynamoDB default)", True)
            ttl = props.get("TimeToLiveSpecification") or {}
            pitr = is_true(
                (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
            )
            retention = (
                "; ".join(
                    (
                        f"items expire by TTL attribute {ttl.get('AttributeName')}"
                        if is_true(ttl.get("Enabled"))
                        else "no TTL",
                        "point-in-time recovery on" if pitr else "no point-in-time recovery",
                    )
                ),
                # Recoverable to any second of the last 35 days or not (cdk-nag's DynamoDBPITREnabled): turning
                # it off is weaker protection of the table's data, whatever happens to its TTL.
                pitr,
            )
            in_transit = https_api
        elif resource.type == "AWS::Logs::LogGroup":
            at_rest = _kms_or(props.get("KmsKeyId"), ("CloudWatch Logs service-managed keys", False))
            days = props.get("RetentionInDays")
            retention = (
                (f"{render_value(days)} days", True)
                if days
                else ("never expires (no RetentionInDays)", False)
            )
            in_transit = https_api
        elif resource.type == "AWS::SNS::Topic":
            key = props.get("KmsMasterKeyId")
            at_rest = (f"SSE-KMS with {_key_label(key)}", True) if key else ("not encrypted at rest", False)
            retention = ("messages are not stored", None)
            in_transit = tls_text
        elif resource.type == "AWS::SQS::Queue":
            key = props.get("KmsMasterKeyId")
            if key:
                at_rest = (f"SSE-KMS with {_key_label(key)}", True)
            elif "SqsManagedSseEnabled" in props and not is_true(props["SqsManagedSseEnabled"]):
                at_rest = ("not encrypted at rest", False)
            else:
                at_rest = ("SSE-SQS (SQS managed keys)", True)
            retention = (
                f"messages kept {_retention_period(props.get('MessageRetentionPeriod', 345600))}",
                None,
            )
            in_transit = tls_text
        elif resource.type == "AWS::Bedrock::Guardrail":
            at_rest = _kms_or(props.get("KmsKeyArn"), ("AWS owned key (no KmsKeyArn)", None))
            retention = ("policy only, no data", None)
            in_transit = https_api
        elif resource.type == "AWS::Bedrock::Prompt":
            # The system prompt's text, in Bedrock Prompt Management; CustomerEncryptionKeyArn is "the KMS key
            # that the prompt is encrypted with" (AWS::Bedrock::Prompt, CloudFormation template reference).
            at_rest = _kms_or(
                props.get("CustomerEncryptionKeyArn"),
                ("Bedrock's default key (no CustomerEncryptionKeyArn)", None),
            )
            retention = ("the system prompt's text; each published version is a PromptVersion", None)
            in_transit = https_api
        elif resource.type == "AWS::Bedrock::PromptVersion":
            prompt = ref_target(props.get("PromptArn")) or "its prompt"
            at_rest = (f"as {prompt}", None)
            retention = ("a snapshot of the prompt's text at this version", None)
            in_transit = https_api
        elif resource.type == "AWS::KMS::Key":
            rotation = is_true(props.get("EnableKeyRotation"))
            at_rest = (
                f"{props.get('KeySpec', 'SYMMETRIC_DEFAULT')} key, rotation {'on' if rotation else 'off'}",
                rotation or props.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT",
            )
            window = props.get("PendingWindowInDays", 30)
            retention = (f"deletion waits {window} days after the key is scheduled for deletion", None)
            in_transit = ("n/a", None)
        elif resource.stateful:
            at_rest = (NOT_EVALUATED, None)
            retention = (NOT_EVALUATED, None)
            in_transit = (NOT_EVALUATED, None)
        else:
            continue
        found.append(
            Protection(
                logical_id=resource.logical_id,
                type=resource.type,
                at_rest=at_rest[0],
                at_rest_ok=at_rest[1],
                in_transit=in_transit[0],
                in_transit_ok=in_transit[1],
                retention=retention[0],
                retention_ok=retention[1],
                on_delete=on_delete,
                stateful=resource.stateful,
            )
        )
    return found


def diff_protection(now: ProtectionFacts, then: ProtectionFacts, matching: Matching) -> list[Change]:
    changes = []
    before = {p.logical_id: p for p in then.resources}
    for item in now.resources:
        old = before.get(matching.pairs.get(item.logical_id, ""))
        if old is None:
            continue
        for label, a, b, ok_a, ok_b in (
            ("at rest", old.at_rest, item.at_rest, old.at_rest_ok, item.at_rest_ok),
            ("in transit", old.in_transit, item.in_transit, old.in_transit_ok, item.in_transit_ok),
            ("retention", old.retention, item.retention, old.retention_ok, item.retention_ok),
        ):
            if matching.norm_then(a) == matching.norm_now(b):
                continue
            kind = "changed"
            if ok_a and not ok_b:
                kind = "weakened"
            elif ok_b and not ok_a:
                kind = "strengthened"
            elif label == "retention":
                kind = retention_direction(a, b)
            elif label == "at rest" and item.type != "AWS::KMS::Key":
                rank_a, rank_b = encryption_rank(a), encryption_rank(b)
                kind = "weakened" if rank_b < rank_a else ("strengthened" if rank_b > rank_a else kind)
            level = {"weakened": ATTENTION, "strengthened": ROUTINE, "lengthened": ROUTINE}.get(kind, REVIEW)
            changes.append(
                Change(
                    TOPIC.id, item.logical_id, kind, f"{label}: {a} -> {b}", level, item.type, item.stateful
                )
            )
    policies_before = {d.logical_id: d for d in then.on_delete}
    for now_d in now.on_delete:
        old_d = policies_before.get(matching.pairs.get(now_d.logical_id, ""))
        if old_d is None:
            continue
        for label, before_policy, now_policy, on_delete in (
            ("on delete", old_d.deletion_policy, now_d.deletion_policy, True),
            (
                "on replacement (UpdateReplacePolicy)",
                old_d.update_replace_policy,
                now_d.update_replace_policy,
                False,
            ),
        ):
            default_before = default_policy(old_d.type, on_delete=on_delete)
            default_now = default_policy(now_d.type, on_delete=on_delete)
            if (before_policy or default_before) == (now_policy or default_now):
                continue
            kept_before = kept(before_policy, old_d.type, on_delete=on_delete)
            kept_now = kept(now_policy, now_d.type, on_delete=on_delete)
            weaker = kept_now < kept_before
            changes.append(
                Change(
                    TOPIC.id,
                    now_d.logical_id,
                    "weakened" if weaker else ("strengthened" if kept_now > kept_before else "changed"),
                    f"{label}: {before_policy or _default_text(default_before)} -> {now_policy or _default_text(default_now)}",
                    # Data a stack deletion or a replacement would now destroy needs a decision; an equivalent
                    # policy (Retain <-> RetainExceptOnCreate) is a review item, a stronger one routine.
                    level=ATTENTION
                    if weaker and now_d.stateful
                    else (ROUTINE if kept_now > kept_before else REVIEW),
                    type=now_d.type,
                    stateful=now_d.stateful,
                )
            )
    return changes


def _default_text(policy: str) -> str:
    return f"{policy} (CloudFormation default)"


def _ok_cell(text: str, ok: bool | None) -> Cell:
    return cell(text, flag=None if ok is None else (OK if ok else BAD))


def render_protection(facts: ProtectionFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    section.add(
        Paragraph(
            "Per resource that holds data, keys or policy: encryption at rest, in transit (a resource policy that "
            "denies requests without aws:SecureTransport), retention, and what CloudFormation does with it when "
            "the stack or the resource is deleted."
        )
    )
    table = Table(
        "protection-resources", ["Resource", "Type", "At rest", "In transit", "Retention", "On delete"]
    )
    for item in facts.resources:
        retained = item.on_delete.startswith("Retain")
        table.add(
            [
                code(item.logical_id),
                code(item.type),
                _ok_cell(item.at_rest, item.at_rest_ok),
                _ok_cell(item.in_transit, item.in_transit_ok),
                _ok_cell(item.retention, item.retention_ok),
                cell(
                    item.on_delete,
                    flag=(WARN if item.stateful and not retained and facts.production else None),
                    badge="DATA DELETED" if item.stateful and not retained else "",
                ),
            ],
            subjects=[item.logical_id],
            # the cdk-nag rules that would acknowledge a missing protection on this resource
            findings=[
                "S10",
                "SNS3",
                "SQS4",
                "KMS5",
                "S3DefaultEncryptionKMS",
                "S3BucketSSLRequestsOnly",
                "CloudWatchLogGroupEncrypted",
                "CloudWatchLogGroupRetentionPeriod",
            ],
        )
    section.add(table)
    return section


def _encryption_at_rest(facts: ProtectionFacts) -> tuple[str, str]:
    # A stateful resource whose encryption this topic does not read is not shown to be encrypted.
    failures = [
        f"{p.logical_id}: {p.at_rest}" + (f" ({p.type})" if p.at_rest == NOT_EVALUATED else "")
        for p in facts.resources
        if p.at_rest_ok is False or (p.stateful and p.at_rest == NOT_EVALUATED)
    ]
    return verdict(failures, "every stateful resource is encrypted at rest")


def _tls_only_check(facts: ProtectionFacts) -> tuple[str, str]:
    failures = [f"{p.logical_id}: {p.in_transit}" for p in facts.resources if p.in_transit_ok is False]
    return verdict(
        failures, "every bucket and queue denies requests, and every topic publishing, without TLS"
    )


class ProtectionTopic(Topic[ProtectionFacts]):
    id = "protection"
    title = "Data protection"
    covers: ClassVar[Mapping[str, frozenset[str]]] = {
        "AWS::S3::Bucket": frozenset(
            {"BucketEncryption", "LifecycleConfiguration", "VersioningConfiguration"}
        ),
        "AWS::Logs::LogGroup": frozenset({"KmsKeyId", "RetentionInDays"}),
        "AWS::DynamoDB::Table": frozenset(
            {"SSESpecification", "TimeToLiveSpecification", "PointInTimeRecoverySpecification"}
        ),
        "AWS::SNS::Topic": frozenset({"KmsMasterKeyId"}),
        "AWS::SQS::Queue": frozenset({"KmsMasterKeyId", "SqsManagedSseEnabled", "MessageRetentionPeriod"}),
        "AWS::KMS::Key": frozenset({"EnableKeyRotation", "PendingWindowInDays"}),
    }

    def extract(self, env: Environment) -> ProtectionFacts:
        policies = env.extract(access.TOPIC).resource_policies
        return ProtectionFacts(
            tuple(_protection(env.resources, policies)),
            env.production,
            tuple(
                OnDelete(r.logical_id, r.type, r.stateful, r.deletion_policy, r.update_replace_policy)
                for r in env.resources
            ),
        )

    def diff(self, now: ProtectionFacts, then: ProtectionFacts, matching: Matching) -> list[Change]:
        return diff_protection(now, then, matching)

    def render(self, facts: ProtectionFacts, ctx: RenderContext) -> Section:
        return render_protection(facts, ctx)

    def counts(self, facts: ProtectionFacts) -> list[tuple[str, str]]:
        stateful = [p for p in facts.resources if p.stateful]
        retained = sum(1 for p in stateful if p.on_delete.startswith("Retain"))
        return [("Stateful resources", f"{len(stateful)} ({retained} retained on delete)")]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "ENCRYPTION-AT-REST": EvidenceCheck("stateful resources encrypted at rest", _encryption_at_rest),
            "TLS-ONLY": EvidenceCheck("buckets, topics and queues deny non-TLS requests", _tls_only_check),
        }


TOPIC = ProtectionTopic()
