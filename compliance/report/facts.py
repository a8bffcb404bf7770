"""What one environment of a synthesized cloud assembly deploys, as typed facts a reviewer reads.

Everything here is read from the assembly: the templates, the stack artifacts' metadata (cdk-nag
acknowledgments), ``validation-report.json`` (cdk-nag results) and the staged Lambda assets (the
runtime configuration the orchestrator is deployed with). Nothing is read from the repository's
configuration, so a report is about exactly what would be deployed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.assembly import StackTemplate, load_assembly
from compliance.bedrock_rules import Finding, run_rules
from compliance.report.assembly_meta import Acknowledgment, StackArtifact, stack_artifacts, stage_of
from compliance.report.cfn import (
    as_list,
    is_unrestricted,
    parse_joined_json,
    ref_target,
    render_value,
)
from platform_config.markers import ENFORCED_GUARDRAIL_OPT_OUT, INVOCATION_LOGGING_TYPE
from platform_config.naming import pascal
from platform_spec.fields import SpecError
from platform_spec.runtime import RUNTIME_CONFIG_FILE, read_runtime_config
from platform_spec.runtime import RuntimeUseCase as SpecUseCase

#: The cdk-nag packs ``bedrock_constructs.nag.NAG_PACKS`` runs, by the name their findings carry.
NAG_PACK_NAMES = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless")

#: Resources whose data (or key material) is lost when CloudFormation replaces or deletes them.
STATEFUL_TYPES = frozenset(
    {
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::SQS::Queue",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::EFS::FileSystem",
        "AWS::Kinesis::Stream",
        "AWS::SecretsManager::Secret",
        "AWS::OpenSearchServerless::Collection",
    }
)
PRINCIPAL_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
LOGGING_TYPE = INVOCATION_LOGGING_TYPE
ENFORCED_GUARDRAIL_TYPE = "AWS::Bedrock::EnforcedGuardrailConfiguration"
GEOGRAPHIES = ("us-gov", "us", "eu", "apac", "au", "jp", "ca", "global")
_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[^:]*):(?P<account>[^:]*):(?P<kind>[a-z-]+)/(?P<id>.+)$"
)
_INVOKE = re.compile(r"^(\*|bedrock:\*|bedrock:invoke.*)$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    construct_path: str  # "Prod/Platform/PolicyQa/Guardrail/Resource" ("" when CDK recorded none)
    properties: dict[str, Any]
    deletion_policy: str | None
    update_replace_policy: str | None
    metadata: dict[str, Any]

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES

    @property
    def relative_path(self) -> str:
        """The construct path without the Stage, identical in every environment."""
        return self.construct_path.split("/", 1)[1] if "/" in self.construct_path else self.construct_path

    @property
    def on_delete(self) -> str:
        return self.deletion_policy or "Delete (CloudFormation default)"


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
        return "*" in self.action or "*" in self.resource

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
class Profile:
    stack: str
    logical_id: str
    name: str
    description: str
    source: str
    source_kind: str
    geography: str | None
    model_id: str | None
    regions: tuple[str, ...]
    tags: dict[str, str]
    invokable_by: tuple[str, ...]

    @property
    def use_case(self) -> str:
        return self.tags.get("use-case", "")


@dataclass(frozen=True)
class ContentFilter:
    type: str
    input_strength: str
    output_strength: str
    input_action: str = ""
    output_action: str = ""


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
        for item in self.filters:
            if item.type == filter_type:
                return item.input_strength if direction == "input" else item.output_strength
        return "NONE"


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
class Alarm:
    logical_id: str
    kind: str
    group: str
    description: str
    metric: str
    condition: str
    evaluation: str
    notifies: tuple[str, ...]
    ok_notifies: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    logical_id: str
    group: str
    limit: str
    filters: str
    notifications: tuple[str, ...]


@dataclass(frozen=True)
class Limit:
    control: str
    resource: str
    setting: str


@dataclass(frozen=True)
class RuntimeUseCase:
    """One use case in a function's deployed runtime_config.json (the function's own configuration), read
    with the function's own reader (``platform_spec.runtime``); ``spec`` is None and ``problems`` says why
    when the function would refuse the file."""

    function: str
    use_case: str
    spec: SpecUseCase | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class LintIgnore:
    stack: str
    logical_id: str
    check: str
    reason: str | None


@dataclass(frozen=True)
class NagPackResult:
    pack: str
    findings: tuple[str, ...]
    ran: bool

    @property
    def status(self) -> str:
        if not self.ran:
            return "NOT RUN"
        return "FAIL" if self.findings else "PASS"


@dataclass
class EnvironmentFacts:
    name: str
    assembly: Path
    stacks: list[StackTemplate]
    artifacts: list[StackArtifact]
    resources: list[Resource]
    nag: list[NagPackResult]
    cfn_lint: list[str] | None
    rules: dict[str, list[Finding]]
    principals: list[Principal] = field(default_factory=list)
    resource_policies: list[Statement] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    guardrails: list[Guardrail] = field(default_factory=list)
    invocation_logging: list[InvocationLogging] = field(default_factory=list)
    protection: list[Protection] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    runtime: list[RuntimeUseCase] = field(default_factory=list)
    acknowledgments: list[tuple[Acknowledgment, tuple[str, ...]]] = field(default_factory=list)
    lint_ignores: list[LintIgnore] = field(default_factory=list)
    #: The account-level enforced guardrail (not in ``guardrails``, which are the use cases').
    enforced_guardrails: list[EnforcedGuardrail] = field(default_factory=list)
    enforced_guardrail_opt_outs: list[EnforcedGuardrailOptOut] = field(default_factory=list)

    @property
    def by_id(self) -> dict[str, Resource]:
        return {r.logical_id: r for r in self.resources}

    @property
    def use_cases(self) -> list[str]:
        found = {p.use_case for p in self.profiles if p.use_case}
        found.update(g.tags.get("use-case", "") for g in self.guardrails)
        found.update(r.use_case for r in self.runtime)
        return sorted(u for u in found if u)

    @property
    def accounts(self) -> list[str]:
        return sorted({s.account for s in self.stacks})

    @property
    def regions(self) -> list[str]:
        return sorted({s.region for s in self.stacks})

    @property
    def production(self) -> bool:
        return any(a.termination_protection for a in self.artifacts)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]


# ---------------------------------------------------------------------------------------------------
# Loading


def load_environments(assembly_dir: Path | str) -> dict[str, list[StackTemplate]]:
    """The assembly's stacks grouped by Stage (environment), in stack order."""
    grouped: dict[str, list[StackTemplate]] = defaultdict(list)
    for stack in load_assembly(assembly_dir):
        grouped[stage_of(stack.name)].append(stack)
    return dict(grouped)


