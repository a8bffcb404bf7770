"""An AWS Budgets cost budget per use case, filtered by its cost allocation tag."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns

from constructs import Construct

#: Average days per month: a daily budget becomes a monthly one (Budgets forecasts monthly budgets).
DAYS_PER_MONTH = 30.4
THRESHOLDS_PERCENT = (80, 100)


class UseCaseBudget(Construct):
    """A monthly cost budget for everything tagged ``use-case=<id>``, with actual and forecasted
    notifications at 80% and 100% to the notification topic.

    Budgets only sees a tag after it is activated as a cost allocation tag in the Billing console of the
    payer account (see the README); until then the budget reports no spend.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        use_case_id: str,
        daily_budget_usd: float,
        topic: sns.ITopic,
        tag_key: str = "use-case",
    ) -> None:
        super().__init__(scope, id)
        if not cdk.Token.is_unresolved(daily_budget_usd) and daily_budget_usd <= 0:
            raise ValueError(
                f"UseCaseBudget {self.node.path}: daily_budget_usd must be > 0, got {daily_budget_usd}"
            )
        self.monthly_limit_usd = round(daily_budget_usd * DAYS_PER_MONTH, 2)
        self.tag_filter = f"user:{tag_key}${use_case_id}"
        self.resource = budgets.CfnBudget(
            self,
            "Resource",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=self.monthly_limit_usd, unit="USD"),
                cost_filters={"TagKeyValue": [self.tag_filter]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
                    ],
                )
                for kind in ("ACTUAL", "FORECASTED")
                for threshold in THRESHOLDS_PERCENT
            ],
        )
