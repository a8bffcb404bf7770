"""One facade for all monitoring, as cdk-monitoring-constructs' ``MonitoringFacade``: the constructs being
watched expose metrics; the facade creates the alarms (each notifying one topic) and the dashboard rows."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns

from bedrock_constructs.human_review import HumanReview
from bedrock_constructs.invocation_logging import InvocationLogging
from bedrock_constructs.monitoring.alarms import AlarmSettings, LogDeliveryAlarm
from bedrock_constructs.monitoring.api_monitoring import (
    NOT_ROLLBACK_ALARMS,
    ApiAlarmSettings,
    OrchestrationApiMonitoring,
)
from bedrock_constructs.monitoring.dashboard import PlatformDashboard
from bedrock_constructs.monitoring.review_monitoring import HumanReviewMonitoring
from bedrock_constructs.monitoring.use_case_monitoring import UseCaseMonitoring
from bedrock_constructs.orchestration_api import OrchestrationApi, OrchestratorFunction
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct
from platform_spec.contract import UseCaseAlarm


class MonitoringFacade:
    """Adds alarms and dashboard rows for the platform's constructs to ``scope`` (normally the stack).

    Every alarm notifies ``topic`` on ALARM and OK; every row goes to ``dashboard`` (default: a new
    :class:`PlatformDashboard` with construct ID ``Dashboard``), in the order the ``monitor_*`` calls are
    made. Each ``monitor_*`` returns the construct that holds what it created.

    The facade is not itself a scope: the monitoring constructs are children of ``scope``, under the IDs
    they had before the facade existed (``<use case construct ID>Monitoring``,
    ``InvocationLogDeliveryAlarm``), so introducing it changed no logical ID. Alarms of a fork's own
    resources can be added with ``notifying_alarm(facade.scope, ..., topic=facade.topic)`` and rows with
    ``facade.dashboard.add_section(...)``.
    """

    def __init__(
        self, scope: Construct, *, topic: sns.ITopic, dashboard: PlatformDashboard | None = None
    ) -> None:
        self.scope = scope
        self.topic = topic
        self.dashboard = dashboard or PlatformDashboard(scope, "Dashboard")
        self.use_cases: dict[str, UseCaseMonitoring] = {}
        self.log_delivery: LogDeliveryAlarm | None = None
        self.apis: list[OrchestrationApiMonitoring] = []
        self.reviews: list[HumanReviewMonitoring] = []

    def monitor_use_cases(
        self,
        use_cases: Mapping[str, GovernedUseCase],
        *,
        alarm_settings: Mapping[str, AlarmSettings] | None = None,
        budgets: bool = True,
    ) -> dict[str, UseCaseMonitoring]:
        """An overview row of every use case, then :meth:`monitor_use_case` for each (``alarm_settings``
        by contract id replaces its contract-derived defaults), then a row of their guardrails."""
        self.dashboard.add_overview({uc_id: uc.profiles for uc_id, uc in use_cases.items()})
        monitored = {
            uc_id: self.monitor_use_case(
                use_case, alarm_settings=(alarm_settings or {}).get(uc_id), budget=budgets
            )
            for uc_id, use_case in use_cases.items()
        }
        self.dashboard.add_guardrails({uc_id: uc.guardrail for uc_id, uc in use_cases.items()})
        return monitored

    def monitor_use_case(
        self,
        use_case: GovernedUseCase,
        *,
        alarm_settings: AlarmSettings | None = None,
        budget: bool = True,
        id: str | None = None,
    ) -> UseCaseMonitoring:
        """A use case's alarms (with a composite for paging), its monthly budget (``budget=False``: none)
        and its dashboard row, all derived from its contract. Construct ID: ``id`` or
        ``<use case construct ID>Monitoring``."""
        monitoring = UseCaseMonitoring(
            self.scope,
            id or f"{use_case.node.id}Monitoring",
            use_case=use_case,
            topic=self.topic,
            dashboard=self.dashboard,
            alarm_settings=alarm_settings,
            budget=budget,
        )
        self.use_cases[use_case.contract.id] = monitoring
        return monitoring

    def monitor_log_delivery(
        self, invocation_logging: InvocationLogging, *, id: str = "InvocationLogDeliveryAlarm"
    ) -> LogDeliveryAlarm:
        """An alarm on any failed delivery of Bedrock invocation logs (CloudWatch Logs or S3) and their
        dashboard row."""
        failures = (
            invocation_logging.metric_cloudwatch_delivery_failures(),
            invocation_logging.metric_s3_delivery_failures(),
        )
        self.log_delivery = LogDeliveryAlarm(
            self.scope, id, cloudwatch_failures=failures[0], s3_failures=failures[1], topic=self.topic
        )
        self.dashboard.add_log_delivery(*failures)
        return self.log_delivery

    def alarms(self) -> list[cloudwatch.IAlarm]:
        """Every alarm the facade created: each use case's alarms and composite, the log delivery alarm, the
        APIs' alarms and the human review paths' alarms (what the readiness gate sets to ALARM, one by one,
        to prove each reaches a person)."""
        found: list[cloudwatch.IAlarm] = []
        for monitoring in self.use_cases.values():
            found += [*monitoring.alarms.alarms.values(), monitoring.alarms.composite]
        if self.log_delivery is not None:
            found.append(self.log_delivery.alarm)
        for api in self.apis:
            found += list(api.alarms.values())
        for review in self.reviews:
            found += review.all_alarms()
        return found

    def critical_alarms(self) -> list[cloudwatch.IAlarm]:
        """The alarms that roll a production canary back, each on what is release-wide: each use case's
        ``release.critical_alarms`` (its composite by default; Bedrock metrics of its profiles) and the
        orchestration API's alarms but ``NOT_ROLLBACK_ALARMS``: ``FunctionErrors`` sums the errors of every
        version of the orchestrator, so the canary's tenth of the traffic is diluted and the stable version's
        errors would roll a good release back (the bake judges each version's own errors instead,
        ``BakePolicy``); ``IdempotencySaveFailures`` is the idempotency table's health."""
        found: list[cloudwatch.IAlarm] = []
        for monitoring in self.use_cases.values():
            use_case_alarms = monitoring.alarms
            for name in monitoring.contract.release.critical_alarms:
                if name is UseCaseAlarm.COMPOSITE:
                    found.append(use_case_alarms.composite)
                else:
                    found.append(use_case_alarms.alarms[name])
        for api in self.apis:
            found += [alarm for name, alarm in api.alarms.items() if name not in NOT_ROLLBACK_ALARMS]
        return found

    def monitor_api(
        self, api: OrchestrationApi, *, settings: ApiAlarmSettings | None = None, id: str | None = None
    ) -> OrchestrationApiMonitoring:
        """The orchestration API's alarms and its dashboard row. Construct ID: ``id`` or
        ``<API construct ID>Monitoring``."""
        monitoring = OrchestrationApiMonitoring(
            self.scope,
            id or f"{api.node.id}Monitoring",
            api=api,
            topic=self.topic,
            dashboard=self.dashboard,
            settings=settings,
        )
        self.apis.append(monitoring)
        return monitoring

    def monitor_review(
        self, review: HumanReview, *, orchestrator: OrchestratorFunction, id: str | None = None
    ) -> HumanReviewMonitoring:
        """The review path's alarms (per use case: backlog, oldest pending against the SLA, reject rate,
        low-score rate; for the path: dead letters, the age of the oldest queued output, outputs the
        orchestrator could not queue, backlog function errors) and its dashboard row. Construct ID: ``id`` or ``<review construct ID>Monitoring``."""
        monitoring = HumanReviewMonitoring(
            self.scope,
            id or f"{review.node.id}Monitoring",
            review=review,
            orchestrator=orchestrator,
            topic=self.topic,
            dashboard=self.dashboard,
        )
        self.reviews.append(monitoring)
        return monitoring