def collect(
    assembly_dir: Path | str,
    environment: str,
    *,
    lint: bool | dict[str, list[str]] = True,
    stacks: Sequence[StackTemplate] | None = None,
) -> EnvironmentFacts:
    """The facts of one environment (Stage) of the assembly at ``assembly_dir``.

    ``lint``: ``True`` runs cfn-lint on the environment's templates (``compliance.report.lint.cfn_lint``),
    ``False`` leaves it out (reported as not run), a mapping (stack name -> findings) supplies results
    computed elsewhere.
    """
    directory = Path(assembly_dir)
    environments = load_environments(directory) if stacks is None else {environment: list(stacks)}
    if environment not in environments:
        raise KeyError(
            f"environment {environment!r} is not in {directory} (it has: {', '.join(sorted(environments))})"
        )
    env_stacks = environments[environment]
    artifacts_by_name = stack_artifacts(directory)
    artifacts = [artifacts_by_name[s.name] for s in env_stacks if s.name in artifacts_by_name]
    paths = {
        (artifact.name, logical_id): path
        for artifact in artifacts
        for logical_id, path in artifact.logical_id_paths().items()
    }
    resources = [
        Resource(
            stack=stack.name,
            logical_id=logical_id,
            type=str(resource.get("Type", "")),
            # aws:cdk:path is template metadata only when path metadata is on (the CLI turns it on);
            # the stack artifact's aws:cdk:logicalId metadata always maps construct paths to logical IDs.
            construct_path=str(
                (resource.get("Metadata") or {}).get("aws:cdk:path")
                or paths.get((stack.name, logical_id), "")
            ),
            properties=resource.get("Properties", {}) or {},
            deletion_policy=resource.get("DeletionPolicy"),
            update_replace_policy=resource.get("UpdateReplacePolicy"),
            metadata=resource.get("Metadata", {}) or {},
        )
        for stack in env_stacks
        for logical_id, resource in stack.resources.items()
    ]
    if lint is True:
        from compliance.report.lint import lint_stacks

        lint_results: dict[str, list[str]] | None = lint_stacks(env_stacks)
    elif lint is False:
        lint_results = None
    else:
        lint_results = {
            name: findings for name, findings in lint.items() if name in {s.name for s in env_stacks}
        }
    facts = EnvironmentFacts(
        name=environment,
        assembly=directory,
        stacks=list(env_stacks),
        artifacts=artifacts,
        resources=resources,
        nag=_nag_results(directory, environment),
        cfn_lint=None
        if lint_results is None
        else [line for lines in lint_results.values() for line in lines],
        rules=run_rules(env_stacks),
    )
    by_id = facts.by_id
    facts.principals = _principals(resources, by_id)
    facts.resource_policies = _resource_policies(resources)
    all_guardrails = _guardrails(resources)
    facts.enforced_guardrails = _enforced_guardrails(resources, all_guardrails)
    enforced_ids = {e.guardrail.logical_id for e in facts.enforced_guardrails if e.guardrail}
    facts.guardrails = [g for g in all_guardrails if g.logical_id not in enforced_ids]
    facts.enforced_guardrail_opt_outs = [
        EnforcedGuardrailOptOut(stack.name, str(opt_out.get("opt_out_reason", "")))
        for stack in env_stacks
        if isinstance(opt_out := (stack.template.get("Metadata") or {}).get(ENFORCED_GUARDRAIL_OPT_OUT), dict)
    ]
    facts.profiles = _profiles(resources, facts.principals)
    facts.invocation_logging = _invocation_logging(resources, by_id)
    facts.protection = _protection(resources, facts.resource_policies)
    facts.runtime = _runtime(resources, env_stacks)
    facts.alarms = _alarms(resources, facts.use_cases)
    facts.budgets = _budgets(resources, by_id, facts.use_cases)
    facts.limits = _limits(resources, facts.runtime)
    facts.acknowledgments = _acknowledgments(artifacts, resources)
    facts.lint_ignores = _lint_ignores(env_stacks)
    return facts


