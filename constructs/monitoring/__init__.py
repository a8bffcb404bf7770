"""Observability and cost control: one facade (:class:`MonitoringFacade`) that owns the alarms and the
dashboard rows of the platform's constructs, the constructs it composes, and the notification topic."""

from bedrock_constructs.monitoring.alarms import (
    AlarmSettings,
    LogDeliveryAlarm,
    UseCaseAlarms,
    notifying_alarm,
)
from bedrock_constructs.monitoring.api_monitoring import ApiAlarmSettings, OrchestrationApiMonitoring
from bedrock_constructs.monitoring.budget import UseCaseBudget
from bedrock_constructs.monitoring.dashboard import PlatformDashboard, cache_hit_ratio, estimated_cost
from bedrock_constructs.monitoring.facade import MonitoringFacade
from bedrock_constructs.monitoring.review_monitoring import HumanReviewMonitoring
from bedrock_constructs.monitoring.topic import NotificationTopic
from bedrock_constructs.monitoring.use_case_monitoring import UseCaseMonitoring

__all__ = [
    "AlarmSettings",
    "ApiAlarmSettings",
    "HumanReviewMonitoring",
    "LogDeliveryAlarm",
    "MonitoringFacade",
    "NotificationTopic",
    "OrchestrationApiMonitoring",
    "PlatformDashboard",
    "UseCaseAlarms",
    "UseCaseBudget",
    "UseCaseMonitoring",
    "cache_hit_ratio",
    "estimated_cost",
    "notifying_alarm",
]
