"""Operations: the alarms per use case (metric, threshold, evaluation, where they notify on ALARM and OK),
the cost budgets, and every consumption limit (token caps, API throttling, usage plan, WAF rate limit,
reserved concurrency)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compliance.report.cfn import as_list, is_true, ref_target, render_value
from compliance.report.document import BAD, WARN, Paragraph, Section, Table, cell, code
from compliance.report.environment import Environment, Resource
from compliance.report.topic import FAIL, PASS, EvidenceCheck, RenderContext, Topic, verdict
from compliance.report.topics import inventory
from compliance.report.topics.access import render_tree

ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")


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
    #: ActionsEnabled false: the alarm changes state but runs none of its actions
    actions_disabled: bool = False


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
class OperationsFacts:
    alarms: tuple[Alarm, ...]
    budgets: tuple[Budget, ...]
    limits: tuple[Limit, ...]
    use_cases: tuple[str, ...]


def _group(resource: Resource, env: Environment) -> str:
    use_case = env.use_case_of(resource.logical_id)
    if use_case:
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


def _alarms(env: Environment) -> list[Alarm]:
    targets = _notification_targets(env.resources)
    alarms = []
    for resource in env.resources:
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
        disabled = not is_true(props.get("ActionsEnabled", True))
        alarms.append(
            Alarm(
                logical_id=resource.logical_id,
                kind="composite" if resource.type.endswith("CompositeAlarm") else "metric",
                group=_group(resource, env),
                description=render_value(props.get("AlarmDescription", "")),
                metric=metric,
                condition=condition,
                evaluation=evaluation,
                notifies=() if disabled else _describe_actions(props.get("AlarmActions"), targets),
                ok_notifies=() if disabled else _describe_actions(props.get("OKActions"), targets),
                actions_disabled=disabled,
            )
        )
    return sorted(alarms, key=lambda a: (a.group, a.kind == "composite", a.logical_id))


def _budgets(env: Environment) -> list[Budget]:
    targets = _notification_targets(env.resources)
    budgets = []
    for resource in env.resources:
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
                group=_group(resource, env),
                limit=f"{render_value(limit.get('Amount'))} {limit.get('Unit', '')} per {budget.get('TimeUnit', '?')}",
                filters=json.dumps(render_tree(budget.get("CostFilters") or {}), sort_keys=True),
                notifications=tuple(notifications),
            )
        )
    return budgets


def _methods_requiring_a_key(resources: Sequence[Resource], plan: Mapping[str, Any]) -> list[str]:
    """The methods of the usage plan's APIs that require an API key. API Gateway applies a usage plan's
    throttle and quota to requests made with one of its API keys, and asks for a key only on a method that
    requires one (ApiKeyRequired): on any other method the plan limits nothing. See "Usage plans and API keys
    for REST APIs in API Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html
    ("Throttling and quota limits apply to requests for individual API keys")."""
    apis = {
        ref_target(stage.get("ApiId")) for stage in as_list(plan.get("ApiStages")) if isinstance(stage, dict)
    }
    return [
        r.logical_id
        for r in resources
        if r.type == "AWS::ApiGateway::Method"
        and ref_target(r.properties.get("RestApiId")) in apis
        and is_true(r.properties.get("ApiKeyRequired"))
    ]


def _resource_path(path: Any) -> str:
    """A MethodSettings ResourcePath as a caller writes it. There "Forward slashes (/) are encoded as ~1"
    (/resource/subresource is written /~1resource~1subresource): AWS::ApiGateway::Stage MethodSetting,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html"""
    text = str(path)
    # "/" then the encoded path; "/*" (every method) and "/" (the root) are written as they are
    return text[1:].replace("~1", "/") if text.startswith("/~1") else text


def _limits(resources: Sequence[Resource], runtime: Sequence[inventory.RuntimeUseCase]) -> list[Limit]:
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
                            f"{setting.get('HttpMethod')} {_resource_path(setting.get('ResourcePath'))}: "
                            f"{setting.get('ThrottlingRateLimit')} requests/s, burst {setting.get('ThrottlingBurstLimit')}",
                        )
                    )
        elif resource.type == "AWS::ApiGateway::UsagePlan":
            throttle = props.get("Throttle") or {}
            quota = props.get("Quota") or {}
            keyed = _methods_requiring_a_key(resources, props)
            limits.append(
                Limit(
                    "API usage plan" if keyed else "API usage plan, not enforced",
                    resource.logical_id,
                    f"{throttle.get('RateLimit')} requests/s, burst {throttle.get('BurstLimit')}; "
                    f"quota {quota.get('Limit')} per {quota.get('Period')}"
                    + (
                        ""
                        if keyed
                        else " (no method requires an API key: the plan's throttle and quota apply to no "
                        "request; the stage's throttling is what limits callers)"
                    ),
                )
            )
        elif resource.type == "AWS::WAFv2::WebACL":
            for rule in props.get("Rules") or []:
                rate = (rule.get("Statement") or {}).get("RateBasedStatement")
                if rate:
                    # A rule whose action is Count only counts the requests over the limit: nothing is limited.
                    counts_only = "Count" in (rule.get("Action") or {})
                    limits.append(
                        Limit(
                            "WAF rate rule, count only" if counts_only else "WAF rate limit",
                            resource.logical_id,
                            f"rule {rule.get('Name')}: {rate.get('Limit')} requests per "
                            f"{rate.get('EvaluationWindowSec', 300)} s per {rate.get('AggregateKeyType')}"
                            + (
                                " (action Count: requests over the limit are counted, not blocked)"
                                if counts_only
                                else ""
                            ),
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


def render_operations(facts: OperationsFacts, ctx: RenderContext) -> Section:
    section = Section(TOPIC.id, TOPIC.title)
    section.add(
        Paragraph(
            "Alarms grouped by use case (logical IDs start with the use case's PascalCase id) or by the platform "
            "construct they belong to; notifications resolve each action to its SNS topic and subscriptions."
        )
    )
    alarms = Table(
        "operations-alarms",
        [
            "Group",
            "Alarm",
            "Kind",
            "Description",
            "Metric or expression",
            "Fires when",
            "Evaluation",
            "Notifies (ALARM)",
            "Notifies (OK)",
        ],
    )
    for alarm in facts.alarms:
        nobody = "nobody (ActionsEnabled false: no action runs)" if alarm.actions_disabled else "nobody"
        alarms.add(
            [
                cell(alarm.group),
                code(alarm.logical_id),
                cell(alarm.kind),
                cell(alarm.description),
                code(alarm.metric),
                code(alarm.condition),
                cell(alarm.evaluation),
                code("\n".join(alarm.notifies) or nobody, flag=None if alarm.notifies else BAD),
                code("\n".join(alarm.ok_notifies) or nobody, flag=None if alarm.ok_notifies else WARN),
            ],
            subjects=[alarm.logical_id],
            findings=["CloudWatchAlarmAction"],
        )
    section.add(alarms)
    budgets = Table(
        "operations-budgets", ["Group", "Budget", "Limit", "Cost filter", "Notifications"], empty="No budget."
    )
    for budget in facts.budgets:
        budgets.add(
            [
                cell(budget.group),
                code(budget.logical_id),
                cell(budget.limit),
                code(budget.filters),
                code("\n".join(budget.notifications)),
            ]
        )
    section.add(budgets)
    limits = Table(
        "operations-limits",
        ["Limit", "Resource", "Setting"],
        caption="Consumption limits",
        empty="No consumption limit.",
    )
    for limit in facts.limits:
        # a limit that limits nothing (a usage plan no method asks a key for, a WAF rule that only counts)
        inert = limit.control.endswith((", not enforced", ", count only"))
        limits.add(
            [cell(limit.control, flag=WARN if inert else None), code(limit.resource), cell(limit.setting)]
        )
    section.add(limits)
    return section


def _per_use_case(facts: OperationsFacts, has: Callable[[str], bool], what: str) -> tuple[str, str]:
    if not facts.use_cases:
        return FAIL, "no use case found in this environment"
    missing = [u for u in facts.use_cases if not has(u)]
    return verdict([f"{u}: no {what}" for u in missing], f"every use case has {what}")


def _limit(kind: str, what: str) -> EvidenceCheck:
    def check(facts: OperationsFacts) -> tuple[str, str]:
        found = [f"{limit.resource}: {limit.setting}" for limit in facts.limits if limit.control == kind]
        return (PASS, "; ".join(found)) if found else (FAIL, f"no {what}")

    return EvidenceCheck(what, check)


def _log_delivery_alarm(facts: OperationsFacts) -> tuple[str, str]:
    found = [a.logical_id for a in facts.alarms if "ModelInvocationLogs" in a.metric and a.notifies]
    return (PASS, f"alarmed by {', '.join(found)}") if found else (FAIL, "no alarm on log delivery failures")


class OperationsTopic(Topic[OperationsFacts]):
    id = "operations"
    title = "Operations"

    def extract(self, env: Environment) -> OperationsFacts:
        runtime = env.extract(inventory.TOPIC).runtime
        return OperationsFacts(
            tuple(_alarms(env)),
            tuple(_budgets(env)),
            tuple(_limits(env.resources, runtime)),
            tuple(env.use_cases),
        )

    def render(self, facts: OperationsFacts, ctx: RenderContext) -> Section:
        return render_operations(facts, ctx)

    def counts(self, facts: OperationsFacts) -> list[tuple[str, str]]:
        silent = sum(1 for a in facts.alarms if not a.notifies)
        return [
            (
                "Alarms and budgets",
                f"{len(facts.alarms)} alarms ({silent} notify nobody), {len(facts.budgets)} budgets",
            )
        ]

    def evidence(self) -> Mapping[str, EvidenceCheck]:
        return {
            "LOG-DELIVERY-ALARM": EvidenceCheck(
                "an alarm on failed invocation log delivery", _log_delivery_alarm
            ),
            "FM-METRIC-ALARMS": EvidenceCheck(
                "each use case alarms on its AWS/Bedrock metrics",
                lambda f: _per_use_case(
                    f,
                    lambda u: any(
                        a.group == u and "AWS/Bedrock" in a.metric and a.notifies for a in f.alarms
                    ),
                    "Bedrock metric alarm",
                ),
            ),
            "TPM-QUOTA-ALARM": EvidenceCheck(
                "each use case alarms on TPM quota usage",
                lambda f: _per_use_case(
                    f,
                    lambda u: any(a.group == u and "EstimatedTPMQuotaUsage" in a.metric for a in f.alarms),
                    "TPM quota alarm",
                ),
            ),
            "BUDGETS": EvidenceCheck(
                "each use case has a cost budget",
                lambda f: _per_use_case(
                    f, lambda u: any(b.group == u or u in b.filters for b in f.budgets), "budget"
                ),
            ),
            "API-THROTTLING": _limit("API throttling", "API stage throttling"),
            "WAF-RATE-LIMIT": _limit("WAF rate limit", "WAF rate-based rule that blocks"),
            "RESERVED-CONCURRENCY": _limit("reserved concurrency", "reserved concurrency"),
        }


TOPIC = OperationsTopic()