def _nag_results(directory: Path, environment: str) -> list[NagPackResult]:
    report_path = directory / "validation-report.json"
    if not report_path.is_file():
        return [NagPackResult(pack, (), ran=False) for pack in NAG_PACK_NAMES]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    failures: dict[str, list[str]] = defaultdict(list)
    for plugin in report.get("pluginReports", []):
        name = str(plugin.get("pluginName", "?"))
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                path = str(construct.get("constructPath", ""))
                if stage_of(path.lstrip("/")) == environment or "/" not in path.lstrip("/"):
                    failures[name].append(f"{violation.get('ruleName')} on {path}")
        if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
            failures[name].append("failed without reporting violations")
    packs = list(NAG_PACK_NAMES) + sorted(set(failures) - set(NAG_PACK_NAMES))
    return [NagPackResult(pack, tuple(failures.get(pack, [])), ran=True) for pack in packs]


# ---------------------------------------------------------------------------------------------------
# IAM


def _statements(document: Any, holder: str, source: str, *, resource_policy: bool = False) -> list[Statement]:
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
                condition=json.dumps(_render_tree(raw["Condition"]), sort_keys=True)
                if raw.get("Condition")
                else "",
                principal=_render_principal(principal) if resource_policy or principal is not None else "",
                negated=negated,
            )
        )
    return found


