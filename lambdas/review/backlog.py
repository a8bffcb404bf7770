"""The backlog function: every ``platform_spec.review.BACKLOG_INTERVAL_MINUTES`` minutes (an EventBridge
schedule), per use case, the number of pending review items (``PendingReviews``) and the age of the
one waiting longest (``OldestPendingAgeSeconds``), from the pending index. An item's age runs from when it
went to people (``platform_spec.review.pending_since``), not from its answer's creation: an old answer a
caller rates 1 today is pending for seconds, not weeks.

Published on a schedule, not when items are written or decided: the oldest pending item's age grows while
nothing happens, and "nothing happens" (no reviewer, no traffic) is exactly when the SLA is being
missed. A metric computed on write would stop moving then, and its alarm would never fire. Every use case
gets a data point every run (0 when nothing is pending), so the alarms see the backlog drain too.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

from platform_spec.api import ReviewMetric
from platform_spec.review import parse_iso
from platform_spec.runtime import RuntimeConfig, read_runtime_config

from .settings import load_settings
from .store import ReviewStore
from .telemetry import publish

settings = load_settings(os.environ)
runtime_config = read_runtime_config(settings.runtime_config_path)
logger = Logger(service=settings.service_name)
metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
store = ReviewStore(review_table=settings.review_table, region=settings.region)


@dataclass(frozen=True)
class Backlog:
    use_case: str
    pending: int
    oldest_age_s: float
    sla_s: int

    @property
    def overdue(self) -> bool:
        return self.oldest_age_s > self.sla_s


def measure(config: RuntimeConfig, store: ReviewStore, *, now: float) -> list[Backlog]:
    """Every enabled use case's backlog at ``now`` (epoch seconds)."""
    found = []
    for use_case in sorted(config.use_cases.values(), key=lambda u: u.id):
        if not use_case.enabled:
            continue
        count, oldest = store.backlog(use_case.id)  # the earliest pendingSince
        age = max(0.0, now - parse_iso(oldest)) if oldest else 0.0
        found.append(
            Backlog(
                use_case=use_case.id,
                pending=count,
                oldest_age_s=round(age, 3),
                sla_s=use_case.contract.review.sla_hours * 3600,
            )
        )
    return found


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    del event  # the schedule's event carries nothing this function needs
    backlogs = measure(runtime_config, store, now=time.time())
    for backlog in backlogs:
        publish(
            metrics,
            use_case=backlog.use_case,
            environment=runtime_config.environment,
            values={
                ReviewMetric.PENDING: ("Count", backlog.pending),
                ReviewMetric.OLDEST_PENDING_AGE: ("Seconds", backlog.oldest_age_s),
            },
        )
    overdue = [b.use_case for b in backlogs if b.overdue]
    logger.info(
        "review backlog",
        extra={"backlog": {b.use_case: [b.pending, b.oldest_age_s] for b in backlogs}, "overdue": overdue},
    )
    return {"useCases": len(backlogs), "overdue": overdue}
