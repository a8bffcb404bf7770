"""The project's own rules over synthesized templates: what no cdk-nag pack checks.

Each rule takes the stacks of a whole cloud assembly and returns findings; an empty list is a pass. They
run at every synth, inside the compliance gate (:mod:`compliance.gate`, a CDK policy-validation plugin),
so ``cdk synth``, ``cdk deploy`` and ``make synth`` all apply them; the tests call them directly on
mutated templates to show that each one fails. Every finding names the resource, the rule and the fix.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from compliance.assembly import GENERIC_CFN_RESOURCE, StackTemplate
from compliance.cfn_values import (
    STABLE_PSEUDO_PARAMETERS,
    as_list,
    is_enabled,
    parse_joined_json,
    partition_of,
    ref_target,
    referenced_ids,
    referenced_pseudo_parameters,
    render_value,
    resolve_value,
)
from compliance.lint import cfn_lint_version, read_cache, write_cache
from compliance.policy_eval import Request, UnsupportedPolicy, evaluate
from platform_config.markers import (
    ENFORCED_GUARDRAIL_OPT_OUT,
    INVOCATION_LOGGING_TYPE,
    LOGGING_DELIVERY_FLAGS,
)

__all__ = [
    "RULES",
    "Finding",
    "as_list",
    "policy_statements",
    "render_value",
    "run_rules",
]

#: Tags every application inference profile must carry for cost allocation.
REQUIRED_COST_TAGS = ("cost-center", "team", "application", "environment", "use-case")
PROMPT_ATTACK_MIN_STRENGTHS = ("MEDIUM", "HIGH")
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
APPLICATION_PROFILE_TYPE = "AWS::Bedrock::ApplicationInferenceProfile"
ENFORCED_GUARDRAIL_TYPE = "AWS::Bedrock::EnforcedGuardrailConfiguration"
#: The log group API Gateway writes a REST API stage's execution logs to (it creates it if it is missing):
#: https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
EXECUTION_LOG_GROUP = "API-Gateway-Execution-Logs_{api}/{stage}"
MIN_OPT_OUT_REASON = 20
_INVOKE_ACTION = re.compile(r"^(\*|bedrock:(invoke|\*|invokemodel\*?).*)$", re.IGNORECASE)
_BROAD_MODEL_RESOURCE = re.compile(
    r"(^\*$|:(foundation-model|inference-profile|application-inference-profile)/\*$|:bedrock:[^:]*:[^:]*:\*$)"
)
_FOUNDATION_MODEL = re.compile(r"^(\*|arn:[^:]+:bedrock:[^:]*::foundation-model/.*)$")
_SYSTEM_PROFILE = re.compile(r"^arn:[^:]+:bedrock:[^:]*:[^:]*:inference-profile/.+$")
_NAMED_PROFILE = re.compile(r"^arn:[^:]+:bedrock:[^:]*:[^:]*:(application-)?inference-profile/[^*?]+$")
_PROFILE_CONDITION_OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")
_NUMERIC_VERSION = re.compile(r"^[1-9][0-9]{0,7}$")
_RETAINED = ("Retain", "RetainExceptOnCreate")


@dataclass(frozen=True)
class Finding:
    rule: str
    stack: str
    resource: str  # logical ID, or "-" when the finding is about the stack or an account and region
    message: str
    fix: str = ""

    def render(self) -> str:
        return f"[{self.rule}] {self.stack}/{self.resource}: {self.message}" + (
            f" Fix: {self.fix}" if self.fix else ""
        )


Rule = Callable[[Sequence[StackTemplate]], list[Finding]]


def policy_statements(stack: StackTemplate) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in identity policies of the stack (inline, managed and role policies)."""
    for logical_id, resource in stack.resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        documents = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props.get("PolicyDocument", {}))
        elif kind == "AWS::IAM::Role":
            documents.extend(p.get("PolicyDocument", {}) for p in props.get("Policies", []) or [])
        for document in documents:
            for statement in as_list(document.get("Statement", [])):
                yield logical_id, statement