def _render_tree(value: Any) -> Any:
    """A value with every intrinsic rendered, so it compares and prints as plain data."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            return render_value(value)
        return {key: _render_tree(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_render_tree(child) for child in value]
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


def _principals(resources: Sequence[Resource], by_id: dict[str, Resource]) -> list[Principal]:
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
                _statements(resource.properties.get("PolicyDocument"), holder, resource.logical_id)
            )
    principals = []
    for resource in resources:
        if resource.type not in PRINCIPAL_TYPES:
            continue
        props = resource.properties
        statements = list(attached.get(resource.logical_id, []))
        for policy in as_list(props.get("Policies")):
            if isinstance(policy, dict):
                name = render_value(policy.get("PolicyName", "inline"))
                statements.extend(
                    _statements(
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
                    statements.extend(
                        _statements(
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
            for statement in _statements(props.get("AssumeRolePolicyDocument"), resource.logical_id, "trust")
        ]
        principals.append(
            Principal(resource.logical_id, resource.type, tuple(trust), tuple(managed), tuple(statements))
        )
    known = {p.logical_id for p in principals}
    for holder, statements in sorted(attached.items()):
        if holder not in known:
            principals.append(Principal(holder, "(not in this template)", (), (), tuple(statements)))
    return principals


_RESOURCE_POLICY_PROPERTIES = {
    "AWS::S3::BucketPolicy": ("Bucket", "PolicyDocument"),
    "AWS::SNS::TopicPolicy": ("Topics", "PolicyDocument"),
    "AWS::SQS::QueuePolicy": ("Queues", "PolicyDocument"),
    "AWS::KMS::Key": (None, "KeyPolicy"),
    "AWS::Logs::ResourcePolicy": (None, "PolicyDocument"),
}


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
                found.extend(_statements(document, target, resource.logical_id, resource_policy=True))
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


def _tls_only(statements: Iterable[Statement]) -> Statement | None:
    for statement in statements:
        if statement.effect != "Deny" or not statement.condition:
            continue
        condition = json.loads(statement.condition)
        secure = condition.get("Bool", {}).get("aws:SecureTransport")
        if str(secure).lower() == "false":
            return statement
    return None


# ---------------------------------------------------------------------------------------------------
# Bedrock


def parse_model_source(source: str) -> tuple[str, str | None, str | None]:
    """(kind, geography, model id) of an inference profile's ``ModelSource.CopyFrom`` ARN."""
    match = _MODEL_ARN.match(source)
    if not match:
        return ("unresolved (token)" if source.startswith("<") else "unrecognised", None, None)
    kind, identifier = match["kind"], match["id"]
    if kind == "foundation-model":
        return ("foundation model (in-region)", None, identifier)
    if kind == "inference-profile":
        prefix, _, rest = identifier.partition(".")
        if prefix in GEOGRAPHIES and rest:
            label = "global cross-region" if prefix == "global" else f"{prefix} cross-region"
            return (f"{label} inference profile", prefix, rest)
        return ("inference profile", None, identifier)
    return (kind.replace("-", " "), None, None)


def model_regions(model_id: str, principals: Sequence[Principal]) -> tuple[str, ...]:
    """Regions any principal may invoke ``model_id`` in, read from its Allow grants on foundation-model
    ARNs. ``*`` (a wildcard region) and ``(no region)`` (the region-less ARN global profiles use) are
    kept as they are: a reviewer must see them."""
    regions: set[str] = set()
    for principal in principals:
        for grant in principal.grants():
            if grant.effect != "Allow" or not _INVOKE.match(grant.action):
                continue
            match = _MODEL_ARN.match(grant.resource)
            if match and match["kind"] == "foundation-model" and fnmatch.fnmatchcase(model_id, match["id"]):
                regions.add(match["region"] or "(no region)")
            elif grant.resource == "*":
                regions.add("*")
    return tuple(sorted(regions, key=lambda r: (r.startswith(("*", "(")), r)))


def _tags(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): render_value(v) for k, v in value.items()}
    return {str(t.get("Key")): render_value(t.get("Value")) for t in as_list(value) if isinstance(t, dict)}


def _profiles(resources: Sequence[Resource], principals: Sequence[Principal]) -> list[Profile]:
    profiles = []
    for resource in resources:
        if resource.type != "AWS::Bedrock::ApplicationInferenceProfile":
            continue
        props = resource.properties
        source = render_value((props.get("ModelSource") or {}).get("CopyFrom", ""))
        kind, geography, model_id = parse_model_source(source)
        invokers = sorted(
            {
                principal.logical_id
                for principal in principals
                for grant in principal.grants()
                if grant.effect == "Allow"
                and _INVOKE.match(grant.action)
                and (grant.resource == "*" or f"<{resource.logical_id}." in grant.resource)
            }
        )
        profiles.append(
            Profile(
                stack=resource.stack,
                logical_id=resource.logical_id,
                name=render_value(props.get("InferenceProfileName", "")),
                description=render_value(props.get("Description", "")),
                source=source,
                source_kind=kind,
                geography=geography,
                model_id=model_id,
                regions=model_regions(model_id, principals) if model_id else (),
                tags=_tags(props.get("Tags")),
                invokable_by=tuple(invokers),
            )
        )
    return profiles


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
        if resource.type != "AWS::Bedrock::Guardrail":
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
                tags=_tags(props.get("Tags")),
            )
        )
    return guardrails


