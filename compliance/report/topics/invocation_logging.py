"""Model invocation logging: where Bedrock logs the account's model invocations, for how long, encrypted with
what, and which delivery flags (text, image, embedding, video, audio) are on.

Read from the Create and Update calls of each ``Custom::BedrockModelInvocationLogging`` resource (JSON that
CDK joins with references to the bucket, log group and role; parsed with the references kept as logical
IDs). A delivery flag either call turns on is on: Create sets it on the first deploy, Update on later ones. The
setting is account-wide: ``textDataDeliveryEnabled`` puts every prompt and response of every caller in the
account and region into these logs (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_LoggingConfig.html).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from compliance.report.cfn import parse_joined_json, ref_target, render_value
from compliance.report.document import BAD, WARN, Cell, Paragraph, Section, Table, cell, code
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
from platform_config.markers import INVOCATION_LOGGING_TYPE

DELIVERY_KINDS = ("text", "image", "embedding", "video", "audio")
#: The properties of an S3 lifecycle rule that limit it to some of the bucket's objects.
_RULE_FILTERS = ("Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


@dataclass(frozen=True)
class InvocationLogging:
    stack: str
    logical_id: str
    parse_error: str | None
    s3_bucket: str | None
    s3_prefix: str
    large_data_bucket: str | None
    large_data_prefix: str
    log_group: str | None
    role: str | None
    delivery: dict[str, bool | None]  # text / image / embedding / video / audio -> enabled
    bucket_expiration_days: int | None
    bucket_noncurrent_days: int | None
    log_retention_days: int | None
    bucket_key: str | None
    bucket_encryption: str
    log_group_key: str | None
    on_delete: str
    configuration: Any


@dataclass(frozen=True)
class LoggingFacts:
    settings: tuple[InvocationLogging, ...]

    @property
    def text_delivery(self) -> bool | None:
        """Whether Bedrock logs prompts and responses here: None when no setting is in this environment."""
        if not self.settings:
            return None
        return any(bool(s.delivery.get("text")) for s in self.settings)


def lifecycle_days(bucket: Resource | None) -> tuple[int | None, int | None]:
    """(object expiration, noncurrent version expiration) in days, from the bucket's enabled whole-bucket rules
    (a rule filtered by prefix, tags or object size leaves the other objects kept forever)."""
    if bucket is None:
        return None, None
    expiration: int | None = None
    noncurrent: int | None = None
    for rule in (bucket.properties.get("LifecycleConfiguration") or {}).get("Rules") or []:
        if rule.get("Status") != "Enabled" or any(rule.get(key) for key in _RULE_FILTERS):
            continue
        if isinstance(rule.get("ExpirationInDays"), int):
            expiration = min(expiration or rule["ExpirationInDays"], rule["ExpirationInDays"])
        days = (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")
        if isinstance(days, int):
            noncurrent = min(noncurrent or days, days)
    return expiration, noncurrent


def bucket_encryption(bucket: Resource) -> tuple[str, str | None]:
    """("SSE-KMS" | "SSE-S3" | ..., KMS key logical ID or None)."""
    rules = (bucket.properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    for rule in rules:
        default = rule.get("ServerSideEncryptionByDefault") or {}
        algorithm = str(default.get("SSEAlgorithm", ""))
        if algorithm.startswith("aws:kms"):
            key = default.get("KMSMasterKeyID")
            label = "SSE-KMS (dual-layer)" if algorithm == "aws:kms:dsse" else "SSE-KMS"
            return label, (ref_target(key) or render_value(key)) if key else "aws/s3 (AWS managed key)"
        if algorithm == "AES256":
            return "SSE-S3", None
    return "", None


def _in_force(values: Sequence[Any]) -> bool | None:
    """A delivery flag as the Create and Update calls set it: on if either turns it on, else not stated
    (the service default) if either leaves it out, else off."""
    if any(v is True for v in values):
        return True
    if not values or any(v is None for v in values):
        return None
    return False


def _describe_call(value: Any) -> str:
    if value is None:
        return "nothing (no Delete call)"
    try:
        call, _ = parse_joined_json(value)
    except (ValueError, TypeError):
        return render_value(value)
    if isinstance(call, dict):
        return (
            f"{call.get('service', '?')}:{call.get('action', '?')} {json.dumps(call.get('parameters', {}))}"
        )
    return render_value(value)


def _settings(resources: Sequence[Resource], by_id: Mapping[str, Resource]) -> list[InvocationLogging]:
    found = []
    for resource in resources:
        if resource.type != INVOCATION_LOGGING_TYPE:
            continue
        error: str | None = None
        # The Create call sets the logging on the first deploy, the Update call on every later one: what is
        # in force depends on the stack's history, so a flag either call turns on is on.
        calls: list[tuple[dict[str, Any], dict[str, set[str]]]] = []
        for name in ("Create", "Update"):
            if resource.properties.get(name) is None:
                continue
            try:
                config, call_refs = parse_joined_json(resource.properties[name])
            except (ValueError, TypeError, KeyError) as problem:
                error = error or f"could not parse the {name} call: {problem}"
                continue
            parameters = config.get("parameters") or {} if isinstance(config, dict) else {}
            calls.append((parameters.get("loggingConfig") or {}, call_refs))
        if not calls and error is None:
            error = "no Create or Update call"
        logging_config, refs = calls[0] if calls else ({}, {})

        def target(placeholder: Any, refs: dict[str, set[str]] = refs) -> str | None:
            ids = refs.get(str(placeholder), set())
            return next(iter(ids)) if len(ids) == 1 else (str(placeholder) if placeholder else None)

        s3 = logging_config.get("s3Config") or {}
        # Bedrock's API nests the large-payload bucket in cloudWatchConfig; accept it at the top level too.
        large = (logging_config.get("cloudWatchConfig") or {}).get("largeDataDeliveryS3Config") or (
            logging_config.get("largeDataDeliveryS3Config") or {}
        )
        cloudwatch = logging_config.get("cloudWatchConfig") or {}
        bucket_id = target(s3.get("bucketName"))
        group_id = target(cloudwatch.get("logGroupName"))
        bucket = by_id.get(bucket_id or "")
        group = by_id.get(group_id or "")
        expiration, noncurrent = lifecycle_days(bucket)
        encryption, bucket_key = bucket_encryption(bucket) if bucket else ("", None)
        group_key = group.properties.get("KmsKeyId") if group else None
        found.append(
            InvocationLogging(
                stack=resource.stack,
                logical_id=resource.logical_id,
                parse_error=error,
                s3_bucket=bucket_id,
                s3_prefix=str(s3.get("keyPrefix", "")),
                large_data_bucket=target(large.get("bucketName")),
                large_data_prefix=str(large.get("keyPrefix", "")),
                log_group=group_id,
                role=target(cloudwatch.get("roleArn")),
                delivery={
                    kind: _in_force([c.get(f"{kind}DataDeliveryEnabled") for c, _ in calls])
                    for kind in DELIVERY_KINDS
                },
                bucket_expiration_days=expiration,
                bucket_noncurrent_days=noncurrent,
                log_retention_days=group.properties.get("RetentionInDays") if group else None,
                bucket_key=bucket_key,
                bucket_encryption=encryption,
                log_group_key=(ref_target(group_key) or render_value(group_key)) if group_key else None,
                on_delete=_describe_call(resource.properties.get("Delete")),
                configuration=logging_config,
            )
        )
    return found


# ---------------------------------------------------------------------------------------------------
# Diff


def retention_direction(before: str, after: str) -> str:
    a = re.search(r"\d+", before)
    b = re.search(r"\d+", after)
    if a and b and int(a.group()) != int(b.group()):
        return "shortened" if int(b.group()) < int(a.group()) else "lengthened"
    return "changed"


def diff_logging(now: LoggingFacts, then: LoggingFacts, matching: Matching) -> list[Change]:
    changes = []
    before = {s.logical_id: s for s in then.settings}
    for setting in now.settings:
        old = before.get(matching.pairs.get(setting.logical_id, ""))
        if old is None:
            changes.append(
                Change(
                    TOPIC.id,
                    setting.logical_id,
                    "added",
                    "model invocation logging is now set here, text delivery "
                    + (
                        "ON: every prompt and response in the account is logged"
                        if setting.delivery.get("text")
                        else "off"
                    ),
                    level=ATTENTION,
                    type=INVOCATION_LOGGING_TYPE,
                )
            )
            continue
        for kind in DELIVERY_KINDS:
            a_on, b_on = old.delivery.get(kind), setting.delivery.get(kind)
            if bool(a_on) == bool(b_on):
                continue
            text = kind == "text"
            changes.append(
                Change(
                    TOPIC.id,
                    setting.logical_id,
                    "changed",
                    f"{kind} data delivery {'on' if a_on else 'off'} -> {'on' if b_on else 'off'}"
                    + (
                        (
                            " (every prompt and response in the account is now logged)"
                            if b_on
                            else " (prompts and responses are no longer logged)"
                        )
                        if text
                        else ""
                    ),
                    # Text logging decides whether prompts (personal data, secrets) are kept: always a decision.
                    level=ATTENTION if text else REVIEW,
                    type=INVOCATION_LOGGING_TYPE,
                )
            )
        for label, a_value, b_value in (
            ("S3 destination", old.s3_bucket, setting.s3_bucket),
            ("CloudWatch Logs destination", old.log_group, setting.log_group),
            ("bucket expiration days", old.bucket_expiration_days, setting.bucket_expiration_days),
            ("log retention days", old.log_retention_days, setting.log_retention_days),
            ("bucket key", old.bucket_key, setting.bucket_key),
            ("log group key", old.log_group_key, setting.log_group_key),
        ):
            if matching.norm_then(str(a_value)) == matching.norm_now(str(b_value)):
                continue
            kind = retention_direction(str(a_value), str(b_value)) if "days" in label else "changed"
            moved = "destination" in label
            changes.append(
                Change(
                    TOPIC.id,
                    setting.logical_id,
                    kind,
                    f"invocation logging {label}: {a_value} -> {b_value}"
                    + (
                        " (the record of every model call now goes elsewhere: what protects and keeps it there "
                        "is not this release's; records already delivered stay where they were)"
                        if moved
                        else ""
                    ),
                    # Where the account's record of model calls goes is a decision, like whether it holds text.
                    level=ATTENTION if moved else (ROUTINE if kind == "lengthened" else REVIEW),
                    type=INVOCATION_LOGGING_TYPE,
                )
            )
    paired = {matching.pairs.get(s.logical_id) for s in now.settings}
    for old in then.settings:
        if old.logical_id not in paired:
            changes.append(
                Change(
                    TOPIC.id,
                    old.logical_id,
                    "removed",
                    "model invocation logging is no longer set here: its Delete call turns logging off for the "
                    "account and region",
                    level=ATTENTION,
                    type=INVOCATION_LOGGING_TYPE,
                )
            )
    return changes


# ---------------------------------------------------------------------------------------------------
# Render


def _flag_bool(value: bool | None, on_is_bad: bool = False) -> Cell:
    if value is None:
        # An account-wide flag left out of the call is left to the service default.
        return cell("not set: service default", flag=BAD, badge="NOT STATED")
    return cell("on" if value else "off", flag=(WARN if value and on_is_bad else None))


def render_logging(facts: LoggingFacts, ctx: RenderContext) -> Section:
    sub = Section(TOPIC.id, TOPIC.title)
    sub.add(
        Paragraph(
            "From the Create and Update calls of each Custom::BedrockModelInvocationLogging resource (a delivery flag "
            "either call turns on is on: Create sets it on the first deploy, Update on later ones; JSON that CDK joins with "
            "references to the bucket, log group and role; parsed with the references kept as logical IDs). The "
            "setting is one per account and region: text delivery logs every prompt and response of every caller."
        )
    )
    table = Table(
        "bedrock-logging",
        ["Resource", "Setting", "Value"],
        empty="No invocation logging in this environment.",
    )
    for item in facts.settings:
        rid = code(item.logical_id)
        if item.parse_error:
            table.add([rid, cell("configuration"), cell(item.parse_error, flag=BAD, badge="UNPARSED")])
            continue
        rows: list[tuple[str, Cell]] = [
            ("S3 destination", code(f"{item.s3_bucket} / {item.s3_prefix}" if item.s3_bucket else "none")),
            (
                "large payloads",
                code(
                    f"{item.large_data_bucket} / {item.large_data_prefix}"
                    if item.large_data_bucket
                    else "none"
                ),
            ),
            ("CloudWatch Logs destination", code(item.log_group or "none")),
            ("delivery role", code(item.role or "none")),
            (
                "bucket encryption",
                code(
                    f"{item.bucket_encryption} with {item.bucket_key}"
                    if item.bucket_key
                    else item.bucket_encryption or "none",
                    flag=None if item.bucket_key else WARN,
                ),
            ),
            (
                "log group encryption",
                code(item.log_group_key or "service-managed keys", flag=None if item.log_group_key else WARN),
            ),
            (
                "bucket lifecycle",
                cell(
                    f"objects expire after {item.bucket_expiration_days} days"
                    + (
                        f", noncurrent versions after {item.bucket_noncurrent_days} days"
                        if item.bucket_noncurrent_days
                        else ""
                    )
                    if item.bucket_expiration_days
                    else "objects never expire",
                    flag=None if item.bucket_expiration_days else WARN,
                ),
            ),
            (
                "log group retention",
                cell(
                    f"{item.log_retention_days} days" if item.log_retention_days else "never expires",
                    flag=None if item.log_retention_days else WARN,
                ),
            ),
        ]
        rows.extend(
            (f"{kind} data delivery", _flag_bool(item.delivery.get(kind), on_is_bad=kind == "text"))
            for kind in DELIVERY_KINDS
        )
        rows.append(("on stack deletion", code(item.on_delete)))
        for name, value in rows:
            table.add([rid, cell(name), value], subjects=[item.logical_id])
    sub.add(table)
    return sub


# ---------------------------------------------------------------------------------------------------
# Evidence


def _protected(facts: LoggingFacts) -> tuple[str, str]:
    if not facts.settings:
        return "FAIL", "no invocation logging configured in this environment"
    failures = []
    for item in facts.settings:
        if item.parse_error:
            failures.append(f"{item.logical_id}: {item.parse_error}")
            continue
        if item.s3_bucket and not (item.bucket_key and item.bucket_expiration_days):
            failures.append(f"{item.s3_bucket}: needs SSE-KMS and an expiration")
        if item.log_group and not (item.log_group_key and item.log_retention_days):
            failures.append(f"{item.log_group}: needs a KMS key and a retention")
        if not (item.s3_bucket or item.log_group):
            failures.append(f"{item.logical_id}: no destination")
    return verdict(failures, "every destination is KMS-encrypted and expires")


class LoggingTopic(Topic[LoggingFacts]):
    id = "logging"
    title = "Model invocation logging"
    covers: ClassVar[Mapping[str, frozenset[str]]] = {
        INVOCATION_LOGGING_TYPE: frozenset({"Create", "Update", "Delete"})
    }
    lifecycle: ClassVar[frozenset[str]] = frozenset({INVOCATION_LOGGING_TYPE})

    def extract(self, env: Environment) -> LoggingFacts:
        return LoggingFacts(tuple(_settings(env.resources, env.by_id)))

    def diff(self, now: LoggingFacts, then: LoggingFacts, matching: Matching) -> list[Change]:
        return diff_logging(now, then, matching)

    def render(self, facts: LoggingFacts, ctx: RenderContext) -> Section:
        return render_logging(facts, ctx)

    def counts(self, facts: LoggingFacts) -> list[tuple[str, str]]:
        text = facts.text_delivery
        return [
            (
                "Bedrock invocation logging",
                "not set in this environment"
                if text is None
                else f"{len(facts.settings)} setting, prompt and response text {'LOGGED' if text else 'not logged'}",
            )
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "INVOCATION-LOGGING-PROTECTED": EvidenceCheck(
                "invocation logs KMS-encrypted with retention", _protected
            )
        }


TOPIC = LoggingTopic()