def _brief(items: Sequence[str], limit: int = 3) -> str:
    """A short rendering of a long list: the first ``limit`` items and how many more."""
    shown = ", ".join(items[:limit])
    return f"[{shown}{f', ... {len(items) - limit} more' if len(items) > limit else ''}]"


def _resolve(stack: StackTemplate, value: Any) -> Any:
    return resolve_value(
        value, account=stack.account, region=stack.region, partition=partition_of(stack.region)
    )


# ------------------------------------------------------------------------------------------------ Bedrock


def rule_cost_tags(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every application inference profile carries every cost allocation tag, non-empty."""
    findings = []
    for stack in stacks:
        for logical_id, resource in stack.resources_of_type(APPLICATION_PROFILE_TYPE):
            tags = {
                t.get("Key"): t.get("Value") for t in resource.get("Properties", {}).get("Tags", []) or []
            }
            missing = [t for t in REQUIRED_COST_TAGS if not tags.get(t)]
            if missing:
                findings.append(
                    Finding(
                        "BEDROCK-COST-TAGS",
                        stack.name,
                        logical_id,
                        f"inference profile lacks cost allocation tags {missing}",
                        "create profiles with bedrock_constructs.inference_profile.ApplicationInferenceProfile "
                        f"and cost_tags holding {list(REQUIRED_COST_TAGS)}",
                    )
                )
    return findings


def rule_prompt_attack(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every guardrail filters prompt attacks on input (MEDIUM or HIGH) and has a published version
    (reported as BEDROCK-GUARDRAIL-VERSION)."""
    findings = []
    for stack in stacks:
        versioned = {
            render_value(r.get("Properties", {}).get("GuardrailIdentifier"))
            for _, r in stack.resources_of_type("AWS::Bedrock::GuardrailVersion")
        }
        for logical_id, resource in stack.resources_of_type("AWS::Bedrock::Guardrail"):
            filters = resource.get("Properties", {}).get("ContentPolicyConfig", {}).get("FiltersConfig", [])
            strength = next(
                (
                    # a filter turned off on input, or only detecting, blocks no prompt attack
                    f.get("InputStrength")
                    if is_enabled(f.get("InputEnabled")) and f.get("InputAction") != "NONE"
                    else "NONE (turned off or detect only)"
                    for f in filters
                    if f.get("Type") == "PROMPT_ATTACK"
                ),
                None,
            )
            if strength not in PROMPT_ATTACK_MIN_STRENGTHS:
                findings.append(
                    Finding(
                        "BEDROCK-PROMPT-ATTACK",
                        stack.name,
                        logical_id,
                        f"guardrail filters prompt attacks on input at {strength or 'nothing'}; "
                        f"required: {' or '.join(PROMPT_ATTACK_MIN_STRENGTHS)}",
                        "set guardrail.content_filters.PROMPT_ATTACK.input to MEDIUM or HIGH (default HIGH)",
                    )
                )
            if f"<{logical_id}.GuardrailId>" not in versioned:
                findings.append(
                    Finding(
                        "BEDROCK-GUARDRAIL-VERSION",
                        stack.name,
                        logical_id,
                        "guardrail has no published AWS::Bedrock::GuardrailVersion; callers "
                        "would have to use the mutable DRAFT",
                        "create guardrails with bedrock_constructs.guardrail.Guardrail, which publishes a version",
                    )
                )
    return findings


def rule_scoped_invoke(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """No statement grants ``bedrock:*`` or ``*``, or invoke on ``*``, ``foundation-model/*`` or
    ``inference-profile/*``."""
    findings = []
    fix = "grant with GovernedUseCase.grant_invoke / ApplicationInferenceProfile.grant_invoke"
    for stack in stacks:
        for logical_id, statement in policy_statements(stack):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in as_list(statement.get("Action", []))]
            resources = [render_value(r) for r in as_list(statement.get("Resource", []))]
            for action in actions:
                if action in ("*", "bedrock:*"):
                    findings.append(
                        Finding(
                            "BEDROCK-SCOPED-INVOKE",
                            stack.name,
                            logical_id,
                            f"statement allows {action!r}",
                            fix,
                        )
                    )
                elif _INVOKE_ACTION.match(action):
                    broad = [r for r in resources if _BROAD_MODEL_RESOURCE.search(r)]
                    if broad:
                        findings.append(
                            Finding(
                                "BEDROCK-SCOPED-INVOKE",
                                stack.name,
                                logical_id,
                                f"{action} is allowed on {broad}; grant the profiles and "
                                "models a function routes to instead",
                                fix,
                            )
                        )
    return findings


def _profile_condition_values(statement: dict[str, Any]) -> list[Any] | None:
    """The values of a positive ``bedrock:InferenceProfileArn`` condition, or ``None`` if there is none.

    ``...IfExists`` does not count: a direct call carries no such key, so it would pass."""
    for operator, keys in (statement.get("Condition") or {}).items():
        if operator not in _PROFILE_CONDITION_OPERATORS or not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            if key.lower() == "bedrock:inferenceprofilearn":
                return as_list(values)
    return None


def rule_models_via_profiles(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Foundation models are invocable only through this stack's inference profiles: every Allow of an
    invoke action on a foundation model carries a ``bedrock:InferenceProfileArn`` condition naming
    profiles, and an Allow on a system-defined (cross-Region) profile is conditioned on an application
    profile of the stack, so nobody can call around the cost-tagged application profiles."""
    findings = []
    for stack in stacks:
        app_profiles = {lid for lid, _ in stack.resources_of_type(APPLICATION_PROFILE_TYPE)}
        for logical_id, statement in policy_statements(stack):
            if statement.get("Effect") != "Allow":
                continue
            if not any(_INVOKE_ACTION.match(str(a)) for a in as_list(statement.get("Action"))):
                continue
            resources = [str(_resolve(stack, r)) for r in as_list(statement.get("Resource"))]
            models = [r for r in resources if _FOUNDATION_MODEL.match(r)]
            systems = [r for r in resources if _SYSTEM_PROFILE.match(r)]
            if not (models or systems):
                continue
            values = _profile_condition_values(statement)
            targets = {ref_target(v) for v in values or []}
            if models:
                named = values is not None and all(
                    ref_target(v) in app_profiles or _NAMED_PROFILE.match(str(_resolve(stack, v)))
                    for v in values
                )
                if not values or not named:
                    findings.append(
                        Finding(
                            "BEDROCK-MODEL-VIA-PROFILE",
                            stack.name,
                            logical_id,
                            f"invoke on foundation models {_brief(models)} is allowed "
                            + (
                                "without a bedrock:InferenceProfileArn condition"
                                if not values
                                else f"with bedrock:InferenceProfileArn {[render_value(v) for v in values]}, "
                                "which does not name specific inference profiles"
                            )
                            + ": callers can invoke the models directly, bypassing the profiles' cost tags and budgets",
                            "condition the statement on bedrock:InferenceProfileArn naming the profiles "
                            "(ApplicationInferenceProfile.grant_invoke does); see "
                            "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html",
                        )
                    )
            if systems and not (values and targets and targets <= app_profiles):
                findings.append(
                    Finding(
                        "BEDROCK-MODEL-VIA-PROFILE",
                        stack.name,
                        logical_id,
                        f"invoke on system-defined inference profiles {_brief(systems)} is allowed without a "
                        "bedrock:InferenceProfileArn condition naming this stack's application inference "
                        "profiles: callers can use the cross-Region profile directly, outside the cost-tagged "
                        "application profiles",
                        "condition the statement on bedrock:InferenceProfileArn equal to the application "
                        "profiles that copy it (ApplicationInferenceProfile.grant_invoke does)",
                    )
                )
    return findings


def rule_invocation_logging_once(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Model invocation logging is configured exactly once in every account and region that deploys Bedrock
    resources (an account that runs no Bedrock, like the delivery pipeline's, needs no logging setting)."""
    configured: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stack in stacks:
        if any(str(r.get("Type", "")).startswith("AWS::Bedrock::") for r in stack.resources.values()):
            configured.setdefault((stack.account, stack.region), [])
        for logical_id, _ in stack.resources_of_type(INVOCATION_LOGGING_TYPE):
            configured[(stack.account, stack.region)].append(f"{stack.name}/{logical_id}")
    findings = []
    for (account, region), places in sorted(configured.items()):
        if len(places) != 1:
            findings.append(
                Finding(
                    "BEDROCK-INVOCATION-LOGGING",
                    f"aws://{account}/{region}",
                    "-",
                    f"invocation logging is configured {len(places)} times ({', '.join(places) or 'nowhere'}); "
                    "it must be configured exactly once per account and region",
                    "set owns_invocation_logging: true in exactly one environment of that account and region",
                )
            )
    return findings


def _logging_calls(resource: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for when in ("Create", "Update"):
        if when in (resource.get("Properties") or {}):
            yield when, resource["Properties"][when]


def rule_logging_flags(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """The account-wide invocation logging setting states every delivery flag (text, image, embedding,
    video, audio) as true or false, on create and on update: a flag left out is left to the service
    default."""
    findings = []
    for stack in stacks:
        for logical_id, resource in stack.resources_of_type(INVOCATION_LOGGING_TYPE):
            for when, call in _logging_calls(resource):
                try:
                    data, _ = parse_joined_json(call)
                except (ValueError, TypeError) as error:
                    findings.append(
                        Finding(
                            "BEDROCK-LOGGING-FLAGS",
                            stack.name,
                            logical_id,
                            f"the {when} call is not readable JSON ({error})",
                            "create the setting with bedrock_constructs.invocation_logging.InvocationLogging",
                        )
                    )
                    continue
                config = ((data or {}).get("parameters") or {}).get("loggingConfig") or {}
                missing = [f for f in LOGGING_DELIVERY_FLAGS if not isinstance(config.get(f), bool)]
                if missing:
                    findings.append(
                        Finding(
                            "BEDROCK-LOGGING-FLAGS",
                            stack.name,
                            logical_id,
                            f"the {when} call leaves {missing} to the service default; the setting is "
                            "account-wide, so every flag must be stated",
                            "pass text_data, image_data, embedding_data, video_data and audio_data to "
                            "InvocationLogging (PlatformStack derives them from the contracts' logging section)",
                        )
                    )
    return findings


def rule_enforced_guardrail(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every stack that owns the account-and-region Bedrock settings (it sets invocation logging) also
    sets an account-level enforced guardrail on a published, numeric guardrail version, or records an
    opt-out with its reason; no account and region gets two."""
    findings = []
    per_place: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stack in stacks:
        configs = list(stack.resources_of_type(ENFORCED_GUARDRAIL_TYPE))
        versions = {lid: r for lid, r in stack.resources_of_type("AWS::Bedrock::GuardrailVersion")}
        guardrails = {lid for lid, _ in stack.resources_of_type("AWS::Bedrock::Guardrail")}
        owns = any(True for _ in stack.resources_of_type(INVOCATION_LOGGING_TYPE))
        opt_out = (stack.template.get("Metadata") or {}).get(ENFORCED_GUARDRAIL_OPT_OUT) or {}
        reason = str(opt_out.get("opt_out_reason", "")).strip() if isinstance(opt_out, dict) else ""
        for logical_id, resource in configs:
            per_place[(stack.account, stack.region)].append(f"{stack.name}/{logical_id}")
            props = resource.get("Properties") or {}
            version = props.get("GuardrailVersion")
            target = ref_target(version)
            numeric = isinstance(version, str) and _NUMERIC_VERSION.match(version)
            published = target in versions and isinstance(version, dict) and "Fn::GetAtt" in version
            if not (numeric or published):
                findings.append(
                    Finding(
                        "BEDROCK-ENFORCED-GUARDRAIL",
                        stack.name,
                        logical_id,
                        f"enforced guardrail version is {render_value(version)!r}, not a published numeric "
                        "version: a DRAFT can change under every caller in the account",
                        "use the Version attribute of an AWS::Bedrock::GuardrailVersion "
                        "(bedrock_constructs.guardrail.EnforcedGuardrail does)",
                    )
                )
            identifier = ref_target(props.get("GuardrailIdentifier"))
            if published and identifier is not None:
                version_of = ref_target(
                    (versions[str(target)].get("Properties") or {}).get("GuardrailIdentifier")
                )
                if version_of != identifier or identifier not in guardrails:
                    findings.append(
                        Finding(
                            "BEDROCK-ENFORCED-GUARDRAIL",
                            stack.name,
                            logical_id,
                            f"the enforced version {render_value(version)} belongs to guardrail {version_of}, "
                            f"not to the enforced guardrail {identifier}",
                            "enforce a version of the same guardrail",
                        )
                    )
        if owns and not configs and len(reason) < MIN_OPT_OUT_REASON:
            findings.append(
                Finding(
                    "BEDROCK-ENFORCED-GUARDRAIL",
                    stack.name,
                    "-",
                    "this stack owns the account-and-region Bedrock settings but sets no account-level "
                    "enforced guardrail and records no opt-out reason: callers who go around the "
                    "orchestration API reach models with no guardrail at all",
                    "add enforced_guardrail: to the environment file (a baseline policy, or "
                    "opt_out_reason: with at least 20 characters)",
                )
            )
    for (account, region), places in sorted(per_place.items()):
        if len(places) > 1:
            findings.append(
                Finding(
                    "BEDROCK-ENFORCED-GUARDRAIL",
                    f"aws://{account}/{region}",
                    "-",
                    f"the account-level enforced guardrail is set {len(places)} times ({', '.join(places)}); "
                    "the stacks would overwrite each other",
                    "set owns_invocation_logging: true (which owns both account-level settings) in exactly "
                    "one environment of that account and region",
                )
            )
    return findings


# ------------------------------------------------------------------------------------------------ alarms


def rule_alarm_actions(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every alarm notifies someone, both when it fires and when it recovers."""
    findings = []
    for stack in stacks:
        for kind in ALARM_TYPES:
            for logical_id, resource in stack.resources_of_type(kind):
                props = resource.get("Properties", {})
                missing = [key for key in ("AlarmActions", "OKActions") if not props.get(key)]
                if missing or props.get("ActionsEnabled") is False:
                    findings.append(
                        Finding(
                            "ALARM-ACTIONS",
                            stack.name,
                            logical_id,
                            f"alarm has no {' or '.join(missing) or 'enabled actions'}",
                            "create alarms with bedrock_constructs.monitoring.alarms.notifying_alarm",
                        )
                    )
    return findings


def _publishers(stack: StackTemplate) -> Iterator[tuple[str, str, str, Any]]:
    """(source logical ID, service principal, source ARN, topic reference) of every alarm action and
    every budget notification of the stack."""
    partition = partition_of(stack.region)
    for kind in ALARM_TYPES:
        for logical_id, alarm in stack.resources_of_type(kind):
            props = alarm.get("Properties") or {}
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                for action in as_list(props.get(key)):
                    yield (
                        logical_id,
                        "cloudwatch.amazonaws.com",
                        f"arn:{partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{logical_id}",
                        action,
                    )
    for logical_id, budget in stack.resources_of_type("AWS::Budgets::Budget"):
        for notification in as_list((budget.get("Properties") or {}).get("NotificationsWithSubscribers")):
            for subscriber in as_list(notification.get("Subscribers")):
                if subscriber.get("SubscriptionType") == "SNS":
                    yield (
                        logical_id,
                        "budgets.amazonaws.com",
                        f"arn:{partition}:budgets::{stack.account}:budget/{logical_id}",
                        subscriber.get("Address"),
                    )


def _delivery_problem(stack: StackTemplate, service: str, source_arn: str, target: Any) -> str | None:
    """Why ``service`` could not publish to ``target`` on behalf of ``source_arn``, or ``None``."""
    topic_id = ref_target(target)
    rendered = str(_resolve(stack, target))
    if topic_id is None or stack.resources.get(topic_id, {}).get("Type") != "AWS::SNS::Topic":
        if ":sns:" in rendered:
            return f"topic {rendered} is not defined in this stack, so its policy and key cannot be checked"
        return None  # not an SNS action (Auto Scaling, EC2, Lambda, ...)
    context = {"aws:SourceAccount": stack.account, "aws:SourceArn": source_arn, "aws:SecureTransport": "true"}
    principal = ("Service", service)
    policies = [
        resource.get("Properties", {}).get("PolicyDocument", {})
        for _, resource in stack.resources_of_type("AWS::SNS::TopicPolicy")
        if topic_id in {ref_target(t) for t in as_list(resource.get("Properties", {}).get("Topics"))}
    ]
    if len(policies) > 1:
        return f"topic {topic_id} has {len(policies)} topic policies; each replaces the previous one"
    try:
        # Without a topic policy SNS applies its default one, which lets this account's sources publish.
        if policies:
            request = Request(principal, "sns:Publish", f"<{topic_id}>", context)
            result = evaluate(_resolve(stack, policies[0]), request)
            if not result.allowed:
                return (
                    f"the policy of topic {topic_id} does not let {service} publish "
                    f"({result.decision.value}{': ' + ', '.join(result.matched) if result.matched else ''})"
                )
        key = (stack.resources[topic_id].get("Properties") or {}).get("KmsMasterKeyId")
        if key is None:
            return None
        key_id = ref_target(key)
        if key_id is None or stack.resources.get(key_id, {}).get("Type") != "AWS::KMS::Key":
            if "alias/aws/sns" in str(_resolve(stack, key)):
                return (
                    f"topic {topic_id} is encrypted with the AWS managed key alias/aws/sns, whose policy "
                    f"cannot let {service} use it"
                )
            return f"topic {topic_id}'s key {render_value(key)} is not defined in this stack and cannot be checked"
        key_policy = _resolve(stack, (stack.resources[key_id].get("Properties") or {}).get("KeyPolicy") or {})
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            result = evaluate(key_policy, Request(principal, action, f"<{key_id}.Arn>", context))
            if not result.allowed:
                return f"the policy of key {key_id} (topic {topic_id}) does not let {service} {action}"
    except UnsupportedPolicy as error:
        return f"a policy of topic {topic_id} cannot be evaluated: {error}"
    return None


def rule_alarm_delivery(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """Every alarm action and budget notification can be delivered: the topic policy lets the publishing
    service (``cloudwatch.amazonaws.com``, ``budgets.amazonaws.com``) ``sns:Publish`` for this account's
    alarms and budgets, and the topic's KMS key lets it ``kms:GenerateDataKey`` and ``kms:Decrypt``. The
    request is evaluated against the synthesized policies with the context the service sends
    (``aws:SourceAccount``, ``aws:SourceArn``, TLS)."""
    findings = []
    for stack in stacks:
        seen: set[tuple[str, str]] = set()
        for source, service, source_arn, target in _publishers(stack):
            key = (source, render_value(target))
            if key in seen:
                continue
            seen.add(key)
            problem = _delivery_problem(stack, service, source_arn, target)
            if problem:
                findings.append(
                    Finding(
                        "ALARM-DELIVERY",
                        stack.name,
                        source,
                        f"{service} cannot deliver this notification: {problem}",
                        f"allow {service} sns:Publish in the topic policy and kms:GenerateDataKey*/kms:Decrypt "
                        "in the key policy, scoped with aws:SourceAccount and aws:SourceArn "
                        "(bedrock_constructs.monitoring.NotificationTopic does)",
                    )
                )
    return findings


# ------------------------------------------------------------------------------------------- lifecycle


def physical_name_properties(resource_type: str, region: str) -> tuple[str, ...]:
    """The properties that name a resource of ``resource_type``: the writable parts of its primary
    identifier and its create-only ``...Name`` properties, from the CloudFormation resource schema that
    cfn-lint ships. Empty for types without a schema (custom resources). Cached with cfn-lint's results
    (importing cfn-lint's schema manager costs ~5 s; the answer only changes with a cfn-lint release)."""
    key = f"{region} {resource_type}"
    table = _physical_names()
    if key not in table:
        table[key] = list(_schema_physical_names(resource_type, region))
        write_cache(_PHYSICAL_NAMES_CACHE.format(version=cfn_lint_version()), table)
    return tuple(table[key])


_PHYSICAL_NAMES_CACHE = "cfn-lint-{version}/physical-names.json"


@cache
def _physical_names() -> dict[str, list[str]]:
    cached = read_cache(_PHYSICAL_NAMES_CACHE.format(version=cfn_lint_version()))
    return dict(cached) if isinstance(cached, dict) else {}


def _schema_physical_names(resource_type: str, region: str) -> tuple[str, ...]:
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # cfn-lint raises its own errors for unknown types and regions
        return ()

    def top_level(pointers: Any) -> list[str]:
        names = [str(p).removeprefix("/properties/") for p in as_list(pointers)]
        return [n for n in names if "/" not in n]

    read_only = set(top_level(schema.get("readOnlyProperties")))
    names = [n for n in top_level(schema.get("primaryIdentifier")) if n not in read_only]
    names += [
        n for n in top_level(schema.get("createOnlyProperties")) if n.endswith("Name") and n not in names
    ]
    return tuple(names)


def is_fixed(value: Any) -> bool:
    """Whether ``value`` comes out the same every time the stack is created: no resource reference and
    no ``AWS::StackId`` (the only pseudo parameter that is new for every stack creation)."""
    return not referenced_ids(value) and referenced_pseudo_parameters(value) <= STABLE_PSEUDO_PARAMETERS


def rule_retained_fixed_name(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """No resource that outlives its stack (``DeletionPolicy: Retain``) has a fixed physical name: after
    the stack is deleted the retained resource keeps the name, and creating the stack again fails
    ("already exists")."""
    findings = []
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("DeletionPolicy") not in _RETAINED:
                continue
            props = resource.get("Properties") or {}
            for name in physical_name_properties(str(resource.get("Type")), stack.region or "us-east-1"):
                if name in props and is_fixed(props[name]):
                    findings.append(
                        Finding(
                            "RETAINED-FIXED-NAME",
                            stack.name,
                            logical_id,
                            f"{resource.get('Type')} is retained on delete and named "
                            f"{name}={render_value(props[name])!r}: re-creating the stack would fail because "
                            "the retained resource already has that name",
                            "let CloudFormation generate the name, or add a part that is new for every stack "
                            "creation (e.g. from AWS::StackId) after any prefix the service requires",
                        )
                    )
    return findings


def rule_api_execution_logs(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """A REST API stage that writes execution logs writes them to a log group the stack owns (retention,
    KMS key, removal policy), created before the stage: otherwise API Gateway creates
    ``API-Gateway-Execution-Logs_<api>/<stage>`` itself, unencrypted and kept forever."""
    findings = []
    for stack in stacks:
        groups = {
            render_value((r.get("Properties") or {}).get("LogGroupName")): (lid, r)
            for lid, r in stack.resources_of_type("AWS::Logs::LogGroup")
        }
        for logical_id, stage in stack.resources_of_type("AWS::ApiGateway::Stage"):
            props = stage.get("Properties") or {}
            levels = {str(s.get("LoggingLevel", "OFF")) for s in as_list(props.get("MethodSettings"))}
            if not levels - {"OFF"}:
                continue
            name = EXECUTION_LOG_GROUP.format(
                api=render_value(props.get("RestApiId")), stage=render_value(props.get("StageName"))
            )
            owned = groups.get(name)
            fix = (
                f"create the log group {name} with retention and a KMS key in the stack and make the stage "
                "depend on it (OrchestrationApi does), or set the stage's logging level to OFF"
            )
            if owned is None:
                findings.append(
                    Finding(
                        "APIGW-EXECUTION-LOGS",
                        stack.name,
                        logical_id,
                        f"stage logs executions ({', '.join(sorted(levels - {'OFF'}))}) but the stack has no "
                        f"log group {name}: API Gateway would create it without retention or encryption",
                        fix,
                    )
                )
                continue
            group_id, group = owned
            group_props = group.get("Properties") or {}
            missing = [p for p in ("RetentionInDays", "KmsKeyId") if not group_props.get(p)]
            if group_id not in as_list(stage.get("DependsOn")):
                missing.append("DependsOn from the stage")
            if missing:
                findings.append(
                    Finding(
                        "APIGW-EXECUTION-LOGS",
                        stack.name,
                        logical_id,
                        f"the execution log group {group_id} lacks {missing}",
                        fix,
                    )
                )
    return findings


@cache
def l1_class_for(resource_type: str) -> str | None:
    """The jsii name of the aws-cdk-lib L1 class for ``resource_type`` (``AWS::Lambda::Function`` ->
    ``aws-cdk-lib.aws_lambda.CfnFunction``), or ``None`` if aws-cdk-lib has none."""
    parts = resource_type.split("::")
    if len(parts) != 3 or parts[0] != "AWS":
        return None
    module_name = f"aws_{parts[1].lower()}"
    try:
        module = importlib.import_module(f"aws_cdk.{module_name}")
    except ImportError:
        return None
    cls = getattr(module, f"Cfn{parts[2]}", None)
    if cls is None or getattr(cls, "CFN_RESOURCE_TYPE_NAME", None) != resource_type:
        return None
    return f"aws-cdk-lib.{module_name}.Cfn{parts[2]}"


def rule_nag_coverage(stacks: Sequence[StackTemplate]) -> list[Finding]:
    """No resource escapes the cdk-nag packs. cdk-nag walks the construct tree and each rule matches an
    L1 class (``node instanceof CfnFunction``), so a resource created as a bare ``cdk.CfnResource`` of a
    type that has an L1 class (as aws-cdk-lib's own custom-resource providers do) is evaluated by no pack.
    The class of each construct comes from ``tree.json``."""
    findings = []
    for stack in stacks:
        if not stack.construct_classes:
            findings.append(
                Finding(
                    "NAG-COVERAGE",
                    stack.name,
                    "-",
                    "the assembly has no tree.json, so the construct class of each resource is unknown",
                    "synthesize with tree metadata (the default)",
                )
            )
            continue
        for logical_id, resource in stack.resources.items():
            if stack.construct_classes.get(logical_id) != GENERIC_CFN_RESOURCE:
                continue
            l1 = l1_class_for(str(resource.get("Type")))
            if l1 is not None:
                findings.append(
                    Finding(
                        "NAG-COVERAGE",
                        stack.name,
                        logical_id,
                        f"{resource.get('Type')} is a bare CfnResource, not a {l1.split('.', 1)[1]}: "
                        "cdk-nag's rules match L1 classes, so no pack evaluates it",
                        f"create it with {l1.split('.', 1)[1]} (or an L2 built on it); if aws-cdk-lib generates "
                        "it (a custom-resource provider), replace the feature that needs the provider",
                    )
                )
    return findings


RULES: dict[str, Rule] = {
    "BEDROCK-COST-TAGS": rule_cost_tags,
    "BEDROCK-PROMPT-ATTACK": rule_prompt_attack,
    "BEDROCK-SCOPED-INVOKE": rule_scoped_invoke,
    "BEDROCK-MODEL-VIA-PROFILE": rule_models_via_profiles,
    "BEDROCK-INVOCATION-LOGGING": rule_invocation_logging_once,
    "BEDROCK-LOGGING-FLAGS": rule_logging_flags,
    "BEDROCK-ENFORCED-GUARDRAIL": rule_enforced_guardrail,
    "ALARM-ACTIONS": rule_alarm_actions,
    "ALARM-DELIVERY": rule_alarm_delivery,
    "RETAINED-FIXED-NAME": rule_retained_fixed_name,
    "APIGW-EXECUTION-LOGS": rule_api_execution_logs,
    "NAG-COVERAGE": rule_nag_coverage,
}
#: Every rule ID a finding can carry (a rule function may report more than one, as BEDROCK-PROMPT-ATTACK
#: reports BEDROCK-GUARDRAIL-VERSION too).
RULE_IDS = (*RULES, "BEDROCK-GUARDRAIL-VERSION")


def run_rules(stacks: Sequence[StackTemplate]) -> dict[str, list[Finding]]:
    """Every rule's findings, by rule name."""
    return {name: rule(stacks) for name, rule in RULES.items()}