def _enforced_guardrails(
    resources: Sequence[Resource], guardrails: Sequence[Guardrail]
) -> list[EnforcedGuardrail]:
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


def _lifecycle_days(bucket: Resource | None) -> tuple[int | None, int | None]:
    if bucket is None:
        return None, None
    expiration: int | None = None
    noncurrent: int | None = None
    for rule in (bucket.properties.get("LifecycleConfiguration") or {}).get("Rules") or []:
        if rule.get("Status") != "Enabled" or rule.get("Prefix") or rule.get("TagFilters"):
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


def _invocation_logging(resources: Sequence[Resource], by_id: dict[str, Resource]) -> list[InvocationLogging]:
    found = []
    for resource in resources:
        if resource.type != LOGGING_TYPE:
            continue
        error: str | None = None
        config: Any = {}
        refs: dict[str, set[str]] = {}
        try:
            config, refs = parse_joined_json(
                resource.properties.get("Create") or resource.properties.get("Update")
            )
        except (ValueError, TypeError, KeyError) as problem:
            error = f"could not parse the Create call: {problem}"
        logging_config = (
            (config.get("parameters") or {}).get("loggingConfig") or {} if isinstance(config, dict) else {}
        )

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
        expiration, noncurrent = _lifecycle_days(bucket)
        encryption, bucket_key = bucket_encryption(bucket) if bucket else ("", None)
        group_key = group.properties.get("KmsKeyId") if group else None
        delete = resource.properties.get("Delete")
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
                    kind: logging_config.get(f"{kind}DataDeliveryEnabled")
                    for kind in ("text", "image", "embedding", "video", "audio")
                },
                bucket_expiration_days=expiration,
                bucket_noncurrent_days=noncurrent,
                log_retention_days=group.properties.get("RetentionInDays") if group else None,
                bucket_key=bucket_key,
                bucket_encryption=encryption,
                log_group_key=(ref_target(group_key) or render_value(group_key)) if group_key else None,
                on_delete=_describe_call(delete),
                configuration=logging_config,
            )
        )
    return found


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


# ---------------------------------------------------------------------------------------------------
# Data protection


def _key_label(value: Any) -> str:
    return ref_target(value) or render_value(value)


