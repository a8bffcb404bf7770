"""Observability and cost control per use case: alarms, dashboard, budgets, notifications."""

from bedrock_constructs.monitoring.alarms import AlarmSettings, LogDeliveryAlarm, UseCaseAlarms
from bedrock_constructs.monitoring.budget import UseCaseBudget
from bedrock_constructs.monitoring.dashboard import PlatformDashboard, cache_hit_ratio, estimated_cost
from bedrock_constructs.monitoring.topic import NotificationTopic
from bedrock_constructs.monitoring.use_case_monitoring import UseCaseMonitoring

__all__ = [
    "AlarmSettings",
    "LogDeliveryAlarm",
    "NotificationTopic",
    "PlatformDashboard",
    "UseCaseAlarms",
    "UseCaseBudget",
    "UseCaseMonitoring",
    "cache_hit_ratio",
    "estimated_cost",
]
