"""Everything a use case needs to be operated: alarms, a budget and its dashboard row."""

from __future__ import annotations

from aws_cdk import aws_sns as sns

from bedrock_constructs.monitoring.alarms import AlarmSettings, UseCaseAlarms
from bedrock_constructs.monitoring.budget import UseCaseBudget
from bedrock_constructs.monitoring.dashboard import PlatformDashboard
from bedrock_constructs.use_case import GovernedUseCase
from constructs import Construct


class UseCaseMonitoring(Construct):
    """Alarms (with a composite for paging), a monthly cost budget and a dashboard row for one
    :class:`GovernedUseCase`, all derived from its contract.

    ``alarm_settings`` replaces the contract-derived defaults (``AlarmSettings.from_contract(...)
    .with_overrides(period=..., evaluation_periods=...)`` keeps the rest); ``budget=False`` leaves the
    budget out (e.g. when budgets are managed centrally).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_case: GovernedUseCase,
        topic: sns.ITopic,
        dashboard: PlatformDashboard | None = None,
        alarm_settings: AlarmSettings | None = None,
        budget: bool = True,
    ) -> None:
        super().__init__(scope, id)
        contract = use_case.contract
        self.contract = contract
        self.alarm_settings = alarm_settings or AlarmSettings.from_contract(contract)
        self.alarms = UseCaseAlarms(
            self,
            "Alarms",
            use_case_id=contract.id,
            profiles=list(use_case.profiles.values()),
            primary=use_case.primary,
            guardrail=use_case.guardrail,
            topic=topic,
            settings=self.alarm_settings,
        )
        self.budget = (
            UseCaseBudget(
                self,
                "Budget",
                use_case_id=contract.id,
                daily_budget_usd=contract.daily_budget_usd,
                topic=topic,
            )
            if budget
            else None
        )
        if dashboard is not None:
            dashboard.add_use_case(
                contract.id,
                use_case.profiles,
                latency_target_ms=self.alarm_settings.latency_p95_ms,
                alarms=[*self.alarms.alarms.values(), self.alarms.composite],
            )
