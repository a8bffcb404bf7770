"""Per-use-case alarms derived from a production contract, and the account-level log delivery alarm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from bedrock_constructs.guardrail import Guardrail
from bedrock_constructs.inference_profile import ApplicationInferenceProfile
from bedrock_constructs.metrics import DEFAULT_PERIOD as METRIC_PERIOD
from constructs import Construct
from platform_config.model import Contract
from platform_spec.contract import UseCaseAlarm

#: Alarm and dashboard period unless a contract or fork says otherwise (every metric's default too).
DEFAULT_PERIOD = METRIC_PERIOD


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds and evaluation settings of a use case's alarms; :meth:`from_contract` gives the defaults."""

    latency_p95_ms: float
    throttle_rate_percent: float = 1.0
    server_error_rate_percent: float = 1.0
    guardrail_intervention_rate_percent: float = 10.0
    tpm_quota: float | None = None
    tpm_quota_usage_percent: float = 80.0
    min_invocations: int = 20
    period: cdk.Duration = DEFAULT_PERIOD
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 2

    @classmethod
    def from_contract(cls, contract: Contract) -> AlarmSettings:
        return cls(
            latency_p95_ms=contract.latency_p95_ms,
            throttle_rate_percent=contract.alarms.throttle_rate_percent,
            server_error_rate_percent=contract.alarms.server_error_rate_percent,
            guardrail_intervention_rate_percent=contract.alarms.guardrail_intervention_rate_percent,
            tpm_quota=contract.limits.tpm_quota,
            tpm_quota_usage_percent=contract.alarms.tpm_quota_usage_percent,
            min_invocations=contract.alarms.min_invocations,
        )

    def with_overrides(self, **changes: object) -> AlarmSettings:
        return replace(self, **changes)  # type: ignore[arg-type]


def notifying_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    topic: sns.ITopic,
    evaluation_periods: int,
    datapoints_to_alarm: int | None = None,
) -> cloudwatch.Alarm:
    """An alarm on ``metric`` above ``threshold`` that notifies ``topic`` when it fires and when it
    recovers. Missing data is not breaching: no traffic is not an incident."""
    alarm = cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    notify = actions.SnsAction(topic)  # an action only binds the topic's ARN: one serves both states
    alarm.add_alarm_action(notify)
    alarm.add_ok_action(notify)
    return alarm


def _ids(prefix: str, metrics: Sequence[cloudwatch.IMetric]) -> dict[str, cloudwatch.IMetric]:
    return {f"{prefix}{i}": m for i, m in enumerate(metrics)}


def _sum(ids: Sequence[str]) -> str:
    return "(" + " + ".join(f"FILL({i}, 0)" for i in ids) + ")"