def _protection(resources: Sequence[Resource], policies: Sequence[Statement]) -> list[Protection]:
    policies_by_target: dict[str, list[Statement]] = defaultdict(list)
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
        tls = _tls_only(policies_by_target.get(resource.logical_id, []))
        tls_text: tuple[str, bool | None] = (
            (f"TLS only: {tls.source} denies requests without aws:SecureTransport", True)
            if tls
            else ("no aws:SecureTransport deny in a resource policy", False)
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
            expiration, noncurrent = _lifecycle_days(resource)
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
            if sse.get("SSEEnabled"):
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
            pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
            retention = (
                "; ".join(
                    (
                        f"items expire by TTL attribute {ttl.get('AttributeName')}"
                        if ttl.get("Enabled")
                        else "no TTL",
                        "point-in-time recovery on" if pitr else "no point-in-time recovery",
                    )
                ),
                None,
            )
            in_transit = https_api
        elif resource.type == "AWS::Logs::LogGroup":
            key = props.get("KmsKeyId")
            at_rest = (
                (f"KMS with {_key_label(key)}", True)
                if key
                else ("CloudWatch Logs service-managed keys", False)
            )
            days = props.get("RetentionInDays")
            retention = (f"{days} days", True) if days else ("never expires (no RetentionInDays)", False)
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
            elif props.get("SqsManagedSseEnabled") is False:
                at_rest = ("not encrypted at rest", False)
            else:
                at_rest = ("SSE-SQS (SQS managed keys)", True)
            seconds = props.get("MessageRetentionPeriod", 345600)
            retention = (f"messages kept {int(seconds) // 86400} days", None)
            in_transit = tls_text
        elif resource.type == "AWS::Bedrock::Guardrail":
            key = props.get("KmsKeyArn")
            at_rest = (f"KMS with {_key_label(key)}", True) if key else ("AWS owned key (no KmsKeyArn)", None)
            retention = ("policy only, no data", None)
            in_transit = https_api
        elif resource.type == "AWS::KMS::Key":
            rotation = props.get("EnableKeyRotation")
            at_rest = (
                f"{props.get('KeySpec', 'SYMMETRIC_DEFAULT')} key, rotation {'on' if rotation else 'off'}",
                bool(rotation) or props.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT",
            )
            window = props.get("PendingWindowInDays", 30)
            retention = (f"deletion waits {window} days after the key is scheduled for deletion", None)
            in_transit = ("n/a", None)
        elif resource.stateful:
            at_rest = ("not evaluated for this type", None)
            retention = ("not evaluated for this type", None)
            in_transit = ("not evaluated for this type", None)
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


# ---------------------------------------------------------------------------------------------------
# Operations


def _group(resource: Resource, use_cases: Sequence[str]) -> str:
    for use_case in sorted(use_cases, key=len, reverse=True):
        if resource.logical_id.startswith(pascal(use_case)):
            return use_case
    parts = resource.construct_path.split("/")
    return parts[2] if len(parts) > 3 else "(stack)"


def _metric_stat(stat: dict[str, Any]) -> str:
    metric = stat.get("Metric") or {}
    dimensions = ", ".join(
        f"{d.get('Name')}={render_value(d.get('Value'))}" for d in metric.get("Dimensions") or []
    )
    return (
        f"{metric.get('Namespace')} {metric.get('MetricName')} {stat.get('Stat')} per {stat.get('Period')}s"
        + (f" ({dimensions})" if dimensions else "")
    )


def _describe_metric(props: dict[str, Any]) -> str:
    if props.get("Metrics"):
        lines = []
        for metric in props["Metrics"]:
            if metric.get("Expression"):
                lines.append(
                    f"{metric.get('Id')} = {metric['Expression']}"
                    + (f"  [{metric['Label']}]" if metric.get("Label") else "")
                )
            elif metric.get("MetricStat"):
                lines.append(f"{metric.get('Id')} = {_metric_stat(metric['MetricStat'])}")
        return "\n".join(lines)
    dimensions = ", ".join(
        f"{d.get('Name')}={render_value(d.get('Value'))}" for d in props.get("Dimensions") or []
    )
    statistic = props.get("ExtendedStatistic") or props.get("Statistic")
    return f"{props.get('Namespace')} {props.get('MetricName')} {statistic} per {props.get('Period')}s" + (
        f" ({dimensions})" if dimensions else ""
    )


def _notification_targets(resources: Sequence[Resource]) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        if resource.type == "AWS::SNS::Subscription":
            topic = ref_target(resource.properties.get("TopicArn"))
            if topic:
                targets[topic].append(
                    f"{resource.properties.get('Protocol')} {render_value(resource.properties.get('Endpoint'))}"
                )
        elif resource.type == "AWS::SNS::Topic":
            for subscription in resource.properties.get("Subscription") or []:
                targets[resource.logical_id].append(
                    f"{subscription.get('Protocol')} {render_value(subscription.get('Endpoint'))}"
                )
    return targets


def _describe_actions(actions: Any, targets: dict[str, list[str]]) -> tuple[str, ...]:
    described = []
    for action in as_list(actions):
        topic = ref_target(action)
        if topic:
            endpoints = targets.get(topic) or ["no subscriptions in this template"]
            described.append(f"{topic} -> {'; '.join(endpoints)}")
        else:
            described.append(render_value(action))
    return tuple(described)


def _alarms(resources: Sequence[Resource], use_cases: Sequence[str]) -> list[Alarm]:
    targets = _notification_targets(resources)
    alarms = []
    for resource in resources:
        if resource.type not in ALARM_TYPES:
            continue
        props = resource.properties
        if resource.type == "AWS::CloudWatch::CompositeAlarm":
            metric = render_value(props.get("AlarmRule", ""))
            condition = "rule is true"
            evaluation = "on every child alarm state change"
        else:
            metric = _describe_metric(props)
            condition = f"{props.get('ComparisonOperator')} {props.get('Threshold')}"
            datapoints = props.get("DatapointsToAlarm", props.get("EvaluationPeriods"))
            evaluation = (
                f"{datapoints} of {props.get('EvaluationPeriods')} periods; missing data: "
                f"{props.get('TreatMissingData', 'missing')}"
            )
        alarms.append(
            Alarm(
                logical_id=resource.logical_id,
                kind="composite" if resource.type.endswith("CompositeAlarm") else "metric",
                group=_group(resource, use_cases),
                description=render_value(props.get("AlarmDescription", "")),
                metric=metric,
                condition=condition,
                evaluation=evaluation,
                notifies=_describe_actions(props.get("AlarmActions"), targets),
                ok_notifies=_describe_actions(props.get("OKActions"), targets),
            )
        )
    return sorted(alarms, key=lambda a: (a.group, a.kind == "composite", a.logical_id))


def _budgets(
    resources: Sequence[Resource], by_id: dict[str, Resource], use_cases: Sequence[str]
) -> list[Budget]:
    targets = _notification_targets(resources)
    budgets = []
    for resource in resources:
        if resource.type != "AWS::Budgets::Budget":
            continue
        budget = resource.properties.get("Budget") or {}
        limit = budget.get("BudgetLimit") or {}
        notifications = []
        for item in resource.properties.get("NotificationsWithSubscribers") or []:
            notification = item.get("Notification") or {}
            subscribers = [
                _describe_actions(s.get("Address"), targets)[0]
                if s.get("SubscriptionType") == "SNS"
                else f"{s.get('SubscriptionType')} {render_value(s.get('Address'))}"
                for s in item.get("Subscribers") or []
            ]
            notifications.append(
                f"{notification.get('NotificationType')} {notification.get('ComparisonOperator')} "
                f"{notification.get('Threshold')}{'%' if notification.get('ThresholdType') == 'PERCENTAGE' else ''}"
                f" -> {'; '.join(subscribers)}"
            )
        budgets.append(
            Budget(
                logical_id=resource.logical_id,
                group=_group(resource, use_cases),
                limit=f"{render_value(limit.get('Amount'))} {limit.get('Unit', '')} per {budget.get('TimeUnit', '?')}",
                filters=json.dumps(_render_tree(budget.get("CostFilters") or {}), sort_keys=True),
                notifications=tuple(notifications),
            )
        )
    return budgets


def _published_assets(stack: StackTemplate) -> dict[str, Path]:
    """Staged asset directories by the S3 object key they are published to (from ``*.assets.json``)."""
    found: dict[str, Path] = {}
    for manifest in stack.path.parent.glob("*.assets.json"):
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for entry in files.values():
            source = manifest.parent / str((entry.get("source") or {}).get("path", ""))
            for destination in (entry.get("destinations") or {}).values():
                found[str(destination.get("objectKey"))] = source.resolve()
    return found


def _runtime(resources: Sequence[Resource], stacks: Sequence[StackTemplate]) -> list[RuntimeUseCase]:
    """Use cases in every Lambda asset's ``runtime_config.json`` (the orchestrator's deployed config).

    The asset is the one published to the function's ``Code.S3Key`` (or, with asset metadata on, the one
    its ``aws:asset:path`` names)."""
    stack_dirs = {stack.name: stack.path.parent for stack in stacks}
    published = {stack.name: _published_assets(stack) for stack in stacks}
    found = []
    for resource in resources:
        if resource.type != "AWS::Lambda::Function":
            continue
        key = (resource.properties.get("Code") or {}).get("S3Key")
        if isinstance(key, str) and key in published[resource.stack]:
            asset = published[resource.stack][key]
        elif "aws:asset:path" in resource.metadata:
            asset = (stack_dirs[resource.stack] / str(resource.metadata["aws:asset:path"])).resolve()
        else:
            continue
        if not asset.is_dir():
            continue
        for config_file in sorted(asset.glob(f"**/{RUNTIME_CONFIG_FILE}")):
            try:
                parsed = read_runtime_config(config_file)
            except SpecError as error:
                try:
                    raw = json.loads(config_file.read_text(encoding="utf-8")).get("use_cases") or {}
                except (ValueError, AttributeError):
                    raw = {}
                for use_case in sorted(raw) or ["(unreadable)"]:
                    found.append(RuntimeUseCase(resource.logical_id, use_case, None, error.problems))
                continue
            for use_case, spec in sorted(parsed.use_cases.items()):
                found.append(RuntimeUseCase(resource.logical_id, use_case, spec))
    return found


def _limits(resources: Sequence[Resource], runtime: Sequence[RuntimeUseCase]) -> list[Limit]:
    limits = []
    for item in runtime:
        if item.spec is None:
            continue
        caps = item.spec.contract.limits
        limits.append(
            Limit(
                f"token caps ({item.use_case})",
                item.function,
                f"max input {caps.max_input_tokens} tokens, max output {caps.max_output_tokens} tokens",
            )
        )
    for resource in resources:
        props = resource.properties
        if resource.type == "AWS::ApiGateway::Stage":
            for setting in props.get("MethodSettings") or []:
                if "ThrottlingRateLimit" in setting or "ThrottlingBurstLimit" in setting:
                    limits.append(
                        Limit(
                            "API throttling",
                            resource.logical_id,
                            f"{setting.get('HttpMethod')} {setting.get('ResourcePath')}: "
                            f"{setting.get('ThrottlingRateLimit')} requests/s, burst {setting.get('ThrottlingBurstLimit')}",
                        )
                    )
        elif resource.type == "AWS::ApiGateway::UsagePlan":
            throttle = props.get("Throttle") or {}
            quota = props.get("Quota") or {}
            limits.append(
                Limit(
                    "API usage plan",
                    resource.logical_id,
                    f"{throttle.get('RateLimit')} requests/s, burst {throttle.get('BurstLimit')}; "
                    f"quota {quota.get('Limit')} per {quota.get('Period')}",
                )
            )
        elif resource.type == "AWS::WAFv2::WebACL":
            for rule in props.get("Rules") or []:
                rate = (rule.get("Statement") or {}).get("RateBasedStatement")
                if rate:
                    limits.append(
                        Limit(
                            "WAF rate limit",
                            resource.logical_id,
                            f"rule {rule.get('Name')}: {rate.get('Limit')} requests per "
                            f"{rate.get('EvaluationWindowSec', 300)} s per {rate.get('AggregateKeyType')}",
                        )
                    )
        elif resource.type == "AWS::Lambda::Function" and "ReservedConcurrentExecutions" in props:
            limits.append(
                Limit(
                    "reserved concurrency",
                    resource.logical_id,
                    f"at most {props['ReservedConcurrentExecutions']} concurrent executions",
                )
            )
    return limits


# ---------------------------------------------------------------------------------------------------
# Acknowledgments and ignores


def _acknowledgments(
    artifacts: Sequence[StackArtifact], resources: Sequence[Resource]
) -> list[tuple[Acknowledgment, tuple[str, ...]]]:
    found = []
    for artifact in artifacts:
        paths = [(f"/{r.construct_path}", r.logical_id) for r in resources if r.stack == artifact.name]
        for ack in artifact.acknowledgments():
            covered = tuple(
                logical_id
                for path, logical_id in paths
                if path == ack.construct_path or path.startswith(ack.construct_path + "/")
            )
            found.append((ack, covered))
    return sorted(found, key=lambda item: (item[0].construct_path, item[0].finding))


def _lint_ignores(stacks: Sequence[StackTemplate]) -> list[LintIgnore]:
    from compliance.report.lint import REASONS_KEY

    found = []
    for stack in stacks:
        template_config = (stack.template.get("Metadata") or {}).get("cfn-lint") or {}
        for check in (template_config.get("config") or {}).get("ignore_checks") or []:
            found.append(LintIgnore(stack.name, "(whole template)", str(check), None))
        for logical_id, resource in stack.resources.items():
            metadata = resource.get("Metadata") or {}
            config = (metadata.get("cfn-lint") or {}).get("config") or {}
            reasons = metadata.get(REASONS_KEY) or {}
            for check in config.get("ignore_checks") or []:
                found.append(LintIgnore(stack.name, logical_id, str(check), reasons.get(check)))
    return found
