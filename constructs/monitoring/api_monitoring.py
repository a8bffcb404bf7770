"""Alarms and the dashboard row of the orchestration API, from the metrics its parts expose."""

from __future__ import annotations

from dataclasses import dataclass, replace

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns

from bedrock_constructs.metrics import DEFAULT_PERIOD
from bedrock_constructs.monitoring.alarms import notifying_alarm
from bedrock_constructs.monitoring.dashboard import PlatformDashboard, cache_hit_ratio
from bedrock_constructs.orchestration_api import OrchestrationApi
from constructs import Construct
from platform_spec.api import API_GATEWAY_TIMEOUT_S, Metric

#: The orchestration API's alarms that are no canary's rollback alarm (``MonitoringFacade.critical_alarms``):
#: ``FunctionErrors`` sums every version's errors (the canary bake judges each version's own instead);
#: ``IdempotencySaveFailures`` is the idempotency table's health, which rolling a release back does not fix.
NOT_ROLLBACK_ALARMS = ("FunctionErrors", "IdempotencySaveFailures")


@dataclass(frozen=True)
class ApiAlarmSettings:
    """Thresholds of the orchestration API's alarms; the defaults are what this project deploys."""

    #: 5xx answers per period above which ``Api5xx`` fires.
    server_errors: float = 5
    #: ``ApiLatencyP95`` fires above this p95: close to API Gateway's 29 s integration timeout.
    latency_p95_ms: float = 25_000
    period: cdk.Duration = DEFAULT_PERIOD
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2

    def with_overrides(self, **changes: object) -> ApiAlarmSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


class OrchestrationApiMonitoring(Construct):
    """Alarms on an :class:`OrchestrationApi` (each with ALARM and OK actions to ``topic``) and, with a
    dashboard, its "Orchestration API" row:

    - ``FunctionErrors``: the orchestrator raised unhandled errors (upstream faults are answered, not
      raised, so any is a bug);
    - ``FunctionThrottles``: Lambda throttled the orchestrator (its reserved concurrency is exhausted);
    - ``Api5xx``: the API answered more than ``server_errors`` 5xx in a period;
    - ``ApiLatencyP95``: the API's p95 latency above ``latency_p95_ms``;
    - ``IdempotencySaveFailures`` (where a use case accepts an Idempotency-Key): the orchestrator answered
      but could not save the idempotency record in a period (the caller got the answer; a retry with the
      same key calls Bedrock again), i.e. the idempotency table is failing.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api: OrchestrationApi,
        topic: sns.ITopic,
        dashboard: PlatformDashboard | None = None,
        settings: ApiAlarmSettings | None = None,
    ) -> None:
        super().__init__(scope, id)
        s = self.settings = settings or ApiAlarmSettings()
        function, rest_api = api.orchestrator, api.rest_api
        minutes = f"{s.period.to_minutes():g} minutes"
        specs: dict[str, tuple[cloudwatch.IMetric, float, str]] = {
            "FunctionErrors": (
                function.metric_errors(period=s.period),
                0,
                "orchestrator Lambda raised unhandled errors (bugs: upstream faults are answered, not raised)",
            ),
            "FunctionThrottles": (
                function.metric_throttles(period=s.period),
                0,
                "orchestrator Lambda throttled: its reserved concurrency is exhausted",
            ),
            "Api5xx": (
                rest_api.metric_server_error(period=s.period),
                s.server_errors,
                f"API answered more than {s.server_errors:g} 5xx in {minutes}",
            ),
            "ApiLatencyP95": (
                rest_api.metric_latency(period=s.period, statistic="p95"),
                s.latency_p95_ms,
                f"API p95 latency above {s.latency_p95_ms / 1000:g} s: close to API Gateway's "
                f"{API_GATEWAY_TIMEOUT_S} s timeout",
            ),
        }
        self.alarms: dict[str, cloudwatch.Alarm] = {
            name: notifying_alarm(
                self,
                f"{name}Alarm",
                metric=metric,
                threshold=threshold,
                description=description,
                topic=topic,
                evaluation_periods=s.evaluation_periods,
                datapoints_to_alarm=s.datapoints_to_alarm,
            )
            for name, (metric, threshold, description) in specs.items()
        }
        # Only use cases whose contract lets answers be stored accept an Idempotency-Key (the others refuse
        # it), so only they can fail to save a record; one failed save in a period is worth a look.
        keyed = [u.contract.id for u in api.use_cases if u.contract.logging.prompts_and_responses]
        if keyed:
            failures = {
                f"s{i}": function.metric_use_case(Metric.IDEMPOTENCY_SAVE_FAILURES, uc, period=s.period)
                for i, uc in enumerate(keyed)
            }
            self.alarms["IdempotencySaveFailures"] = notifying_alarm(
                self,
                "IdempotencySaveFailuresAlarm",
                metric=cloudwatch.MathExpression(
                    label="Answers whose idempotency record was not saved",
                    period=s.period,
                    using_metrics=failures,
                    expression=" + ".join(f"FILL({k}, 0)" for k in failures),
                ),
                threshold=0,
                description="orchestrator answered but could not save idempotency records (a retry with the same "
                "key calls Bedrock again): the idempotency table is failing",
                topic=topic,
                evaluation_periods=1,
            )
        if dashboard is not None:
            self._dashboard_row(api, dashboard)

    def _dashboard_row(self, api: OrchestrationApi, dashboard: PlatformDashboard) -> None:
        p = dashboard.period
        function, rest_api = api.orchestrator, api.rest_api
        use_case_ids = [use_case.contract.id for use_case in api.use_cases]
        custom = [
            function.metric_use_case(name, use_case_id, period=p, label=f"{use_case_id} {name}")
            for use_case_id in use_case_ids
            for name in (Metric.RETRIES, Metric.FALLBACKS, Metric.GUARDRAIL_INTERVENTIONS)
        ]
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="API requests, 4xx, 5xx",
                left=[
                    rest_api.metric_count(period=p),
                    rest_api.metric_client_error(period=p),
                    rest_api.metric_server_error(period=p),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="API latency p50 / p95 (ms)",
                left=[
                    rest_api.metric_latency(period=p, statistic="p50"),
                    rest_api.metric_latency(period=p, statistic="p95"),
                    rest_api.metric_integration_latency(period=p, statistic="p95"),
                ],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors, throttles, concurrency",
                left=[function.metric_errors(period=p), function.metric_throttles(period=p)],
                right=[function.metric_concurrent_executions(period=p)],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Orchestrator retries, fallbacks, interventions", left=custom, width=6
            ),
            cloudwatch.GraphWidget(
                title="Prompt cache hit ratio (% of input tokens read from cache)",
                left=[
                    cache_hit_ratio(
                        read=function.metric_use_case(Metric.CACHE_READ_TOKENS, use_case_id, period=p),
                        write=function.metric_use_case(Metric.CACHE_WRITE_TOKENS, use_case_id, period=p),
                        plain=function.metric_use_case(Metric.INPUT_TOKENS, use_case_id, period=p),
                        period=p,
                        label=use_case_id,
                        id_prefix=f"cache{n}",
                    )
                    for n, use_case_id in enumerate(use_case_ids)
                ],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="API alarms", alarms=list(self.alarms.values()), width=24),
        ]
        dashboard.add_section("Orchestration API", widgets)