class UseCaseAlarms(Construct):
    """Alarms for one use case, each with alarm and OK actions, plus a composite alarm for paging.

    - ``ThrottleRate``: throttles / (invocations + throttles) across every route, in percent.
    - ``ServerErrorRate``: server errors / (invocations + server errors), in percent.
    - ``GuardrailInterventionRate``: interventions / guardrail invocations, in percent.
    - ``LatencyP95``: p95 model latency of the primary route above the contract's target.
    - ``TpmQuotaUsage``: estimated tokens per minute on the primary route above the quota share.

    Rate alarms evaluate to 0 while fewer than ``min_invocations`` requests arrive in a period, so an
    idle use case does not flap; missing data is not breaching for every alarm (no traffic is not an
    incident; log delivery failures have their own alarm).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_case_id: str,
        profiles: Sequence[ApplicationInferenceProfile],
        primary: ApplicationInferenceProfile,
        guardrail: Guardrail,
        topic: sns.ITopic,
        settings: AlarmSettings,
    ) -> None:
        super().__init__(scope, id)
        s = settings
        self.settings = settings
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        period = s.period
        invocations = _ids("inv", [p.metric_invocations(period=period) for p in profiles])
        throttles = _ids("thr", [p.metric_throttles(period=period) for p in profiles])
        server = _ids("srv", [p.metric_server_errors(period=period) for p in profiles])
        gate = f"(({_sum(list(invocations))} + {_sum(list(throttles))}) >= {s.min_invocations})"

        self._add(
            UseCaseAlarm.THROTTLE_RATE,
            cloudwatch.MathExpression(
                label="Throttle rate (%)",
                period=period,
                using_metrics={**invocations, **throttles},
                expression=f"IF({gate}, 100 * {_sum(list(throttles))} / "
                f"({_sum(list(invocations))} + {_sum(list(throttles))}), 0)",
            ),
            s.throttle_rate_percent,
            f"{use_case_id}: more than {s.throttle_rate_percent:g}% of Bedrock requests throttled",
            topic,
        )
        self._add(
            UseCaseAlarm.SERVER_ERROR_RATE,
            cloudwatch.MathExpression(
                label="Server error rate (%)",
                period=period,
                using_metrics={**invocations, **throttles, **server},
                expression=f"IF({gate}, 100 * {_sum(list(server))} / "
                f"({_sum(list(invocations))} + {_sum(list(server))}), 0)",
            ),
            s.server_error_rate_percent,
            f"{use_case_id}: more than {s.server_error_rate_percent:g}% of Bedrock requests failed server-side",
            topic,
        )
        self._add(
            UseCaseAlarm.GUARDRAIL_INTERVENTION_RATE,
            cloudwatch.MathExpression(
                label="Guardrail intervention rate (%)",
                period=period,
                using_metrics={
                    "gi": guardrail.metric_invocations(period=period),
                    "gx": guardrail.metric_invocations_intervened(period=period),
                },
                expression=f"IF(FILL(gi, 0) >= {s.min_invocations}, 100 * FILL(gx, 0) / gi, 0)",
            ),
            s.guardrail_intervention_rate_percent,
            f"{use_case_id}: guardrail intervened on more than {s.guardrail_intervention_rate_percent:g}% "
            "of requests (abuse, a broken client, or a policy that is too strict)",
            topic,
        )
        self._add(
            UseCaseAlarm.LATENCY_P95,
            primary.metric_invocation_latency(statistic="p95", period=period),
            s.latency_p95_ms,
            f"{use_case_id}: p95 model latency above the contract's {s.latency_p95_ms:g} ms target",
            topic,
        )
        if s.tpm_quota:
            self._add(
                UseCaseAlarm.TPM_QUOTA_USAGE,
                primary.metric_estimated_tpm_quota_usage(statistic="Maximum", period=cdk.Duration.minutes(1)),
                s.tpm_quota * s.tpm_quota_usage_percent / 100,
                f"{use_case_id}: estimated tokens per minute above {s.tpm_quota_usage_percent:g}% of its "
                f"{s.tpm_quota:g} TPM quota",
                topic,
            )
        self.composite = cloudwatch.CompositeAlarm(
            self,
            UseCaseAlarm.COMPOSITE,
            alarm_description=f"{use_case_id}: page when any of its alarms is in ALARM",
            alarm_rule=cloudwatch.AlarmRule.any_of(*self.alarms.values()),
        )
        notify = actions.SnsAction(topic)
        self.composite.add_alarm_action(notify)
        self.composite.add_ok_action(notify)

    def _add(
        self,
        name: UseCaseAlarm,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        topic: sns.ITopic,
    ) -> None:
        self.alarms[name] = notifying_alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            description=description,
            topic=topic,
            evaluation_periods=self.settings.evaluation_periods,
            datapoints_to_alarm=self.settings.datapoints_to_alarm,
        )


class LogDeliveryAlarm(Construct):
    """Account-level: any failed delivery of Bedrock invocation logs (CloudWatch Logs or S3) alarms.

    Logs must not be lost silently, so the threshold is zero and one datapoint is enough.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cloudwatch_failures: cloudwatch.IMetric,
        s3_failures: cloudwatch.IMetric,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        self.alarm = notifying_alarm(
            self,
            "Alarm",
            metric=cloudwatch.MathExpression(
                label="Invocation log delivery failures",
                expression="FILL(cw, 0) + FILL(s3, 0)",
                using_metrics={"cw": cloudwatch_failures, "s3": s3_failures},
                period=cdk.Duration.minutes(5),
            ),
            threshold=0,
            description="Bedrock model invocation logs failed to reach CloudWatch Logs or S3",
            topic=topic,
            evaluation_periods=1,
        )
